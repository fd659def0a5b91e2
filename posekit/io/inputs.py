"""What kind of input a file is: one rule, by file name (and for a ZIP its member names), for the CLI and the app.

Kinds: ``"image"``, ``"video"``, ``"take"`` (a PoseKit app take: ``.json``, ``.bin``, or a ``.zip`` holding
``frames.bin`` / ``frames.json``) and ``"capture"`` (an RGB-D capture: Record3D ``.r3d`` or any other ``.zip``:
Record3D's EXR export, a Stray Scanner folder, the generic RGB-D layout of ``docs/rgbd-zip.md``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from posekit.io.takes import is_take_archive
from posekit.io.video import VIDEO_EXTENSIONS
from posekit.limits import DEFAULT_LIMITS, Limits

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
TAKE_EXTENSIONS = (".json", ".bin")
CAPTURE_EXTENSIONS = (".r3d",)
ARCHIVE_EXTENSIONS = (".zip",)
RGBD_EXTENSIONS = TAKE_EXTENSIONS + CAPTURE_EXTENSIONS + ARCHIVE_EXTENSIONS
"""Everything the RGB-D readers take: a take or a capture, told apart by :func:`file_kind`."""

FileKind = Literal["image", "video", "take", "capture"]


class UnsupportedFileError(ValueError):
    """A file of no kind posekit reads; the message names what was expected and what came."""


def file_kind(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> FileKind:
    """The kind of the file at ``path``, from its extension; a ``.zip`` is a take or a capture by its members.

    Only a ZIP's central directory is read (bounded by ``limits``); nothing is decoded.

    Raises:
        UnsupportedFileError: an extension of no kind above.
        posekit.limits.LimitError: a ZIP over ``limits``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in TAKE_EXTENSIONS:
        return "take"
    if suffix in CAPTURE_EXTENSIONS:
        return "capture"
    if suffix in ARCHIVE_EXTENSIONS:
        return "take" if is_take_archive(path, limits) else "capture"
    got = f"a {suffix!r} file" if suffix else "a file without an extension"
    raise UnsupportedFileError(
        f"{path.name}: expected an image ({', '.join(IMAGE_EXTENSIONS)}), a video ({', '.join(VIDEO_EXTENSIONS)}), "
        f"a PoseKit take ({', '.join(TAKE_EXTENSIONS)} or a .zip holding frames.bin or frames.json) "
        f"or an RGB-D capture ({', '.join(CAPTURE_EXTENSIONS)} or a .zip); got {got}"
    )
