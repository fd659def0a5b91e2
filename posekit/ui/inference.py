"""The app's inference: the only functions that ask ZeroGPU for a GPU, and what they share.

Their arguments and results cross a process boundary on ZeroGPU (pickled into a worker forked from the app),
so they take light, picklable values: a :class:`~posekit.ui.models.LoadedModel` travels as a reference,
settings are frozen dataclasses, progress is the stateless :class:`Progress`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from posekit.io.captures.base import Capture, RGBDFrame
from posekit.io.captures.open import open_capture
from posekit.io.video import VideoWriter
from posekit.limits import Limits
from posekit.pipelines.capture import process_capture
from posekit.pipelines.image import estimate_image
from posekit.pipelines.video import VideoResult, process_video
from posekit.poses import Poses
from posekit.processing.smoothing import smoothing_params
from posekit.sequence import PoseSequence
from posekit.ui.gpu import gpu
from posekit.ui.models import LoadedModel
from posekit.ui.settings import Settings, Temporal
from posekit.viz.drawing import draw_poses

INFERENCE_MAX_SIDE = 1920  # frames above it are downscaled for the models (results stay in original pixels)
OVERLAY_MAX_SIDE = 1280  # the overlay video plays in a browser tab: HD is enough
MAX_GPU_SECONDS = 240
GPU_SECONDS_PER_FRAME = {"RTMW3D-L": 0.08, "RTMW3D-X": 0.12, "PoseKit": 0.04}
"""Rough ZeroGPU time per frame (detection, pose, drawing, encoding), with headroom: sizes the GPU request."""


class Progress:
    """``progress(fraction, message)`` for the library's pipelines, shown as the request's Gradio progress bar.

    Stateless, so it pickles into a ZeroGPU worker (a closure would not); each call reaches the running
    request through Gradio's context.
    """

    def __call__(self, fraction: float, message: str) -> None:
        gr.Progress()(fraction, desc=message)


def _image_gpu_seconds(model: LoadedModel, *args: Any, **kwargs: Any) -> int:
    """ZeroGPU's duration for one image: short (the model is loaded already)."""
    return 30 if model.name == "RTMW3D-X" else 20


def _sequence_gpu_seconds(model: LoadedModel, expected_frames: int) -> int:
    return int(min(MAX_GPU_SECONDS, 20 + expected_frames * GPU_SECONDS_PER_FRAME.get(model.name, 0.1)))


@gpu(duration=_image_gpu_seconds)
def infer_image(model: LoadedModel, image: np.ndarray, settings: Settings) -> Poses:
    """Detect people, keep the boxes the settings allow, estimate their poses.

    Args:
        image: (H, W, 3) uint8 BGR.
    """
    return estimate(model, image, settings)


def estimate(model: LoadedModel, image: np.ndarray, settings: Settings) -> Poses:
    """:func:`infer_image` without the GPU request (for use inside another inference handler)."""
    return estimate_image(
        image,
        model.estimator,
        model.detector,
        bbox_threshold=settings.box_threshold,
        single_person=settings.single_person,
    )


def _video_gpu_seconds(model: LoadedModel, *args: Any, expected_frames: int, **kwargs: Any) -> int:
    """ZeroGPU's dynamic duration: called with :func:`infer_video`'s arguments."""
    return _sequence_gpu_seconds(model, expected_frames)


@gpu(duration=_video_gpu_seconds)
def infer_video(
    model: LoadedModel,
    path: str,
    settings: Settings,
    timing: Temporal,
    limits: Limits,
    overlay: Path,
    expected_frames: int,
    progress: Callable[[float, str], None] | None = None,
) -> VideoResult:
    """Detect, estimate, track and smooth the people of a video, and draw the overlay video.

    ``expected_frames`` only sizes the GPU time asked of ZeroGPU.
    """
    return process_video(
        path,
        model.estimator,
        model.detector,
        single_person=settings.single_person,
        smoothing=timing.smoothing,  # type: ignore[arg-type]
        smoothing_strength=timing.smoothing_strength,
        max_duration_s=timing.max_duration_s,
        max_side=INFERENCE_MAX_SIDE,
        stride=timing.frame_step,
        limits=limits,
        overlay_path=overlay,
        overlay_max_side=OVERLAY_MAX_SIDE,
        keypoint_threshold=settings.keypoint_threshold,
        bbox_threshold=settings.box_threshold,
        progress=progress,
    )


def capture_frames(num_frames: int, fps: float | None, timing: Temporal) -> int:
    """Frames of a capture within ``timing.max_duration_s`` from its start (all when the rate is unknown)."""
    return num_frames if not fps else min(num_frames, max(1, math.ceil(timing.max_duration_s * fps)))


class FirstFrames(Capture):
    """The first ``count`` frames of an opened capture (the app's duration setting)."""

    def __init__(self, capture: Capture, count: int) -> None:
        self.capture = capture
        self.info = replace(capture.info, num_frames=min(count, capture.info.num_frames))

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[RGBDFrame]:
        end = self.info.num_frames if stop is None else min(stop, self.info.num_frames)
        return self.capture.frames(start, end, step)

    def close(self) -> None:
        self.capture.close()


def _capture_gpu_seconds(model: LoadedModel, *args: Any, expected_frames: int, **kwargs: Any) -> int:
    """ZeroGPU's dynamic duration: called with :func:`infer_capture`'s arguments."""
    return _sequence_gpu_seconds(model, expected_frames)


@gpu(duration=_capture_gpu_seconds)
def infer_capture(
    model: LoadedModel,
    path: str,
    settings: Settings,
    timing: Temporal,
    depth_mode: str,
    limits: Limits,
    overlay: Path,
    expected_frames: int,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[PoseSequence, Path]:
    """The RGB-D pipeline over the capture's first ``timing.max_duration_s`` seconds, and its overlay video.

    ``expected_frames`` only sizes the GPU time asked of ZeroGPU.
    """
    report = progress or (lambda fraction, message: None)
    with open_capture(path, limits) as opened:
        capture = FirstFrames(opened, capture_frames(opened.info.num_frames, opened.info.fps, timing))
        seq = process_capture(
            capture,
            lambda image: estimate(model, image, settings),
            depth_mode=depth_mode,  # type: ignore[arg-type]
            smoothing=timing.smoothing,  # type: ignore[arg-type]
            smoothing_params=smoothing_params(timing.smoothing, timing.smoothing_strength),  # as for videos
            min_keypoint_score=settings.keypoint_threshold,
            limits=limits,
            step=timing.frame_step,
            progress=lambda done, total: report(0.85 * done / max(total, 1), f"poses: frame {done} of {total}"),
        )
        report(0.85, "drawing the overlay video")
        fps = seq.estimated_fps() or 30.0
        with VideoWriter(overlay, fps=fps, max_side=OVERLAY_MAX_SIDE) as writer:
            for t, frame in enumerate(capture.frames(0, None, timing.frame_step)):
                if t >= seq.num_frames:
                    break
                writer.write(
                    draw_poses(frame.color, seq.frame(t), settings.keypoint_threshold),
                    time=seq.timestamps[t] - seq.timestamps[0],
                )
            path_out = writer.close()
    return seq, path_out
