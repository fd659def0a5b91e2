"""Poses of a live stream (a webcam, the app's Live tab), frame by frame as the frames arrive.

A :class:`LiveSession` is the per-stream state of the video pipeline (:mod:`posekit.pipelines.video`) made
online: the same :class:`~posekit.pipelines.image.Framing` finds the people, the same box carrying follows
them between detections (every ``detect_every`` frames), the same :class:`~posekit.processing.tracking.Tracker`
keeps their ids, and the batch smoother's filters run per track as each frame arrives
(:class:`~posekit.processing.track_smoothing.TrackSmoother`). Frames are downscaled to ``settings.max_side``
for the models (:data:`LIVE_MAX_SIDE` by default); poses come back in the original frame's pixels.

>>> import cv2
>>> from posekit.pipelines import Models
>>> from posekit.pipelines.live import camera_frames, live_poses, live_settings
>>> settings = live_settings("posekit")
>>> model, detector = Models.for_settings(settings).for_job(settings)
>>> for poses in live_poses(camera_frames(cv2.VideoCapture(0)), model, detector, settings):
...     print(poses.track_ids, poses.keypoints_2d.shape)

A session can record what it sees (:meth:`LiveSession.start_recording`) and give it back as a
:class:`~posekit.sequence.PoseSequence` (:meth:`LiveSession.to_sequence`) for the usual results files.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from posekit.estimators.base import PersonFinder, PoseEstimator
from posekit.io.video import Frame, inference_size
from posekit.pipelines.image import Framing
from posekit.pipelines.settings import Settings
from posekit.pipelines.video import _build_sequence, _Estimator, _rescale, _Timings
from posekit.poses import Poses
from posekit.processing.people import select_main_track
from posekit.processing.track_smoothing import TrackSmoother
from posekit.processing.tracking import Tracker
from posekit.sequence import PoseSequence
from posekit.viz.drawing import draw_poses

LIVE_MAX_SIDE = 640
"""Frames are downscaled to this longest side for the models: PoseKit sees 256x192 crops and RTMDet 640x640,
so a larger webcam frame costs decoding and resizing without better poses."""
LIVE_DETECT_EVERY = 5
"""Look for people afresh every 5 frames; between, boxes follow the keypoints (PoseKit: one model call
instead of the whole frame plus the crop, ~10 ms instead of ~20 ms on 2 CPU cores)."""
MAX_RECORDED_FRAMES = 3600
"""A recording keeps at most this many frames (two minutes at 30 frames/s), then stops growing."""
STATS_WINDOW_S = 2.0
"""Frames per second are measured over the last two seconds."""


def live_settings(model: str = "posekit", **changes: Any) -> Settings:
    """:class:`~posekit.pipelines.settings.Settings` for a live stream: frames downscaled to
    :data:`LIVE_MAX_SIDE`, people looked for every :data:`LIVE_DETECT_EVERY` frames, one frame per model call,
    One-Euro smoothing; ``changes`` override any field."""
    values: dict[str, Any] = {"max_side": LIVE_MAX_SIDE, "detect_every": LIVE_DETECT_EVERY, "batch_size": 1,
                              "smoothing": "one_euro", **changes}  # fmt: skip
    return Settings(model=model, **values)


def _model_kind(model: PoseEstimator) -> str:
    return "posekit" if model.skeleton.num_keypoints == 19 else "rtmw3d-l"


class LiveSession:
    """One stream's state: framing, tracking, online smoothing, timing and an optional recording.

    Args:
        model: the pose estimator.
        detector: the person detector, or None to let the model frame each detection frame (PoseKit).
        settings: how to process (default: :func:`live_settings` of the model's kind); it uses ``max_side``,
            ``detect_every``, the thresholds, ``single_person``, ``max_people``, ``min_presence``,
            ``smoothing`` and ``smoothing_strength``.
        max_age: frames a track survives unseen (None: ``max(5, expected_fps)``, about one second).
        expected_fps: the stream's rate, for ``max_age``'s default.
        max_recorded: a recording keeps at most this many frames.
    """

    def __init__(
        self,
        model: PoseEstimator,
        detector: PersonFinder | None = None,
        settings: Settings | None = None,
        *,
        max_age: int | None = None,
        expected_fps: float = 15.0,
        max_recorded: int = MAX_RECORDED_FRAMES,
    ) -> None:
        if settings is None:
            settings = live_settings(_model_kind(model), detector=detector is not None)
        self.settings = settings
        self.model, self.detector = model, detector
        self.timings = _Timings()
        self.framing = Framing(model, detector, settings)
        self._estimator = _Estimator(self.framing, self.timings)
        self.tracker = Tracker(max_age=max_age if max_age is not None else max(5, round(expected_fps)),
                               keypoint_threshold=settings.keypoint_threshold)  # fmt: skip
        self.smoother = TrackSmoother(settings.smoothing_method, settings.smoothing_strength)
        self.max_recorded = max_recorded
        self.frames = 0
        self.recording = False
        self._recorded: list[Poses] = []
        self._recorded_times: list[float] = []
        self._record_size: tuple[int, int] | None = None
        self._previous: Poses | None = None  # the last frame's raw poses, inference pixels (for box carrying)
        self._size: tuple[int, int] | None = None
        self._last_t: float | None = None
        self._start = time.perf_counter()
        self._done: deque[float] = deque()  # wall times frames were finished, over STATS_WINDOW_S
        self._latencies: deque[float] = deque(maxlen=200)
        self.last_image: np.ndarray | None = None  # the last frame as the models saw it (downscaled)
        self.last_scale = 1.0

    # ---- One frame -------------------------------------------------------------------------------------------
    def process(self, frame_bgr: np.ndarray, timestamp: float | None = None) -> Poses:
        """Estimate, track and smooth the people of the next frame.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR.
            timestamp: when the frame was taken, in seconds (None: now, on this process's clock). Times
                should increase; a repeated or earlier one is taken as one frame interval later.

        Returns:
            :class:`~posekit.poses.Poses` in ``frame_bgr``'s pixels, with ``track_ids``, smoothed.
        """
        started = time.perf_counter()
        image = np.asarray(frame_bgr)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"LiveSession.process: expected an (H, W, 3) uint8 BGR frame, got {image.dtype} "
                             f"{image.shape}")  # fmt: skip
        h, w = image.shape[:2]
        t = started - self._start if timestamp is None else float(timestamp)
        if self._last_t is not None and not t > self._last_t:
            t = self._last_t + 1e-3  # keep times increasing: the filters and the sequence need it
        if self._size != (w, h):  # a new camera or resolution: nobody carries over
            self._size, self._previous = (w, h), None
            self.tracker.reset()
            self.smoother.reset()
        small_w, small_h = inference_size(w, h, self.settings.max_side)
        small = image if (small_w, small_h) == (w, h) else cv2.resize(image, (small_w, small_h),
                                                                          interpolation=cv2.INTER_AREA)  # fmt: skip
        frame = Frame(index=self.frames, time=t, image=None, inference_image=small, size=(w, h), scale=w / small_w)
        detect = self.frames % self.settings.detect_every == 0
        raw = self._estimator.run([frame], previous=None if detect else self._previous)[0]
        self._previous = raw
        with self.timings("track"):
            poses = self.tracker.track(_rescale(raw, frame.scale, frame.size))
        with self.timings("smooth"):
            poses = self.smoother.update(poses, t)
        if self.recording:
            self._record(poses, t)
        self.frames += 1
        self._last_t = t
        self.last_image, self.last_scale = small, frame.scale
        done = time.perf_counter()
        self._latencies.append(done - started)
        self._done.append(done)
        while self._done and done - self._done[0] > STATS_WINDOW_S:
            self._done.popleft()
        return poses

    def render(self, poses: Poses) -> np.ndarray:
        """The last frame as the models saw it (downscaled to ``max_side``) with ``poses`` (original pixels)
        drawn on it: the overlay a live view shows. BGR."""
        if self.last_image is None:
            raise ValueError("LiveSession.render: no frame processed yet")
        s = self.last_scale
        if s != 1.0:
            poses = replace(poses, keypoints_2d=poses.keypoints_2d / s, bboxes=poses.bboxes / s)
        return draw_poses(self.last_image, poses, self.settings.keypoint_threshold)

    def stream(self, frames: Iterable[np.ndarray | tuple[np.ndarray, float]]) -> Iterator[Poses]:
        """:meth:`process` every frame of ``frames`` (BGR arrays, or ``(frame, seconds)`` pairs), in order."""
        for item in frames:
            if isinstance(item, tuple):
                yield self.process(item[0], item[1])
            else:
                yield self.process(item)

    # ---- Figures ---------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, float]:
        """Measured figures: ``frames``, ``fps`` (frames finished per second over the last
        :data:`STATS_WINDOW_S`), ``latency_ms`` (the last frame's processing: resize, detect or carry, pose,
        track, smooth), ``latency_median_ms`` and ``latency_p95_ms`` over the last 200 frames."""
        lat = np.asarray(self._latencies) * 1000.0
        fps = float("nan")
        if len(self._done) >= 2:
            span = self._done[-1] - self._done[0]
            fps = (len(self._done) - 1) / span if span > 0 else float("nan")
        return {
            "frames": float(self.frames),
            "fps": fps,
            "latency_ms": float(lat[-1]) if len(lat) else float("nan"),
            "latency_median_ms": float(np.median(lat)) if len(lat) else float("nan"),
            "latency_p95_ms": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
        }

    # ---- Recording -------------------------------------------------------------------------------------------
    def start_recording(self) -> None:
        """Keep the poses of every frame from now on (a previous recording is dropped)."""
        self._recorded, self._recorded_times, self._record_size = [], [], None
        self.recording = True

    def stop_recording(self) -> PoseSequence:
        """Stop keeping poses; returns what was recorded (:meth:`to_sequence`)."""
        self.recording = False
        return self.to_sequence()

    @property
    def recorded_frames(self) -> int:
        return len(self._recorded)

    def _record(self, poses: Poses, t: float) -> None:
        if self._record_size is not None and poses.image_size != self._record_size:
            self.start_recording()  # another resolution: a sequence holds one frame size
        self._record_size = poses.image_size
        if len(self._recorded) < self.max_recorded:
            self._recorded.append(poses)
            self._recorded_times.append(t)

    def to_sequence(self) -> PoseSequence:
        """The recorded frames as a :class:`~posekit.sequence.PoseSequence` (tracked, smoothed, original
        pixels, times from the first recorded frame), as :func:`~posekit.pipelines.video.process_video` would
        give them; with ``single_person`` the main track only. Empty (0 frames) when nothing was recorded."""
        frames, times = self._recorded, np.asarray(self._recorded_times, np.float64)
        times = times - times[0] if len(times) else times
        size = self._record_size or self._size or (1, 1)
        fps = (len(times) - 1) / times[-1] if len(times) > 1 and times[-1] > 0 else None
        meta = {
            "source": {"kind": "live", "width": size[0], "height": size[1], "frames": len(frames)},
            "model": type(self.model).__name__,
            "detector": None if self.detector is None else type(self.detector).__name__,
        }
        seq = _build_sequence(list(frames), list(times), self.model.skeleton, size, fps, meta)
        if self.settings.single_person and seq.num_people > 1:
            seq = seq.people([select_main_track(seq, self.settings.keypoint_threshold)])
        if self.smoother.method != "none":
            seq = replace(seq, meta={**seq.meta, "smoothing": self.smoother.meta})
        return seq


def live_poses(
    frames: Iterable[np.ndarray | tuple[np.ndarray, float]],
    model: PoseEstimator,
    detector: PersonFinder | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> Iterator[Poses]:
    """Tracked, smoothed poses of each frame of a live stream, as the frames come (a generator).

    Args:
        frames: BGR arrays (timed on arrival) or ``(frame, seconds)`` pairs, e.g. :func:`camera_frames`.
        model, detector, settings: as in :class:`LiveSession`.
        options: :class:`LiveSession`'s keyword arguments (``max_age``, ``expected_fps``...).
    """
    yield from LiveSession(model, detector, settings, **options).stream(frames)


def camera_frames(capture: Any, max_frames: int | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """``(frame, seconds)`` from an opened ``cv2.VideoCapture`` (a webcam: ``cv2.VideoCapture(0)``), timed on
    this process's monotonic clock when each frame is read, until it gives no more or ``max_frames``."""
    count = 0
    while max_frames is None or count < max_frames:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame, time.monotonic()
        count += 1


__all__ = ["LIVE_DETECT_EVERY", "LIVE_MAX_SIDE", "LiveSession", "camera_frames", "live_poses", "live_settings"]
