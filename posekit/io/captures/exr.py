"""A minimal OpenEXR reader for depth maps: single-part scanline images, uncompressed or ZIP / ZIPS
compressed, HALF, FLOAT or UINT channels (Record3D's EXR export: one channel R, ZIP compressed).

Written here because OpenCV's wheels ship without EXR support and older ``OpenEXR`` wheels read only from
paths; this reader works on bytes already in memory (a ZIP member), checks the header's size against the limits before
inflating anything, and never inflates a block past its known size. Layout per the OpenEXR file-layout
document: magic and version, attributes until an empty name, a table of chunk offsets, then chunks of
``(int32 y, int32 size, data)``; within a chunk, each scanline holds the channels in header order.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from posekit.io.captures.base import CaptureError
from posekit.limits import Limits

MAGIC = b"\x76\x2f\x31\x01"
_TILED, _LONG_NAMES, _DEEP, _MULTIPART = 0x200, 0x400, 0x800, 0x1000
_NONE, _RLE, _ZIPS, _ZIP = 0, 1, 2, 3
_LINES_PER_CHUNK = {_NONE: 1, _ZIPS: 1, _ZIP: 16}
_COMPRESSION_NAMES = ("NONE", "RLE", "ZIPS", "ZIP", "PIZ", "PXR24", "B44", "B44A", "DWAA", "DWAB", "HTJ2K")
_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
DEPTH_CHANNELS = ("R", "Z", "Y", "depth", "Depth", "D")
"""Channel names tried in order for depth; a file with a single channel uses it whatever its name."""


def _cstring(data: bytes, pos: int, what: str) -> tuple[str, int]:
    end = data.find(b"\0", pos, pos + 256)
    if end < 0:
        raise CaptureError(f"{what}: the EXR header is truncated or corrupt")
    return data[pos:end].decode("latin-1"), end + 1


def _header(data: bytes, what: str) -> tuple[dict[str, tuple[str, bytes]], int]:
    if data[:4] != MAGIC:
        raise CaptureError(f"{what}: expected an OpenEXR file, the magic number is wrong")
    if len(data) < 8:
        raise CaptureError(f"{what}: the EXR file is truncated")
    (version,) = struct.unpack_from("<I", data, 4)
    if version & 0xFF != 2 or version & (_TILED | _DEEP | _MULTIPART):
        raise CaptureError(f"{what}: only single-part scanline EXR files are supported (version field {version:#x})")
    attrs: dict[str, tuple[str, bytes]] = {}
    pos = 8
    while True:
        name, pos = _cstring(data, pos, what)
        if not name:
            return attrs, pos
        kind, pos = _cstring(data, pos, what)
        if pos + 4 > len(data):
            raise CaptureError(f"{what}: the EXR header is truncated")
        (size,) = struct.unpack_from("<i", data, pos)
        pos += 4
        if size < 0 or pos + size > len(data):
            raise CaptureError(f"{what}: the EXR attribute {name!r} runs past the end of the file")
        attrs[name] = (kind, data[pos : pos + size])
        pos += size


def _channels(raw: bytes, what: str) -> list[tuple[str, np.dtype]]:
    out, pos = [], 0
    while pos < len(raw) and raw[pos] != 0:
        name, pos = _cstring(raw, pos, what)
        if pos + 16 > len(raw):
            raise CaptureError(f"{what}: the EXR channel list is truncated")
        pixel_type, _, xs, ys = struct.unpack_from("<iIii", raw, pos)
        pos += 16
        if pixel_type not in _PIXEL_TYPES or (xs, ys) != (1, 1):
            raise CaptureError(f"{what}: EXR channel {name!r} has an unsupported type or subsampling")
        out.append((name, _PIXEL_TYPES[pixel_type]))
    if not out:
        raise CaptureError(f"{what}: the EXR file has no channels")
    return out


def _undo_zip(block: bytes, size: int, what: str) -> bytes:
    """Inflate one ZIP/ZIPS chunk to exactly ``size`` bytes, then undo EXR's byte predictor and interleave."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(block, size)
    except zlib.error as exc:
        raise CaptureError(f"{what}: corrupt EXR ZIP data ({exc})") from exc
    if len(raw) != size or inflater.unconsumed_tail:
        raise CaptureError(f"{what}: an EXR chunk inflates to another size than its scanlines need")
    diffs = np.frombuffer(raw, np.uint8).copy()
    diffs[1:] -= 128  # the predictor stored each byte as (b[i] - b[i-1] + 128) mod 256
    t = np.cumsum(diffs, dtype=np.uint8)
    out = np.empty(size, np.uint8)
    half = (size + 1) // 2
    out[0::2], out[1::2] = t[:half], t[half:]
    return out.tobytes()


