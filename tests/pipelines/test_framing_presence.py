"""The presence rule (``min_presence``) is the model-framed path's: a detector's boxes decide who is a person."""

from __future__ import annotations

import numpy as np
import pytest
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import draw_frame

from posekit.pipelines.image import Framing, estimate_image
from posekit.pipelines.settings import MODEL_DEFAULTS, Settings

FIGURES = np.array([[200, 60, 240, 160], [20, 40, 80, 200]], np.float32)


class FaintModel(FakePoseModel):
    """The fake model's people, every joint scored ``score`` (PoseKit's real scores run this low)."""

    def __init__(self, score: float) -> None:
        super().__init__()
        self.score = score

    def _predict(self, image, bboxes):
        poses = super()._predict(image, bboxes)
        poses.scores = np.full_like(poses.scores, self.score)
        return poses


@pytest.fixture
def image() -> np.ndarray:
    return draw_frame((320, 240), FIGURES)


def test_a_faint_person_framed_by_the_model_is_nobody(image):
    faint = MODEL_DEFAULTS["posekit"].min_presence - 0.01
    settings = Settings(model="posekit")
    assert len(estimate_image(image, FaintModel(faint), None, settings)) == 0
    assert len(estimate_image(image, FaintModel(faint + 0.02), None, settings)) == 1
    assert len(estimate_image(image, FaintModel(faint), None, settings, min_presence=0.1)) == 1


def test_a_detected_person_is_kept_whatever_their_joint_scores(image):
    # On annotated boxes real persons score as low as 0.146 (benchmarks/posekit_defaults.py): the whole-frame
    # threshold would drop them, so with a detector its box scores decide, as for every model.
    settings = Settings(model="posekit", detector=True)
    framing = Framing(FaintModel(0.12), FakeDetector(), settings)
    assert framing.min_presence is None
    assert len(framing(image)) == 2
    assert Framing(FaintModel(0.12), None, settings.replace(detector=False)).min_presence == settings.min_presence
