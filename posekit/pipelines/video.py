"""Poses over a video: decode, detect, estimate in batches, track, smooth, and draw an overlay video.

:func:`process_video` works in two passes over the file, each streaming with bounded memory:

1. Decode (downscaled copies for inference if asked), detect people every ``detect_every`` frames, estimate
   poses in batches, track people across frames. Between detections a person's box is carried forward from
   their keypoints in the previous frame. Frames are processed in chunks of ``batch_size x detect_every``:
   the detection frames of a chunk go to the detector and the model together, then the frames one after
   each, and so on, so every model call holds up to ``batch_size`` frames while each frame still uses the
   keypoints of the frame just before it.
2. Smooth every track over time (NaN-aware: a person's filter restarts after an absence), then, if an
   overlay is asked for, decode again and write the original frames with the smoothed skeletons and track
   ids drawn on them as an H.264 MP4.

Everything in the result is in original-frame pixels (upright, see :mod:`posekit.io.video`), with
the frames' true timestamps.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from posekit.coords import scale_intrinsics
from posekit.estimators.base import PersonFinder, PoseEstimator
from posekit.io.video import Frame, ReadBounds, VideoInfo, VideoReader, VideoWarning, probe_video
from posekit.io.video_writer import VideoWriter
from posekit.limits import DEFAULT_LIMITS, Limits
from posekit.pipelines.image import Framing
from posekit.pipelines.results import Job, JobResult, ProgressFn, write_results
from posekit.pipelines.settings import Settings
from posekit.poses import Poses
from posekit.processing.people import select_main_track
from posekit.processing.smoothing import smooth_pose_sequence, smoothing_params
from posekit.processing.tracking import Tracker, boxes_from_keypoints
from posekit.sequence import PoseSequence
from posekit.skeletons import Skeleton
from posekit.viz.drawing import draw_poses

STAGES = ("decode", "detect", "pose", "track", "smooth", "draw", "encode")
"""Stages timed in :attr:`VideoResult.timings` (seconds, summed over the video), plus ``"total"``."""


@dataclass
class VideoResult:
    """The poses of a video and how they were obtained.

    Attributes:
        sequence: the tracked, smoothed poses; ``image_size`` is the original (upright) frame size,
            ``timestamps`` the frames' presentation times in seconds, ``track_ids`` the people's ids.
        info: the source video's :class:`~posekit.io.video.VideoInfo`.
        overlay_path: the overlay video written, or None.
        timings: seconds spent per stage (see :data:`STAGES`) and ``"total"``.
        warnings: what was skipped or cut (e.g. a damaged end of the file).
    """

    sequence: PoseSequence
    info: VideoInfo
    overlay_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return self.sequence.num_frames

    @property
    def frames_per_second(self) -> float:
        """Frames processed per second of wall time (all stages)."""
        total = self.timings.get("total", 0.0)
        return self.num_frames / total if total > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary: the sequence (:meth:`PoseSequence.to_json`), the video, timings."""
        return {
            "sequence": self.sequence.to_json(),
            "video": self.info.to_dict(),
            "overlay_path": None if self.overlay_path is None else str(self.overlay_path),
            "timings": dict(self.timings),
            "warnings": list(self.warnings),
        }


class _Timings(dict):
    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[stage] = self.get(stage, 0.0) + time.perf_counter() - start

    def iterate(self, stage: str, items: Any) -> Iterator[Any]:
        iterator = iter(items)
        while True:
            with self(stage):
                item = next(iterator, _END)
            if item is _END:
                return
            yield item


_END = object()


def _rescale(poses: Poses, scale: float, size: tuple[int, int]) -> Poses:
    """Poses found on an inference copy, in the original frame's pixels.

    2D and boxes scale by ``scale``; 3D is unchanged (the same points seen by the same camera at a higher
    resolution), the intrinsics in ``meta`` scale with the image.
    """
    meta = dict(poses.meta)
    if "intrinsics" in meta and poses.image_size:
        meta["intrinsics"] = list(scale_intrinsics(meta["intrinsics"], poses.image_size, size))
    if scale == 1.0:
        return replace(poses, image_size=size, meta=meta)
    return replace(poses, keypoints_2d=poses.keypoints_2d * scale, bboxes=poses.bboxes * scale, image_size=size,
                   meta=meta)  # fmt: skip


