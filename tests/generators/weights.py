"""Random-initialised weights in the real file formats, under the names the loaders look for.

Point ``POSEKIT_WEIGHTS_DIR`` at the folder these write to and every model loads as it would from the
published files, with no network: RTMDet-M and RTMW3D-L/X as mmengine checkpoints (``{"meta", "state_dict"}``
``.pth`` under OpenMMLab's file names), PoseKit as upstream's training checkpoint (``last.pth``, a plain state
dict).

Random networks find random people. For tests that need to know what the detector returns,
``write_detector(person_score=s)`` makes a *tame* RTMDet-M: its class and box predictors ignore the image, so
every anchor scores exactly ``s`` with a box far larger than the input; clipped to the input, all boxes are the
same, and NMS leaves exactly one person, covering the whole (padded) image, scored ``s``.

Test files import these as ``from generators.weights import write_weights``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import torch

DETECTOR_FILE = "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth"
RTMW3D_FILES = {
    "l": "rtmw3d-l_8xb64_cocktail14-384x288-794dbc78_20240626.pth",
    "x": "rtmw3d-x_8xb64_cocktail14-384x288-b0a0eab7_20240626.pth",
}
POSEKIT_FILE = "last.pth"
"""One of the names ``posekit.estimators.posekit`` looks for in ``POSEKIT_WEIGHTS_DIR`` (upstream's last epoch)."""


def _mmengine_save(module: torch.nn.Module, path: Path, **meta: object) -> Path:
    """Save as mmengine does: the state dict beside plain metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save({"meta": {"mmengine_version": "0.10.4", "note": "random weights for tests", **meta},
                "state_dict": module.state_dict()}, tmp)  # fmt: skip
    tmp.replace(path)
    return path


def write_detector(folder: str | Path, seed: int = 0, person_score: float | None = 0.6) -> Path:
    """RTMDet-M (person) weights; ``person_score`` makes the tame detector described in the module docstring
    (None keeps the random predictors, which find random boxes)."""
    from posekit.models.rtmdet import rtmdet_m

    torch.manual_seed(seed)
    net = rtmdet_m()
    if person_score is not None:
        logit = math.log(person_score / (1 - person_score))
        head = net.bbox_head
        with torch.no_grad():
            for cls, reg, stride in zip(head.rtm_cls, head.rtm_reg, head.strides):
                cls.weight.zero_()
                cls.bias.fill_(logit)
                reg.weight.zero_()
                reg.bias.fill_(math.log(4096 / stride))  # distances exp(b) * stride = 4096 px every side
    return _mmengine_save(net, Path(folder) / DETECTOR_FILE, dataset="random")


def write_rtmw3d(folder: str | Path, size: str = "l", seed: int = 0) -> Path:
    """RTMW3D-L or -X weights (``size`` ``"l"`` / ``"x"``; X is about 370 MB, write it only when needed)."""
    from posekit.models.rtmw3d import rtmw3d_l, rtmw3d_x

    torch.manual_seed(seed)
    net = {"l": rtmw3d_l, "x": rtmw3d_x}[size]()
    return _mmengine_save(net, Path(folder) / RTMW3D_FILES[size])


def write_posekit(folder: str | Path, seed: int = 0) -> Path:
    """PoseKit weights as upstream's training saves them: a plain state dict of the unfused network."""
    from posekit.models.posekit_net import PoseKitNet

    torch.manual_seed(seed)
    path = Path(folder) / POSEKIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(PoseKitNet().state_dict(), path)
    return path


def write_weights(
    folder: str | Path,
    rtmw3d: Iterable[str] = ("l",),
    posekit: bool = True,
    person_score: float | None = 0.6,
    seed: int = 0,
) -> Path:
    """Everything the app and the CLI load, in ``folder`` (returned, ready for ``POSEKIT_WEIGHTS_DIR``)."""
    folder = Path(folder)
    write_detector(folder, seed, person_score)
    for size in rtmw3d:
        write_rtmw3d(folder, size, seed)
    if posekit:
        write_posekit(folder, seed)
    return folder
