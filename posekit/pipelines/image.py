"""Poses of images: find the people (detector boxes, or the model framing the whole image), estimate, keep.

:class:`Framing` is the one place that decides how people are found and kept; the image job
(:func:`run_image`), every frame of a video (:mod:`posekit.pipelines.video`) and of a capture
(:mod:`posekit.pipelines.capture`) go through it, so a photo gives the same people whichever way it comes in.

Without a detector, a model that frames the whole image itself (PoseKit, as the iPhone app runs it) is run
twice: on the whole frame, then on a crop around the person it found there (the framing the network was
trained on: on the shared COCO images it scores joints higher and places them better), and the presence
rule (:func:`~posekit.processing.people.presence_scores`) tells an empty image from a person. The rule's
threshold (``min_presence``) is measured on this path (``benchmarks/posekit_defaults.py``), so it applies to
the people the model frames itself (the whole frame, its refine, boxes carried from their keypoints); with a
detector, its box scores decide who is a person, as for every model: on the annotated COCO and Human3.6M
boxes, real persons score from 0.146 (two more at 0.169 and 0.183), under or near PoseKit's 0.168.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from posekit.estimators.base import PersonFinder, PoseEstimator
from posekit.io.images import read_image
from posekit.pipelines.results import Job, JobResult, write_image_overlay, write_results
from posekit.pipelines.settings import MODEL_DEFAULTS, Settings
from posekit.poses import Poses, concatenate
from posekit.processing.people import select_people, select_poses
from posekit.processing.tracking import boxes_from_keypoints

PEOPLE_PER_STEP = 4
"""People estimated between two progress reports in one image on a CPU, where a crowd takes a while and a
crop costs about the same alone as in a batch. On a GPU the step is the model's own batch (a crop is cheap
there, and splitting its batch would cost more than the report is worth)."""


def _people_per_step(model: PoseEstimator) -> int:
    device = getattr(model, "device", None)
    if getattr(device, "type", "cpu") == "cpu":
        return PEOPLE_PER_STEP
    return max(PEOPLE_PER_STEP, getattr(model, "pose_batch_size", None) or getattr(model, "batch_size", 0))


class Framing:
    """Finds the people of images and estimates their poses, with one settings' rules.

    Args:
        model: the pose estimator.
        detector: the person detector, or None to let the model frame each image itself.
        settings: thresholds, people kept, presence.
    """

    def __init__(self, model: PoseEstimator, detector: PersonFinder | None, settings: Settings) -> None:
        self.model, self.detector, self.settings = model, detector, settings
        self.refine = detector is None and settings.model == "posekit"
        self.min_presence = settings.min_presence if detector is None else None  # see the module docstring
        self.main_box: np.ndarray | None = None  # single person: the box followed so far

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per image, ``(boxes, scores)`` of the people to estimate, or None to let the model frame it."""
        if self.detector is None or not images:
            return [None] * len(images)
        s = self.settings
        out = []
        for boxes, scores in self.detector.detect_batch(images):
            boxes, scores = select_people(boxes, scores, s.bbox_threshold, s.single_person, s.max_people, self.main_box)
            if s.single_person and len(boxes):
                self.main_box = boxes[0]
            out.append((boxes, scores))
        return out

    def estimate(
        self,
        images: list[np.ndarray],
        people: list[tuple[np.ndarray, np.ndarray] | np.ndarray | None],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Poses]:
        """Poses of each image: in the given boxes (with their scores), or framed by the model when None.

        With ``progress``, one image's people are estimated a step at a time (:data:`PEOPLE_PER_STEP` on a CPU),
        and ``progress(done, total)`` is told after each step (the same poses, in the same order).
        """
        boxes = [p[0] if isinstance(p, tuple) else p for p in people]
        step = _people_per_step(self.model)
        if progress is not None and len(images) == 1 and boxes[0] is not None and len(boxes[0]) > step:
            results = [self._in_steps(images[0], boxes[0], step, progress)]
        else:
            results = self.model.predict_batch(images, boxes) if images else []
        if self.refine:
            results = self._refined(images, boxes, results)
        out = []
        for poses, given in zip(results, people):
            if isinstance(given, tuple) and len(poses) == len(given[1]):
                poses.bbox_scores = np.asarray(given[1], np.float32)  # the detector's scores, not 1s
            s = self.settings
            poses = select_poses(poses, s.single_person, s.max_people, self.main_box, self.min_presence)
            if s.single_person and len(poses):
                self.main_box = poses.bboxes[0]
            out.append(poses)
        return out

    def _in_steps(self, image: np.ndarray, boxes: np.ndarray, step: int, progress: Callable[[int, int], None]) -> Poses:
        parts = []
        for start in range(0, len(boxes), step):
            parts += self.model.predict_batch([image], [boxes[start : start + step]])
            progress(min(start + step, len(boxes)), len(boxes))
        return concatenate(parts)

    def _refined(self, images: list[np.ndarray], boxes: list[np.ndarray | None], results: list[Poses]) -> list[Poses]:
        """Whole-frame results run again on a crop around the person found (see the module docstring)."""
        todo, crops = [], []
        for i, (given, poses) in enumerate(zip(boxes, results)):
            if given is None and len(poses):
                h, w = images[i].shape[:2]
                found, _ = boxes_from_keypoints(poses.keypoints_2d, poses.scores, self.settings.keypoint_threshold,
                                                image_size=(w, h))  # fmt: skip
                if len(found):
                    todo.append(i)
                    crops.append(found)
        if todo:
            for i, poses in zip(todo, self.model.predict_batch([images[i] for i in todo], crops)):
                results[i] = poses
        return results

    def __call__(self, image: np.ndarray) -> Poses:
        """Poses of one image."""
        return self.estimate([image], self.detect([image]))[0]


