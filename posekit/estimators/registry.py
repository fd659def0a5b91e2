"""The pose estimators and the person detector by name: how every door of posekit (CLI, app, batch, Python)
loads them.

Imports are deferred to the call so that ``import posekit`` needs neither torch nor the weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posekit.estimators.base import PRECISIONS

if TYPE_CHECKING:
    from posekit.estimators.base import DeviceLike, PersonFinder, PoseEstimator, PrecisionLike

ESTIMATORS = ("rtmw3d-l", "rtmw3d-x", "posekit")
"""Names of the pose estimators: RTMW3D-L and -X (:class:`~posekit.estimators.rtmpose3d.RTMPose3D`), and the
PoseKit app's model (:class:`~posekit.estimators.posekit.PoseKit`)."""
LABELS = {"rtmw3d-l": "RTMW3D-L", "rtmw3d-x": "RTMW3D-X", "posekit": "PoseKit"}
"""How people read the names (the app shows these)."""


def check_estimator_name(name: str) -> str:
    """``name`` if it is one of :data:`ESTIMATORS`, else ``ValueError`` saying which names exist."""
    if name not in ESTIMATORS:
        raise ValueError(f"model: expected one of {', '.join(ESTIMATORS)}, got {name!r}")
    return name


def load_estimator(
    name: str, device: DeviceLike = "auto", precision: PrecisionLike = "auto", compile: bool = False
) -> PoseEstimator:
    """The pose estimator ``name`` (one of :data:`ESTIMATORS`) with its trained weights.

    Args:
        device, precision: see :mod:`posekit.estimators.base`.
        compile: ``torch.compile`` the networks (needs a C++ compiler on CPU; the first calls take tens of
            seconds, then about 5-10% faster on CPU).

    Raises:
        ValueError: an unknown name, or a precision the model or device cannot run (PoseKit in bf16, fp16
            without CUDA); ``DeviceUnavailableError`` (a ``ValueError``) for CUDA where there is none.
        posekit.io.hub.WeightsNotFoundError: the weights are nowhere (the message lists every place looked).
    """
    from posekit.estimators.base import resolve_device, resolve_precision

    check_estimator_name(name)
    # Refuse what cannot run before any weights are looked for: the user's choice is the first thing to fix.
    resolve_precision(precision, resolve_device(device), ("fp32", "fp16") if name == "posekit" else PRECISIONS[1:])
    if name == "posekit":
        from posekit.estimators.posekit import PoseKit

        return PoseKit.from_pretrained(device=device, precision=precision, compile=compile)
    from posekit.estimators.rtmpose3d import RTMPose3D

    return RTMPose3D.from_pretrained(model_size=name[-1], device=device, precision=precision, compile=compile)


def load_person_detector(
    device: DeviceLike = "auto", precision: PrecisionLike = "auto", compile: bool = False
) -> PersonFinder:
    """The RTMDet-M person detector (:class:`~posekit.estimators.detector.PersonDetector`); the arguments as
    for :func:`load_estimator`."""
    from posekit.estimators.detector import PersonDetector

    return PersonDetector.from_pretrained(device=device, precision=precision, compile=compile)
