"""Rig definitions, joint positions in the Y-up rig frame, bone lengths and the T-pose rest pose."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.processing.rig import (
    UNSEEN_BONE_LENGTH,
    NoRigError,
    build_rig,
    joint_positions,
    rig_definition,
)
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, Skeleton


@pytest.mark.parametrize(
    ("skeleton", "fingers", "count"),
    [(POSEKIT_COCO17_2, False, 27), (COCO_WHOLEBODY, False, 39), (COCO_WHOLEBODY, True, 89)],
)
def test_structure(skeleton: Skeleton, fingers: bool, count: int) -> None:
    d = rig_definition(skeleton, fingers)
    assert d.num_joints == count and len(set(d.names)) == count
    assert d.names[0] == "Hips" and d.joints[0].parent == -1
    # Depth-first order: each joint follows its parent, and a subtree is contiguous.
    for i, joint in enumerate(d.joints[1:], 1):
        assert joint.parent < i
        assert joint.parent == i - 1 or d.joints[i - 1].parent != -1
    for i, joint in enumerate(d.joints):
        children = d.children(i)
        if len(children) > 1:
            assert i in d.frames and all(d.joints[c].is_hub for c in children)
        if joint.is_hub:
            assert len(children) == 1 and not d.joints[children[0]].is_hub
    assert {"LeftHand", "RightHand", "LeftShoulder", "Spine", "LeftUpLeg"} <= set(d.names)
    assert ("LeftHandIndex4" in d.names) == fingers


def test_no_rig_for_other_skeletons() -> None:
    other = Skeleton("hand21", tuple(f"k{i}" for i in range(21)), (), {"body": tuple(range(21))})
    with pytest.raises(NoRigError, match="expected 'COCO17\\+2' or 'coco_wholebody'"):
        rig_definition(other)
    with pytest.raises(NoRigError, match="fingers need COCO-WholeBody"):
        rig_definition(POSEKIT_COCO17_2, fingers=True)
    assert issubclass(NoRigError, ValueError)


def test_joint_positions_y_up_and_derived_pelvis_neck() -> None:
    d = rig_definition(COCO_WHOLEBODY)
    kp = np.random.default_rng(0).normal(size=(3, 133, 3))
    scores = np.ones((3, 133))
    scores[2, 12] = 0.1  # right hip unreliable in the last frame
    pos, valid = joint_positions(d, kp, scores)
    np.testing.assert_allclose(pos[:2, d.index("Hips")], kp[:2, [11, 12]].mean(1) * [1, -1, -1])
    np.testing.assert_allclose(pos[:, d.index("Neck")], kp[:, [5, 6]].mean(1) * [1, -1, -1])
    np.testing.assert_allclose(pos[:, d.index("LeftHipJoint")], pos[:, d.index("Hips")])  # a hub sits at its anchor
    assert not valid[2, d.index("Hips")] and np.isnan(pos[2, d.index("Hips")]).all()
    assert not valid[2, d.index("RightUpLeg")] and valid[2, d.index("LeftUpLeg")]


def test_lengths_median_and_symmetric() -> None:
    d = rig_definition(POSEKIT_COCO17_2)
    t = 9
    pos = np.zeros((t, d.num_joints, 3))
    valid = np.ones((t, d.num_joints), dtype=bool)
    left, right = d.index("LeftForeArm"), d.index("RightForeArm")
    pos[:, left] = [0.30, 0.0, 0.0]
    pos[:, right] = [0.0, -0.26, 0.0]
    pos[0, left] = [5.0, 0.0, 0.0]  # one wild frame: the median ignores it
    valid[1, right] = False
    pos[1, right] = [0.0, 9.0, 0.0]  # a frame marked invalid is not measured at all
    for j in (d.index("LeftArm"), d.index("RightArm")):
        pos[:, j] = 0.0
    ear_l, ear_r = d.index("LeftEar"), d.index("RightEar")
    valid[:, ear_l] = False  # never seen: takes the right ear's length
    pos[:, ear_r] = pos[:, d.index("RightEye")] + [0.0, 0.0, 0.07]
    valid[:, d.index("LeftHand")] = valid[:, d.index("RightHand")] = False  # neither seen: the default length
    rig = build_rig(d, pos, valid)
    assert rig.lengths[left] == pytest.approx(0.28) and rig.lengths[right] == pytest.approx(0.28)
    assert rig.lengths[ear_l] == pytest.approx(0.07) and rig.lengths[ear_r] == pytest.approx(0.07)
    assert rig.lengths[d.index("LeftHand")] == UNSEEN_BONE_LENGTH


def test_rest_pose_is_a_t_pose() -> None:
    d = rig_definition(COCO_WHOLEBODY, fingers=True)
    t = 2
    pos = np.random.default_rng(1).normal(size=(t, d.num_joints, 3))
    rig = build_rig(d, pos, np.ones((t, d.num_joints), dtype=bool))
    rest = rig.rest_positions()
    at = {n: rest[i] for i, n in enumerate(d.names)}
    for side, sign in (("Left", 1), ("Right", -1)):
        arm = [at[f"{side}{n}"] for n in ("Arm", "ForeArm", "Hand", "HandMiddle1", "HandMiddle4")]
        assert all(np.sign(b[0] - a[0]) == sign for a, b in zip(arm, arm[1:]))  # straight out sideways
        assert all(p[1] == pytest.approx(arm[0][1]) and p[2] == pytest.approx(0) for p in arm[:3])
        leg = [at[f"{side}{n}"] for n in ("UpLeg", "Leg", "Foot")]
        assert leg[1][1] < leg[0][1] and leg[2][1] < leg[1][1] and leg[2][0] == pytest.approx(leg[0][0])
        assert at[f"{side}BigToe"][2] > at[f"{side}Foot"][2] > at[f"{side}Heel"][2]  # feet point forward (+Z)
    assert at["Neck"][1] > 0 and at["Nose"][1] > at["Neck"][1]
    for i in range(d.num_joints):  # mirrored pairs have equal lengths
        assert rig.lengths[i] == pytest.approx(rig.lengths[d.mirror(i)])
    leaves = [i for i in range(d.num_joints) if not d.children(i)]
    assert all(np.linalg.norm(rig.end_offsets[i]) > 0 for i in leaves)
