"""Reading and writing videos with PyAV: upright frames with true timestamps, bounded reading, H.264 MP4 out.

Reading (:func:`probe_video`, :class:`VideoReader`):

- Frames come out upright: the display matrix a phone writes (or the older ``rotate`` tag) is applied,
  flips included, as players do.
- Timestamps are the frames' presentation times, ``pts * time_base`` seconds, so variable frame rate
  videos keep their real clock.
- A caller bounds what is read with :class:`ReadBounds` (frame count, duration, stride or target rate, a
  downscaled copy for inference); the upload :class:`~posekit.limits.Limits` are checked from the container's
  metadata before anything is decoded, and again while decoding in case the metadata lied.
- Frames stream one at a time (bounded memory). A corrupt or truncated tail stops the reading cleanly with
  the frames decoded so far and a :class:`VideoWarning`; a file that is not a video raises :class:`VideoError`.

Writing (:class:`VideoWriter`): H.264 (libx264, else libopenh264) in an MP4 with ``yuv420p``, even
dimensions and the index at the front (``faststart``), which browsers play; frames at their true times.
Without an H.264 encoder in the installed PyAV, it falls back to MPEG-4 Part 2 with a warning. The file
appears only when complete: it is written under a temporary name and renamed on :meth:`VideoWriter.close`.

Images are BGR uint8 (H, W, 3), as everywhere in posekit.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.video_open import VideoError, ffmpeg_message, import_av, open_input
from posekit.limits import DEFAULT_LIMITS, MAX_FPS, LimitError, Limits

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
"""File extensions treated as videos. What is read is decided by the file's signature, not its name:
MP4/MOV (ISO-BMFF), WebM/MKV (Matroska) or AVI (see :func:`sniff_video_format`)."""


class VideoWarning(UserWarning):
    """Something was skipped or cut while reading or writing a video (e.g. a corrupt tail)."""


@dataclass(frozen=True)
class ReadBounds:
    """What a caller wants read from a video.

    Attributes:
        max_frames: stop after this many frames (counted after ``stride`` / ``target_fps``); None: no bound.
        max_duration_s: read only frames within this many seconds from the first frame; None: no bound.
        max_side: longest side in pixels of the copy of each frame given to inference (the original is kept
            for drawing); None: no downscaling. Frames already small enough are not scaled.
        stride: keep one frame in ``stride`` (1 keeps all).
        target_fps: keep frames at most this rate, by their timestamps (works for variable frame rates);
            None: every frame (after ``stride``). Use either ``stride`` or ``target_fps``.
    """

    max_frames: int | None = None
    max_duration_s: float | None = None
    max_side: int | None = None
    stride: int = 1
    target_fps: float | None = None

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"ReadBounds.max_frames: expected >= 1 or None, got {self.max_frames}")
        if self.max_duration_s is not None and not self.max_duration_s > 0:
            raise ValueError(f"ReadBounds.max_duration_s: expected > 0 or None, got {self.max_duration_s}")
        if self.max_side is not None and self.max_side < 16:
            raise ValueError(f"ReadBounds.max_side: expected >= 16 pixels or None, got {self.max_side}")
        if self.stride < 1:
            raise ValueError(f"ReadBounds.stride: expected >= 1, got {self.stride}")
        if self.target_fps is not None and not self.target_fps > 0:
            raise ValueError(f"ReadBounds.target_fps: expected > 0 or None, got {self.target_fps}")
        if self.target_fps is not None and self.stride != 1:
            raise ValueError("ReadBounds: give either stride or target_fps, not both")


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds, from its container (and its first frame, for the orientation).

    Attributes:
        path: the file.
        container: FFmpeg's demuxer name (e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``).
        codec: the video codec name (e.g. ``"h264"``).
        width, height: size of the upright frames in pixels (after the display rotation).
        rotation: degrees counter-clockwise the stored frames are turned to be upright (0, 90, 180, 270).
        flipped: the display matrix also mirrors the frames.
        fps: the average frame rate, or None when the container does not say.
        duration_s: the stream's duration in seconds, or None when unknown.
        num_frames: the frame count the container declares, or None when it does not (count by reading).
        start_s: presentation time of the stream's start, seconds.
    """

    path: str
    container: str
    codec: str
    width: int
    height: int
    rotation: int
    flipped: bool
    fps: float | None
    duration_s: float | None
    num_frames: int | None
    start_s: float

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Frame:
    """One decoded video frame.

    Attributes:
        index: the frame's position among all decoded frames of the stream (0-based, before any stride).
        time: presentation time in seconds (``pts * time_base``).
        image: (H, W, 3) uint8 BGR upright original, or None when the reader was told not to keep it.
        inference_image: (h, w, 3) uint8 BGR upright copy bounded by ``ReadBounds.max_side`` (the same array as
            ``image`` when no downscaling was needed).
        size: ``(width, height)`` of the upright original.
        scale: original pixels per inference pixel (>= 1): multiply inference coordinates by it.
    """

    index: int
    time: float
    image: np.ndarray | None
    inference_image: np.ndarray
    size: tuple[int, int]
    scale: float = 1.0


