"""The pose estimators and the person detector by name, loaded the same way by the CLI and the app.

Imports are deferred to the call so that ``import posekit`` needs neither torch nor the weights.
"""

from __future__ import annotations

from typing import Any

ESTIMATORS = ("rtmw3d-l", "rtmw3d-x", "posekit")
"""Names of the pose estimators: RTMW3D-L and -X (:class:`~posekit.estimators.rtmpose3d.RTMPose3D`), and the PoseKit
app's model (:class:`~posekit.estimators.posekit.PoseKit`)."""


PRECISIONS = ("auto", "fp32", "fp16", "bf16")
"""Compute precisions: ``auto`` is each model's default (RTMW3D and RTMDet float16 on CUDA, float32 on CPU;
PoseKit float32); ``fp16`` needs CUDA; ``bf16`` (RTMW3D and RTMDet only) is about twice as fast on CPUs with
AVX-512 BF16 or AMX, and its accuracy against fp32 on the trained weights is not yet measured."""


def check_precision(precision: str, device: str, name: str | None = None) -> None:
    """Raise ``ValueError`` (saying what would work) unless model ``name`` can run in ``precision`` on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
    if precision == "fp16" and not str(device).startswith("cuda"):
        raise ValueError(f"precision: fp16 needs a CUDA device, got {device!r} (bf16 is the fast CPU precision)")
    if precision == "bf16" and name == "posekit":
        raise ValueError("precision: the PoseKit model runs in fp32 or fp16 (CUDA), not bf16")


def load_estimator(name: str, device: str, precision: str = "auto", compile: bool = False) -> Any:
    """The pose estimator ``name`` (one of :data:`ESTIMATORS`) on ``device`` (``"cpu"``, ``"cuda"``...).

    Args:
        precision: one of :data:`PRECISIONS`.
        compile: ``torch.compile`` the networks (needs a C++ compiler on CPU; the first calls take tens of
            seconds, then about 5-10% faster on CPU).

    Raises:
        ValueError: an unknown name or precision, or one the model or device cannot run (PoseKit in bf16,
            fp16 without CUDA). WeightsNotFoundError (an ``OSError``) and others: from the loader.
    """
    check_precision(precision, device, name)
    if name == "posekit":
        from posekit.estimators.posekit import PoseKit

        optimize = "compile" if compile else "fused"
        return PoseKit.from_pretrained(device=device, fp16=precision == "fp16", optimize=optimize)
    if name in ("rtmw3d-l", "rtmw3d-x"):
        from posekit.estimators.rtmpose3d import RTMPose3D

        return RTMPose3D.from_pretrained(model_size=name[-1], device=device, compile=compile, **_dtype(precision))
    raise ValueError(f"model: expected one of {ESTIMATORS}, got {name!r}")


def load_person_detector(device: str, precision: str = "auto", compile: bool = False) -> Any:
    """The RTMDet-M person detector (:class:`~posekit.estimators.detector.PersonDetector`) on ``device``; ``precision`` and
    ``compile`` as in :func:`load_estimator`."""
    from posekit.estimators.detector import PersonDetector

    check_precision(precision, device)
    return PersonDetector.from_pretrained(device=device, compile=compile, **_dtype(precision))


def _dtype(precision: str) -> dict[str, str]:
    return {} if precision == "auto" else {"dtype": precision}
