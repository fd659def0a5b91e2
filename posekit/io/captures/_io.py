"""What the capture readers share: one bounded view of a ZIP or a folder, member lookup, header-checked image
decoding, depth and confidence clean-up, timestamps and frame ranges, streamed video frames, and
:class:`SourceCapture`, the readers' base class (opening, the frame loop, closing)."""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import zipfile
import zlib
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np

from posekit.coords import Intrinsics
from posekit.io.archive import ArchiveError, SafeZip
from posekit.io.captures.base import Capture, CaptureError, RGBDFrame
from posekit.limits import DEFAULT_LIMITS, MAX_FPS, LimitError, Limits, check_json_depth, error_reason

IGNORED_PREFIXES = ("__MACOSX/",)
"""Members that archivers add beside the data (macOS resource forks); never part of a capture."""


class FolderSource:
    """A capture folder read with the same interface and bounds as :class:`~posekit.io.archive.SafeZip`
    (``names``, ``size``, ``read``, ``open``): files are listed once, symbolic links are skipped, every read is
    bounded by the file's size and the total by ``limits.max_inflated_bytes``."""

    def __init__(self, path: str | os.PathLike, limits: Limits) -> None:
        self.path = Path(path)
        self.limits = limits
        self._files: dict[str, Path] = {}
        for file in sorted(self.path.rglob("*")):
            if file.is_symlink() or not file.is_file():
                continue
            if len(self._files) >= limits.max_archive_members:
                raise LimitError(f"{self.path.name}: more than {limits.max_archive_members:,} files in the folder")
            self._files[file.relative_to(self.path).as_posix()] = file
        self._read = 0

    def names(self) -> list[str]:
        return list(self._files)

    def __contains__(self, name: str) -> bool:
        return name in self._files

    def size(self, name: str) -> int:
        try:
            return self._file(name).stat().st_size
        except OSError as exc:
            raise ArchiveError(f"{self.path.name}/{name}: could not read it ({error_reason(exc)})") from None

    def _file(self, name: str) -> Path:
        try:
            return self._files[name]
        except KeyError:
            raise ArchiveError(f"{self.path.name}: expected a file {name!r}, it is missing") from None

    def _charge(self, name: str, size: int, max_bytes: int | None) -> None:
        cap = self.limits.max_inflated_bytes - self._read
        if max_bytes is not None:
            cap = min(cap, max_bytes)
        if size > cap:
            raise LimitError(f"{self.path.name}/{name}: {size:,} bytes is over the limit of {cap:,} bytes")
        self._read += size

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        self._charge(name, self.size(name), max_bytes)
        try:
            return self._file(name).read_bytes()
        except OSError as exc:
            raise ArchiveError(f"{self.path.name}/{name}: could not read it ({error_reason(exc)})") from None

    def open(self, name: str) -> BinaryIO:
        self._charge(name, self.size(name), None)
        try:
            return self._file(name).open("rb")
        except OSError as exc:
            raise ArchiveError(f"{self.path.name}/{name}: could not read it ({error_reason(exc)})") from None

    def close(self) -> None:
        """Nothing is held open between reads."""


Source = SafeZip | FolderSource


def open_source(path: str | os.PathLike, limits: Limits, what: str) -> Source:
    """Open an uploaded ZIP (any extension) or a local folder, bounded by ``limits``.

    Raises:
        CaptureError: neither a readable ZIP nor a folder, or a member name escapes the archive.
        LimitError: over a bound.
    """
    path = Path(path)
    if path.is_dir():
        return FolderSource(path, limits)
    try:
        return SafeZip(path, limits)
    except ArchiveError as exc:
        raise CaptureError(f"{what}: {exc}") from exc


def data_names(source: Source) -> list[str]:
    """Member names without the archivers' extras (``__MACOSX/``, ``.DS_Store``, ``._*``)."""
    out = []
    for name in source.names():
        base = posixpath.basename(name)
        if name.startswith(IGNORED_PREFIXES) or base == ".DS_Store" or base.startswith("._"):
            continue
        out.append(name)
    return out


