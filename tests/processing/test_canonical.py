"""The app's canonicaliser, with hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.processing.canonical import canonicalize, canonicalize_any, canonicalize_wholebody
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2

NAN = float("nan")
J = {name: i for i, name in enumerate(POSEKIT_COCO17_2.keypoint_names)}


def _facing_camera() -> np.ndarray:
    """A person 2 m in front of the camera, facing it (camera frame: y down, so 'up' is -y).

    Facing the camera, the person's right is on the image's left (-x).
    """
    p = np.full((19, 3), NAN)
    p[J["Pelvis"]] = [0.0, 0.0, 2.0]
    p[J["Neck"]] = [0.0, -0.5, 2.0]
    p[J["R-Hip"]] = [-0.1, 0.0, 2.0]
    p[J["L-Hip"]] = [0.1, 0.0, 2.0]
    p[J["R-Shoulder"]] = [-0.2, -0.5, 2.0]
    p[J["L-Shoulder"]] = [0.2, -0.5, 2.0]
    p[J["Nose"]] = [0.0, -0.7, 1.9]
    p[J["R-Wrist"]] = [-0.3, -0.1, 1.6]
    return p


def test_facing_camera_hand_worked():
    # up = (0,-1,0), right = (-1,0,0), forward = up x right = (0,0,-1) (toward the camera).
    out = canonicalize(_facing_camera())
    assert np.allclose(out[J["Pelvis"]], 0)
    assert np.allclose(out[J["Neck"]], [0, 0.5, 0])
    # Nose - pelvis = (0, -0.7, -0.1): right 0, up 0.7, forward 0.1.
    assert np.allclose(out[J["Nose"]], [0, 0.7, 0.1])
    # R-Wrist - pelvis = (-0.3, -0.1, -0.4): right 0.3, up 0.1, forward 0.4.
    assert np.allclose(out[J["R-Wrist"]], [0.3, 0.1, 0.4])
    assert np.isnan(out[J["L-Ankle"]]).all()


def test_app_unit_test_pose():
    """The app's own PoseMathTests pose (y up in its numbers): forward = (1,0,0) x ... = -z."""
    p = np.zeros((19, 3))
    p[J["Neck"]] = [0, 0.5, 0]
    p[J["L-Hip"]], p[J["R-Hip"]] = [-0.2, 0, 0], [0.2, 0, 0]
    p[J["L-Shoulder"]], p[J["R-Shoulder"]] = [-0.2, 0.5, 0], [0.2, 0.5, 0]
    p[J["Nose"]] = [0.1, 0.2, 0.3]
    out = canonicalize(p, np.ones(19), 0.3)
    assert np.allclose(out[J["Nose"]], [0.1, 0.2, -0.3])
    assert out[J["R-Hip"], 0] > out[J["L-Hip"], 0]


def test_low_hip_scores_use_shoulders():
    p = _facing_camera()
    # Hips twisted 90 degrees (along z) would give another frame; with low hip scores the shoulders decide.
    p[J["R-Hip"]], p[J["L-Hip"]] = [0.0, 0.0, 1.9], [0.0, 0.0, 2.1]
    scores = np.ones(19)
    scores[J["L-Hip"]] = 0.2
    out = canonicalize(p, scores, 0.3)
    assert np.allclose(out[J["Nose"]], [0, 0.7, 0.1])
    # With good scores the hips decide: right = (0,0,-1); forward = (0,-1,0) x (0,0,-1) = (1,0,0).
    out = canonicalize(p, np.ones(19), 0.3)
    assert np.allclose(out[J["Nose"]], [0.1, 0.7, 0.0])


@pytest.mark.parametrize("hip", [[NAN, 0.0, 2.0], [0.1, 0.0, 2.0]])
def test_nan_or_degenerate_hips_use_shoulders(hip):
    p = _facing_camera()
    p[J["R-Hip"]] = hip  # NaN, or equal to the left hip (|right| = 0 < 1e-4)
    assert np.allclose(canonicalize(p)[J["Nose"]], [0, 0.7, 0.1])


def test_unchanged_cases():
    base = _facing_camera()
    cases = []
    p = base.copy()
    p[J["Pelvis"]] = NAN
    cases.append(p)
    p = base.copy()
    p[J["Neck"]] = p[J["Pelvis"]] + 5e-5  # |up| < 1e-4
    cases.append(p)
    p = base.copy()
    p[J["R-Hip"]] = NAN
    p[J["R-Shoulder"]] = p[J["L-Shoulder"]]  # no usable right axis
    cases.append(p)
    p = base.copy()
    p[J["R-Hip"]], p[J["L-Hip"]] = [0.0, -1.0, 2.0], [0.0, 1.0, 2.0]  # right parallel to up: no forward
    cases.append(p)
    for p in cases:
        assert np.array_equal(canonicalize(p), p, equal_nan=True)


def test_nan_shoulders_give_nan_right_and_forward_like_the_app():
    """NaN compares false with 1e-4, so the app goes on with a NaN right axis: right and forward coordinates
    become NaN while the up coordinate (up is valid) survives."""
    p = _facing_camera()
    p[J["R-Hip"]] = NAN
    p[J["R-Shoulder"]] = NAN
    out = canonicalize(p)
    assert np.isnan(out[J["Nose"], [0, 2]]).all() and out[J["Nose"], 1] == pytest.approx(0.7)


def test_partial_nan_joint_passes_through():
    p = _facing_camera()
    p[J["L-Wrist"]] = [NAN, 1.0, 2.0]
    out = canonicalize(p)
    assert np.isnan(out[J["L-Wrist"], 0]) and out[J["L-Wrist"], 1] == 1.0 and out[J["L-Wrist"], 2] == 2.0


def test_vectorised_over_frames_and_people():
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(4, 3, 19, 3))
    poses[1, 2, J["Pelvis"]] = NAN
    scores = rng.uniform(size=(4, 3, 19))
    out = canonicalize(poses, scores, 0.5)
    for t in range(4):
        for p in range(3):
            assert np.allclose(out[t, p], canonicalize(poses[t, p], scores[t, p], 0.5), equal_nan=True)
    # A rotation: bone lengths survive.
    ok = ~np.isnan(out[..., 0, 0])
    assert np.allclose(np.linalg.norm(out[ok][:, 0] - out[ok][:, 5], axis=-1),
                       np.linalg.norm(poses[ok][:, 0] - poses[ok][:, 5], axis=-1))  # fmt: skip


def test_wholebody_uses_derived_pelvis_and_neck():
    rng = np.random.default_rng(1)
    wb = rng.normal(size=(2, 133, 3))
    scores = np.ones((2, 133))
    out = canonicalize_wholebody(wb, scores)
    pk = np.concatenate([wb[:, :17], (wb[:, 11:12] + wb[:, 12:13]) / 2, (wb[:, 5:6] + wb[:, 6:7]) / 2], axis=1)
    assert np.allclose(out[:, :17], canonicalize(pk, np.ones((2, 19)))[:, :17])
    assert np.allclose((out[:, 11] + out[:, 12]) / 2, 0)
    assert np.allclose(canonicalize_any(wb, COCO_WHOLEBODY, scores), out)


def test_errors():
    with pytest.raises(ValueError, match=r"\(\.\.\., 19, 3\)"):
        canonicalize(np.zeros((17, 3)))
    with pytest.raises(ValueError, match="scores"):
        canonicalize(np.zeros((19, 3)), np.ones(17))
    with pytest.raises(ValueError, match="133"):
        canonicalize_wholebody(np.zeros((19, 3)))
