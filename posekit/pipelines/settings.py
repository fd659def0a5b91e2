"""One settings object for every door (CLI, app, batch, Python), with one set of defaults per model.

A field left at None takes the model's default from :data:`MODEL_DEFAULTS` (or the input kind's, for
smoothing) when the settings are built, so ``Settings(model="posekit")`` holds the values that will be used,
and a results file records them (:meth:`Settings.to_dict`) so that a result can be reproduced from its own
file.

Where the defaults come from:

* RTMW3D (``rtmw3d-l``, ``rtmw3d-x``): RTMDet-M finds the people (box score >= 0.3, mmpose's demo value);
  keypoints drawn from score 0.3 (its scores are SimCC confidences, ~0.3-1 on seen joints).
* PoseKit: the whole frame, one person, as the iPhone app frames it, refined by a crop around that person
  (no detector: RTMDet-M costs ~0.3 s a frame on CPU, PoseKit ~10 ms). Its scores run low: on the shared
  COCO persons the median score of visible joints is 0.19 and the decoder zeroes every score under 0.1, so
  joints are drawn from 0.1 (9 of 12 COCO crops then show >= 12 joints, against 0 at 0.3):
  ``benchmarks/posekit_scores.py``. A person is kept when the mean of their 8 best joint scores (of 19, after
  the refine) is >= 0.168, measured end to end on this path (``benchmarks/posekit_defaults.py``): 102 images
  without a person (blank, noise, gradients, person-free regions of the COCO and video frames, at their own
  size, 640x480 and 1280x720) reach at most 0.160; the 14 person inputs whose skeleton the path places (>= 6
  joints right: 3 whole COCO images, 11 COCO person photos) score >= 0.217, and the two video frames where it
  lands on a player or a walker (seen by eye) 0.176 and 0.178. 0.168 is the midpoint of 0.160 and 0.176, a
  margin of only 0.008 each side. No threshold that drops the empty images keeps the 6 person inputs the
  path does not place (the 4 Human3.6M frames, whose person is small in the letterboxed frame, an occluded
  COCO person, two people side by side): 0 to 4 joints right, scored 0 to 0.151 like empty images. At 0.128,
  the crop-framing midpoint used before, 4 empty images were reported as persons. With a detector its boxes
  decide who is a person (:class:`~posekit.pipelines.image.Framing`).
* Smoothing: One-Euro for videos and captures (time-aware, little lag); a take is played back as recorded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from posekit.estimators.base import PRECISIONS
from posekit.estimators.registry import ESTIMATORS, check_estimator_name
from posekit.processing.depth_sampler import DEPTH_MODES

Smoothing = Literal["one_euro", "ema", "none"]
SMOOTHINGS: tuple[str, ...] = ("one_euro", "ema", "none")
SMOOTHING_LABELS = {"one_euro": "One-Euro", "ema": "EMA (the PoseKit app's)", "none": "off"}
EXPORT_FORMATS: tuple[str, ...] = ("bvh", "glb")
"""Animation files a results ZIP can hold for a sequence with 3D (:mod:`posekit.io.animation`)."""


@dataclass(frozen=True)
class ModelDefaults:
    """What a model runs best with (see the module docstring for where each value comes from)."""

    detector: bool
    bbox_threshold: float
    keypoint_threshold: float
    min_presence: float | None


MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    "rtmw3d-l": ModelDefaults(detector=True, bbox_threshold=0.3, keypoint_threshold=0.3, min_presence=None),
    "rtmw3d-x": ModelDefaults(detector=True, bbox_threshold=0.3, keypoint_threshold=0.3, min_presence=None),
    "posekit": ModelDefaults(detector=False, bbox_threshold=0.3, keypoint_threshold=0.1, min_presence=0.168),
}
DEFAULT_SMOOTHING: Smoothing = "one_euro"


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a number from 0 to 1, got {value!r}")
    return float(value)


def _whole(name: str, value: Any, low: int = 1, high: int | None = None, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value != int(value) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name}: expected a whole number {bound}{' or None' if optional else ''}, got {value!r}")
    return int(value)


def _positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise ValueError(f"{name}: expected a number above 0 or None, got {value!r}")
    return float(value)


MAX_FRAME_STEP = 100


@dataclass(frozen=True)
class Settings:
    """How to process an input; checked on construction (API callers can send anything).

    Attributes:
        model: one of ``rtmw3d-l``, ``rtmw3d-x``, ``posekit``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:N``.
        precision: ``auto``, ``fp32``, ``fp16`` (CUDA), ``bf16`` (RTMW3D, RTMDet).
        compile: ``torch.compile`` the networks.
        detector: find people with RTMDet-M first; None: the model's default.
        bbox_threshold: person boxes scored below this are dropped, 0..1; None: the model's default.
        keypoint_threshold: keypoints below this are not drawn, carried or matched, 0..1; None: the model's.
        min_presence: people whose 8 best joint scores average below this are dropped (None: the model's
            default; models framing the whole image need it to report an empty image as empty).
        single_person: keep only the main person (largest box x score; in sequences, followed over time).
        max_people: at most this many people per image or detection frame (None: all).
        detect_every: sequences: look for people every k frames; between, boxes follow the keypoints.
        batch_size: frames per model call.
        smoothing: ``one_euro``, ``ema`` or ``none``; None: the input kind's default.
        smoothing_strength: 0 (light) .. 1 (heavy); None: the method's own.
        max_frames, max_duration_s: read at most this much of a video or capture (None: all, within limits).
        max_side: frames larger than this longest side are downscaled for the models (results stay in
            original pixels); None: full size.
        frame_step: process every n-th frame of a video or capture.
        target_fps: videos: keep frames at most this rate (instead of ``frame_step``).
        depth_mode: captures: how far the depth sampler may look for a confident sample.
        overlay: draw the 2D overlay (image or video).
        overlay_max_side: longest side of overlay videos.
        zip: also write a results ZIP (JSON, keypoints CSV, overlay, take).
        export: animation formats (``bvh``, ``glb``) the ZIP also holds for a sequence with 3D (the main
            person; :func:`posekit.io.animation.export_animations`); the CLI's ``--export``.
    """

    model: str = "rtmw3d-l"
    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    detector: bool | None = None
    bbox_threshold: float | None = None
    keypoint_threshold: float | None = None
    min_presence: float | None = None
    single_person: bool = False
    max_people: int | None = None
    detect_every: int = 1
    batch_size: int = 8
    smoothing: str | None = None
    smoothing_strength: float | None = None
    max_frames: int | None = None
    max_duration_s: float | None = None
    max_side: int | None = None
    frame_step: int = 1
    target_fps: float | None = None
    depth_mode: str = "balanced"
    overlay: bool = True
    overlay_max_side: int | None = 1920
    zip: bool = False
    export: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_estimator_name(self.model)
        defaults = MODEL_DEFAULTS[self.model]
        put = object.__setattr__
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "bf16" and self.model == "posekit":
            raise ValueError("precision: the PoseKit model runs in fp32 or fp16 (CUDA), not bf16")
        for name in ("compile", "single_person", "overlay", "zip"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        put(self, "detector", defaults.detector if self.detector is None else bool(self.detector))
        put(self, "bbox_threshold", _fraction("bbox_threshold", _or(self.bbox_threshold, defaults.bbox_threshold)))
        kp = _or(self.keypoint_threshold, defaults.keypoint_threshold)
        put(self, "keypoint_threshold", _fraction("keypoint_threshold", kp))
        presence = self.min_presence if self.min_presence is not None else defaults.min_presence
        put(self, "min_presence", None if presence is None else _fraction("min_presence", presence))
        put(self, "max_people", _whole("max_people", self.max_people, optional=True))
        put(self, "detect_every", _whole("detect_every", self.detect_every, high=1000))
        put(self, "batch_size", _whole("batch_size", self.batch_size, high=1024))
        put(self, "frame_step", _whole("frame_step", self.frame_step, high=MAX_FRAME_STEP))
        put(self, "max_frames", _whole("max_frames", self.max_frames, optional=True))
        put(self, "max_side", _whole("max_side", self.max_side, low=32, optional=True))
        put(self, "overlay_max_side", _whole("overlay_max_side", self.overlay_max_side, low=32, optional=True))
        put(self, "max_duration_s", _positive("max_duration_s", self.max_duration_s))
        put(self, "target_fps", _positive("target_fps", self.target_fps))
        if self.target_fps is not None and self.frame_step != 1:
            raise ValueError("frame_step and target_fps: give one of them, not both")
        if self.smoothing is not None and self.smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing: expected one of {', '.join(SMOOTHINGS)}, got {self.smoothing!r}")
        if self.smoothing_strength is not None:
            put(self, "smoothing_strength", _fraction("smoothing_strength", self.smoothing_strength))
        export = (self.export,) if isinstance(self.export, str) else self.export
        if not isinstance(export, (tuple, list)) or any(f not in EXPORT_FORMATS for f in export):
            raise ValueError(f"export: expected some of {', '.join(EXPORT_FORMATS)}, got {self.export!r}")
        put(self, "export", tuple(dict.fromkeys(export)))
        if self.depth_mode not in DEPTH_MODES:
            raise ValueError(f"depth_mode: expected one of {', '.join(DEPTH_MODES)}, got {self.depth_mode!r}")

    @property
    def smoothing_method(self) -> Smoothing:
        """The smoothing that runs: the one chosen, else :data:`DEFAULT_SMOOTHING`."""
        return self.smoothing or DEFAULT_SMOOTHING  # type: ignore[return-value]

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``; fields derived from the model's defaults follow a change of model."""
        if "model" in changes and changes["model"] != self.model:
            derived = ("detector", "bbox_threshold", "keypoint_threshold", "min_presence")
            changes = {**{k: None for k in derived if k not in changes}, **changes}
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as a JSON-serialisable dict (what a results file records)."""
        return {**asdict(self), "smoothing": self.smoothing_method}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Settings:
        """Settings from :meth:`to_dict`'s output (unknown keys are refused, naming them)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"settings: unknown {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
        return cls(**values)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


__all__ = ["ESTIMATORS", "EXPORT_FORMATS", "MODEL_DEFAULTS", "SMOOTHINGS", "Settings", "Smoothing"]