def estimate_image(
    image: np.ndarray,
    model: PoseEstimator,
    detector: PersonFinder | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> Poses:
    """Detect people, keep those the settings allow, estimate their poses.

    Args:
        image: (H, W, 3) uint8 BGR.
        model: a pose estimator (PoseKit, RTMPose3D).
        detector: a person detector, or None to let the model frame the image itself.
        settings: thresholds and people kept (default: ``Settings(model=...)`` of the model's kind).
        options: fields of :class:`Settings` to change (``bbox_threshold=0.5``, ``single_person=True``...).

    Returns:
        :class:`~posekit.poses.Poses` in original-image pixels. People found in detector boxes carry the
        detector's scores as ``bbox_scores``.
    """
    if settings is None:
        settings = Settings(model="posekit" if model.skeleton.num_keypoints == 19 else "rtmw3d-l",
                            detector=detector is not None)  # fmt: skip
    return Framing(model, detector, settings.replace(**options) if options else settings)(image)


def run_image(job: Job) -> JobResult:
    """Read an image (bounded before decoding), estimate, and write its JSON, overlay and ZIP."""
    report, settings, models = job.progress, job.settings, job.models
    job.limits.check_file(job.path)
    image = read_image(job.path, max_pixels=job.limits.max_image_pixels)
    report(0.05, "loading the model")
    model, detector = models.for_job(settings)
    report(0.1, "finding people")
    start = time.perf_counter()
    framing = Framing(model, detector, settings)
    people = framing.detect([image])
    found = 0 if people[0] is None else len(people[0][0])
    report(0.4, f"estimating the poses of {found} {'person' if found == 1 else 'people'}" if people[0] else
           "estimating the pose")  # fmt: skip

    def step(done: int, total: int) -> None:
        report(0.4 + 0.4 * done / total, f"estimating the poses: {done} of {total} people")

    poses = framing.estimate([image], people, step)[0]
    seconds = time.perf_counter() - start
    report(0.8, "drawing")
    h, w = image.shape[:2]
    files = {}
    if settings.overlay:
        files["overlay"] = write_image_overlay(job.outputs.path("_overlay.jpg"), image, poses, settings)
    source = {"kind": "image", "file": job.name, "width": w, "height": h}
    result = write_results(poses, source, settings, models, job.outputs, files)
    report(1.0, "done")
    return JobResult("image", job.name, result.document, poses, result.files, [], seconds)


__all__ = ["MODEL_DEFAULTS", "Framing", "estimate_image", "run_image"]