class _Estimator:
    """Detection, box carrying and batched pose estimation over chunks of frames (inference pixels)."""

    def __init__(self, framing: Framing, timings: _Timings) -> None:
        self.framing = framing
        self.k = framing.settings.detect_every
        self.timings = timings

    def _carried(self, poses: Poses, size: tuple[int, int]) -> np.ndarray:
        boxes, _ = boxes_from_keypoints(poses.keypoints_2d, poses.scores, self.framing.settings.keypoint_threshold,
                                        image_size=size)  # fmt: skip
        return boxes

    def run(
        self, frames: list[Frame], step: Callable[[float, str], None] | None = None, previous: Poses | None = None
    ) -> list[Poses]:
        """Poses of each frame of a chunk whose first frame is a detection frame, in inference pixels.

        ``step(fraction, what)`` is told the fraction of the chunk's work done, between its model calls. With
        ``previous`` (the poses of the frame just before, same pixels) the first frame carries its people
        instead (a live stream goes frame by frame: :mod:`posekit.pipelines.live`).
        """
        n = len(frames)
        images = [f.inference_image for f in frames]
        results: list[Poses | None] = [None] * n
        waves = min(self.k, n)
        step = step or (lambda fraction, what: None)
        for offset in range(waves):
            wave = list(range(offset, n, self.k))
            people: dict[int, tuple[np.ndarray, np.ndarray] | np.ndarray | None] = {}
            lost = []
            for i in wave:
                before = results[i - 1] if offset else previous if i == 0 else None
                h, w = images[i].shape[:2]
                carried = self._carried(before, (w, h)) if before is not None else np.zeros((0, 4))
                if len(carried):
                    people[i] = carried
                else:
                    lost.append(i)  # a detection frame, or nobody left to carry: look for people again
            if lost and self.framing.detector is not None:
                with self.timings("detect"):
                    people.update(zip(lost, self.framing.detect([images[i] for i in lost])))
                step((offset + 0.5) / waves, "estimating poses")
            else:
                people.update(zip(lost, self.framing.detect([images[i] for i in lost])))
            todo = [i for i in wave if people[i] is None or len(people[i][0] if isinstance(people[i], tuple)
                                                                  else people[i])]  # fmt: skip
            if todo:
                with self.timings("pose"):
                    predicted = self.framing.estimate([images[i] for i in todo], [people[i] for i in todo])
                for i, poses in zip(todo, predicted):
                    results[i] = poses
            step((offset + 1) / waves, "estimating poses")
            for i in wave:
                if results[i] is None:
                    h, w = images[i].shape[:2]
                    results[i] = Poses.empty(self.framing.model.skeleton, image_size=(w, h))
        return results  # type: ignore[return-value]


def read_bounds(settings: Settings) -> ReadBounds:
    """What of a video the settings read (frames, seconds, step or rate, the models' frame size)."""
    return ReadBounds(settings.max_frames, settings.max_duration_s, settings.max_side, settings.frame_step,
                      settings.target_fps)  # fmt: skip


def expected_frames(info: VideoInfo, bounds: ReadBounds) -> int | None:
    """Frames a read with ``bounds`` will give, from the container's counts (None when it does not say)."""
    frames = info.num_frames
    if frames is None and info.duration_s and info.fps:
        frames = math.ceil(info.duration_s * info.fps)
    if frames is None:
        return None
    if bounds.max_duration_s is not None and info.fps:
        frames = min(frames, math.ceil(bounds.max_duration_s * info.fps))
    if bounds.target_fps is not None and info.fps and bounds.target_fps < info.fps:
        frames = math.ceil(frames * bounds.target_fps / info.fps)
    frames = math.ceil(frames / bounds.stride)
    return max(1, min(frames, bounds.max_frames or frames))