def _display_transform(matrix: np.ndarray) -> tuple[bool, bool, bool]:
    """(transpose, flip_rows, flip_cols) that make stored pixels upright, from FFmpeg's 3x3 display matrix.

    FFmpeg maps a stored pixel (p, q) to the displayed one by ``p' = a p + c q``, ``q' = b p + d q`` with
    ``a, b, c, d = m[0], m[1], m[3], m[4]`` (image axes: x right, y down). For the eight axis-aligned
    orientations, either ``b = c = 0`` (no transpose; flip where ``a`` or ``d`` is negative) or ``a = d = 0``
    (transpose; then flip rows where ``b`` is negative and columns where ``c`` is negative).
    """
    a, b, c, d = (float(v) for v in matrix.reshape(-1)[[0, 1, 3, 4]])
    if abs(a) + abs(d) >= abs(b) + abs(c):
        return False, d < 0, a < 0
    return True, b < 0, c < 0


def _rotate_tag_matrix(degrees_clockwise: float) -> np.ndarray:
    """Display matrix for the legacy ``rotate`` tag (degrees clockwise to display)."""
    r = math.radians(degrees_clockwise)
    # A clockwise turn in image axes (y down) maps (1, 0) to (cos, sin): a = cos, b = sin, c = -sin, d = cos.
    return np.array([math.cos(r), math.sin(r), 0, -math.sin(r), math.cos(r), 0, 0, 0, 1], dtype=np.float64)


def _frame_display_matrix(frame: Any, stream: Any) -> np.ndarray | None:
    side_data = getattr(frame, "side_data", None)
    if side_data is not None:
        try:
            sd = side_data.get("DISPLAYMATRIX")
        except (KeyError, ValueError, TypeError):
            sd = None
        if sd is not None and len(bytes(sd)) == 36:
            return np.frombuffer(bytes(sd), dtype="<i4").astype(np.float64)
    tag = {k.lower(): v for k, v in stream.metadata.items()}.get("rotate")  # Matroska spells it ROTATE
    if tag:
        try:
            return _rotate_tag_matrix(float(tag))
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class _Orientation:
    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @classmethod
    def from_matrix(cls, matrix: np.ndarray | None) -> _Orientation:
        return cls() if matrix is None else cls(*_display_transform(matrix))

    @property
    def rotation(self) -> int:
        """Counter-clockwise degrees of the rotation part (flips aside)."""
        table = {
            (False, False, False): 0, (False, True, True): 180, (True, True, False): 90, (True, False, True): 270,
            (False, True, False): 180, (False, False, True): 0, (True, False, False): 90, (True, True, True): 270,
        }  # fmt: skip
        return table[(self.transpose, self.flip_rows, self.flip_cols)]

    @property
    def flipped(self) -> bool:
        # Proper rotations have an even number of mirror operations (a transpose is one).
        return (self.transpose + self.flip_rows + self.flip_cols) % 2 == 1

    def upright_size(self, width: int, height: int) -> tuple[int, int]:
        return (height, width) if self.transpose else (width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        if not (self.transpose or self.flip_rows or self.flip_cols):
            return image
        out = image.transpose(1, 0, 2) if self.transpose else image
        if self.flip_rows:
            out = out[::-1]
        if self.flip_cols:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)


