"""The pose estimators and the person detector by name, loaded the same way by the CLI and the app.

Imports are deferred to the call so that ``import posekit`` needs neither torch nor the weights.
"""

from __future__ import annotations

from typing import Any

ESTIMATORS = ("rtmw3d-l", "rtmw3d-x", "posekit")
"""Names of the pose estimators: RTMW3D-L and -X (:class:`~posekit.rtmpose3d.RTMPose3D`), and the PoseKit
app's model (:class:`~posekit.posekit_detector.PoseKit`)."""


def load_estimator(name: str, device: str) -> Any:
    """The pose estimator ``name`` (one of :data:`ESTIMATORS`) on ``device`` (``"cpu"``, ``"cuda"``...).

    Raises:
        ValueError: an unknown name. WeightsNotFoundError (an ``OSError``) and others: from the loader.
    """
    if name == "posekit":
        from posekit.posekit_detector import PoseKit

        return PoseKit.from_pretrained(device=device)
    if name in ("rtmw3d-l", "rtmw3d-x"):
        from posekit.rtmpose3d import RTMPose3D

        return RTMPose3D.from_pretrained(model_size=name[-1], device=device)
    raise ValueError(f"model: expected one of {ESTIMATORS}, got {name!r}")


def load_person_detector(device: str) -> Any:
    """The RTMDet-M person detector (:class:`~posekit.detector.PersonDetector`) on ``device``."""
    from posekit.detector import PersonDetector

    return PersonDetector.from_pretrained(device=device)
