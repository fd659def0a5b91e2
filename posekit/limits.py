"""Bounds on what an upload may hold, checked before anything is decoded.

One :class:`Limits` travels with every reader (images, videos, takes, captures, archives). The defaults fit
a local machine; the web app passes stricter ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
    """

    max_file_bytes: int = 2 * 1024**3
    max_image_pixels: int = 50_000_000
    max_frames: int = 20_000
    max_duration_s: float = 3600.0
    max_archive_members: int = 100_000
    max_inflated_bytes: int = 8 * 1024**3
    max_compression_ratio: float = 200.0

    def check_file(self, path: str | os.PathLike) -> int:
        """Refuse a missing file or one over ``max_file_bytes``; returns its size in bytes."""
        path = Path(path)
        if not path.is_file():
            raise LimitError(f"expected a file, but {str(path)!r} does not exist or is not a file")
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
