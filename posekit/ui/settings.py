"""What the user chose in the app, checked (API callers can send anything) and picklable (ZeroGPU)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from posekit.limits import Limits

MAX_FRAME_STEP = 10
SMOOTHING_NAMES = {"none": "off", "ema": "EMA", "one_euro": "One-Euro"}


@dataclass(frozen=True)
class Settings:
    """What the user chose; checked here because API callers can send anything.

    Attributes:
        model: one of the registry's names.
        box_threshold: person detector score below which a box is dropped, 0..1.
        keypoint_threshold: keypoint score below which a joint is not drawn (2D and 3D), 0..1.
        single_person: keep only the most prominent person (largest box x highest score).
    """

    model: str
    box_threshold: float = 0.5
    keypoint_threshold: float = 0.3
    single_person: bool = False

    def __post_init__(self) -> None:
        for name in ("box_threshold", "keypoint_threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name.replace('_', ' ')}: expected a number from 0 to 1, got {value!r}")


@dataclass(frozen=True)
class Temporal:
    """Settings for sequences: smoothing over time and how much of the video or capture to read.

    Attributes:
        smoothing: ``"none"``, ``"ema"`` (the iPhone app's) or ``"one_euro"``.
        smoothing_strength: 0 (light) .. 1 (heavy).
        max_duration_s: seconds read from the start; the upload limits refuse more seconds, or more frames
            (after ``frame_step``), than they allow.
        frame_step: process every n-th frame, 1..MAX_FRAME_STEP.
    """

    smoothing: str = "one_euro"
    smoothing_strength: float = 0.5
    max_duration_s: float = 10.0
    frame_step: int = 1

    def __post_init__(self) -> None:
        if self.smoothing not in SMOOTHING_NAMES:
            raise ValueError(f"smoothing: expected one of {list(SMOOTHING_NAMES)}, got {self.smoothing!r}")
        if not isinstance(self.smoothing_strength, (int, float)) or not 0.0 <= self.smoothing_strength <= 1.0:
            raise ValueError(f"smoothing strength: expected a number from 0 to 1, got {self.smoothing_strength!r}")
        if not isinstance(self.max_duration_s, (int, float)) or not self.max_duration_s > 0:
            raise ValueError(f"duration: expected a number of seconds above 0, got {self.max_duration_s!r}")
        step = self.frame_step
        if not isinstance(step, (int, float)) or step != int(step) or not 1 <= step <= MAX_FRAME_STEP:
            raise ValueError(f"frame step: expected a whole number from 1 to {MAX_FRAME_STEP}, got {step!r}")
        object.__setattr__(self, "frame_step", int(step))

    def expected_frames(self, frames: int | None, fps: float | None, duration: float | None, limits: Limits) -> int:
        """Frames that will be processed, from the container's counts (for the GPU time estimate); more than
        ``limits.max_frames`` is refused by the reader with a message."""
        n = frames or (round(duration * fps) if duration and fps else limits.max_frames)
        if fps:
            n = min(n, math.ceil(self.max_duration_s * fps))
        return max(1, min(math.ceil(n / self.frame_step), limits.max_frames))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
