"""Open any supported RGB-D capture, recognised by what it contains (never by its file name alone)."""

from __future__ import annotations

import os
from pathlib import Path

from posekit.io.archive import ArchiveError, SafeZip
from posekit.io.captures import _io
from posekit.io.captures.base import Capture, CaptureError
from posekit.io.captures.generic import GenericCapture
from posekit.io.captures.record3d import Record3DCapture, Record3DExrCapture
from posekit.io.captures.stray import StrayCapture
from posekit.limits import DEFAULT_LIMITS, Limits

FORMATS: dict[str, tuple[str, type[Capture]]] = {
    "record3d": ("Record3D .r3d (metadata + rgbd/<i>.jpg, .depth, .conf)", Record3DCapture),
    "record3d-exr": ("Record3D EXR + JPG export, zipped (metadata.json + rgb/ + depth/<i>.exr)", Record3DExrCapture),
    "stray": ("Stray Scanner dataset, zipped (rgb.mp4 + depth/ + confidence/ + camera_matrix.csv)", StrayCapture),
    "generic": ("generic RGB-D ZIP (intrinsics.json + color/ + depth/, see docs/rgbd-zip.md)", GenericCapture),
}  # fmt: skip
"""Format name -> (what it looks like, reader class)."""

ACCEPTED = "; ".join(description for description, _ in FORMATS.values())


def detect_format(names: list[str]) -> str | None:
    """The format whose marker members are present (``names`` as listed in the archive), or None."""
    suffixes = {n.rsplit(".", 1)[-1].lower() for n in names if "." in n.rsplit("/", 1)[-1]}
    r3d_root = _io.find_root(names, "metadata")
    if r3d_root is not None and any(n.startswith(r3d_root + "rgbd/") and n.endswith(".depth") for n in names):
        return "record3d"
    exr_root = _io.find_root(names, "metadata.json")
    if exr_root is not None and "exr" in suffixes and any(n.startswith(exr_root + "depth/") for n in names):
        return "record3d-exr"
    if _io.find_root(names, "camera_matrix.csv") is not None:
        return "stray"
    if _io.find_root(names, "intrinsics.json") is not None:
        return "generic"
    return None


def open_capture(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> Capture:
    """Open an RGB-D capture: a Record3D ``.r3d``, a zipped Record3D EXR + JPG export, a zipped Stray Scanner
    dataset or a generic RGB-D ZIP (each also as an unzipped folder), whatever the file is called.

    Args:
        path: the uploaded file or a folder.
        limits: bounds on file size, members, inflated bytes, frames, duration and pixels, checked before any
            frame is decoded.

    Returns:
        The opened :class:`~posekit.io.captures.base.Capture` (use it as a context manager); its
        ``info.format`` names the format.

    Raises:
        CaptureError: not one of the accepted formats (the message lists them), or malformed.
        LimitError: over a bound.
    """
    path = Path(path)
    try:
        source = _io.FolderSource(path, limits) if path.is_dir() else SafeZip(path, limits)
    except ArchiveError as exc:
        raise CaptureError(f"{path.name}: expected an RGB-D capture, one of: {ACCEPTED}. ({exc})") from exc
    try:
        names = _io.data_names(source)
    finally:
        source.close()
    fmt = detect_format(names)
    if fmt is None:
        sample = ", ".join(names[:5]) or "nothing"
        raise CaptureError(
            f"{path.name}: not a recognised RGB-D capture (it holds {sample}{', ...' if len(names) > 5 else ''}); "
            f"expected one of: {ACCEPTED}"
        )
    return FORMATS[fmt][1](path, limits)
