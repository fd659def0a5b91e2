"""Animation rigs: a joint hierarchy rooted at the pelvis, its rest pose, and bone lengths from a sequence.

Frames and units:

* The **rig frame** is Y-up, right-handed, metres: ``(x, -y, -z)`` of posekit's camera frame (x right,
  y down, z forward; see :mod:`posekit.coords`), i.e. a 180 degree turn about the camera's x axis. A person
  facing the camera faces +Z with their left side at +X, which is glTF's convention for a character.
* The **rest pose** is a T-pose with fixed canonical bone directions (legs straight down, arms straight out
  sideways, palms down, fingers along the arm, head upright), not the sequence's median directions: it is
  the same for every sequence, so retargeting tools and their T-pose matching see a familiar bind pose. Only
  the bone lengths come from the sequence.
* **Bone lengths** are the median over the frames where both ends are well seen (finite 3D and score at
  least the threshold), then the left and right lengths of a pair are averaged. A bone never seen takes its
  pair's length, else :data:`UNSEEN_BONE_LENGTH`.

Hierarchy: each rig joint either sits at a keypoint (or the mean of a few, e.g. the pelvis of COCO-WholeBody
is the mean of the hips) or is a **hub**: a joint with zero offset at its parent's position, as in CMU's
motion-capture BVH files (``LHipJoint``, ``LowerBack``). A joint with several children (the pelvis: two
legs and the spine) cannot point one rotation at all of them once the body bends, so each child hangs from
its own hub, whose rotation aims just that bone; the branching joint's own rotation is the body part's
frame (e.g. the pelvis from the hips line and the spine). Every bone then has its own rotation and forward
kinematics reproduces the input directions exactly. Hubs have familiar names where one exists: the
clavicles ``LeftShoulder``/``RightShoulder`` (neck to shoulder) and ``Spine`` (pelvis to neck).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, Skeleton

UNSEEN_BONE_LENGTH = 0.1
"""Metres given to a bone whose two ends are never seen together (nor its mirror's)."""

DEFAULT_MIN_SCORE = 0.3
"""Keypoint score below which a keypoint is treated as missing (the PoseKit app's default minimum)."""

CAMERA_TO_RIG = np.diag([1.0, -1.0, -1.0])
"""(3, 3) camera frame (x right, y down, z forward) -> rig frame (x, -y, -z): Y-up, right-handed."""


class NoRigError(ValueError):
    """The skeleton has no animation rig (or not the one asked for, e.g. fingers without hand keypoints)."""


@dataclass(frozen=True)
class RigJoint:
    """One joint of a rig.

    Attributes:
        name: e.g. ``"LeftForeArm"`` (Mixamo-like names: the joint at the elbow drives the forearm).
        parent: index of the parent joint, -1 for the root.
        sources: keypoint indices whose mean is the joint's position; empty for a hub (at its parent).
        rest_direction: unit vector from the parent to this joint in the rest pose, rig frame; zeros for the
            root and hubs.
    """

    name: str
    parent: int
    sources: tuple[int, ...]
    rest_direction: tuple[float, float, float]

    @property
    def is_hub(self) -> bool:
        return not self.sources


@dataclass(frozen=True)
class FrameSpec:
    """How a branching joint's rotation is found: its frame from two vectors between rig joints.

    Attributes:
        primary: ``(from, to)`` joint indices; the frame's first axis follows ``to - from`` exactly.
        secondary: ``(from, to)`` joint indices; fixes the twist about the primary axis.
    """

    primary: tuple[int, int]
    secondary: tuple[int, int]


@dataclass(frozen=True)
class RigDefinition:
    """A rig's structure for one keypoint skeleton (no lengths yet; see :func:`build_rig`).

    Attributes:
        name: e.g. ``"COCO17+2 body"``.
        skeleton: the keypoint schema the sources index.
        joints: J joints in depth-first order (a BVH file's order; every parent before its children, the
            root first).
        frames: joint index -> :class:`FrameSpec` for each joint with more than one child.
    """

    name: str
    skeleton: Skeleton
    joints: tuple[RigJoint, ...]
    frames: dict[int, FrameSpec]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> np.ndarray:
        """(J,) int parent indices, -1 for the root."""
        return np.array([j.parent for j in self.joints], dtype=np.int64)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, j: int) -> list[int]:
        return [i for i, joint in enumerate(self.joints) if joint.parent == j]

    def anchor(self, j: int) -> int:
        """The nearest joint at or above ``j`` that sits at a keypoint (a hub's position is its anchor's)."""
        while self.joints[j].is_hub and self.joints[j].parent >= 0:
            j = self.joints[j].parent
        return j

    def mirror(self, j: int) -> int:
        """The left/right counterpart of joint ``j`` (``j`` itself for a central joint)."""
        name = self.joints[j].name
        swapped = name.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")
        return self.names.index(swapped) if swapped in self.names else j


