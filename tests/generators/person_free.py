"""Images with no person in them, for measuring and testing a model's presence rule: synthetic images, and
person-free regions of the shared COCO images and video frames (checked by eye on every frame used), each at
its own size and resized to common upload sizes. The benchmark (``benchmarks/posekit_defaults.py``) and the
opt-in real-model test draw on the same set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

COCO_EMPTY = {
    "000000000785.jpg": [[0, 140, 270, 410], [500, 0, 640, 140]],
    "000000040083.jpg": [[400, 30, 500, 130], [150, 0, 250, 100]],
    "000000196141.jpg": [[0, 200, 229, 429], [70, 0, 230, 160], [470, 0, 560, 90]],
    "000000197388.jpg": [[92, 0, 188, 96], [188, 0, 284, 96], [370, 0, 540, 170]],
}
"""Person-free regions ``[x1, y1, x2, y2]`` of the COCO test images (annotated and unannotated people avoided)."""
VIDEO_EMPTY = {
    "street.mp4": [[0, 360, 760, 540], [40, 340, 240, 540], [440, 370, 610, 540], [560, 0, 760, 160], [0, 0, 150, 150]],
    "posetrack_000001.mp4": [[880, 500, 1280, 720], [0, 560, 340, 720], [0, 140, 330, 280], [500, 0, 1000, 160]],
}
"""Person-free regions of the first and last frames of the shared clips."""
SIZES = ((640, 480), (1280, 720))


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video, BGR."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (frame := cap.read())[0]:
        frames.append(frame[1])
    cap.release()
    return frames


def synthetic(w: int, h: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Flat, noisy and graded ``w`` x ``h`` images."""
    rng = np.random.default_rng(seed)
    ramp_x = np.tile(np.linspace(0, 255, w, dtype=np.float32), (h, 1))
    ramp_y = np.tile(np.linspace(0, 255, h, dtype=np.float32)[:, None], (1, w))
    return {
        "grey": np.full((h, w, 3), 128, np.uint8),
        "black": np.zeros((h, w, 3), np.uint8),
        "white": np.full((h, w, 3), 255, np.uint8),
        "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "noise_grey": np.repeat(rng.integers(0, 256, (h, w, 1), dtype=np.uint8), 3, axis=2),
        "noise_blur": cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 8),
        "gradient_h": np.repeat(ramp_x[..., None], 3, 2).astype(np.uint8),
        "gradient_v": np.repeat(ramp_y[..., None], 3, 2).astype(np.uint8),
        "gradient_rgb": np.dstack([ramp_x, 255 - ramp_y, np.full((h, w), 90)]).astype(np.uint8),
    }


def person_free_images(data: Path) -> list[tuple[str, np.ndarray]]:
    """``(label, image)`` of every image without a person: :func:`synthetic` at :data:`SIZES`, and the regions
    of :data:`COCO_EMPTY` (from ``data/coco``) and :data:`VIDEO_EMPTY` (``data/video``) at their own size and
    resized to :data:`SIZES`."""
    empties = []
    for w, h in SIZES:
        empties += [(f"synthetic {n} {w}x{h}", im) for n, im in synthetic(w, h).items()]
    regions = [(f"coco {n[:12]} {sq}", cv2.imread(str(data / "coco" / n)), sq) for n, sqs in COCO_EMPTY.items()
               for sq in sqs]  # fmt: skip
    for vid, sqs in VIDEO_EMPTY.items():
        frames = read_frames(data / "video" / vid)
        for fi in (0, len(frames) - 1):
            regions += [(f"{Path(vid).stem.split('_')[0]} f{fi} {sq}", frames[fi], sq) for sq in sqs]
    for label, img, (x1, y1, x2, y2) in regions:
        sub = np.ascontiguousarray(img[y1:y2, x1:x2])
        empties.append((f"{label} {x2 - x1}x{y2 - y1}", sub))
        empties += [(f"{label} ->{w}x{h}", cv2.resize(sub, (w, h), interpolation=cv2.INTER_LINEAR)) for w, h in SIZES]
    return empties