def _build_sequence(
    frames: list[Poses], times: list[float], skeleton: Skeleton, size: tuple[int, int], fps: float | None,
    meta: dict[str, Any],
) -> PoseSequence:  # fmt: skip
    """Stack per-frame poses (with track ids) into a sequence; frames without people get NaN."""
    k = skeleton.num_keypoints
    with_3d = [p for p in frames if p.keypoints_3d is not None and len(p)]
    if with_3d:
        frames = [
            p if p.keypoints_3d is not None else replace(p, keypoints_3d=np.full((len(p), k, 3), np.nan, np.float32))
            for p in frames
        ]
    frames = [p if p.track_ids is not None else replace(p, track_ids=np.zeros(0, np.int64)) for p in frames]
    intrinsics = None
    known = [p.meta.get("intrinsics") for p in frames]
    if any(v is not None for v in known):
        first = next(v for v in known if v is not None)
        filled, last = [], first
        for v in known:  # frames without people keep the camera of the frame before
            last = v if v is not None else last
            filled.append(last)
        intrinsics = np.asarray(filled, dtype=np.float64)
    model_meta = {key: v for key, v in (with_3d[0].meta if with_3d else {}).items() if key != "intrinsics"}
    return PoseSequence.from_frames(
        frames,
        np.asarray(times, dtype=np.float64),
        skeleton=skeleton,
        image_size=size,
        fps=fps,
        space_3d=with_3d[0].space_3d if with_3d else None,
        intrinsics=intrinsics,
        meta={**model_meta, **meta},
    )


def process_video(
    path: str | os.PathLike,
    model: PoseEstimator,
    detector: PersonFinder | None = None,
    settings: Settings | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    overlay_path: str | os.PathLike | None = None,
    max_age: int | None = None,
    progress: ProgressFn | None = None,
    **options: Any,
) -> VideoResult:
    """Estimate, track and smooth the poses of the people in a video; optionally write an overlay video.

    Args:
        path: a video file (MP4, MOV, WebM, AVI, MKV...).
        model: a pose estimator (PoseKit, RTMPose3D).
        detector: a person detector; None lets the model frame each detection frame itself (PoseKit: the
            whole frame, then a crop around the person found; RTMPose3D: its own detector).
        settings: how to process (:class:`~posekit.pipelines.settings.Settings`; default: the model's
            defaults). Of its fields, videos use ``detect_every`` (look for people every k frames; in between,
            each person's box is carried forward from their keypoints in the previous frame, and a frame where
            nobody is left is detected again), ``batch_size``, ``single_person`` (at detection frames the box
            that continues the person followed so far; at the end, the most prominent track), ``smoothing``,
            ``smoothing_strength``, ``max_frames``, ``max_duration_s``, ``max_side``, ``frame_step``,
            ``target_fps``, the thresholds, ``max_people``, ``min_presence`` and ``overlay_max_side``.
        limits: upload bounds, checked from the container before decoding.
        overlay_path: write the frames with skeletons and track ids here (H.264 MP4), or None.
        max_age: frames a track survives unseen (None: about one second of frames).
        progress: called as ``progress(fraction, message)`` along the way.
        options: fields of :class:`Settings` to change (``detect_every=5``, ``smoothing="ema"``...).

    Returns:
        A :class:`VideoResult`.

    Raises:
        VideoError: not a readable video. LimitError: over ``limits``. ValueError: a bad option.
    """
    if settings is None:
        settings = Settings(model="posekit" if model.skeleton.num_keypoints == 19 else "rtmw3d-l",
                            detector=detector is not None)  # fmt: skip
    settings = settings.replace(**options) if options else settings
    smoothing = settings.smoothing_method
    smoothing_options = smoothing_params(smoothing, settings.smoothing_strength)
    report = progress or (lambda fraction, message: None)
    timings = _Timings()
    started = time.perf_counter()
    step = settings.frame_step
    bounds = read_bounds(settings)
    reader = VideoReader(path, bounds, limits, keep_original=False)
    info = reader.info
    fps = info.fps / step if info.fps else None
    if fps and settings.target_fps:
        fps = min(fps, settings.target_fps)
    keypoint_threshold = settings.keypoint_threshold
    tracker = Tracker(
        max_age=max_age if max_age is not None else max(5, round(fps or 30)), keypoint_threshold=keypoint_threshold
    )
    estimator = _Estimator(Framing(model, detector, settings), timings)
    expected = expected_frames(info, bounds)
    share = 0.85 if overlay_path is not None else 0.95
    report(0.0, f"reading {Path(path).name}")

    poses: list[Poses] = []
    times: list[float] = []
    chunk: list[Frame] = []
    chunk_size = settings.batch_size * settings.detect_every

    def flush() -> None:
        # Reported between model calls, so that the bar moves with the frames even when a chunk takes long.
        done, size = len(poses), len(chunk)
        of = f" of about {expected}" if expected else ""
        frames = f"frames {done + 1}-{done + size}{of}" if size > 1 else f"frame {done + 1}{of}"

        def step(part: float, what: str) -> None:
            fraction = min((done + part * size) / expected, 1.0) if expected else 0.5
            report(share * fraction, f"{what}: {frames}")

        step(0.0, "finding people" if estimator.framing.detector is not None else "estimating poses")
        results = estimator.run(chunk, step)
        with timings("track"):
            for frame, result in zip(chunk, results):
                poses.append(tracker.track(_rescale(result, frame.scale, frame.size)))
                times.append(frame.time)
        chunk.clear()

    for frame in timings.iterate("decode", reader):
        chunk.append(frame)
        if len(chunk) == chunk_size:
            flush()
    if chunk:
        flush()

    meta = {
        "source": {
            "kind": "video",
            "file": Path(path).name,
            **{k: v for k, v in info.to_dict().items() if k != "path"},
        },
        "model": type(model).__name__,
        "detector": None if detector is None else type(detector).__name__,
    }
    sequence = _build_sequence(poses, times, model.skeleton, (info.width, info.height), fps, meta)
    if settings.single_person and sequence.num_people > 1:
        sequence = sequence.people([select_main_track(sequence, keypoint_threshold)])
    report(share, "smoothing")
    with timings("smooth"):
        sequence = smooth_pose_sequence(sequence, smoothing, **smoothing_options)

    written = None
    if overlay_path is not None:
        report(share, "drawing the overlay video")
        written = _write_overlay(
            path, Path(overlay_path), sequence, replace(bounds, max_side=settings.overlay_max_side), limits, info,
            keypoint_threshold, timings, lambda f: report(share + (1 - share) * f, "drawing the overlay video"),
        )  # fmt: skip
    timings["total"] = time.perf_counter() - started
    people = f"{sequence.num_people} {'person' if sequence.num_people == 1 else 'people'}"
    report(1.0, f"done: {sequence.num_frames} frames, {people}")
    return VideoResult(sequence=sequence, info=info, overlay_path=written, timings=dict(timings),
                       warnings=list(reader.warnings))  # fmt: skip


