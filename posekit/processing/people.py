"""Which people to keep: one box validator, one box filter, one "main person" rule (in an image, and over a
whole sequence), one presence rule.

Every door of posekit (images, videos, captures, the CLI, the app, the estimators' own ``single_person``)
decides through these functions, so the same photo keeps the same people whichever way it comes in.

Boxes are (M, 4) ``[x1, y1, x2, y2]`` pixels, x right, y down (see :mod:`posekit.coords`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posekit.poses import Poses
from posekit.processing.tracking import box_iou
from posekit.sequence import PoseSequence

MAIN_PERSON_MIN_IOU = 0.3
"""A box overlapping the person followed so far by at least this much is the same person."""


def check_boxes(
    boxes: np.ndarray | Sequence | None, what: str = "bboxes", dtype: type[np.floating] = np.float32
) -> np.ndarray:
    """Validate person boxes: (M, 4) (or (4,), or empty) finite ``[x1, y1, x2, y2]`` with ``x2 > x1``, ``y2 > y1``.

    Returns:
        (M, 4) of ``dtype``.

    Raises:
        ValueError: saying which box is wrong and what it holds.
    """
    try:
        arr = np.asarray(boxes, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected an (M, 4) array of [x1, y1, x2, y2] pixels, got {boxes!r:.80}") from None
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what}: expected shape (M, 4) of [x1, y1, x2, y2] pixels, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: expected finite coordinates, got NaN or infinity")
    bad = np.flatnonzero((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1]))
    if bad.size:
        i = int(bad[0])
        got = arr[i].tolist()
        raise ValueError(f"{what}: expected x2 > x1 and y2 > y1 ([x1, y1, x2, y2] pixels), box {i} is {got}")
    return arr


def usable_boxes(boxes: np.ndarray, min_size: float = 1.0) -> np.ndarray:
    """(M,) bool: boxes at least ``min_size`` pixels wide and high (a box clipped to the image edge as its person
    walks out of the frame can end up with no height: it is not a person to look for)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)


def pick_main_box(boxes: np.ndarray, scores: np.ndarray, previous: np.ndarray | None = None) -> int:
    """Index of the main person among ``boxes``, or -1 when there are none.

    The box that overlaps ``previous`` (the person followed so far) by at least :data:`MAIN_PERSON_MIN_IOU`,
    best overlap first; otherwise the most prominent one: the largest area x score (the RTMPose3D wrapper's rule).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return -1
    if previous is not None and np.isfinite(previous).all():
        iou = box_iou(np.asarray(previous, dtype=np.float64).reshape(1, 4), boxes)[0]
        if iou.max() >= MAIN_PERSON_MIN_IOU:
            return int(iou.argmax())
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(axis=-1)
    return int((area * np.asarray(scores, dtype=np.float64).reshape(-1)).argmax())


def select_people(
    boxes: np.ndarray,
    scores: np.ndarray,
    bbox_threshold: float,
    single_person: bool = False,
    max_people: int | None = None,
    previous: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The detector boxes to estimate poses in.

    Boxes scored at least ``bbox_threshold``, highest score first, at most ``max_people``; with
    ``single_person`` only the main one (:func:`pick_main_box`, following ``previous``).

    Args:
        boxes: (M, 4) xyxy pixels. scores: (M,) detector scores.

    Returns:
        ``(boxes (N, 4) float32, scores (N,) float32)``, N <= M, highest score first.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"select_people: expected one score per box, got {len(boxes)} boxes and {len(scores)} scores")
    keep = np.flatnonzero((scores >= bbox_threshold) & usable_boxes(boxes))
    keep = keep[np.argsort(-scores[keep], kind="stable")][:max_people]
    if single_person and len(keep) > 1:
        keep = keep[[pick_main_box(boxes[keep], scores[keep], previous)]]
    return boxes[keep], scores[keep]


def presence_scores(scores: np.ndarray, top_k: int = 8) -> np.ndarray:
    """How much each person looks like a person: the mean of their ``top_k`` best keypoint scores.

    Args:
        scores: (N, K) keypoint scores.

    Returns:
        (N,) float64.
    """
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if scores.ndim != 2 or scores.shape[1] == 0:
        return np.zeros(len(scores))
    k = min(top_k, scores.shape[1])
    return np.sort(scores, axis=1)[:, -k:].mean(axis=1)


def select_poses(
    poses: Poses,
    single_person: bool = False,
    max_people: int | None = None,
    previous: np.ndarray | None = None,
    min_presence: float | None = None,
) -> Poses:
    """The people kept from a model's output.

    Args:
        single_person: keep only the main person (:func:`pick_main_box` on the poses' boxes and box scores).
        max_people: keep at most this many, highest box score first.
        previous: (4,) the box of the person followed so far (single person).
        min_presence: drop people whose :func:`presence_scores` is below this (None: keep everyone). A model
            that frames a whole image always "finds" one person; this tells an empty image from a person.
    """
    if min_presence is not None and len(poses):
        poses = poses.select(np.flatnonzero(presence_scores(poses.scores) >= min_presence))
    if single_person and len(poses) > 1:
        return poses.select(pick_main_box(poses.bboxes, poses.bbox_scores, previous))
    if max_people is not None and len(poses) > max_people:
        return poses.select(np.argsort(-poses.bbox_scores, kind="stable")[:max_people])
    return poses


def select_main_track(sequence: PoseSequence, keypoint_threshold: float = 0.3) -> int:
    """Index (on the person axis) of the most prominent track over the whole sequence.

    Prominence = sum over frames of box area x mean keypoint score, so a person who is large, well seen and
    present long wins. Boxes are ``sequence.bboxes`` when set, else the keypoints' extent.

    Raises:
        ValueError: the sequence has no people.
    """
    if sequence.num_people == 0:
        raise ValueError("select_main_track: the sequence has no people")
    if sequence.bboxes is not None:
        boxes = sequence.bboxes
    else:
        valid = (sequence.scores >= keypoint_threshold)[..., None] & np.isfinite(sequence.keypoints_2d)
        with np.errstate(invalid="ignore"):
            lo = np.where(valid, sequence.keypoints_2d, np.inf).min(axis=2)
            hi = np.where(valid, sequence.keypoints_2d, -np.inf).max(axis=2)
        boxes = np.concatenate([lo, hi], axis=-1)
    area = np.clip(boxes[..., 2:] - boxes[..., :2], 0, None).prod(axis=-1)  # (T, P)
    prominence = np.where(np.isfinite(area), area, 0.0) * sequence.scores.mean(axis=-1)
    return int(prominence.sum(axis=0).argmax())