@dataclass(frozen=True)
class Rig:
    """A rig with its rest pose.

    Attributes:
        definition: the structure.
        offsets: (J, 3) metres, rig frame: each joint's rest position relative to its parent (zeros for the
            root and hubs). With all rotations the identity, joint ``j`` is at the sum of the offsets down
            the chain.
        end_offsets: (J, 3) metres: for a leaf joint, where its bone ends (a BVH ``End Site``): half its
            bone along the bone's rest direction; zeros for joints with children.
    """

    definition: RigDefinition
    offsets: np.ndarray
    end_offsets: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """(J,) metres from each joint's parent to it in the rest pose."""
        return np.linalg.norm(self.offsets, axis=-1)

    def rest_positions(self) -> np.ndarray:
        """(J, 3) metres, rig frame, root at the origin."""
        out = np.zeros_like(self.offsets)
        for j, joint in enumerate(self.definition.joints):
            out[j] = self.offsets[j] + (out[joint.parent] if joint.parent >= 0 else 0.0)
        return out


def _unit(*v: float) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float64)
    x, y, z = a / np.linalg.norm(a)
    return (float(x), float(y), float(z))


# Entries (name, parent name, sources, rest direction for the LEFT side, hub name or None). Right-side rows
# are generated by mirroring x. Directions: T-pose, rig frame (x = the person's left, y up, z forward).
_Row = tuple[str, str | None, tuple[int, ...], tuple[float, float, float], str | None]

_HAND_REST = {  # left hand, palm down, from the wrist: (direction to the first keypoint, along the finger)
    "Thumb": (_unit(0.5, -0.25, 0.6), _unit(0.6, -0.1, 0.8)),
    "Index": (_unit(1.0, 0.0, 0.3), _unit(1, 0, 0)),
    "Middle": (_unit(1.0, 0.0, 0.05), _unit(1, 0, 0)),
    "Ring": (_unit(1.0, 0.0, -0.15), _unit(1, 0, 0)),
    "Pinky": (_unit(1.0, 0.0, -0.35), _unit(1, 0, 0)),
}


def _side_rows(side: str, kp: dict[str, int], feet: bool, hand_root: int | None) -> list[_Row]:
    """Rows of one side (left-side directions; mirrored later for the right)."""
    rows: list[_Row] = [
        (f"{side}UpLeg", "Hips", (kp["hip"],), (1.0, 0.0, 0.0), f"{side}HipJoint"),
        (f"{side}Leg", f"{side}UpLeg", (kp["knee"],), (0.0, -1.0, 0.0), None),
        (f"{side}Foot", f"{side}Leg", (kp["ankle"],), (0.0, -1.0, 0.0), None),
        (f"{side}Arm", "Neck", (kp["shoulder"],), (1.0, 0.0, 0.0), f"{side}Shoulder"),
        (f"{side}ForeArm", f"{side}Arm", (kp["elbow"],), (1.0, 0.0, 0.0), None),
        (f"{side}Hand", f"{side}ForeArm", (kp["wrist"],), (1.0, 0.0, 0.0), None),
        (f"{side}Eye", "Nose", (kp["eye"],), _unit(0.6, 0.7, -0.4), f"{side}EyeJoint"),
        (f"{side}Ear", f"{side}Eye", (kp["ear"],), _unit(0.4, -0.2, -0.9), None),
    ]
    if feet:
        rows += [
            (f"{side}BigToe", f"{side}Foot", (kp["big_toe"],), _unit(-0.1, -0.45, 0.9), f"{side}BigToeJoint"),
            (f"{side}SmallToe", f"{side}Foot", (kp["small_toe"],), _unit(0.3, -0.45, 0.8), f"{side}SmallToeJoint"),
            (f"{side}Heel", f"{side}Foot", (kp["heel"],), _unit(0.0, -0.8, -0.5), f"{side}HeelJoint"),
        ]
    if hand_root is not None:
        for f, (finger, (base_dir, chain_dir)) in enumerate(_HAND_REST.items()):
            first = hand_root + 1 + 4 * f  # keypoints: finger1 (MCP, or the thumb's CMC) .. finger4 (tip)
            name = f"{side}Hand{finger}"
            rows.append((f"{name}1", f"{side}Hand", (first,), base_dir, f"{name}Root"))
            rows += [(f"{name}{i + 1}", f"{name}{i}", (first + i,), chain_dir, None) for i in range(1, 4)]
    return rows


