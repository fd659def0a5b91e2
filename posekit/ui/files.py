"""Uploads and result files of the app: bounds checked before decoding, kinds told apart, folders cleaned.

Every check here reads only what it must (a file's size, an image header, a ZIP's central directory) and
raises :class:`~posekit.limits.LimitError` or another ``ValueError`` whose message the UI shows as is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

from posekit.io.images import check_image_header
from posekit.io.inputs import RGBD_EXTENSIONS, file_kind
from posekit.limits import Limits

APP_LIMITS = Limits(
    max_file_bytes=300 * 1024**2,
    max_image_pixels=40_000_000,
    max_frames=900,
    max_duration_s=120.0,
    max_archive_members=20_000,
    max_inflated_bytes=3 * 1024**3,
    max_compression_ratio=200.0,
    max_work_s=60.0,
)
"""The web app's upload bounds: a 24 MP phone photo, 30 s of 30 fps video (bounded by the video's start
and end), a 2-minute depth capture, and 60 s of model work a request (estimated from the frames, the model and
the device: :func:`posekit.ui.inference.check_work`), so that no request holds the app for minutes.
``create_demo(limits=...)`` takes others."""

UploadKind = Literal["take", "capture"]


def check_image_upload(path: str | os.PathLike, limits: Limits) -> tuple[int, int]:
    """Check an uploaded image's file size, format and pixel count from its header alone, before anything
    decodes it (:func:`posekit.io.images.check_image_header`); messages name the upload by its file name only.

    Returns:
        ``(width, height)`` from the header.

    Raises:
        LimitError: over ``max_file_bytes`` or ``max_image_pixels`` (the latter also an ``ImageError``).
        ImageError: not an image the library reads, or smaller than 2x2.
    """
    return check_image_header(path, limits, what=Path(path).name)


def rgbd_kind(path: str | os.PathLike, limits: Limits) -> UploadKind:
    """Tell a PoseKit take from an RGB-D capture, by the rule the CLI uses too
    (:func:`posekit.io.inputs.file_kind`): a take is ``.json``, ``.bin``, or a ``.zip`` holding
    ``frames.bin`` / ``frames.json``; a capture is a Record3D ``.r3d`` or any other ``.zip`` (EXR export,
    Stray Scanner folder, generic RGB-D).
    """
    path = Path(path)
    limits.check_file(path)
    suffix = path.suffix.lower()
    if suffix not in RGBD_EXTENSIONS:
        raise ValueError(
            f"{path.name}: expected a PoseKit take (.json, .bin or .zip), a Record3D capture (.r3d, or its EXR "
            f"export zipped), a zipped Stray Scanner folder or a generic RGB-D .zip; got a {suffix or 'nameless'} file"
        )
    return "take" if file_kind(path, limits) == "take" else "capture"


class WorkDirs:
    """Per-request output folders under one temporary root, removed when old and when the process exits.

    Gradio copies returned files into its own cache (which ``Blocks(delete_cache=...)`` cleans), so a
    request's folder is only needed until its response is sent; folders older than ``max_age_s`` go at
    the next request.
    """

    def __init__(self, root: str | os.PathLike | None = None, max_age_s: float = 3600.0) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="posekit-app-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        atexit.register(self.cleanup)

    def new(self, prefix: str) -> Path:
        """A fresh empty folder for one request (and a sweep of old ones)."""
        self.purge()
        return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.root))

    def purge(self, max_age_s: float | None = None) -> None:
        """Remove request folders last modified more than ``max_age_s`` seconds ago."""
        age = self.max_age_s if max_age_s is None else max_age_s
        cutoff = time.time() - age
        with self._lock:
            for child in self.root.iterdir():
                try:
                    if child.stat().st_mtime < cutoff:
                        shutil.rmtree(child, ignore_errors=True)
                except FileNotFoundError:
                    continue

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