def _write_overlay(
    path: str | os.PathLike,
    out: Path,
    sequence: PoseSequence,
    bounds: ReadBounds,
    limits: Limits,
    info: VideoInfo,
    keypoint_threshold: float,
    timings: _Timings,
    progress: Callable[[float], None],
) -> Path:
    """Decode the same frames again, at the overlay's size (``bounds.max_side``), and write them with
    ``sequence`` drawn on them."""
    reader = VideoReader(path, bounds, limits, keep_original=False)
    fps = info.fps or sequence.estimated_fps() or 30.0
    total = max(sequence.num_frames, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VideoWarning)  # the first pass reported them already
        with VideoWriter(out, fps=fps) as writer:
            for t, frame in enumerate(timings.iterate("decode", reader)):
                if t >= sequence.num_frames:
                    break
                with timings("draw"):
                    poses = sequence.frame(t)
                    if frame.scale != 1.0:
                        poses = replace(poses, keypoints_2d=poses.keypoints_2d / frame.scale,
                                        bboxes=poses.bboxes / frame.scale)  # fmt: skip
                    image = draw_poses(frame.inference_image, poses, keypoint_threshold)
                with timings("encode"):
                    writer.write(image, time=frame.time)
                if t % 16 == 0:
                    progress(t / total)
            with timings("encode"):
                return writer.close()


def run_video(job: Job) -> JobResult:
    """The video job: probe (bounded), estimate, track, smooth, draw the overlay, write JSON and ZIP."""
    settings = job.settings
    # Size, pixels, duration and frame count from the container, before any model is loaded.
    probe_video(job.path, job.limits, read_bounds(settings))
    model, detector = job.models.for_job(settings)
    overlay = job.outputs.path("_overlay.mp4") if settings.overlay else None
    result = process_video(job.path, model, detector, settings, limits=job.limits, overlay_path=overlay,
                           progress=job.progress)  # fmt: skip
    seq = result.sequence
    source = {**seq.meta.get("source", {}), "kind": "video", "file": job.name, "timings_s": result.timings}
    files = {"overlay": result.overlay_path} if result.overlay_path is not None else {}
    written = write_results(seq, source, settings, job.models, job.outputs, files)
    details = {"frames_per_second": result.frames_per_second, "width": result.info.width,
               "height": result.info.height}  # fmt: skip
    return JobResult("video", job.name, written.document, seq, written.files, list(result.warnings),
                     result.timings.get("total", 0.0), details)  # fmt: skip