def exr_size(data: bytes, what: str) -> tuple[int, int]:
    """``(w, h)`` of an EXR's data window, from its header alone."""
    attrs, _ = _header(data, what)
    x0, y0, x1, y1 = _box(attrs, what)
    return x1 - x0 + 1, y1 - y0 + 1


def _box(attrs: dict[str, tuple[str, bytes]], what: str) -> tuple[int, int, int, int]:
    kind, raw = attrs.get("dataWindow", ("", b""))
    if kind != "box2i" or len(raw) != 16:
        raise CaptureError(f"{what}: the EXR header has no valid dataWindow")
    x0, y0, x1, y1 = struct.unpack("<iiii", raw)
    if x1 < x0 or y1 < y0:
        raise CaptureError(f"{what}: the EXR dataWindow is empty")
    return x0, y0, x1, y1


def read_exr_channel(data: bytes, limits: Limits, what: str, names: tuple[str, ...] = DEPTH_CHANNELS) -> np.ndarray:
    """The first channel of ``names`` present (or the only channel) as float32 (h, w).

    Raises:
        CaptureError: not an EXR, an unsupported variant (tiled, multi-part, PIZ...), truncated or corrupt.
        LimitError: the data window is over ``limits.max_image_pixels``.
    """
    attrs, pos = _header(data, what)
    x0, y0, x1, y1 = _box(attrs, what)
    width, height = x1 - x0 + 1, y1 - y0 + 1
    limits.check_pixels(width, height, what)
    channels = _channels(attrs.get("channels", ("", b""))[1], what)
    compression = (attrs.get("compression", ("", b"\0"))[1] or b"\xff")[0]
    if compression not in _LINES_PER_CHUNK:
        name = _COMPRESSION_NAMES[compression] if compression < len(_COMPRESSION_NAMES) else str(compression)
        raise CaptureError(f"{what}: EXR compression {name} is not supported (expected NONE, ZIPS or ZIP)")
    present = [n for n, _ in channels]
    wanted = next((n for n in names if n in present), present[0] if len(present) == 1 else None)
    if wanted is None:
        raise CaptureError(f"{what}: expected a depth channel named one of {names}, the EXR has {present}")
    line_bytes = sum(width * dt.itemsize for _, dt in channels)
    offset_in_line = sum(width * dt.itemsize for n, dt in channels[: present.index(wanted)])
    dtype = dict(channels)[wanted]
    lines = _LINES_PER_CHUNK[compression]
    chunks = -(-height // lines)
    if pos + 8 * chunks > len(data):
        raise CaptureError(f"{what}: the EXR offset table is truncated")
    offsets = np.frombuffer(data, "<u8", chunks, pos)
    out = np.empty((height, width), np.float32)
    filled = np.zeros(height, bool)
    for offset in offsets.tolist():
        if offset + 8 > len(data):
            raise CaptureError(f"{what}: an EXR chunk offset points past the end of the file (truncated?)")
        y, size = struct.unpack_from("<ii", data, offset)
        first = y - y0
        if not 0 <= first < height or first % lines or size < 0 or offset + 8 + size > len(data):
            raise CaptureError(f"{what}: an EXR chunk is corrupt or truncated")
        n_lines = min(lines, height - first)
        expected = n_lines * line_bytes
        block = data[offset + 8 : offset + 8 + size]
        if compression != _NONE and size < expected:
            block = _undo_zip(block, expected, what)
        if len(block) != expected:
            raise CaptureError(f"{what}: an EXR chunk holds {len(block)} bytes, its scanlines need {expected}")
        rows = np.frombuffer(block, np.uint8).reshape(n_lines, line_bytes)
        values = rows[:, offset_in_line : offset_in_line + width * dtype.itemsize].copy().view(dtype)
        out[first : first + n_lines] = values.astype(np.float32)
        filled[first : first + n_lines] = True
    if not filled.all():
        raise CaptureError(f"{what}: the EXR file is missing scanlines")
    return out