def _stream_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _stream_fps(stream: Any) -> float | None:
    """The stream's frame rate; rates no camera records (over :data:`~posekit.limits.MAX_FPS`) count as unknown."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) <= MAX_FPS:
            return float(rate)
    return None


def probe_video(
    path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS, bounds: ReadBounds | None = None
) -> VideoInfo:
    """Read a video's metadata (and decode its first frame, for the orientation).

    ``limits`` are checked from the container's metadata before anything is decoded: the file size, the
    frame size, and the duration and frame count that would be read with ``bounds`` (None: the whole video).

    Raises:
        VideoError: not a readable video.
        LimitError: the file or what would be read is over ``limits``.
    """
    av = import_av()
    path = Path(path)
    limits.check_file(path)
    opened = open_input(path, av)
    container = opened.container
    try:
        stream = container.streams.video[0]
        limits.check_pixels(stream.width, stream.height, what=path.name)
        fps, duration, declared = _stream_fps(stream), _stream_duration(container, stream), int(stream.frames) or None
        check_read_limits(path.name, fps, duration, declared, bounds or ReadBounds(), limits)
        matrix = None
        try:
            for frame in container.decode(stream):
                matrix = _frame_display_matrix(frame, stream)
                break
            else:
                raise VideoError(f"{path.name}: expected a video with frames, but none could be decoded")
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{path.name}: expected a decodable video, but the first frame fails ({ffmpeg_message(exc)})"
            ) from None
        orient = _Orientation.from_matrix(matrix)
        width, height = orient.upright_size(stream.width, stream.height)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        return VideoInfo(
            path=str(path),
            container=container.format.name,
            codec=stream.codec_context.name,
            width=width,
            height=height,
            rotation=orient.rotation,
            flipped=orient.flipped,
            fps=fps,
            duration_s=duration,
            num_frames=declared,
            start_s=start,
        )
    finally:
        opened.close()


def check_read_limits(
    name: str,
    fps: float | None,
    duration: float | None,
    declared: int | None,
    bounds: ReadBounds,
    limits: Limits,
) -> None:
    """Refuse, from metadata alone, a read whose duration or frame count would be over ``limits``.

    Args:
        name: the file name, for messages.
        fps, duration, declared: the stream's frame rate, duration in seconds and frame count (each None when
            the container does not say).
        bounds: what the caller reads (the start only, a stride...): a long video read in part is fine.

    Raises:
        LimitError: over ``limits.max_duration_s`` or ``limits.max_frames``.
    """
    read = duration if bounds.max_duration_s is None or duration is None else min(duration, bounds.max_duration_s)
    if read is not None and read > limits.max_duration_s:
        raise LimitError(
            f"{name}: {read:,.1f} s is over the limit of {limits.max_duration_s:,.1f} s; "
            "read only the start (a maximum duration or frame count)"
        )
    frames = declared
    if read is not None and fps:
        frames = math.ceil(read * fps) if frames is None else min(frames, math.ceil(read * fps))
    if frames is None:
        return
    if bounds.target_fps is not None and fps and bounds.target_fps < fps:
        frames = math.ceil(frames * bounds.target_fps / fps)
    frames = math.ceil(frames / bounds.stride)
    if bounds.max_frames is not None:
        frames = min(frames, bounds.max_frames)
    if frames > limits.max_frames:
        raise LimitError(
            f"{name}: about {frames:,} frames is over the limit of {limits.max_frames:,}; "
            "read only the start (a maximum frame count or duration) or fewer frames (a stride or target fps)"
        )


def inference_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(w, h) of a frame bounded by ``max_side`` on its longest side, aspect kept; unchanged when small enough."""
    if max_side is None or max(width, height) <= max_side:
        return width, height
    s = max_side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


