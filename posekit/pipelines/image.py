"""Poses of one image: detector boxes filtered by score, the people kept, then the pose model on their boxes.

The one image path of the library, shared by the command line (images, and every frame of an RGB-D capture)
and the web app, so that a photo gives the same people whichever way it comes in. Videos batch the same
steps in :mod:`posekit.pipelines.video`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posekit.poses import Poses
from posekit.processing.tracking import pick_main_box


def select_people(
    boxes: Any,
    scores: Any,
    bbox_threshold: float,
    single_person: bool = False,
    max_people: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The detector boxes to estimate poses in.

    Boxes scored at least ``bbox_threshold``, highest score first, at most ``max_people`` of them; with
    ``single_person`` only the most prominent one (the video pipeline's rule,
    :func:`~posekit.processing.tracking.pick_main_box`: largest area x score).

    Args:
        boxes: (M, 4) xyxy pixels.
        scores: (M,) detector scores.
        bbox_threshold: boxes scored below this are dropped.
        single_person: keep one box at most.
        max_people: keep at most this many boxes (None: all).

    Returns:
        ``(boxes (N, 4) float32 xyxy, scores (N,) float32)``, N <= M, highest score first.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"select_people: expected one score per box, got {len(boxes)} boxes and {len(scores)} scores")
    keep = np.flatnonzero(scores >= bbox_threshold)
    keep = keep[np.argsort(-scores[keep], kind="stable")][:max_people]
    if single_person and len(keep) > 1:
        keep = keep[[pick_main_box(boxes[keep], scores[keep])]]
    return boxes[keep], scores[keep]


def estimate_image(
    image: np.ndarray,
    model: Any,
    detector: Any = None,
    *,
    bbox_threshold: float = 0.3,
    single_person: bool = False,
    max_people: int | None = None,
) -> Poses:
    """Detect people, keep those the options allow, estimate their poses.

    Args:
        image: (H, W, 3) uint8 BGR.
        model: a pose estimator, ``model(image, bboxes=...) -> Poses`` (PoseKit, RTMPose3D).
        detector: ``detector(image) -> (boxes (M, 4) xyxy, scores (M,))``; None lets the model frame the
            image itself (PoseKit: the whole frame letterboxed, one person; RTMPose3D: its own detector).
        bbox_threshold: detector boxes scored below this are dropped.
        single_person: keep only the most prominent person (largest box area x score).
        max_people: keep at most this many people, highest box scores first (None: all).

    Returns:
        :class:`~posekit.poses.Poses` in original-image pixels, highest box score first. People found in
        detector boxes carry the detector's scores as ``bbox_scores`` (not the 1 of a given box).
    """
    boxes = scores = None
    if detector is not None:
        boxes, scores = select_people(*detector(image), bbox_threshold, single_person, max_people)
    poses = model(image, bboxes=boxes)
    if scores is not None and len(poses) == len(scores):  # one person per box
        poses.bbox_scores = scores
    if single_person and len(poses) > 1:
        return poses.select(pick_main_box(poses.bboxes, poses.bbox_scores))
    if max_people is not None and len(poses) > max_people:
        return poses.select(np.argsort(-poses.bbox_scores, kind="stable")[:max_people])
    return poses
