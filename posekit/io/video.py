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
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.io.atomic import publish
from posekit.limits import DEFAULT_LIMITS, MAX_FPS, LimitError, Limits, error_reason

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
"""File extensions treated as videos. What is read is decided by the file's signature, not its name:
MP4/MOV (ISO-BMFF), WebM/MKV (Matroska) or AVI (see :func:`sniff_video_format`)."""


class VideoError(ValueError):
    """A file that cannot be read or written as a video; the message says what was expected and what came."""


class VideoWarning(UserWarning):
    """Something was skipped or cut while reading or writing a video (e.g. a corrupt tail)."""


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:  # av is an optional dependency (the "video" extra)
        raise VideoError(
            "reading and writing videos needs PyAV: pip install 'posekit[video]' (or pip install av)"
        ) from exc
    return av


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


def _ffmpeg_message(exc: Exception) -> str:
    """FFmpeg's own words for an ``av.error.FFmpegError``, without the errno noise or the file name."""
    return error_reason(exc)


VIDEO_CONTAINERS = "an MP4/MOV, WebM/MKV or AVI video"
"""What :func:`sniff_video_format` accepts, for messages."""

_ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff_video_format(head: bytes) -> str | None:
    """FFmpeg's demuxer for a file starting with ``head`` (its first 16 bytes or more), from the signature alone:
    ``"mov"`` (ISO-BMFF: MP4, MOV, M4V), ``"matroska"`` (MKV, WebM) or ``"avi"``; None for anything else.

    Uploads are opened with this demuxer forced, so FFmpeg never probes: its playlist (HLS ``.m3u8``), concat
    (``ffconcat``), image-sequence (``%d`` patterns), ``tee`` and URL-following demuxers cannot run on upload
    content, whatever the file is called.
    """
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    return None


_SIGNATURES = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file that is not an AVI"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip file"),
    (b"G", "an MPEG transport stream (.ts) or other data; convert it to MP4"),
)
_RIFF_KINDS = {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file", b"AVI ": "an AVI video"}
_TEXT_KINDS = (
    ("#EXTM3U", "an HLS playlist"),
    ("#EXT", "an HLS playlist"),
    ("ffconcat", "an FFmpeg concat list"),
    ("file ", "an FFmpeg concat list"),
    ("<?xml", "an XML document (a DASH manifest?)"),
    ("<mpd", "a DASH manifest"),
    ("[playlist]", "a playlist"),
)


def describe_content(head: bytes) -> str:
    """What a file starting with ``head`` looks like, for messages: "an empty file (0 bytes)", "a text file
    starting '#EXTM3U' (an HLS playlist)", "a JPEG image", "binary data starting 00 01 02 ...".

    Never quotes more than a short, path-free start of the file."""
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    for magic, what in _SIGNATURES:
        if head.startswith(magic) and not (magic == b"G" and (len(head) < 189 or head[188:189] != b"G")):
            return what
    text = head[:256].removeprefix(b"\xef\xbb\xbf")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "a UTF-16 text file"
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and all(c.isprintable() or c in "\r\n\t" for c in decoded.rstrip("\x00")):
        first = decoded.lstrip().split("\n", 1)[0].strip()
        kind = next((what for prefix, what in _TEXT_KINDS if first.lower().startswith(prefix.lower())), None)
        if "://" in first or first.startswith(("/", "\\")) or (len(first) > 2 and first[1:3] == ":\\"):
            return "a text file naming a path or URL" + (f" ({kind})" if kind else "")
        quoted = first[:16].replace("/", "").replace("\\", "")
        return f"a text file starting {quoted!r}" + (f" ({kind})" if kind else "")
    return "binary data starting " + head[:8].hex(" ")


def _refuse_nested_open(url: str, flags: int, options: dict) -> Any:
    """PyAV's ``io_open``: a demuxer asking for another file or URL (a playlist's segment, a MOV data
    reference) gets an error; an upload is one self-contained file."""
    raise PermissionError("posekit: a video may not refer to other files or URLs")


def open_video_stream(file: Any, name: str, av: Any) -> Any:
    """Open a video from a binary file object (seekable), its demuxer chosen from its own signature.

    No protocol handler ever sees a name (FFmpeg reads through the file object only), the demuxer is forced
    (no probing), nested opens are refused and the protocol whitelist is empty.

    Raises:
        VideoError: not an MP4/MOV, WebM/MKV or AVI by its signature (the message says what it looks like),
            or FFmpeg cannot read it.
    """
    try:
        head = file.read(512)
        file.seek(0)
    except Exception as exc:  # zip members and other streams: corrupt data surfaces here
        raise VideoError(f"{name}: expected {VIDEO_CONTAINERS}, could not read it ({error_reason(exc)})") from None
    fmt = sniff_video_format(head)
    if fmt is None:
        got = describe_content(head)
        got += " (a still image, not a video)" if got.endswith(" image") else ""
        raise VideoError(f"{name}: expected a video file ({VIDEO_CONTAINERS}), got {got}")
    try:
        return av.open(
            file,
            mode="r",
            format=fmt,
            io_open=_refuse_nested_open,
            container_options={"protocol_whitelist": "none", "enable_drefs": "0"} if fmt == "mov" else
            {"protocol_whitelist": "none"},
        )  # fmt: skip
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{name}: expected a video file ({VIDEO_CONTAINERS}), but FFmpeg cannot read it ({_ffmpeg_message(exc)})"
        ) from None
    except Exception as exc:  # a nested open refused, or the stream failed under FFmpeg
        raise VideoError(
            f"{name}: expected a self-contained video file, could not read it ({error_reason(exc)})"
        ) from None


class _Input:
    """An opened upload: the container and the file object it reads (closed together)."""

    def __init__(self, container: Any, file: Any) -> None:
        self.container, self.file = container, file

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            self.file.close()


def _open_input(path: Path, av: Any) -> _Input:
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by _Input.close
    except OSError as exc:
        raise VideoError(f"{path.name}: expected a readable video file ({exc.strerror})") from None
    try:
        container = open_video_stream(file, path.name, av)
        if not container.streams.video:
            container.close()
            raise VideoError(f"{path.name}: expected a video, but the file holds no video stream")
    except BaseException:
        file.close()
        raise
    return _Input(container, file)


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
    av = _import_av()
    path = Path(path)
    limits.check_file(path)
    opened = _open_input(path, av)
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
                f"{path.name}: expected a decodable video, but the first frame fails ({_ffmpeg_message(exc)})"
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
        av = _import_av()
        opened = _open_input(self.path, av)
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
                        f"{name}: expected a decodable video, but decoding fails ({_ffmpeg_message(exc)})"
                    ) from None
                self._warn(
                    f"{name}: the video is damaged after frame {decoded} (t = {last_time:.3f} s: "
                    f"{_ffmpeg_message(exc)}); kept the {kept} frames read before"
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


def h264_encoder() -> str | None:
    """The name of an H.264 encoder the installed PyAV ships (``libx264``, else ``libopenh264``), or None."""
    av = _import_av()
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
        self._av = _import_av()
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
