"""Shared fixtures: the real test images (copied from mmpose's test data, see tests/data/CREDITS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def coco_boxes() -> dict[str, list[list[float]]]:
    """Image file name -> COCO person boxes as [x1, y1, x2, y2] pixels, from test_coco.json."""
    data = json.loads((DATA / "coco" / "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    out: dict[str, list[list[float]]] = {name: [] for name in names.values()}
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        out[names[ann["image_id"]]].append([x, y, x + w, y + h])
    return out
