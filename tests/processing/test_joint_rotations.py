"""The joint-rotation solver: exact bone directions, held missing data, stable straight limbs."""

from __future__ import annotations

import numpy as np
import pytest
from generators.motions import take_sequence, walking_sequence

from posekit.io.animation import motion_from_sequence
from posekit.processing.joint_rotations import forward_kinematics, solve_motion
from posekit.processing.rig import build_rig, joint_positions, rig_definition
from posekit.processing.rotations import (
    continuous_quaternions,
    euler_zxy_to_matrix,
    matrix_to_euler_zxy,
    matrix_to_quaternion,
    normalize,
    normalize4,
    quaternion_to_matrix,
    shortest_arc,
)
from posekit.skeletons import POSEKIT_COCO17_2


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Radians between rotations (..., 3, 3)."""
    cos = (np.trace(np.swapaxes(a, -1, -2) @ b, axis1=-2, axis2=-1) - 1) / 2
    return np.arccos(np.clip(cos, -1, 1))


def test_rotation_conversions_round_trip() -> None:
    rng = np.random.default_rng(0)
    m = quaternion_to_matrix(normalize4(rng.normal(size=(500, 4))))
    np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(m)), m, atol=1e-12)
    np.testing.assert_allclose(euler_zxy_to_matrix(matrix_to_euler_zxy(m)), m, atol=1e-12)
    locked = euler_zxy_to_matrix(np.array([0.3, np.pi / 2, 0.2]))  # gimbal lock still gives the same matrix
    np.testing.assert_allclose(euler_zxy_to_matrix(matrix_to_euler_zxy(locked)), locked, atol=1e-9)
    u, v = normalize(rng.normal(size=(500, 3))), normalize(rng.normal(size=(500, 3)))
    for target in (v, -u):  # any pair, and exactly opposite vectors (no unique axis)
        r = shortest_arc(u, target)
        np.testing.assert_allclose(np.einsum("nij,nj->ni", r, u), target, atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(r), 1, atol=1e-12)
    q = matrix_to_quaternion(m[:10])
    q[1::2] *= -1
    c = continuous_quaternions(q)
    assert np.all(np.sum(c[1:] * c[:-1], -1) >= 0)
    np.testing.assert_allclose(quaternion_to_matrix(c), m[:10], atol=1e-12)


def test_root_translation_is_the_pelvis_in_the_y_up_frame() -> None:
    seq = walking_sequence(num_frames=10)
    motion = motion_from_sequence(seq)
    pelvis = seq.keypoints_3d[:, 0, [11, 12]].mean(1)
    np.testing.assert_allclose(motion.root_translation, pelvis * [1, -1, -1])
    assert motion.metric and motion.times[0] == 0


def test_missing_joints_hold_the_last_solved_rotation() -> None:
    seq = walking_sequence()  # the left wrist is missing in frames 20-23
    motion = motion_from_sequence(seq)
    names = motion.rig.definition.names
    fore = names.index("LeftForeArm")  # its rotation aims the forearm at the wrist
    assert not motion.solved[20:24, fore].any() and motion.solved[[19, 24], fore].all()
    np.testing.assert_array_equal(motion.local_rotations[20:24, fore], motion.local_rotations[[19] * 4, fore])


def test_leading_gaps_fill_and_unseen_joints_rest(tmp_path: object) -> None:
    seq = walking_sequence(num_frames=12)
    seq.keypoints_3d[:3, 0, 7] = np.nan  # no left elbow in the first three frames
    motion = motion_from_sequence(seq)
    arm = motion.rig.definition.index("LeftArm")
    np.testing.assert_array_equal(motion.local_rotations[:3, arm], motion.local_rotations[[3, 3, 3], arm])
    take = motion_from_sequence(take_sequence(tmp_path))  # the take's left ear is never trusted
    eye = take.rig.definition.index("LeftEye")
    assert not take.solved[:, eye].any()
    np.testing.assert_array_equal(take.local_rotations[:, eye], np.broadcast_to(np.eye(3), (take.num_frames, 3, 3)))


def _straight_arm_sequence(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO17+2 camera-frame keypoints of a person facing the camera raising a straight left arm sideways
    from hanging (0) through horizontal (pi/2); scores all 1."""
    t = len(angles)
    kp = np.zeros((t, 19, 3))
    base = {0: (0, -0.62, 2.4), 1: (0.03, -0.66, 2.41), 2: (-0.03, -0.66, 2.41), 3: (0.08, -0.64, 2.5),
            4: (-0.08, -0.64, 2.5), 5: (0.19, -0.45, 2.5), 6: (-0.19, -0.45, 2.5), 8: (-0.2, -0.18, 2.5),
            10: (-0.2, 0.08, 2.5), 11: (0.1, 0, 2.5), 12: (-0.1, 0, 2.5), 13: (0.1, 0.43, 2.5),
            14: (-0.1, 0.43, 2.5), 15: (0.1, 0.86, 2.5), 16: (-0.1, 0.86, 2.5), 17: (0, 0, 2.5),
            18: (0, -0.45, 2.5)}  # fmt: skip
    for k, p in base.items():
        kp[:, k] = p
    direction = np.stack([np.sin(angles), np.cos(angles), np.zeros(t)], -1)  # camera frame: y down
    kp[:, 7] = kp[:, 5] + 0.28 * direction
    kp[:, 9] = kp[:, 7] + 0.26 * direction
    return kp, np.ones((t, 19))


def test_straight_limbs_are_stable() -> None:
    angles = np.linspace(0, np.pi / 2, 91)
    kp, scores = _straight_arm_sequence(angles)
    d = rig_definition(POSEKIT_COCO17_2)
    pos, valid = joint_positions(d, kp, scores)
    motion = solve_motion(build_rig(d, pos, valid), pos, valid, np.arange(len(angles)) / 30)
    arm, fore = d.index("LeftArm"), d.index("LeftForeArm")
    # The elbow of a straight arm does not rotate at all, whatever the shoulder does.
    np.testing.assert_allclose(_angle(motion.local_rotations[:, fore], np.eye(3)), 0, atol=1e-7)
    # The shoulder turns by exactly the arm's step each frame: no twist flips as the arm straightens out.
    steps = _angle(motion.local_rotations[1:, arm], motion.local_rotations[:-1, arm])
    np.testing.assert_allclose(steps, np.diff(angles), atol=1e-7)
    assert _angle(motion.local_rotations[-1, arm], np.eye(3)) == pytest.approx(0, abs=1e-7)  # T-pose = rest
    fk = forward_kinematics(motion.rig, motion.local_rotations, motion.root_translation)
    hand = fk[:, d.index("LeftHand")] - fk[:, arm]
    want = np.stack([np.sin(angles), -np.cos(angles), np.zeros_like(angles)], -1)  # Y-up: the arm rises
    np.testing.assert_allclose(hand / np.linalg.norm(hand, axis=-1, keepdims=True), want, atol=1e-9)