def _frames(feet: bool, fingers: bool) -> dict[str, tuple[tuple[str, str], tuple[str, str]]]:
    """Branching joint -> (primary, secondary) vectors as (from, to) joint names."""
    frames = {
        "Hips": (("RightUpLeg", "LeftUpLeg"), ("Hips", "Neck")),
        "Neck": (("RightArm", "LeftArm"), ("Hips", "Neck")),
        "Nose": (("RightEye", "LeftEye"), ("Neck", "Nose")),
    }
    for side in ("Left", "Right"):
        if feet:
            frames[f"{side}Foot"] = ((f"{side}Heel", f"{side}BigToe"), (f"{side}SmallToe", f"{side}BigToe"))
        if fingers:
            frames[f"{side}Hand"] = ((f"{side}Hand", f"{side}HandMiddle1"), (f"{side}HandPinky1", f"{side}HandIndex1"))
    return frames


def _assemble(name: str, skeleton: Skeleton, center: list[_Row], left: list[_Row], right: list[_Row],
              frames: dict[str, tuple[tuple[str, str], tuple[str, str]]]) -> RigDefinition:  # fmt: skip
    mirrored = [(n, p, s, (-d[0], d[1], d[2]), h) for n, p, s, d, h in right]
    joints: list[RigJoint] = []
    index: dict[str, int] = {}
    for row_name, parent, sources, direction, hub in center + left + mirrored:
        parent_index = index[parent] if parent is not None else -1
        if hub is not None:
            index[hub] = len(joints)
            joints.append(RigJoint(hub, parent_index, (), (0.0, 0.0, 0.0)))
            parent_index = index[hub]
        index[row_name] = len(joints)
        joints.append(RigJoint(row_name, parent_index, sources, direction))
    # Depth-first order, the order of a BVH file's joints, so that every format lists joints alike.
    order: list[int] = []
    pending = [0]
    while pending:
        j = pending.pop()
        order.append(j)
        pending += [c for c in range(len(joints) - 1, -1, -1) if joints[c].parent == j]
    new = {old: i for i, old in enumerate(order)}
    joints = [RigJoint(joints[o].name, new.get(joints[o].parent, -1), joints[o].sources, joints[o].rest_direction)
              for o in order]  # fmt: skip
    index = {n: new[i] for n, i in index.items()}
    specs = {index[j]: FrameSpec((index[a], index[b]), (index[c], index[d])) for j, ((a, b), (c, d)) in frames.items()}
    return RigDefinition(name, skeleton, tuple(joints), specs)


