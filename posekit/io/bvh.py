"""BVH (Biovision Hierarchy) writer for a :class:`~posekit.processing.joint_rotations.Motion`.

Layout: ``HIERARCHY`` with one ``JOINT`` per rig joint (hubs included, ``OFFSET 0 0 0`` as in CMU's files)
and an ``End Site`` under each leaf; ``MOTION`` with one line per frame.

* Axes: the rig frame, Y-up right-handed, the person facing +Z (BVH's usual convention; Blender's importer
  default ``axis_forward='-Z', axis_up='Y'`` maps it to Blender's Z-up with (x, y, z) -> (x, -z, y)).
* Channels: the root has ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, every other joint
  ``Zrotation Xrotation Yrotation``: the local rotation is ``Rz @ Rx @ Ry`` (degrees). The root's ``OFFSET``
  is zero so that its position channels are its position, for readers that add the offset and for those
  (like Blender's) that do not.
* Units: centimetres by default (what most tools assume for BVH), or metres.
* ``Frame Time`` is ``1 / fps``. BVH frames are evenly spaced: a sequence with dropped frames plays with the
  gaps closed (the glTF writer keeps real timestamps).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from posekit.io.atomic import atomic_write
from posekit.processing.joint_rotations import Motion
from posekit.processing.rotations import matrix_to_euler_zxy

Units = Literal["cm", "m"]
UNIT_SCALE: dict[str, float] = {"cm": 100.0, "m": 1.0}


def _vec(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def bvh_text(motion: Motion, fps: float, units: Units = "cm") -> str:
    """The BVH file's text.

    Args:
        motion: the animation.
        fps: frames per second of the ``Frame Time`` line (> 0).
        units: ``"cm"`` or ``"m"`` for offsets and root positions.
    """
    if units not in UNIT_SCALE:
        raise ValueError(f"units: expected one of {sorted(UNIT_SCALE)}, got {units!r}")
    if not fps > 0:
        raise ValueError(f"fps: expected a positive frame rate, got {fps}")
    scale = UNIT_SCALE[units]
    rig = motion.rig
    joints = rig.definition.joints
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in the order they appear, which is the order of their motion channels

    def emit(i: int, depth: int) -> None:
        order.append(i)
        pad = "\t" * depth
        head = "ROOT" if joints[i].parent < 0 else "JOINT"
        lines.append(f"{pad}{head} {joints[i].name}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {_vec(rig.offsets[i] * scale)}")
        channels = "6 Xposition Yposition Zposition" if joints[i].parent < 0 else "3"
        lines.append(f"{pad}\tCHANNELS {channels} Zrotation Xrotation Yrotation")
        children = rig.definition.children(i)
        for c in children:
            emit(c, depth + 1)
        if not children:
            end = _vec(rig.end_offsets[i] * scale)
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {end}", f"{pad}\t}}"])
        lines.append(pad + "}")

    emit(0, 0)
    # Unwrapping over time keeps each channel continuous, so players interpolating Euler angles between
    # frames do not spin through 360 degrees at a +-180 crossing.
    angles = np.degrees(np.unwrap(matrix_to_euler_zxy(motion.local_rotations[:, order]), axis=0))
    rows = np.concatenate([motion.root_translation * scale, angles.reshape(motion.num_frames, -1)], axis=1)
    lines += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{x:.6f}" for x in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_bvh(motion: Motion, path: str | os.PathLike, fps: float, units: Units = "cm") -> Path:
    """Write ``motion`` as a BVH file (atomically; see :func:`bvh_text` for the arguments)."""
    with atomic_write(path, "wb") as f:
        f.write(bvh_text(motion, fps, units).encode("ascii"))
    return Path(path)
