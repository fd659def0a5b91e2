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
# Person-free regions [x1, y1, x2, y2] of the test images and video frames, checked by eye.
COCO_EMPTY = {
    "000000000785.jpg": [[0, 140, 270, 410], [500, 0, 640, 140]],
    "000000040083.jpg": [[400, 30, 500, 130], [150, 0, 250, 100]],
    "000000196141.jpg": [[0, 200, 229, 429], [70, 0, 230, 160], [470, 0, 560, 90]],
    "000000197388.jpg": [[92, 0, 188, 96], [188, 0, 284, 96], [370, 0, 540, 170]],
}
VIDEO_EMPTY = {
    "street.mp4": [[0, 360, 760, 540], [40, 340, 240, 540], [440, 370, 610, 540], [560, 0, 760, 160], [0, 0, 150, 150]],
    "posetrack_000001.mp4": [[880, 500, 1280, 720], [0, 560, 340, 720], [0, 140, 330, 280], [500, 0, 1000, 160]],
}
SIZES = ((640, 480), (1280, 720))


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


def empty_images() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for w, h in SIZES:
        ramp_x = np.tile(np.linspace(0, 255, w, dtype=np.float32), (h, 1))
        ramp_y = np.tile(np.linspace(0, 255, h, dtype=np.float32)[:, None], (1, w))
        out += [
            (f"grey {w}x{h}", np.full((h, w, 3), 128, np.uint8)),
            (f"black {w}x{h}", np.zeros((h, w, 3), np.uint8)),
            (f"white {w}x{h}", np.full((h, w, 3), 255, np.uint8)),
            (f"noise {w}x{h}", rng.integers(0, 256, (h, w, 3), dtype=np.uint8)),
            (f"blurred noise {w}x{h}", cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 8)),
            (f"gradient {w}x{h}", np.dstack([ramp_x, 255 - ramp_y, np.full((h, w), 90)]).astype(np.uint8)),
        ]
    regions = [(n, cv2.imread(str(DATA / "coco" / n)), sq) for n, sqs in COCO_EMPTY.items() for sq in sqs]
    for vid, sqs in VIDEO_EMPTY.items():
        cap = cv2.VideoCapture(str(DATA / "video" / vid))
        frames = []
        while (frame := cap.read())[0]:
            frames.append(frame[1])
        cap.release()
        regions += [(f"{vid} f{i}", frames[i], sq) for i in (0, len(frames) - 1) for sq in sqs]
    for label, img, (x1, y1, x2, y2) in regions:
        sub = np.ascontiguousarray(img[y1:y2, x1:x2])
        out.append((f"{label} {[x1, y1, x2, y2]}", sub))
        out += [(f"{label} {[x1, y1, x2, y2]} -> {w}x{h}", cv2.resize(sub, (w, h))) for w, h in SIZES]
    return out


def test_an_image_with_no_person_reports_no_person(model, settings):
    # Measured on these 96 inputs (the benchmark adds 6 synthetic ones): refined top-8 means up to 0.160, under
    # min_presence (0.168).
    found = [label for label, img in empty_images() if len(estimate_image(img, model, None, settings))]
    assert found == []
