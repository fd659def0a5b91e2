"""Shared fixtures: the real test images (copied from mmpose's test data, see tests/data/CREDITS.md)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# No test may touch the network or see the user's weights: downloads are off and every cache points at an
# empty folder, so a test finds only the weights it writes itself. Set at import, before huggingface_hub
# reads its constants; tests of the download path undo this with monkeypatch.
_ISOLATED = Path(tempfile.mkdtemp(prefix="posekit-tests-"))
atexit.register(shutil.rmtree, _ISOLATED, ignore_errors=True)
os.environ.update(
    {
        "HF_HUB_OFFLINE": "1",
        "POSEKIT_OFFLINE": "1",
        "HF_HOME": str(_ISOLATED / "hf"),
        "HF_HUB_CACHE": str(_ISOLATED / "hf" / "hub"),
        "POSEKIT_CACHE": str(_ISOLATED / "posekit"),
    }
)
os.environ.pop("POSEKIT_WEIGHTS_DIR", None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def coco_boxes() -> dict[str, list[list[float]]]:
    """Image file name -> COCO person boxes as [x1, y1, x2, y2] pixels, from test_coco.json."""
    from coco_data import person_boxes

    return person_boxes(DATA / "coco")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random weights in the real formats for RTMDet-M, RTMW3D-L and PoseKit, found through
    ``POSEKIT_WEIGHTS_DIR`` with the network off, for the tests of one module."""
    from generators.weights import write_weights

    folder = write_weights(tmp_path_factory.mktemp("weights"), rtmw3d=("l",), posekit=True)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"HF_HUB_OFFLINE": "1", "POSEKIT_OFFLINE": "1", "POSEKIT_WEIGHTS_DIR": str(folder)}.items():
            mp.setenv(key, value)
        yield folder
