"""Bounds on what an upload may hold, checked before anything is decoded.

One :class:`Limits` travels with every reader (images, videos, takes, captures, archives). The defaults fit
a local machine; the web app passes stricter ones.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FPS = 1000.0
"""Highest frame rate an input may declare (phones record up to 240 fps); above it the value is refused (metadata
of captures and takes) or treated as unknown (video containers)."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in uploaded JSON (takes and capture metadata need about 6)."""


class LimitError(ValueError):
    """An input over one of the bounds; the message names the bound, its value and what came."""


@dataclass(frozen=True)
class Limits:
    """Upload bounds.

    Attributes:
        max_file_bytes: size of an uploaded file on disk.
        max_image_pixels: width x height of any decoded image or video frame.
        max_frames: frames read from a video, take or capture.
        max_duration_s: seconds of video or capture read.
        max_archive_members: entries of a ZIP archive.
        max_inflated_bytes: total decompressed size of the archive members read.
        max_compression_ratio: decompressed / compressed size of one member (zip bombs exceed it).
        max_work_s: seconds of model work one request may take, estimated before it runs and enforced while it
            runs (None: no budget). The web app's; the library's readers do not use it.
    """

    max_file_bytes: int = 2 * 1024**3
    max_image_pixels: int = 50_000_000
    max_frames: int = 20_000
    max_duration_s: float = 3600.0
    max_archive_members: int = 100_000
    max_inflated_bytes: int = 8 * 1024**3
    max_compression_ratio: float = 200.0
    max_work_s: float | None = None

    def check_file(self, path: str | os.PathLike) -> int:
        """Refuse a missing file or one over ``max_file_bytes``; returns its size in bytes."""
        path = Path(path)
        if not path.is_file():
            raise LimitError(f"expected a file, but {path.name!r} does not exist or is not a file")
        size = path.stat().st_size
        if size > self.max_file_bytes:
            raise LimitError(
                f"{path.name}: {size / 1e6:,.1f} MB is over the limit of {self.max_file_bytes / 1e6:,.1f} MB"
            )
        return size

    def check_frames(self, count: int, what: str = "input") -> None:
        if count > self.max_frames:
            raise LimitError(f"{what}: {count:,} frames is over the limit of {self.max_frames:,}")

    def check_pixels(self, width: int, height: int, what: str = "image") -> None:
        if width * height > self.max_image_pixels:
            raise LimitError(
                f"{what}: {width}x{height} = {width * height:,} pixels is over the limit of {self.max_image_pixels:,}"
            )


DEFAULT_LIMITS = Limits()


def check_fps(value: Any, what: str, error: type[ValueError] = LimitError) -> float:
    """A declared frame rate as a float: finite, over 0 and at most :data:`MAX_FPS`.

    Raises:
        error: anything else (NaN, infinity, 1e308, negative, a string...), naming ``what``; readers pass
            their own error type (``CaptureError``, ``TakeError``).
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            ok = math.isfinite(float(value)) and 0 < float(value) <= MAX_FPS
        except OverflowError:  # a huge int
            ok = False
    if not ok:
        raise error(f"{what}: expected a frame rate over 0 and at most {MAX_FPS:g} fps, got {str(value)[:40]}")
    return float(value)


def check_json_depth(value: Any, what: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON (already parsed) nested deeper than ``max_depth`` arrays/objects, without recursion.

    Raises:
        LimitError: too deep (later code that walks it recursively would overflow Python's stack).
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise LimitError(f"{what}: JSON nested deeper than {max_depth} levels is refused")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


_PATHLIKE = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"\\/]*)+[\\/]")


def error_reason(exc: BaseException) -> str:
    """A third-party exception's words for a message shown to users, without file paths: ``OSError`` and
    FFmpeg errors give their ``strerror``; other texts lose the folders of anything that looks like a path."""
    text = getattr(exc, "strerror", None) if isinstance(exc, OSError) or hasattr(exc, "strerror") else None
    text = str(text or exc or type(exc).__name__)
    return _PATHLIKE.sub("", text)
