"""Oracle stand-ins for the pose estimators and the person detector, for the figures of :mod:`generators.videos`.

They follow the library's contracts (``model(image, bboxes=None) -> Poses``, ``model.predict_batch``,
``model.skeleton``; ``detector(image)``, ``detector.detect_batch``) and find the figures again in decoded
pixels by their colours, so a pipeline that rotates, scales, batches or reorders frames wrongly gets wrong
poses back. They also count their calls, for tests of batching and of detection every k frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from generators.videos import FIGURE_COLORS_BGR, template_keypoints
from posekit.coords import backproject
from posekit.poses import Poses
from posekit.processing.tracking import box_iou
from posekit.skeletons import POSEKIT_COCO17_2

COLOR_TOLERANCE = 50  # per channel: H.264's chroma blur stays well inside it
MIN_PIXELS = 30


def find_figures(image: np.ndarray, region: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the coloured figures in a BGR image (optionally only pixels inside ``region`` xyxy).

    Returns:
        ``boxes`` (M, 4) float32 xyxy (exclusive right/bottom) and ``figure`` (M,) the colour index of each.
    """
    image = np.asarray(image)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (0, 0, w, h) if region is None else np.clip(np.round(region), 0, [w, h, w, h]).astype(int)
    crop = image[y0:y1, x0:x1].astype(np.int16)
    boxes, figures = [], []
    for f, color in enumerate(FIGURE_COLORS_BGR):
        mask = (np.abs(crop - np.array(color, np.int16)) <= COLOR_TOLERANCE).all(axis=-1)
        if mask.sum() < MIN_PIXELS:
            continue
        ys, xs = np.nonzero(mask)
        boxes.append([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1])
        figures.append(f)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(figures, np.int64)


class FakeDetector:
    """Finds the figures by colour; every box scores 0.9."""

    def __init__(self) -> None:
        self.calls: list[int] = []  # images per call

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, _ = find_figures(image)
        return boxes, np.full(len(boxes), 0.9, np.float32)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(1)
        return self._detect(image)

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        self.calls.append(len(images))
        return [self._detect(im) for im in images]


class FakePoseModel:
    """A COCO17+2 "estimator" that returns the template pose of the figure inside each box.

    Without boxes it behaves like PoseKit on a whole frame: one person, the largest figure (or none).
    Keypoint scores are 0.9. With ``with_3d`` it adds 3D as RTMW3D does: back-projection at 5 m with
    nominal intrinsics (f = 1000 px, centre of the image) recorded in ``meta["intrinsics"]``.
    """

    skeleton = POSEKIT_COCO17_2

    def __init__(self, with_3d: bool = False) -> None:
        self.with_3d = with_3d
        self.calls: list[int] = []  # images per predict_batch / __call__
        self.boxes_given: list[int] = []  # 1 where a frame came with boxes, 0 where bboxes was None

    def _predict(self, image: np.ndarray, bboxes: np.ndarray | None) -> Poses:
        h, w = image.shape[:2]
        everyone, _ = find_figures(image)
        if bboxes is None:  # like PoseKit on a whole frame: the largest figure
            areas = (everyone[:, 2:] - everyone[:, :2]).prod(axis=1)
            found = everyone[np.argsort(-areas, kind="stable")[:1]]
        else:  # each box gives the whole figure that overlaps it most, as a model sees past a tight box
            boxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
            iou = box_iou(boxes, everyone) if len(everyone) else np.zeros((len(boxes), 0))
            found = np.array([everyone[row.argmax()] for row in iou if row.size and row.max() > 0], np.float32)
            found = found.reshape(-1, 4)
        n = len(found)
        kp = np.array([template_keypoints(b) for b in found], np.float32).reshape(n, 19, 2)
        kp3d, meta = None, {}
        if self.with_3d:
            intrinsics = (1000.0, 1000.0, w / 2, h / 2)
            kp3d = backproject(kp, np.full(kp.shape[:2], 5.0), intrinsics)
            meta = {"intrinsics": list(intrinsics), "root_depth": 5.0}
        return Poses(
            keypoints_2d=kp,
            scores=np.full((n, 19), 0.9, np.float32),
            bboxes=found,
            bbox_scores=np.ones(n, np.float32),
            skeleton=self.skeleton,
            keypoints_3d=kp3d,
            space_3d="model" if self.with_3d else None,
            image_size=(w, h),
            meta=meta,
        )

    def __call__(self, image: np.ndarray, bboxes: np.ndarray | None = None) -> Poses:
        self.calls.append(1)
        self.boxes_given.append(int(bboxes is not None))
        return self._predict(image, bboxes)

    def predict_batch(self, images: Sequence[np.ndarray], bboxes: Sequence[np.ndarray | None]) -> list[Poses]:
        if len(images) != len(bboxes):
            raise ValueError(f"predict_batch: {len(images)} images but {len(bboxes)} box arrays")
        self.calls.append(len(images))
        self.boxes_given.extend(int(b is not None) for b in bboxes)
        return [self._predict(im, b) for im, b in zip(images, bboxes)]
