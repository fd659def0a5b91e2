"""The contract every estimator of posekit shares: device, precision, errors, and what it is called with.

Constructors and ``from_pretrained`` of :class:`~posekit.estimators.rtmpose3d.RTMPose3D`,
:class:`~posekit.estimators.posekit.PoseKit` and :class:`~posekit.estimators.detector.PersonDetector` take
the same ``device`` and ``precision`` arguments, checked here with the same messages:

* ``device``: ``"auto"`` (CUDA when present, else CPU; the default), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
  ``torch.device``. Asking for CUDA where there is none raises :class:`DeviceUnavailableError`.
* ``precision``: ``"auto"`` (float16 on CUDA, float32 elsewhere; the default), ``"fp32"``, ``"fp16"`` (CUDA
  only) or ``"bf16"`` (where the model supports it), or the matching ``torch.dtype``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from posekit.poses import Poses
from posekit.skeletons import Skeleton

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
"""Names of the compute precisions (see the module docstring)."""

DeviceLike = torch.device | str | None
PrecisionLike = torch.dtype | str | None

_DTYPES = {
    "fp32": torch.float32, "float32": torch.float32, "float": torch.float32,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
}  # fmt: skip
_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


class DeviceUnavailableError(ValueError):
    """A device this machine does not have (CUDA asked for without CUDA); the message says what to use."""


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """The ``torch.device`` for a ``device`` argument (see the module docstring).

    Raises:
        ValueError: not a device name. DeviceUnavailableError: CUDA (or that CUDA index) is not available.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            reason = "this torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise DeviceUnavailableError(
                f"device {str(device)!r}: CUDA is not available on this machine ({reason}); use device='cpu', "
                "or 'auto' to take the GPU when there is one"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"numbered from 0; use 'cuda:0' .. 'cuda:{torch.cuda.device_count() - 1}' or 'auto'"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError(f"device {str(device)!r}: MPS is not available here; use 'cpu' or 'auto'")
    return resolved


def resolve_precision(
    precision: PrecisionLike, device: torch.device, supported: Sequence[str] = ("fp32", "fp16", "bf16")
) -> torch.dtype:
    """The compute dtype for a ``precision`` argument on ``device``.

    Args:
        precision: a name of :data:`PRECISIONS` (or an alias such as ``"float16"``), a ``torch.dtype``, or None
            (``"auto"``).
        supported: the precisions the model runs in.

    Raises:
        ValueError: an unknown precision, one the model does not support, or fp16 off CUDA.
    """
    if precision is None or precision == "auto":
        return torch.float16 if device.type == "cuda" and "fp16" in supported else torch.float32
    if isinstance(precision, str):
        if precision.lower() not in _DTYPES:
            raise ValueError(f"precision: expected one of {PRECISIONS} or a torch dtype, got {precision!r}")
        dtype = _DTYPES[precision.lower()]
    elif precision in _NAMES:
        dtype = precision
    else:
        raise ValueError(f"precision: expected one of {PRECISIONS} or a torch dtype, got {precision!r}")
    name = _NAMES[dtype]
    if name not in supported:
        raise ValueError(f"precision: this model runs in {', '.join(supported)}, not {name}")
    if name == "fp16" and device.type != "cuda":
        raise ValueError(f"precision: fp16 needs a CUDA device, got {str(device)!r} (bf16 is the fast CPU precision)")
    return dtype


def precision_name(dtype: torch.dtype) -> str:
    """``"fp32"``, ``"fp16"`` or ``"bf16"``: the name a result file records."""
    return _NAMES[dtype]


@runtime_checkable
class PoseEstimator(Protocol):
    """Something that turns images, with optional person boxes, into :class:`~posekit.poses.Poses`.

    ``bboxes`` are (M, 4) ``[x1, y1, x2, y2]`` pixels of the image; None lets the estimator frame the image
    itself (PoseKit: the whole frame, one person; RTMPose3D: its own person detector).
    """

    skeleton: Skeleton

    def __call__(self, image: np.ndarray, bboxes: np.ndarray | None = None) -> Poses: ...

    def predict_batch(self, images: list[np.ndarray], bboxes: list[np.ndarray | None]) -> list[Poses]: ...


@runtime_checkable
class PersonFinder(Protocol):
    """Something that finds people: ``(boxes (M, 4) xyxy pixels float32, scores (M,) float32)`` per image."""

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def detect_batch(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]: ...
