import numpy as np
import pytest

from posekit.skeletons import (
    COCO_WHOLEBODY,
    POSEKIT_COCO17_2,
    derive_pelvis_neck,
    get_skeleton,
    wholebody_to_posekit,
)


def test_wholebody_layout():
    s = COCO_WHOLEBODY
    assert s.num_keypoints == 133
    assert s.parts["body"] == tuple(range(17))
    assert s.parts["feet"] == tuple(range(17, 23))
    assert s.parts["face"] == tuple(range(23, 91))
    assert s.parts["left_hand"] == tuple(range(91, 112))
    assert s.parts["right_hand"] == tuple(range(112, 133))
    assert sorted(i for p in s.parts.values() for i in p) == list(range(133))
    assert all(0 <= a < 133 and 0 <= b < 133 and a != b for a, b in s.edges)
    assert s.keypoint_names[91] == "left_hand_root" and s.keypoint_names[132] == "right_pinky_finger4"
    assert s.keypoint_colors().shape == (133, 3)


def test_posekit_schema_matches_spec():
    s = POSEKIT_COCO17_2
    assert s.name == "COCO17+2"
    assert s.keypoint_names[-2:] == ("Pelvis", "Neck")
    assert s.keypoint_names[:3] == ("Nose", "L-Eye", "R-Eye")
    assert len(s.edges) == 19
    assert (s.index("L-Hip"), s.index("Pelvis")) in s.edges
    assert (s.index("L-Shoulder"), s.index("R-Shoulder")) in s.edges


def test_derived_joints_are_midpoints_with_min_score():
    kpts = np.zeros((2, 17, 2))
    kpts[:, 11] = [10, 20]
    kpts[:, 12] = [30, 40]
    kpts[:, 5] = [0, 0]
    kpts[:, 6] = [4, 2]
    scores = np.full((2, 17), 0.9)
    scores[:, 12] = 0.2
    out, sc = derive_pelvis_neck(kpts, scores)
    assert out.shape == (2, 19, 2)
    np.testing.assert_allclose(out[:, 17], [[20, 30]] * 2)
    np.testing.assert_allclose(out[:, 18], [[2, 1]] * 2)
    np.testing.assert_allclose(sc[:, 17], 0.2)
    np.testing.assert_allclose(sc[:, 18], 0.9)


def test_wholebody_to_posekit_takes_first_17():
    kpts = np.random.default_rng(0).random((3, 133, 3))
    out, sc = wholebody_to_posekit(kpts, np.ones((3, 133)))
    assert out.shape == (3, 19, 3) and sc.shape == (3, 19)
    np.testing.assert_array_equal(out[:, :17], kpts[:, :17])
    with pytest.raises(ValueError, match="133"):
        wholebody_to_posekit(kpts[:, :17], np.ones((3, 17)))


def test_unknown_skeleton_names_choices():
    with pytest.raises(KeyError, match="COCO17\\+2"):
        get_skeleton("h36m")
