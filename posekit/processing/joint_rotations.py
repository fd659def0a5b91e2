"""Joint positions -> per-frame local joint rotations and root translation of a :class:`~posekit.processing.rig.Rig`.

The solver (pure numpy, one pass over the joints from the root down, vectorised over frames):

* **Branching joints** (the pelvis, the neck, the head, and with feet or fingers the feet and hands) get
  the body part's frame from two vectors between joints (see :class:`~posekit.processing.rig.FrameSpec`):
  the pelvis from the hips line (x, exact) and the spine (y); the neck from the shoulders line and the spine;
  the head from the eyes line and the neck-to-nose vector. The rotation maps the rest pose's frame onto the
  observed one, so the twist of the torso comes from the hips and shoulders lines.
* **Single-child joints** (hubs and limb joints) get the **shortest-arc swing**, in the parent's frame, from
  the child's rest direction to its observed direction. A limb's twist is therefore the one inherited from
  the frame above it (legs from the pelvis, arms from the neck's shoulders line): no bend plane is used, so a
  straight or nearly straight limb is as stable as a bent one. The swing is singular only when a bone points
  exactly opposite its rest direction in its parent's frame (e.g. a left upper arm pointing across the chest
  to the right); the axis chosen there is deterministic.
* **Leaves** keep the identity (nothing below them to aim).

Because every bone has its own rotation (see the hubs of :mod:`posekit.processing.rig`), forward kinematics
with the rig's lengths reproduces each bone's observed direction exactly: the only change to the input is
that bone lengths become the rig's.

Missing data: a joint rotation that cannot be solved in a frame (a joint involved is missing, or the two
frame vectors are parallel) holds its last solved value; before its first solved frame it takes the first
one; a rotation never solved stays the identity (the rest pose). The root translation is held the same way
(zeros if the pelvis is never seen).

Frames and units: rig frame (Y-up, right-handed, ``(x, -y, -z)`` of posekit's camera frame), metres. The
root translation is the pelvis position in that frame: metric for ``space_3d`` ``"metric_depth"`` and
``"phone"``; for ``"model"`` (RTMW3D placed at a nominal depth with nominal intrinsics) it is kept as it is
but is not metric (shape right, absolute scale and position not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.processing.rig import Rig
from posekit.processing.rotations import frame_from_vectors, normalize, shortest_arc


@dataclass(frozen=True)
class Motion:
    """An animation of a rig, ready for a writer.

    Attributes:
        rig: the rig and its rest pose.
        times: (T,) seconds since the first frame, non-decreasing.
        root_translation: (T, 3) metres, rig frame: the root joint's position.
        local_rotations: (T, J, 3, 3) each joint's rotation relative to its parent (``v_parent = R v_local``).
        solved: (T, J) bool: the rotation was solved in that frame (False where it was held or filled).
        metric: the root translation is in real metres (False for model-space 3D at a nominal depth).
        name: a label for the animation (e.g. the track), used by writers that store one.
    """

    rig: Rig
    times: np.ndarray
    root_translation: np.ndarray
    local_rotations: np.ndarray
    solved: np.ndarray
    metric: bool = True
    name: str = "posekit"

    @property
    def num_frames(self) -> int:
        return int(self.times.shape[0])


def _hold(values: np.ndarray, ok: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Replace values where ``ok`` is False by the last ok one along axis 0 (the first ok one before it);
    ``default`` where none is ok."""
    if not ok.any():
        return np.broadcast_to(default, values.shape).copy()
    idx = np.where(ok, np.arange(len(ok)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = int(np.argmax(ok))
    return values[idx]


def solve_rotations(rig: Rig, positions: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations of every joint in every frame (see the module docstring for the solver).

    Args:
        rig: the rig (its rest offsets give the rest directions and frames).
        positions: (T, J, 3) metres, rig frame (from :func:`~posekit.processing.rig.joint_positions`).
        valid: (T, J) bool.

    Returns:
        ``(local (T, J, 3, 3), solved (T, J) bool)``.
    """
    d = rig.definition
    t, j = valid.shape
    rest = rig.rest_positions()
    local = np.broadcast_to(np.eye(3), (t, j, 3, 3)).copy()
    world = np.empty_like(local)
    solved = np.ones((t, j), dtype=bool)
    for i, joint in enumerate(d.joints):
        parent_world = world[:, joint.parent] if joint.parent >= 0 else np.broadcast_to(np.eye(3), (t, 3, 3))
        children = d.children(i)
        if i in d.frames:
            (a, b), (c, e) = d.frames[i].primary, d.frames[i].secondary
            observed = frame_from_vectors(positions[:, b] - positions[:, a], positions[:, e] - positions[:, c])
            rest_frame = frame_from_vectors(rest[b] - rest[a], rest[e] - rest[c])
            rotation = np.swapaxes(parent_world, -1, -2) @ observed @ rest_frame.T
            ok = valid[:, [a, b, c, e]].all(axis=1) & np.isfinite(observed).all(axis=(-2, -1))
        elif children:
            (child,) = children  # branching joints all have a FrameSpec (see rig_definition)
            direction = positions[:, child] - positions[:, d.anchor(i)]
            in_parent = np.einsum("tji,tj->ti", parent_world, direction)
            rotation = shortest_arc(normalize(rig.offsets[child]), normalize(in_parent))
            ok = valid[:, child] & valid[:, d.anchor(i)] & np.isfinite(rotation).all(axis=(-2, -1))
        else:
            world[:, i] = parent_world
            continue
        local[:, i] = _hold(rotation, ok, np.eye(3))
        solved[:, i] = ok
        world[:, i] = parent_world @ local[:, i]
    return local, solved


def solve_motion(
    rig: Rig, positions: np.ndarray, valid: np.ndarray, times: np.ndarray, metric: bool = True, name: str = "posekit"
) -> Motion:
    """A :class:`Motion` from joint positions: rotations by :func:`solve_rotations`, the root translation
    the root joint's position (held where missing, zeros if never seen).

    Args:
        rig: the rig.
        positions: (T, J, 3) metres, rig frame.
        valid: (T, J) bool.
        times: (T,) seconds (any origin; stored relative to the first frame).
        metric: whether the positions are real metres (documentation for consumers).
        name: the animation's label.
    """
    local, solved = solve_rotations(rig, positions, valid)
    root = _hold(positions[:, 0], valid[:, 0], np.zeros(3))
    times = np.asarray(times, dtype=np.float64)
    rel = times - times[0] if times.size else times
    return Motion(rig, rel, root, local, solved, metric, name)


def forward_kinematics(rig: Rig, local_rotations: np.ndarray, root_translation: np.ndarray) -> np.ndarray:
    """Joint positions of a posed rig.

    Args:
        rig: the rig.
        local_rotations: (T, J, 3, 3).
        root_translation: (T, 3) metres, rig frame.

    Returns:
        (T, J, 3) metres, rig frame: ``p_j = p_parent + W_parent @ offset_j``, ``W_j = W_parent @ R_j``.
    """
    t, j = local_rotations.shape[:2]
    world = np.empty_like(local_rotations)
    out = np.empty((t, j, 3))
    for i, joint in enumerate(rig.definition.joints):
        if joint.parent < 0:
            world[:, i], out[:, i] = local_rotations[:, i], root_translation
        else:
            world[:, i] = world[:, joint.parent] @ local_rotations[:, i]
            out[:, i] = out[:, joint.parent] + world[:, joint.parent] @ rig.offsets[i]
    return out
