"""The app's inference: the only function that asks ZeroGPU for a GPU.

Its arguments and result cross a process boundary on ZeroGPU (pickled into a worker forked from the app), so
they are light and picklable: the :class:`~posekit.ui.models.ModelRegistry` travels as a reference, settings
and limits are frozen dataclasses, and so is :class:`Progress` (with its deadline).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from posekit.limits import LimitError, Limits
from posekit.pipelines import JobResult, Settings, run_file
from posekit.ui.gpu import gpu
from posekit.ui.models import ModelRegistry

MAX_GPU_SECONDS = 240
GPU_SECONDS_PER_FRAME = {"rtmw3d-l": 0.08, "rtmw3d-x": 0.12, "posekit": 0.04}
"""Rough ZeroGPU time per frame (detection, pose, drawing, encoding), with headroom: sizes the GPU request."""


WORK_SECONDS_PER_FRAME = {
    "cpu": {"rtmw3d-l": 0.35, "rtmw3d-x": 0.7, "posekit": 0.05},
    "cuda": {"rtmw3d-l": 0.04, "rtmw3d-x": 0.06, "posekit": 0.02},
}
"""Seconds of work per frame of a video or capture (decoding, people, pose, tracking, overlay, encoding) by
device and model; sizes the work budget (:func:`check_work`), not results. CPU: RTMW3D-L from the #16 trial
(300 frames in 103 s: 0.34 s a frame), RTMW3D-X about twice that, PoseKit mostly decoding and encoding (its
network is ~10 ms a frame). CUDA: about half of :data:`GPU_SECONDS_PER_FRAME`, which holds ZeroGPU's headroom.
A machine slower than these (a loaded shared CPU ran RTMW3D-L at 2.3 s a frame) is caught by the wall clock:
:class:`Progress` stops a job at :data:`STOP_AFTER` times the budget."""
STOP_AFTER = 2.0
"""A job still running after this many times ``Limits.max_work_s`` is stopped (the estimate is an average: a
crowded video runs slower than an empty one)."""


def work_seconds(model: str, frames: int, device: str) -> float:
    """Estimated seconds of work for ``frames`` frames of ``model`` (a library id) on ``device``."""
    table = WORK_SECONDS_PER_FRAME["cpu" if device == "cpu" else "cuda"]
    return frames * table.get(model, max(table.values()))


def check_work(settings: Settings, frames: int, device: str, limits: Limits, name: str) -> None:
    """Refuse a request whose estimated work is over ``limits.max_work_s``, before it runs.

    Raises:
        LimitError: naming the upload, the estimate and how to bring it within the budget.
    """
    budget = limits.max_work_s
    if budget is None or frames <= 1:
        return
    seconds = work_seconds(settings.model, frames, device)
    if seconds <= budget:
        return
    from posekit.estimators.registry import LABELS

    label = LABELS.get(settings.model, settings.model)
    step = min(settings.frame_step * math.ceil(seconds / budget), 100)
    per = seconds / frames
    raise LimitError(
        f"{name}: {frames:,} frames with {label} on {device.upper()} is about {seconds:,.0f} s of work ({per:.2f} s "
        f"a frame), over this app's budget of {budget:,.0f} s a request. To reduce the work: process fewer "
        f"seconds (Duration), every n-th frame (a Frame step of {step} or more), or choose the PoseKit model "
        "(the fastest)."
    )


@dataclass(frozen=True)
class Progress:
    """``progress(fraction, message)`` for the library's pipelines, shown as the request's Gradio progress bar,
    the job's 0..1 drawn from ``start`` to ``end`` of the bar (the handler's own steps before and after it keep
    the bar moving forward).

    Light and picklable, so it travels into a ZeroGPU worker (a closure would not); each call reaches the
    running request through Gradio's context. With a ``deadline`` (``time.time()`` seconds) a job still running
    after it is stopped there, with a :class:`~posekit.limits.LimitError` saying how to reduce the work.
    """

    start: float = 0.0
    end: float = 1.0
    deadline: float | None = None
    budget_s: float | None = None

    def __call__(self, fraction: float, message: str) -> None:
        if self.deadline is not None and time.time() > self.deadline:
            raise LimitError(
                f"stopped after {(self.budget_s or 0) * STOP_AFTER:,.0f} s, past this app's budget of "
                f"{self.budget_s or 0:,.0f} s of work a request. To reduce the work: "
                "process fewer seconds (Duration), a larger Frame step, or choose the PoseKit model (the fastest)."
            )
        gr.Progress()(self.start + (self.end - self.start) * fraction, desc=message)

    def within(self, limits: Limits) -> Progress:
        """This progress, stopping the job at :data:`STOP_AFTER` times the limits' work budget (none without)."""
        if limits.max_work_s is None:
            return self
        return replace(self, deadline=time.time() + limits.max_work_s * STOP_AFTER, budget_s=limits.max_work_s)


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

    ``expected_frames`` only sizes the GPU time asked of ZeroGPU; the job stops past twice the limits' work
    budget (:class:`Progress`).
    """
    progress = JOB_SHARE.within(limits)
    return run_file(path, settings, registry.models, out_dir, stem, kind, limits, progress, name)  # type: ignore[arg-type]
