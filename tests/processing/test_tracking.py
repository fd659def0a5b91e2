"""Tracking: ids stable through a crossing and a short occlusion, new ids for new people, the main person."""

from __future__ import annotations

import numpy as np
import pytest
from generators.videos import crossing_boxes, template_keypoints, walking_boxes

from posekit.poses import Poses
from posekit.processing.tracking import (
    Tracker,
    box_iou,
    boxes_from_keypoints,
    keypoint_similarity,
)
from posekit.skeletons import POSEKIT_COCO17_2


def _poses(boxes: np.ndarray, order: list[int] | None = None) -> Poses:
    """The template person in each (finite) box, listed in ``order`` (the detector's order is arbitrary)."""
    boxes = np.asarray([b for b in boxes if np.isfinite(b).all()], np.float32).reshape(-1, 4)
    if order is not None:
        boxes = boxes[order]
    kp = np.array([template_keypoints(b) for b in boxes]).reshape(-1, 19, 2)
    return Poses(keypoints_2d=kp, scores=np.full(kp.shape[:2], 0.9), bboxes=boxes, bbox_scores=np.ones(len(boxes)),
                 skeleton=POSEKIT_COCO17_2)  # fmt: skip


def test_box_iou_and_keypoint_similarity():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 3, 0], [0, 0, 0]])
    kp = np.zeros((1, 3, 2))
    valid = np.array([[True, True, False]])
    moved = kp + [10.0, 0.0]
    sim = keypoint_similarity(kp, valid, np.concatenate([kp, moved]), np.ones((2, 3), bool), np.array([100.0, 100.0]))
    np.testing.assert_allclose(sim, [[1.0, np.exp(-100 / (2 * 100 * 0.01))]])
    assert np.isnan(keypoint_similarity(kp, ~valid & False, kp, valid, np.array([1.0])))[0, 0]


@pytest.mark.parametrize("use_keypoints", [True, False])
@pytest.mark.parametrize("same_lane", [False, True])
def test_ids_are_stable_through_a_crossing(use_keypoints, same_lane):
    boxes = crossing_boxes(30, (320, 240))
    if same_lane:  # both on one line: at the middle the two boxes coincide, only motion tells them apart
        boxes[:, 1, [1, 3]] = boxes[:, 0, [1, 3]]
    tracker = Tracker(max_age=5)
    rng = np.random.default_rng(0)
    seen = []
    for t in range(30):
        order = list(rng.permutation(2))  # the detector lists people in any order
        poses = _poses(boxes[t], order)
        ids = tracker.update(poses.bboxes, poses.keypoints_2d if use_keypoints else None,
                             poses.scores if use_keypoints else None)  # fmt: skip
        seen.append(ids[np.argsort(order)])  # id of figure 0, figure 1
    seen = np.array(seen)
    assert (seen[:, 0] == seen[0, 0]).all() and (seen[:, 1] == seen[0, 1]).all()
    assert seen[0, 0] != seen[0, 1]


def test_a_short_occlusion_keeps_the_id_and_a_long_one_does_not():
    boxes = walking_boxes(40, (320, 240), speed=5)
    tracker = Tracker(max_age=6)
    ids = []
    for t in range(40):
        hidden = 10 <= t < 15 or 25 <= t < 33  # 5 frames, then 8 frames (> max_age)
        poses = _poses(boxes[t] if not hidden else np.zeros((0, 4)))
        ids.append(tracker.track(poses).track_ids.tolist())
    assert all(i == [0] for i in ids[:10] + ids[15:25])  # the same person after 5 hidden frames
    assert all(i == [] for i in ids[10:15])
    assert all(i == [1] for i in ids[33:])  # gone for too long: a new id


def test_new_people_get_new_ids_that_are_never_reused():
    tracker = Tracker(max_age=0)
    a = np.array([[0, 0, 50, 100]], np.float32)
    b = np.array([[200, 0, 250, 100]], np.float32)
    assert tracker.update(a).tolist() == [0]
    assert sorted(tracker.update(np.concatenate([a, b])).tolist()) == [0, 1]
    assert tracker.update(b).tolist() == [1]
    assert tracker.update(np.zeros((0, 4))).tolist() == []
    assert tracker.update(a).tolist() == [2] and tracker.active_ids == [2]
    with pytest.raises(ValueError, match="max_age"):
        Tracker(max_age=-1)


def test_boxes_from_keypoints():
    kp = np.array([[[10, 20], [30, 60], [1000, 1000]], [[5, 5], [6, 6], [7, 7]]], np.float64)
    scores = np.array([[0.9, 0.9, 0.1], [0.9, 0.1, 0.1]])
    boxes, kept = boxes_from_keypoints(kp, scores, threshold=0.3, pad=0.1, image_size=(100, 70))
    assert kept.tolist() == [0]  # the second person has one valid keypoint only
    np.testing.assert_allclose(boxes[0], [10 - 2 - 2, 20 - 4 - 2, 30 + 2 + 2, 60 + 4 + 2])
    boxes, kept = boxes_from_keypoints(kp[:1] * 3, scores[:1], image_size=(100, 70))
    np.testing.assert_allclose(boxes[0], [30 - 8, 60 - 14, 90 + 8, 70])  # clipped to the image
    empty, kept = boxes_from_keypoints(np.zeros((0, 3, 2)), np.zeros((0, 3)))
    assert empty.shape == (0, 4) and kept.size == 0


def test_a_box_carried_out_of_the_frame_is_dropped_not_kept_empty():
    """A person walking out of the bottom edge: clipped to the image their box has no height left."""
    kp = np.array([[[789.2, 560.0], [936.9, 600.0], [850.0, 580.0]]])
    boxes, kept = boxes_from_keypoints(kp, np.ones((1, 3)), image_size=(960, 540))
    assert boxes.shape == (0, 4) and kept.size == 0
