"""PoseKit iPhone takes: ``load_take`` any form the app exports, ``save_take`` exactly what it writes.

A take holds poses only (no images): per frame, 19 COCO17+2 joints with normalised 2D, scores, the phone's
metric ``camera3D`` (LiDAR depth, ARKit intrinsics) and its pelvis-centred ``playback3D``. See
:mod:`posekit.pipeline.takes` for the formats.

Example::

    from posekit.takes import load_take, save_take

    seq = load_take("PoseTake_2025-01-01T120000Z.zip")  # .zip, .json, .bin or the take folder
    seq.keypoints_3d  # (T, 1, 19, 3) camera frame, metres
    save_take(seq, "copy.zip")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from posekit.limits import DEFAULT_LIMITS, Limits
from posekit.pipeline.takes import TakeError, TakeFormat, detect_take_format, read_take, write_take
from posekit.sequence import PoseSequence

__all__ = ["TakeError", "detect_take_format", "load_take", "save_take"]


def load_take(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> PoseSequence:
    """Read a PoseKit take (``.zip``, ``.json``, ``.bin`` or the app's take folder; detected by content).

    Returns:
        A one-person COCO17+2 :class:`PoseSequence`: 2D normalised (``image_size`` (1, 1)), ``keypoints_3d`` the
        phone's camera3D, ``canonical_3d`` its playback3D, ``depth_confidence``, ``space_3d`` "phone",
        ``meta`` the take's meta.json.

    Raises:
        TakeError: not a take or malformed, with what was expected. LimitError: over ``limits``.
    """
    return read_take(path, limits)


def save_take(
    seq: PoseSequence,
    path: str | os.PathLike,
    format: TakeFormat = "zip",
    meta: dict[str, Any] | None = None,
    person: int | None = None,
) -> Path:
    """Write ``seq`` as the app writes a take: ``"zip"`` (stored meta.json, frames.bin, frames.json),
    ``"json"``, ``"bin"`` or ``"folder"``.

    Any COCO17+2 sequence can be saved (2D in pixels is normalised by ``image_size``); COCO-WholeBody sequences
    are mapped to COCO17+2 (first 17 joints + derived Pelvis/Neck); other skeletons are refused. ``meta``
    overrides the app's ``TakeMeta`` fields; ``person`` picks a track (default: the one present the longest).
    The file appears only once complete.
    """
    return write_take(seq, path, format, meta, person)
