"""The COCO test images' person annotations (``tests/data/coco/test_coco.json``), for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

COCO_DIR = Path(__file__).resolve().parent / "data" / "coco"


def person_boxes(folder: Path = COCO_DIR) -> dict[str, list[list[float]]]:
    """Image file name -> its COCO person boxes as ``[x1, y1, x2, y2]`` pixels (every image listed)."""
    data = json.loads((folder / "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    out: dict[str, list[list[float]]] = {name: [] for name in names.values()}
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        out[names[ann["image_id"]]].append([x, y, x + w, y + h])
    return out
