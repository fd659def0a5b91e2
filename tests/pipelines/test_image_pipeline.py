"""One image's poses: detector boxes filtered, the people kept, the model on their boxes (CLI and app)."""

from __future__ import annotations

import numpy as np
import pytest
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import draw_frame

from posekit.pipelines.image import estimate_image

FIGURES = np.array([[200, 60, 240, 160], [20, 40, 80, 200]], np.float32)  # the second one is larger


class ScoredDetector(FakeDetector):
    """The figures of :class:`FakeDetector`, scored 0.9, 0.8... in the order found."""

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, _ = super()._detect(image)
        return boxes, (0.9 - 0.1 * np.arange(len(boxes))).astype(np.float32)


@pytest.fixture
def image() -> np.ndarray:
    return draw_frame((320, 240), FIGURES)


def test_estimate_image_with_a_detector(image):
    model = FakePoseModel()
    poses = estimate_image(image, model, ScoredDetector(), bbox_threshold=0.3)
    assert len(poses) == 2 and model.boxes_given == [1]
    np.testing.assert_allclose(poses.bbox_scores, [0.9, 0.8])  # the detector's, not the given-box 1s
    one = estimate_image(image, model, ScoredDetector(), single_person=True)
    np.testing.assert_array_equal(one.bboxes, FIGURES[1:2])  # larger area x score
    top = estimate_image(image, model, ScoredDetector(), max_people=1)
    assert len(top) == 1 and top.bbox_scores[0] == pytest.approx(0.9)
    nobody = estimate_image(image, model, ScoredDetector(), bbox_threshold=0.95)
    assert len(nobody) == 0 and nobody.image_size == (320, 240)


def test_estimate_image_without_a_detector_lets_the_model_frame(image):
    model = FakePoseModel()
    poses = estimate_image(image, model, None, single_person=True)
    # PoseKit's framing: the whole frame, then a crop around each person found there.
    assert len(poses) == 1 and model.boxes_given == [0, 1]
