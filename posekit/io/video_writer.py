"""Writing videos browsers play: H.264 (libx264, else libopenh264) in an MP4 with ``yuv420p``, even dimensions
and the index at the front (``faststart``), frames at their true times. Without an H.264 encoder in the
installed PyAV, it falls back to MPEG-4 Part 2 with a warning. The file appears only when complete: it is
written under a temporary name and renamed on :meth:`VideoWriter.close`."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.io.atomic import publish
from posekit.io.video import VideoWarning, inference_size
from posekit.io.video_open import VideoError, import_av


def h264_encoder() -> str | None:
    """The name of an H.264 encoder the installed PyAV ships (``libx264``, else ``libopenh264``), or None."""
    av = import_av()
    for name in ("libx264", "libopenh264"):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # UnknownCodecError and friends differ between PyAV versions
            continue
        return name
    return None


def _even_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Output size: bounded by ``max_side``, aspect kept, rounded down to even numbers (yuv420p needs them)."""
    w, h = inference_size(width, height, max_side)
    return max(2, w - w % 2), max(2, h - h % 2)


@dataclass
class VideoWriter:
    """Write BGR frames to an MP4 that browsers play (H.264, yuv420p, faststart).

    Args:
        path: the ``.mp4`` to create (replaced if it exists, once the new one is complete).
        fps: the nominal frame rate (used for frames given without a time, and by the encoder's rate control).
        max_side: bound on the longest side of the output; larger frames are downscaled. None: keep the size.
        crf: H.264 quality (lower is better; 18..28 is sensible).
        preset: libx264 speed/size trade-off (``"ultrafast"`` .. ``"veryslow"``).

    The size is taken from the first frame (bounded, rounded down to even numbers); later frames of another
    size are resized to it. Use as a context manager: an exception inside it deletes the partial file.

    Attributes:
        codec: the encoder used (``"libx264"``, ``"libopenh264"`` or the fallback ``"mpeg4"``).
        size: (width, height) of the output, once the first frame is written.
        frames_written: count so far.
    """

    path: str | os.PathLike
    fps: float = 30.0
    max_side: int | None = None
    crf: int = 23
    preset: str = "veryfast"
    codec: str = field(init=False, default="")
    size: tuple[int, int] | None = field(init=False, default=None)
    frames_written: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.fps or not math.isfinite(self.fps) or self.fps <= 0:
            raise VideoError(f"VideoWriter: expected fps > 0, got {self.fps}")
        if not self.path.parent.is_dir():
            raise VideoError(f"VideoWriter: the folder {self.path.parent.name!r} does not exist")
        self._av = import_av()
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self._container: Any = None
        self._stream: Any = None
        self._last_pts = -1
        self._time_base = Fraction(1, 90_000)  # MPEG's clock: fine enough for any frame rate
        self._t0: float | None = None

    def _open(self, width: int, height: int) -> None:
        av = self._av
        self.size = _even_size(width, height, self.max_side)
        encoder = h264_encoder()
        if encoder is None:
            warnings.warn(
                "this PyAV has no H.264 encoder (libx264 or libopenh264): writing MPEG-4 Part 2 video, which "
                "browsers do not play; install PyAV wheels with libx264 (pip install -U av)",
                VideoWarning,
                stacklevel=3,
            )
        self.codec = encoder or "mpeg4"
        self._container = av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream(self.codec, rate=rate)
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        if self.codec == "mpeg4":
            self._time_base = Fraction(1, 1000)  # MPEG-4 Part 2 allows no clock above 65535 Hz
        stream.codec_context.time_base = self._time_base
        if self.codec == "libx264":
            stream.codec_context.options = {"crf": str(self.crf), "preset": self.preset}
        else:  # libopenh264 and mpeg4 take a bit rate; about 0.1 bit per pixel and frame looks fine
            stream.bit_rate = int(0.1 * self.size[0] * self.size[1] * self.fps) + 200_000
        self._stream = stream

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Append one (H, W, 3) uint8 BGR frame, shown at ``time`` seconds (None: one frame after the last).

        Times count from the first frame's time (0 when the first frame came without one); a time not after
        the previous frame's is nudged forward.
        """
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise VideoError(f"VideoWriter.write: expected an (H, W, 3) uint8 BGR image, got {got}")
        if self._container is None:
            self._open(image.shape[1], image.shape[0])
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        if time is None:
            pts = self._last_pts + round(1 / (self.fps * self._time_base)) if self._last_pts >= 0 else 0
        else:
            if self._t0 is None:
                self._t0 = time if self._last_pts < 0 else 0.0
            pts = max(round((time - self._t0) / self._time_base), self._last_pts + 1)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts, frame.time_base = pts, self._time_base
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it into place; returns its path."""
        if self._container is None:
            raise VideoError(f"VideoWriter: no frame was written, {self.path.name} was not created")
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except Exception:
            self.abort()
            raise
        self._container = None
        publish(self._tmp, self.path)
        return Path(self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # closing a half-written container can fail; the file is deleted anyway
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()
        elif self._container is not None:
            self.close()
