"""The default PoseKit path with the real app model: skeletons on the COCO persons, nobody on empty images.

Opt-in: runs only when ``POSEKIT_TEST_WEIGHTS_DIR`` names a folder holding the app's ``pkmodel.mlmodelc``
(its own variable: tests/conftest.py clears ``POSEKIT_WEIGHTS_DIR`` so that no other test sees real weights).

What is asserted is what ``benchmarks/posekit_defaults.py`` measured with that model (its figures in the
comments), through ``estimate_image`` with ``Settings(model="posekit")``: the whole frame, a refine crop around
the person found, kept when the mean of their 8 best joint scores is >= ``min_presence``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from generators.person_free import person_free_images

from posekit.pipelines.image import estimate_image
from posekit.pipelines.settings import Settings

REAL_MODEL = Path(os.environ.get("POSEKIT_TEST_WEIGHTS_DIR", "/nonexistent")) / "pkmodel.mlmodelc"
pytestmark = pytest.mark.skipif(
    not REAL_MODEL.is_dir(), reason="needs the app's pkmodel.mlmodelc in a folder named by POSEKIT_TEST_WEIGHTS_DIR"
)

DATA = Path(__file__).resolve().parents[1] / "data"
CORRECT = 0.1  # a joint is right within this fraction of the annotated box diagonal
MIN_DRAWN = 12
# Person photos (the annotated box padded by 20% a side, cropped out) where the model itself draws fewer than
# 12 of the annotated joints at the default threshold, with the count measured; 1717641 (heavily occluded,
# 12 joints annotated) is not found at all: its refined top-8 mean is 0.121, inside the empty images' range
# (up to 0.160), with 4 joints right. That is the whole-frame path's limit: given the annotated box (a
# detector's framing), the model draws 12, 10 and 12 of their annotated joints.
SHORT = {198196: 11, 230195: 9}
NOT_FOUND = {1717641}


@pytest.fixture(scope="module")
def model():
    from posekit import PoseKit

    return PoseKit.from_pretrained(REAL_MODEL, device="cpu")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(model="posekit", device="cpu")


def coco_people() -> tuple[dict[str, np.ndarray], list[dict]]:
    data = json.loads((DATA / "coco" / "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    images = {n: cv2.imread(str(DATA / "coco" / n)) for n in names.values()}
    people = []
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        kp = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
        if (kp[:, 2] > 0).any():
            people.append({"image": names[ann["image_id"]], "id": ann["id"], "box": [x, y, x + w, y + h],
                           "diag": float(np.hypot(w, h)), "xy": kp[:, :2], "v": kp[:, 2] > 0})  # fmt: skip
    return images, people


def drawn_and_right(poses, person: dict, threshold: float, offset=(0.0, 0.0)) -> tuple[int, int]:
    """(annotated joints drawn, of those the ones right) of the first person found."""
    drawn = (poses.scores[0, :17] >= threshold) & person["v"]
    err = np.linalg.norm(poses.keypoints_2d[0, :17] + np.asarray(offset) - person["xy"], axis=1) / person["diag"]
    return int(drawn.sum()), int((drawn & (err < CORRECT)).sum())


def person_photo(image: np.ndarray, box: list[float]) -> tuple[np.ndarray, tuple[int, int]]:
    x1, y1, x2, y2 = box
    px, py = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
    c = [
        max(0, int(x1 - px)),
        max(0, int(y1 - py)),
        min(image.shape[1], int(x2 + px)),
        min(image.shape[0], int(y2 + py)),
    ]
    return np.ascontiguousarray(image[c[1] : c[3], c[0] : c[2]]), (c[0], c[1])


def test_the_default_overlay_shows_the_skeleton_on_each_coco_person_photo(model, settings):
    images, people = coco_people()
    assert len(people) == 12
    counts = {}
    for p in people:
        photo, (ox, oy) = person_photo(images[p["image"]], p["box"])
        poses = estimate_image(photo, model, None, settings)
        if p["id"] in NOT_FOUND:
            assert len(poses) == 0, p["id"]
            continue
        assert len(poses) == 1, p["id"]
        drawn, right = drawn_and_right(poses, p, settings.keypoint_threshold, (ox, oy))
        counts[p["id"]] = (drawn, right)
        annotated = int(p["v"].sum())
        # Measured: 13-17 drawn where >= 12 (9 photos), 11 and 9 for the two in SHORT; one joint of slack there.
        floor = SHORT[p["id"]] - 1 if p["id"] in SHORT else min(MIN_DRAWN, annotated)
        assert drawn >= floor, (p["id"], drawn, annotated)
        assert right >= 7, (p["id"], right)  # measured 7-17 right: the skeleton is on the person
    assert sum(d >= MIN_DRAWN for d, _ in counts.values()) >= 9, counts


def test_the_default_path_finds_the_person_of_the_whole_coco_images(model, settings):
    images, people = coco_people()
    # Measured (annotated joints drawn / right of the best-matched person): 785 17/16 (one person fills the
    # image), 196141 15/12, 197388 15/11. 040083 (two people side by side, the same size) is not asserted: the
    # whole frame scores no joint >= 0.1 there, so the path reports nobody (a detector or a box finds them).
    expect = {"000000000785.jpg": (15, 14), "000000196141.jpg": (12, 10), "000000197388.jpg": (12, 9)}
    for name, (min_drawn, min_right) in expect.items():
        poses = estimate_image(images[name], model, None, settings)
        assert len(poses) == 1, name
        mine = [drawn_and_right(poses, p, settings.keypoint_threshold) for p in people if p["image"] == name]
        best = max(mine, key=lambda t: (t[1], t[0]))  # the annotated person it places best
        assert best[0] >= min_drawn and best[1] >= min_right, (name, best)


def test_an_image_with_no_person_reports_no_person(model, settings):
    # Measured on these 96 inputs (the benchmark adds 6 synthetic ones): refined top-8 means up to 0.160, under
    # min_presence (0.168).
    found = [label for label, img in person_free_images(DATA) if len(estimate_image(img, model, None, settings))]
    assert found == []
