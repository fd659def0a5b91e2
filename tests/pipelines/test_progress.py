"""Progress moves with the real work (#15): a video reports between the detector and the pose model of each
chunk of frames, an image with many people every few people, and neither changes the poses."""

from __future__ import annotations

import numpy as np
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import draw_frame, walking_video

from posekit.pipelines.image import PEOPLE_PER_STEP, Framing
from posekit.pipelines.settings import Settings
from posekit.pipelines.video import process_video


def test_a_video_chunk_reports_between_its_model_calls(tmp_path):
    clip = walking_video(tmp_path / "walk.mp4", num_frames=6, size=(160, 120))
    calls: list[tuple[float, str]] = []
    process_video(clip.path, FakePoseModel(), FakeDetector(), batch_size=8,
                  progress=lambda fraction, message: calls.append((fraction, message)))  # fmt: skip
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)
    # One chunk of 6 frames: before detection, between detection and the poses, after the poses.
    within = [(f, m) for f, m in calls if m.endswith("frames 1-6 of about 6")]
    assert [m.split(":")[0] for _, m in within] == ["finding people", "estimating poses", "estimating poses"]
    assert len({f for f, _ in within}) == 3 and 0.0 < within[1][0] < within[2][0]


class CrowdDetector:
    """Finds the same crowd in every image."""

    def __init__(self, boxes: np.ndarray) -> None:
        self.boxes = boxes

    def detect_batch(self, images):  # noqa: ANN001, ANN201 - the detector contract
        return [(self.boxes.copy(), np.full(len(self.boxes), 0.9, np.float32)) for _ in images]


def test_a_crowd_reports_every_few_people_with_the_same_poses():
    figures = np.array([[10 + 30 * i, 40, 35 + 30 * i, 200] for i in range(2 * PEOPLE_PER_STEP + 1)], np.float32)
    image = draw_frame((320, 240), figures[:2])
    settings = Settings(model="rtmw3d-l", detector=True)
    framing = Framing(FakePoseModel(), CrowdDetector(figures), settings)
    people = framing.detect([image])
    assert len(people[0][0]) == len(figures)
    reported: list[tuple[int, int]] = []
    stepped = framing.estimate([image], people, lambda done, total: reported.append((done, total)))[0]
    at_once = framing.estimate([image], people)[0]
    n = len(figures)
    assert reported == [(PEOPLE_PER_STEP, n), (2 * PEOPLE_PER_STEP, n), (n, n)]
    np.testing.assert_array_equal(stepped.keypoints_2d, at_once.keypoints_2d)
    np.testing.assert_array_equal(stepped.bboxes, at_once.bboxes)
    np.testing.assert_array_equal(stepped.bbox_scores, at_once.bbox_scores)
