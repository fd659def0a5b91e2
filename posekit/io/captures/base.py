"""The frame and capture types every RGB-D reader yields."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posekit.coords import Intrinsics


class CaptureError(ValueError):
    """An RGB-D capture that cannot be read; the message says which format was expected and what is wrong."""


@dataclass
class RGBDFrame:
    """One frame of an RGB-D capture.

    Attributes:
        index: frame number in the capture (0-based).
        timestamp: seconds (the capture's clock, or index / fps when it has none).
        color: (H, W, 3) uint8 BGR.
        depth: (h, w) float32 metres, NaN where invalid (0 and negative values become NaN); may be smaller
            than the colour image (LiDAR 256x192): sample it at normalised positions.
        confidence: (h, w) uint8 ARKit levels 0 low, 1 medium, 2 high, or None when the capture has none.
        intrinsics: ``(fx, fy, cx, cy)`` in pixels of ``color``.
    """

    index: int
    timestamp: float
    color: np.ndarray
    depth: np.ndarray | None
    confidence: np.ndarray | None
    intrinsics: Intrinsics

    @property
    def color_size(self) -> tuple[int, int]:
        return (int(self.color.shape[1]), int(self.color.shape[0]))


@dataclass
class CaptureInfo:
    """What a capture holds, known before any frame is decoded.

    Attributes:
        format: ``"record3d"``, ``"record3d-exr"``, ``"stray"`` or ``"generic"``.
        num_frames: frames in the capture.
        fps: nominal frame rate, or None.
        color_size: ``(W, H)`` of the colour frames.
        depth_size: ``(w, h)`` of the depth maps, or None.
        metadata: the source's own metadata, JSON-serialisable.
    """

    format: str
    num_frames: int
    fps: float | None
    color_size: tuple[int, int]
    depth_size: tuple[int, int] | None
    metadata: dict[str, Any] = field(default_factory=dict)


class Capture(ABC):
    """An opened RGB-D capture: frames are decoded lazily, one at a time, with bounded memory."""

    info: CaptureInfo

    @abstractmethod
    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[RGBDFrame]:
        """Yield frames ``start, start + step, ...`` below ``stop`` (default: all)."""

    def close(self) -> None:  # noqa: B027 - readers without resources need nothing here
        """Release files held open."""

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.num_frames