def rig_definition(skeleton: Skeleton, fingers: bool = False) -> RigDefinition:
    """The rig of a keypoint skeleton.

    Args:
        skeleton: :data:`~posekit.skeletons.POSEKIT_COCO17_2` (its Pelvis and Neck keypoints are the hips and
            neck joints) or :data:`~posekit.skeletons.COCO_WHOLEBODY` (body 0-16 and feet 17-22; pelvis = mean
            of the hips, neck = mean of the shoulders; the face is not rigged beyond the nose, eyes and ears).
        fingers: add the five finger chains of each hand from COCO-WholeBody's hand keypoints (91-132),
            hanging from the body's wrists.

    Raises:
        NoRigError: another skeleton, or ``fingers`` without hand keypoints.
    """
    nose = 0  # the first 17 keypoints are COCO's in both skeletons
    left = {"eye": 1, "ear": 3, "shoulder": 5, "elbow": 7, "wrist": 9, "hip": 11, "knee": 13, "ankle": 15}
    right = {k: v + 1 for k, v in left.items()}
    if skeleton.name == POSEKIT_COCO17_2.name:
        if fingers:
            raise NoRigError(f"fingers need COCO-WholeBody hand keypoints; {skeleton.name} has none")
        hips, neck, feet = (17,), (18,), False
    elif skeleton.name == COCO_WHOLEBODY.name:
        hips, neck, feet = (11, 12), (5, 6), True
        left |= {"big_toe": 17, "small_toe": 18, "heel": 19}
        right |= {"big_toe": 20, "small_toe": 21, "heel": 22}
    else:
        raise NoRigError(
            f"no animation rig for skeleton {skeleton.name!r}; expected {POSEKIT_COCO17_2.name!r} or "
            f"{COCO_WHOLEBODY.name!r}"
        )
    center: list[_Row] = [
        ("Hips", None, hips, (0.0, 0.0, 0.0), None),
        ("Neck", "Hips", neck, (0.0, 1.0, 0.0), "Spine"),
        ("Nose", "Neck", (nose,), _unit(0.0, 0.8, 0.6), "Head"),
    ]
    left_rows = _side_rows("Left", left, feet, 91 if fingers else None)
    right_rows = _side_rows("Right", right, feet, 112 if fingers else None)
    name = f"{skeleton.name} body" + (" and fingers" if fingers else "")
    return _assemble(name, skeleton, center, left_rows, right_rows, _frames(feet, fingers))


def joint_positions(
    definition: RigDefinition, keypoints_3d: np.ndarray, scores: np.ndarray, min_score: float = DEFAULT_MIN_SCORE
) -> tuple[np.ndarray, np.ndarray]:
    """Rig joint positions in the rig frame from one person's camera-frame keypoints.

    Args:
        definition: the rig.
        keypoints_3d: (T, K, 3) metres, posekit camera frame (x right, y down, z forward); NaN where unknown.
        scores: (T, K) keypoint scores.
        min_score: keypoints scored below this are missing.

    Returns:
        ``(positions (T, J, 3), valid (T, J))``: metres in the rig frame ``(x, -y, -z)``; a hub takes its
        anchor's position. A joint is valid where all its source keypoints are finite and scored at least
        ``min_score``; invalid positions are NaN.
    """
    kp = np.asarray(keypoints_3d, dtype=np.float64) @ CAMERA_TO_RIG.T
    ok = np.isfinite(kp).all(axis=-1) & (np.asarray(scores) >= min_score)
    t, j = kp.shape[0], definition.num_joints
    positions = np.full((t, j, 3), np.nan)
    valid = np.zeros((t, j), dtype=bool)
    for i in range(j):
        src = definition.joints[definition.anchor(i)].sources
        valid[:, i] = ok[:, list(src)].all(axis=1)
        positions[:, i] = np.where(valid[:, i, None], kp[:, list(src)].mean(axis=1), np.nan)
    return positions, valid


def build_rig(definition: RigDefinition, positions: np.ndarray, valid: np.ndarray) -> Rig:
    """A rig's rest pose with bone lengths measured on a sequence.

    Args:
        definition: the rig.
        positions: (T, J, 3) metres, rig frame (from :func:`joint_positions`).
        valid: (T, J) bool.

    Returns:
        The :class:`Rig`: offsets = rest direction x length, lengths as in the module docstring.
    """
    joints = definition.joints
    measured = np.full(len(joints), np.nan)
    for i, joint in enumerate(joints):
        if joint.is_hub or joint.parent < 0:
            continue
        a = definition.anchor(joint.parent)
        both = valid[:, i] & valid[:, a]
        if both.any():
            measured[i] = np.median(np.linalg.norm(positions[both, i] - positions[both, a], axis=-1))
    offsets = np.zeros((len(joints), 3))
    end_offsets = np.zeros((len(joints), 3))
    leaves = {i for i in range(len(joints))} - {j.parent for j in joints}
    for i, joint in enumerate(joints):
        if joint.is_hub or joint.parent < 0:
            continue
        pair = measured[[i, definition.mirror(i)]]
        length = float(np.nanmean(pair)) if np.isfinite(pair).any() else UNSEEN_BONE_LENGTH
        offsets[i] = np.asarray(joint.rest_direction) * length
        if i in leaves:
            end_offsets[i] = offsets[i] / 2
    return Rig(definition, offsets, end_offsets)