class VideoReader:
    """Stream the frames of a video, upright, with true timestamps, within bounds.

    Args:
        path: a video file.
        bounds: what to read (see :class:`ReadBounds`).
        limits: upload bounds; checked from the container before decoding, and while decoding.
        keep_original: keep the full-resolution frame in :attr:`Frame.image` (for drawing); False keeps
            only the inference copy, to save memory.

    Attributes:
        info: the :class:`VideoInfo` (probed on construction).
        warnings: messages about what was skipped or cut while reading (also issued as :class:`VideoWarning`).

    Raises (on construction):
        VideoError: not a readable video. LimitError: over ``limits`` by its metadata.

    Iterating yields :class:`Frame` objects; it can be done once per reader.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        bounds: ReadBounds = ReadBounds(),
        limits: Limits = DEFAULT_LIMITS,
        keep_original: bool = True,
    ) -> None:
        self.path = Path(path)
        self.bounds = bounds
        self.limits = limits
        self.keep_original = keep_original
        self.info = probe_video(self.path, limits, bounds)
        self.warnings: list[str] = []

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, VideoWarning, stacklevel=3)

    def __iter__(self) -> Iterator[Frame]:
        av = import_av()
        opened = open_input(self.path, av)
        try:
            yield from self._frames(opened.container, av)
        finally:
            opened.close()

    def _frames(self, container: Any, av: Any) -> Iterator[Frame]:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        b, name, fps = self.bounds, self.path.name, self.info.fps or 30.0
        orient: _Orientation | None = None
        decoded = kept = 0
        shifted = False
        first_time = last_time = last_kept_time = None
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                declared = self.info.num_frames
                if declared and decoded + 1 < declared:
                    self._warn(
                        f"{name}: the video ends early, after {decoded} of the {declared} frames its container "
                        f"declares (a truncated file?); kept the {kept} frames read"
                    )
                break
            except av.error.FFmpegError as exc:
                if kept == 0:
                    raise VideoError(
                        f"{name}: expected a decodable video, but decoding fails ({ffmpeg_message(exc)})"
                    ) from None
                self._warn(
                    f"{name}: the video is damaged after frame {decoded} (t = {last_time:.3f} s: "
                    f"{ffmpeg_message(exc)}); kept the {kept} frames read before"
                )
                break
            if orient is None:
                orient = _Orientation.from_matrix(_frame_display_matrix(frame, stream))
            time = frame.time
            if time is None:  # some AVI streams carry no pts: count frames at the nominal rate
                time = (last_time + 1.0 / fps) if last_time is not None else self.info.start_s
            elif last_time is not None and time <= last_time:
                if not shifted:
                    self._warn(f"{name}: frame {decoded}'s time ({time:.6f} s) is not after the previous frame's; "
                               "such times are moved just after it")  # fmt: skip
                shifted = True
                time = last_time + 1e-6
            index, decoded = decoded, decoded + 1
            first_time = time if first_time is None else first_time
            last_time = time
            if b.max_duration_s is not None and time - first_time >= b.max_duration_s - 1e-9:
                break
            if time - first_time > self.limits.max_duration_s:
                raise LimitError(f"{name}: longer than the limit of {self.limits.max_duration_s:,.1f} s")
            if index % b.stride:
                continue
            if b.target_fps is not None:
                if last_kept_time is not None and time - last_kept_time < 1.0 / b.target_fps - 1e-6:
                    continue
            last_kept_time = time
            if kept >= self.limits.max_frames:
                raise LimitError(f"{name}: more than the limit of {self.limits.max_frames:,} frames")
            kept += 1
            yield self._convert(frame, index, time, orient)
            if b.max_frames is not None and kept >= b.max_frames:
                break

    def _convert(self, frame: Any, index: int, time: float, orient: _Orientation) -> Frame:
        width, height = orient.upright_size(frame.width, frame.height)
        self.limits.check_pixels(width, height, what=f"{self.path.name} frame {index}")
        small_w, small_h = inference_size(width, height, self.bounds.max_side)
        original = None
        if self.keep_original or (small_w, small_h) == (width, height):
            original = orient.apply(frame.to_ndarray(format="bgr24"))
        if (small_w, small_h) == (width, height):
            small = original
        else:
            stored_w, stored_h = (small_h, small_w) if orient.transpose else (small_w, small_h)
            scaled = frame.reformat(width=stored_w, height=stored_h, format="bgr24", interpolation="AREA")
            small = orient.apply(scaled.to_ndarray())
        return Frame(
            index=index,
            time=float(time),
            image=original if self.keep_original else None,
            inference_image=small,
            size=(width, height),
            scale=width / small_w,
        )


def read_video(
    path: str | os.PathLike,
    bounds: ReadBounds = ReadBounds(),
    limits: Limits = DEFAULT_LIMITS,
    keep_original: bool = True,
) -> Iterator[Frame]:
    """Shorthand for iterating a :class:`VideoReader`."""
    return iter(VideoReader(path, bounds, limits, keep_original))
