"""Export a :class:`~posekit.sequence.PoseSequence`'s 3D poses as animation files for Blender, Unity, etc.

Example::

    from posekit.io.animation import export_animation, export_animations

    export_animation(seq, "take.bvh")  # the main person, centimetres
    export_animation(seq, "take.glb", fingers=True)  # COCO-WholeBody with finger chains
    export_animations(seq, "out", "clip", each_track=True)  # out/clip_track<id>.bvh and .glb per person

The pipeline: the person's camera-frame keypoints -> rig joint positions in the rig frame (Y-up: ``(x, -y,
-z)`` of the camera frame) -> a rig with bone lengths from the sequence (:mod:`posekit.processing.rig`) ->
local joint rotations and root translation (:mod:`posekit.processing.joint_rotations`) -> a writer
(:mod:`posekit.io.bvh`, :mod:`posekit.io.gltf`). Smooth and track the sequence first; nothing here filters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from posekit.io.bvh import UNIT_SCALE, Units, write_bvh
from posekit.io.gltf import write_glb
from posekit.processing.joint_rotations import Motion, solve_motion
from posekit.processing.people import select_main_track
from posekit.processing.rig import DEFAULT_MIN_SCORE, NoRigError, build_rig, joint_positions, rig_definition
from posekit.sequence import PoseSequence

__all__ = [
    "AnimationExportError",
    "ExportFormat",
    "ExportFormatError",
    "NoPose3DError",
    "NoRigError",
    "TrackNotSeenError",
    "export_animation",
    "export_animations",
    "main_track",
    "motion_from_sequence",
]

ExportFormat = Literal["bvh", "glb"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
DEFAULT_FPS = 30.0
"""``Frame Time`` rate for a BVH of a sequence whose rate cannot be told (fewer than two timestamps)."""
METRIC_SPACES = ("metric_depth", "phone")


class AnimationExportError(ValueError):
    """A sequence cannot be exported as asked."""


class NoPose3DError(AnimationExportError):
    """The sequence has no 3D keypoints."""


class TrackNotSeenError(AnimationExportError):
    """The person asked for does not exist or has no usable 3D in any frame."""


class ExportFormatError(AnimationExportError):
    """An unknown animation format or file suffix."""


def _seen_frames(seq: PoseSequence) -> np.ndarray:
    """(P,) number of frames in which each person has at least one finite 3D keypoint."""
    assert seq.keypoints_3d is not None
    return np.isfinite(seq.keypoints_3d).all(axis=-1).any(axis=-1).sum(axis=0)


def main_track(seq: PoseSequence) -> int:
    """Index (on the person axis) of the main person among those with 3D in some frame (the library's one rule,
    :func:`~posekit.processing.people.select_main_track`).

    Raises:
        NoPose3DError: no 3D. TrackNotSeenError: nobody has 3D in any frame.
    """
    if seq.keypoints_3d is None:
        raise NoPose3DError(f"expected a sequence with keypoints_3d, got none ({seq.skeleton.name}, 2D only)")
    seen = _seen_frames(seq)
    if not seen.size or seen.max() == 0:
        raise TrackNotSeenError(f"expected a person with 3D in at least one frame; {seq.num_people} people, none")
    candidates = np.flatnonzero(seen > 0)
    return int(candidates[select_main_track(seq.people(candidates.tolist()))])


def motion_from_sequence(
    seq: PoseSequence, person: int | None = None, fingers: bool = False, min_score: float = DEFAULT_MIN_SCORE
) -> Motion:
    """One person's animation: rig, rest pose, rotations and root translation.

    Args:
        seq: a sequence with ``keypoints_3d`` in a skeleton that has a rig (COCO17+2, COCO-WholeBody).
        person: index on the person axis; default :func:`main_track`.
        fingers: add finger chains (COCO-WholeBody only).
        min_score: keypoints scored below this are missing (held from the last good frame).

    Raises:
        NoPose3DError, TrackNotSeenError, NoRigError (all ``ValueError``), with what was expected.
    """
    definition = rig_definition(seq.skeleton, fingers)  # the skeleton is checked before the data
    if person is None:
        person = main_track(seq)
    if seq.keypoints_3d is None:
        raise NoPose3DError(f"expected a sequence with keypoints_3d, got none ({seq.skeleton.name}, 2D only)")
    if not 0 <= person < seq.num_people:
        raise TrackNotSeenError(f"person: expected an index in 0..{seq.num_people - 1}, got {person}")
    positions, valid = joint_positions(definition, seq.keypoints_3d[:, person], seq.scores[:, person], min_score)
    if not valid.any():
        raise TrackNotSeenError(
            f"person {person} (track {int(seq.track_ids[person])}): expected 3D keypoints scored >= {min_score} "
            f"in at least one frame, got none in {seq.num_frames} frames"
        )
    rig = build_rig(definition, positions, valid)
    metric = seq.space_3d in METRIC_SPACES
    return solve_motion(rig, positions, valid, seq.timestamps, metric, f"track {int(seq.track_ids[person])}")


def _format(path: Path, format: str | None) -> str:
    fmt = format if format is not None else path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        got = f"format {format!r}" if format is not None else f"suffix {path.suffix!r} of {path.name}"
        raise ExportFormatError(f"expected an animation format in {FORMATS} (or a .bvh/.glb suffix), got {got}")
    return fmt


def _check_units(units: str) -> None:
    if units not in UNIT_SCALE:
        raise AnimationExportError(f"units: expected one of {sorted(UNIT_SCALE)}, got {units!r}")


def _write(motion: Motion, path: Path, fmt: str, fps: float, units: Units) -> Path:
    if fmt == "bvh":
        return write_bvh(motion, path, fps, units)
    return write_glb(motion, path)


def export_animation(
    seq: PoseSequence,
    path: str | os.PathLike,
    format: ExportFormat | None = None,
    person: int | None = None,
    units: Units = "cm",
    fingers: bool = False,
) -> Path:
    """Write one person's motion as an animation file.

    Args:
        seq: a smoothed, tracked sequence with 3D (camera frame, metres; see :mod:`posekit.coords`).
        path: the file to write (atomically; its folder is created).
        format: ``"bvh"`` or ``"glb"``; default from ``path``'s suffix.
        person: index on the person axis; default the person with 3D in the most frames.
        units: BVH lengths in ``"cm"`` (default) or ``"m"``; glTF is always metres (the spec's unit).
        fingers: add finger chains from COCO-WholeBody's hand keypoints.

    Returns:
        ``path``.

    Raises:
        ExportFormatError, NoPose3DError, TrackNotSeenError, NoRigError (all ``ValueError``).
    """
    path = Path(path)
    fmt = _format(path, format)
    _check_units(units)
    motion = motion_from_sequence(seq, person, fingers)
    return _write(motion, path, fmt, seq.estimated_fps() or DEFAULT_FPS, units)


def export_animations(
    seq: PoseSequence,
    folder: str | os.PathLike,
    stem: str,
    formats: Sequence[ExportFormat] = ("bvh", "glb"),
    each_track: bool = False,
    units: Units = "cm",
    fingers: bool = False,
) -> list[Path]:
    """Write the main person (``folder/stem.<format>``), or with ``each_track`` every person with 3D
    (``folder/stem_track<id>.<format>``), in each of ``formats``. Other arguments as :func:`export_animation`.

    Returns:
        The files written, person by person, in the order of ``formats``.
    """
    for fmt in formats:
        _format(Path(f"{stem}.{fmt}"), fmt)
    _check_units(units)
    folder = Path(folder)
    if each_track:
        main_track(seq)  # raises the clear error when there is nothing to export
        people = [int(p) for p in np.flatnonzero(_seen_frames(seq))]
    else:
        people = [main_track(seq)]
    fps = seq.estimated_fps() or DEFAULT_FPS
    motions = [motion_from_sequence(seq, person, fingers) for person in people]  # every error before any file
    written = []
    for person, motion in zip(people, motions):
        name = f"{stem}_track{int(seq.track_ids[person])}" if each_track else stem
        written += [_write(motion, folder / f"{name}.{fmt}", fmt, fps, units) for fmt in formats]
    return written
