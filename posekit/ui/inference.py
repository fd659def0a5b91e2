"""The app's inference: the only function that asks ZeroGPU for a GPU.

Its arguments and result cross a process boundary on ZeroGPU (pickled into a worker forked from the app), so
they are light and picklable: the :class:`~posekit.ui.models.ModelRegistry` travels as a reference, settings
and limits are frozen dataclasses, progress is the stateless :class:`Progress`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from posekit.limits import Limits
from posekit.pipelines import JobResult, Settings, run_file
from posekit.ui.gpu import gpu
from posekit.ui.models import ModelRegistry

MAX_GPU_SECONDS = 240
GPU_SECONDS_PER_FRAME = {"rtmw3d-l": 0.08, "rtmw3d-x": 0.12, "posekit": 0.04}
"""Rough ZeroGPU time per frame (detection, pose, drawing, encoding), with headroom: sizes the GPU request."""


@dataclass(frozen=True)
class Progress:
    """``progress(fraction, message)`` for the library's pipelines, shown as the request's Gradio progress bar,
    the job's 0..1 drawn from ``start`` to ``end`` of the bar (the handler's own steps before and after it keep
    the bar moving forward).

    Two numbers, so it pickles into a ZeroGPU worker (a closure would not); each call reaches the running
    request through Gradio's context.
    """

    start: float = 0.0
    end: float = 1.0

    def __call__(self, fraction: float, message: str) -> None:
        gr.Progress()(self.start + (self.end - self.start) * fraction, desc=message)


JOB_SHARE = Progress(0.05, 0.95)
"""Where a job's progress goes on the bar: after the model's loading, before the 3D figure is drawn."""


def gpu_seconds(registry: ModelRegistry, path: str, settings: Settings, *args: Any, expected_frames: int,
                **kwargs: Any) -> int:  # fmt: skip
    """ZeroGPU's duration for a job, from :func:`run_job`'s own arguments: short for an image (the model is
    loaded already), estimated from the frames for a sequence."""
    per_frame = GPU_SECONDS_PER_FRAME.get(settings.model, 0.1)
    if expected_frames <= 1:
        return 30 if settings.model == "rtmw3d-x" else 20
    return int(min(MAX_GPU_SECONDS, 20 + expected_frames * per_frame))


@gpu(duration=gpu_seconds)
def run_job(
    registry: ModelRegistry,
    path: str,
    settings: Settings,
    out_dir: str,
    stem: str,
    kind: str,
    limits: Limits,
    name: str,
    expected_frames: int,
) -> JobResult:
    """One image, video or capture through :func:`posekit.pipelines.run_file`, on the GPU when there is one.

    ``expected_frames`` only sizes the GPU time asked of ZeroGPU.
    """
    return run_file(path, settings, registry.models, out_dir, stem, kind, limits, JOB_SHARE, name)  # type: ignore[arg-type]