def find_root(names: Iterable[str], marker: str) -> str | None:
    """The folder prefix (``""`` or ``"folder/"``) holding ``marker``, the shallowest if several; None if none.

    Users zip a capture folder itself as often as its contents, so the data may sit one level down."""
    roots = [n[: -len(marker)] for n in names if n == marker or n.endswith("/" + marker)]
    return min(roots, key=lambda r: r.count("/")) if roots else None


_NUMBER = re.compile(r"(\d+)")


def numbered(names: Iterable[str], folder: str, suffixes: tuple[str, ...], fmt: str) -> dict[int, str]:
    """Members ``folder<number><suffix>`` (``rgbd/12.jpg``, ``depth/000012.png``) by frame number.

    Raises:
        CaptureError: two members share a number (``1.png`` and ``001.png``).
    """
    out: dict[int, str] = {}
    for name in names:
        if not name.startswith(folder):
            continue
        rest = name[len(folder) :]
        suffix = next((s for s in suffixes if rest.lower().endswith(s)), None)
        if suffix is None or "/" in rest:
            continue
        stem = rest[: -len(suffix)]
        if not _NUMBER.fullmatch(stem):
            continue
        index = int(stem)
        if index in out:
            raise CaptureError(f"{fmt}: two members are frame {index}: {out[index]!r} and {name!r}")
        out[index] = name
    return out


def contiguous(members: dict[int, str], fmt: str, what: str, expected: int | None = None) -> list[str]:
    """The members of frames ``0 .. n-1`` in order; refuses gaps and, when given, another count."""
    n = len(members)
    missing = sorted(set(range(max(members, default=-1) + 1)) - set(members))
    if missing:
        raise CaptureError(f"{fmt}: {what}: frame {missing[0]} is missing (found {n}, numbered up to {max(members)})")
    if expected is not None and n != expected:
        raise CaptureError(f"{fmt}: found {n} {what} for {expected} frames: every frame needs one")
    return [members[i] for i in range(n)]


def read_member(source: Source, name: str, what: str, max_bytes: int | None = None) -> bytes:
    """One member's bytes (at most ``max_bytes``); a missing or corrupt member is a :class:`CaptureError`."""
    try:
        return source.read(name, max_bytes=max_bytes)
    except ArchiveError as exc:
        raise CaptureError(f"{what}: {exc}") from exc


def open_member(source: Source, name: str, what: str) -> BinaryIO:
    """A stream over one member (videos); a missing or corrupt member is a :class:`CaptureError`."""
    try:
        return source.open(name)
    except ArchiveError as exc:
        raise CaptureError(f"{what}: {exc}") from exc


def read_json(source: Source, name: str, what: str, max_bytes: int = 64 * 1024**2) -> dict[str, Any]:
    """A JSON object member; the metadata of a long capture (poses per frame) is a few MB."""
    data = read_member(source, name, what, max_bytes)
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptureError(f"{what}: {name!r} is not valid JSON, expected UTF-8 JSON ({exc})") from None
    except RecursionError:
        raise LimitError(f"{what}: {name!r} is JSON nested too deeply to read") from None
    if not isinstance(value, dict):
        raise CaptureError(f"{what}: expected a JSON object in {name!r}, got {type(value).__name__}")
    check_json_depth(value, f"{what}: {name}")
    return value


def image_bytes_limit(limits: Limits) -> int:
    """Largest encoded image member read: 4 bytes per allowed pixel covers any PNG or JPEG of a legal size."""
    return limits.max_image_pixels * 4 + 1024**2


def image_size(data: bytes, what: str) -> tuple[int, int]:
    """``(W, H)`` from an encoded image's header (JPEG, PNG...), without decoding its pixels.

    Raises:
        CaptureError: not an image. LimitError: the header declares a decompression bomb.
    """
    from posekit.io.images import ImageError, ImageTooLargeError, image_header

    try:
        w, h, _ = image_header(data, what)
    except ImageTooLargeError as exc:
        raise LimitError(str(exc)) from None
    except ImageError as exc:
        raise CaptureError(str(exc)) from None
    if w < 1 or h < 1:
        raise CaptureError(f"{what}: the image header declares {w}x{h} pixels")
    return w, h


