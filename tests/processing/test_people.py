"""Person selection: one box validator, one threshold rule, one main-person rule, one presence rule."""

from __future__ import annotations

import numpy as np
import pytest
from generators.videos import template_keypoints

from posekit.poses import Poses
from posekit.processing.people import (
    check_boxes,
    pick_main_box,
    presence_scores,
    select_main_track,
    select_people,
    select_poses,
    usable_boxes,
)
from posekit.sequence import PoseSequence
from posekit.skeletons import POSEKIT_COCO17_2


def test_check_boxes_accepts_the_forms_and_names_what_is_wrong():
    assert check_boxes([1, 2, 3, 4]).shape == (1, 4)
    assert check_boxes(None if False else []).shape == (0, 4)
    assert check_boxes([[0, 0, 1, 1]], dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"bboxes\[2\]: expected x2 > x1 and y2 > y1.*box 0 is \[5.0, 5.0, 9.0, 5.0\]"):
        check_boxes([[5, 5, 9, 5]], "bboxes[2]")
    with pytest.raises(ValueError, match="finite"):
        check_boxes([[0, 0, np.nan, 1]])
    with pytest.raises(ValueError, match="shape"):
        check_boxes(np.zeros((2, 3)))


def test_pick_main_box_follows_the_person_then_the_most_prominent():
    boxes = np.array([[0, 0, 10, 10], [100, 100, 200, 200], [50, 0, 60, 10]], np.float32)
    scores = np.array([0.9, 0.5, 0.9])
    assert pick_main_box(boxes, scores) == 1  # largest area x score
    assert pick_main_box(boxes, scores, previous=np.array([49, 0, 59, 10])) == 2
    assert pick_main_box(boxes, scores, previous=np.array([500, 500, 510, 510])) == 1
    assert pick_main_box(np.zeros((0, 4)), np.zeros(0)) == -1


def test_select_people_thresholds_at_or_above_sorts_and_bounds():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 100, 100], [5, 5, 50, 50]], np.float32)
    kept, kept_scores = select_people(boxes, [0.3, 0.6, 0.9], 0.3, max_people=2)
    np.testing.assert_array_equal(kept, boxes[[2, 1]])
    np.testing.assert_array_equal(kept_scores, np.float32([0.9, 0.6]))
    assert len(select_people(boxes, [0.3, 0.6, 0.9], 0.3)[0]) == 3  # a score equal to the threshold is kept
    one, _ = select_people(boxes, [0.9, 0.6, 0.3], 0.2, single_person=True)
    np.testing.assert_array_equal(one, boxes[1:2])
    with pytest.raises(ValueError, match="one score per box"):
        select_people(boxes, [0.5], 0.0)


def test_degenerate_boxes_are_never_selected():
    boxes = np.array([[789.2, 540.0, 936.9, 540.0], [0, 0, 50, 80]], np.float32)
    assert usable_boxes(boxes).tolist() == [False, True]
    kept, _ = select_people(boxes, [0.9, 0.5], 0.3)
    np.testing.assert_array_equal(kept, boxes[1:])


def test_presence_tells_an_empty_frame_from_a_person():
    scores = np.zeros((2, 19))
    scores[0, :10] = 0.25  # a person: many joints around the model's usual 0.2
    scores[1, :3] = 0.11  # an empty frame: a few spurious joints
    presence = presence_scores(scores)
    assert presence[0] == pytest.approx(0.25) and presence[1] < 0.128
    poses = Poses(
        np.zeros((2, 19, 2)), scores, np.array([[0, 0, 10, 10.0], [0, 0, 5, 5]]), np.ones(2), POSEKIT_COCO17_2
    )
    assert len(select_poses(poses, min_presence=0.128)) == 1
    assert len(select_poses(poses)) == 2


def test_select_main_track_weighs_size_score_and_time():
    t, k = 10, 19
    kp = np.full((t, 3, k, 2), np.nan)
    small = template_keypoints([0, 0, 20, 50])
    big = template_keypoints([100, 0, 160, 150])
    kp[:, 0] = small  # small, always there
    kp[:3, 1] = big  # big, but only 3 frames
    kp[:, 2] = big + 200  # big and always there
    scores = np.where(np.isfinite(kp[..., 0]), 0.9, 0.0)
    seq = PoseSequence(timestamps=np.arange(t) / 10, keypoints_2d=kp, scores=scores, skeleton=POSEKIT_COCO17_2,
                       track_ids=[4, 7, 9])  # fmt: skip
    assert select_main_track(seq) == 2
    boxes = np.full((t, 3, 4), np.nan)
    boxes[:, 0] = [0, 0, 500, 500]  # with boxes given, they decide
    seq.bboxes = boxes
    assert select_main_track(seq) == 0
    with pytest.raises(ValueError, match="no people"):
        select_main_track(seq.people([]))