def decode_image(data: bytes, limits: Limits, what: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decode an encoded image after checking its header's pixel count against ``limits``."""
    w, h = image_size(data, what)
    limits.check_pixels(w, h, what)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise CaptureError(f"{what}: the image is corrupt or truncated, could not decode it")
    if image.shape[:2] != (h, w):
        raise CaptureError(f"{what}: the header says {w}x{h}, the pixels decode to {image.shape[1]}x{image.shape[0]}")
    return image


def depth_from_png(data: bytes, scale: float, limits: Limits, what: str) -> np.ndarray:
    """A 16-bit (or 8-bit) single-channel PNG of depth units -> float32 metres (``value * scale``), 0 -> NaN."""
    raw = decode_image(data, limits, what, cv2.IMREAD_UNCHANGED)
    if raw.ndim != 2 or raw.dtype not in (np.uint16, np.uint8):
        raise CaptureError(
            f"{what}: expected a single-channel 16-bit PNG of depth, got {raw.dtype} with shape {raw.shape}"
        )
    return clean_depth(raw.astype(np.float32) * np.float32(scale))


def load_npy(data: bytes, what: str, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """A ``.npy`` member, checked from its header before any array is allocated: the ``.npy`` magic (an
    ``.npz`` or anything else is refused), a plain numeric dtype (never pickles), a 2D shape within
    ``limits.max_image_pixels`` and exactly the data bytes the member holds.

    Raises:
        CaptureError: not a ``.npy``, malformed header, wrong dtype or size. LimitError: too many pixels.
    """
    from posekit.io.video_open import describe_content

    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
    except ValueError:
        got = "an .npz archive" if data[:4] == b"PK\x03\x04" else describe_content(data[:64])
        raise CaptureError(f"{what}: expected a NumPy .npy array, got {got}") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except Exception as exc:  # numpy parses the header dict with Python's tokenizer: any of its errors
        raise CaptureError(
            f"{what}: expected a NumPy .npy array, its header is malformed ({error_reason(exc)})"
        ) from None
    if dtype.hasobject or dtype.kind not in "uifb" or dtype.fields is not None or dtype.subdtype is not None:
        raise CaptureError(f"{what}: expected a numeric .npy array, got dtype {str(dtype)[:40]}")
    if len(shape) != 2 or any(not isinstance(d, int) or d < 0 for d in shape):
        raise CaptureError(f"{what}: expected a 2D .npy array, got shape {str(shape)[:60]}")
    limits.check_pixels(shape[1], shape[0], what)
    body = len(data) - f.tell()
    if shape[0] * shape[1] * dtype.itemsize != body:
        raise CaptureError(
            f"{what}: the .npy header declares {shape[1]}x{shape[0]} {dtype} ({shape[0] * shape[1] * dtype.itemsize:,} "
            f"bytes), the member holds {body:,} bytes of data"
        )
    array = np.frombuffer(data, dtype, offset=f.tell()).reshape(shape[::-1] if fortran else shape)
    return (array.T if fortran else array).copy()


def clean_depth(depth: np.ndarray) -> np.ndarray:
    """float32 metres with every invalid value (0, negative, NaN, infinite) as NaN."""
    depth = np.asarray(depth, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(np.nan))


def check_depth(depth: np.ndarray, size: tuple[int, int], what: str) -> np.ndarray:
    """Refuse a depth map of the wrong ``size = (w, h)``.

    A map with no valid value passes (a covered sensor for a moment); ``process_capture`` refuses a capture
    whose every frame is so."""
    if depth.shape != (size[1], size[0]):
        raise CaptureError(f"{what}: expected a {size[0]}x{size[1]} depth map, got shape {depth.shape}")
    return depth


def check_confidence(conf: np.ndarray, size: tuple[int, int], what: str) -> np.ndarray:
    """Refuse a confidence map of the wrong ``size = (w, h)``, type, or with levels outside 0..2."""
    if conf.ndim != 2 or conf.shape != (size[1], size[0]) or conf.dtype != np.uint8:
        raise CaptureError(
            f"{what}: expected a {size[0]}x{size[1]} uint8 confidence map, got {conf.dtype} with shape {conf.shape}"
        )
    if conf.size and conf.max() > 2:
        raise CaptureError(f"{what}: expected confidence levels 0, 1 or 2, got a {int(conf.max())}")
    return conf


def timestamps_or_fps(values: Any, n: int, fps: float | None, what: str) -> np.ndarray:
    """(n,) seconds from the first frame: the capture's own timestamps when given, else ``index / fps``.

    Raises:
        CaptureError: timestamps of another count, not finite, or going back in time; no fps to fall back on.
    """
    if values is not None:
        if not isinstance(values, (list, tuple, np.ndarray)):
            raise CaptureError(f"{what}: expected a list of timestamps in seconds, got {type(values).__name__}")
        try:
            t = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            raise CaptureError(f"{what}: expected a list of timestamps in seconds (numbers only)") from None
        if len(t) != n:
            raise CaptureError(f"{what}: {len(t)} timestamps for {n} frames")
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            raise CaptureError(f"{what}: timestamp {bad[0]} is {t[bad[0]]}, expected a finite number of seconds")
        with np.errstate(over="ignore", invalid="ignore"):
            back = np.flatnonzero(np.diff(t) < 0)
            if back.size:
                i = int(back[0]) + 1
                raise CaptureError(
                    f"{what}: timestamps must never decrease, frame {i} goes back in time "
                    f"({t[i - 1]:.6g} s, then {t[i]:.6g} s)"
                )
            return t - t[0] if n else t
    if fps is None or not np.isfinite(fps) or not 0 < fps <= MAX_FPS:
        raise CaptureError(f"{what}: no timestamps and no valid frame rate (fps = {fps})")
    return np.arange(n) / float(fps)


def check_length(n: int, timestamps: np.ndarray, limits: Limits, what: str) -> None:
    """Refuse empty captures, too many frames or too long a duration, before any frame is decoded."""
    if n == 0:
        raise CaptureError(f"{what}: the capture has no frames")
    limits.check_frames(n, what)
    if len(timestamps) and not timestamps[-1] <= limits.max_duration_s:
        raise LimitError(f"{what}: {timestamps[-1]:,.2f} s is over the limit of {limits.max_duration_s:,.2f} s")


def frame_range(n: int, start: int, stop: int | None, step: int) -> range:
    """Indices ``start, start + step, ...`` below ``stop`` (clamped to ``n``)."""
    if step < 1 or start < 0 or (stop is not None and stop < 0):
        raise ValueError(f"expected start >= 0, stop >= 0 or None and step >= 1, got {start}, {stop}, {step}")
    return range(start, n if stop is None else min(stop, n), step)


MAX_PIXELS_1D = 1e7
"""Bound on focal lengths and principal points in pixels (real ones are below 1e5)."""


def positive_intrinsics(values: Any, what: str) -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` as floats, refusing non-finite values and non-positive focal lengths."""
    try:
        fx, fy, cx, cy = (float(v) for v in values)
    except (TypeError, ValueError, OverflowError):
        raise CaptureError(f"{what}: expected four numbers fx, fy, cx, cy, got {str(values)[:80]}") from None
    if not all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0 or max(fx, fy, abs(cx), abs(cy)) > MAX_PIXELS_1D:
        raise CaptureError(
            f"{what}: expected finite intrinsics with 0 < fx, fy and all at most {MAX_PIXELS_1D:g} pixels, "
            f"got {(fx, fy, cx, cy)}"
        )
    return fx, fy, cx, cy


def _open_video(stream: BinaryIO, what: str) -> Any:
    """A video member opened with its demuxer forced from its signature (never a playlist, concat list or
    image pattern, see :func:`posekit.io.video_open.open_video_stream`); refusals are :class:`CaptureError`."""
    from posekit.io.video_open import VideoError, import_av, open_video_stream

    try:
        return open_video_stream(stream, what, import_av())
    except VideoError as exc:
        raise CaptureError(str(exc)) from None


_STREAM_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError)
"""What reading a ZIP member can raise mid-stream (corrupt or truncated data, CRC mismatch)."""


def video_frames(stream: BinaryIO, what: str) -> Iterator[np.ndarray]:
    """Decode a video stream's frames one at a time as BGR uint8 (PyAV; MP4/MOV, WebM/MKV or AVI)."""
    import av

    container = _open_video(stream, what)
    try:
        with container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="bgr24")
    except (av.FFmpegError, *_STREAM_ERRORS) as exc:
        raise CaptureError(f"{what}: the video is corrupt or unreadable ({error_reason(exc)})") from None


def video_header(stream: BinaryIO, what: str) -> tuple[tuple[int, int], int, float | None]:
    """``((W, H), frame count or 0 when the container does not say, average fps or None)``."""
    import av

    container = _open_video(stream, what)
    try:
        with container:
            if not container.streams.video:
                raise CaptureError(f"{what}: expected a video stream, the file has none")
            v = container.streams.video[0]
            rate = float(v.average_rate) if v.average_rate and 0 < float(v.average_rate) <= MAX_FPS else None
            return (int(v.codec_context.width), int(v.codec_context.height)), int(v.frames or 0), rate
    except (av.FFmpegError, *_STREAM_ERRORS) as exc:
        raise CaptureError(f"{what}: expected a video, could not open it ({error_reason(exc)})") from None


def video_frames_at(
    source: Source, member: str, indices: range, fmt: str, label: str, total: int
) -> Iterator[np.ndarray]:
    """The frames ``indices`` (increasing) of a video member, streamed one at a time as BGR uint8.

    Raises:
        CaptureError: the video is unreadable, or ends before the last wanted frame (``label`` names it).
    """
    wanted = iter(indices)
    target = next(wanted, None)
    if target is None:
        return
    with open_member(source, member, fmt) as stream:
        for i, image in enumerate(video_frames(stream, f"{fmt}: {label}")):
            if i == target:
                yield image
                target = next(wanted, None)
                if target is None:
                    return
    raise CaptureError(f"{fmt}: {label} ends before frame {target} of {total}")


def read_confidence_png(source: Source, name: str, limits: Limits, size: tuple[int, int], fmt: str) -> np.ndarray:
    """A uint8 PNG confidence map (levels 0..2) of the depth maps' ``size`` ``(w, h)``."""
    data = read_member(source, name, fmt, image_bytes_limit(limits))
    conf = decode_image(data, limits, f"{fmt}: {name}", cv2.IMREAD_UNCHANGED)
    return check_confidence(conf, size, f"{fmt}: {name}")


class SourceCapture(Capture):
    """A capture read from a ZIP or a folder (a :data:`Source`): what every reader does the same way.

    Opening reads the source's index and calls :meth:`_open` (closing the source again if it fails); frames
    pair the colour images of :meth:`_color_frames` with the depth and confidence of :meth:`_depth`.
    Subclasses set :attr:`format` and :attr:`what` and implement those, and set in ``_open`` ``info``,
    ``timestamps`` ((N,) seconds) and ``intrinsics`` (or override :meth:`_intrinsics` for per-frame ones).

    Args:
        path: the ZIP (any file name) or the folder.
        limits: bounds checked before decoding.
    """

    format: str
    what: str
    """The format's name, the start of every error message."""
    timestamps: np.ndarray
    intrinsics: Intrinsics

    def __init__(self, path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.source = open_source(path, limits, self.what)
        try:
            self._open()
        except BaseException:
            self.source.close()
            raise

    @abstractmethod
    def _open(self) -> None:
        """Find and check the members, set ``info``, ``timestamps`` and the intrinsics."""

    @abstractmethod
    def _color_frames(self, indices: range) -> Iterator[np.ndarray]:
        """The (H, W, 3) uint8 BGR colour frames of ``indices``, in order, one at a time."""

    @abstractmethod
    def _depth(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame ``index``'s depth (h, w) float32 metres (NaN invalid) and confidence (h, w) uint8 or None."""

    def _intrinsics(self, index: int) -> Intrinsics:
        return self.intrinsics

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[RGBDFrame]:
        indices = frame_range(self.info.num_frames, start, stop, step)
        colors = self._color_frames(indices)
        try:
            for i, color in zip(indices, colors, strict=False):
                depth, conf = self._depth(i)
                yield RGBDFrame(i, float(self.timestamps[i]), color, depth, conf, self._intrinsics(i))
        finally:
            colors.close()

    def close(self) -> None:
        self.source.close()
