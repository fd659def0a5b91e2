"""A generated corpus of hostile uploads (issue #16): every input kind, each case with its expected outcome.

Nothing binary is committed: :func:`build_corpus` returns :class:`Case` objects whose ``write`` makes the file in
a folder of the caller's (a temporary folder per case). Kinds: ``image``, ``video``, ``take``, ``capture``
and ``zip`` (archive tricks that any ZIP upload may carry). Each case declares ``expect``: None (a valid
result) or the library error class it must end in, and, for bombs, that memory stays bounded.

Hostile tricks covered: lying image headers and decompression bombs, truncations, zero and one-pixel sizes,
wrong extensions; HLS playlists, concat lists, image patterns and URLs under every video extension pointing
at a real video elsewhere on disk; empty, truncated, garbage and huge-declared videos; take JSON in other
encodings, long whitespace, 0 frames, NaN, time going back, duplicates, wrong joint counts, huge counts;
captures with encrypted members, deep JSON, fps 1e308, npz-as-npy, malformed and huge npy headers, bomb
headers, traversal names and symlinks; ZIP bombs, too many members, traversal, duplicates, encryption.

Use ``from generators.hostile import build_corpus, Kit``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from posekit.io.archive import ArchiveError
from posekit.io.captures.base import CaptureError
from posekit.io.images import ImageError
from posekit.io.inputs import UnsupportedFileError
from posekit.io.takes import TakeError
from posekit.io.video_open import VideoError
from posekit.limits import LimitError, Limits

CORPUS_LIMITS = Limits(
    max_file_bytes=300 * 1024**2,
    max_image_pixels=40_000_000,
    max_frames=900,
    max_duration_s=120.0,
    max_archive_members=20_000,
    max_inflated_bytes=3 * 1024**3,
    max_compression_ratio=200.0,
)
"""The web app's upload bounds (``posekit.ui.files.APP_LIMITS``), repeated here so the corpus does not depend
on the app package."""

KINDS = ("image", "video", "take", "capture", "zip")

Writer = Callable[[Path, "Kit"], Path]


@dataclass(frozen=True)
class Case:
    """One hostile upload.

    Attributes:
        kind: ``image``, ``video``, ``take``, ``capture`` or ``zip``.
        id: unique name of the case.
        filename: the upload's file name (what the user called it).
        expect: None for a valid result, else the library error class it must raise.
        write: writes the upload into a folder (given a :class:`Kit` of shared material); returns its path.
        limits: bounds to read it with (default :data:`CORPUS_LIMITS`).
        bomb: a decompression bomb: memory must stay bounded while it is refused.
    """

    kind: str
    id: str
    filename: str
    expect: type[Exception] | None
    write: Writer
    limits: Limits = CORPUS_LIMITS
    bomb: bool = False


# ---------------------------------------------------------------------------------------------------------
# Shared material, built once


def _video_bytes(fmt: str, codec: str, frames: int = 5, size: tuple[int, int] = (64, 48), fps: int = 10) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((size[1], size[0], 3), 40 * i % 255, np.uint8)
            cv2.rectangle(image, (5 + 4 * i, 5), (25 + 4 * i, 40), (0, 0, 230), -1)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, idat: bytes = b"", color_type: int = 6, bit_depth: int = 8) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` followed by one IDAT of ``idat`` (compressed data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_bomb(width: int = 13300, height: int = 13300) -> bytes:
    """An RGBA PNG declaring ``width`` x ``height`` whose single IDAT inflates to every scanline (all zeros):
    13300 x 13300 is about 690 KB on disk and 708 MB inflated (2.8 GB once decoded as 16-bit or float).

    Built fast: the deflate blocks of a run of whole rows, byte-aligned by a full flush, are repeated."""
    row = b"\0" * (1 + 4 * width)
    per_block = max(1, (1 << 20) // len(row))
    if height <= 2 * per_block:
        return png_declaring(width, height, zlib.compress(row * height, 9))
    packer = zlib.compressobj(9)
    head = packer.compress(row * per_block) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(row * per_block) + packer.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(height - per_block, per_block)
    tail = packer.compress(row * rest) + packer.flush()
    # zlib's trailer is the Adler-32 of everything: recompute it for the repeated data.
    adler = 1
    chunk = row * per_block
    for _ in range(full + 1):
        adler = zlib.adler32(chunk, adler)
    adler = zlib.adler32(row * rest, adler)
    stream = head + block * full + tail[:-4] + struct.pack(">I", adler)
    return png_declaring(width, height, stream)


def jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its SOF marker claiming ``width`` x ``height`` (16 bits each)."""
    data = bytearray(jpeg)
    for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
        at = data.find(marker)
        if at > 0:
            struct.pack_into(">HH", data, at + 5, height, width)
            return bytes(data)
    raise ValueError("no SOF marker")


def bmp_declaring(width: int, height: int, pixels: bytes = b"") -> bytes:
    """A 24-bit BMP header declaring ``width`` x ``height`` (``pixels`` appended, usually far too few)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    head = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return head + info + pixels


def tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian 8-bit greyscale TIFF declaring ``width`` x ``height``, one strip of 16 bytes."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        )
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 16


def _np_save(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f4", fortran: bool = False, raw: str | None = None) -> bytes:
    """A version 1.0 ``.npy`` header (``raw`` replaces the dict text, for malformed headers)."""
    text = raw if raw is not None else f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin-1")


def deep_json(depth: int, leaf: object = 1) -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


def encrypt_flag(data: bytes, member: str | None = None) -> bytes:
    """A ZIP's bytes with the 'encrypted' flag set on ``member`` (every member when None), local and central
    headers alike; the data is left as is (what matters is that readers refuse it, not the cipher)."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        cd_start = z.start_dir
    for info in infos:
        if member is not None and info.filename != member:
            continue
        out[info.header_offset + 6] |= 1
    pos = cd_start
    while out[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", out, pos + 28)
        name = bytes(out[pos + 46 : pos + 46 + name_len]).decode("utf-8", "replace")
        if member is None or name == member:
            out[pos + 8] |= 1
        pos += 46 + name_len + extra_len + comment_len
    return bytes(out)


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of ``members`` in order; names may repeat (zipfile warns, and writes both)."""
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buffer, "w", method) as z:
            for name, data in members:
                info = zipfile.ZipInfo(name)
                info.compress_type = method
                z.writestr(info, data)
    return buffer.getvalue()


def raw_zip(members: list[tuple[str, int, int, int, int, bytes]]) -> bytes:
    """A ZIP from ``(name, method, crc, compressed size, size, payload)`` entries (no ZIP64, no descriptors)."""
    local, central, offset = [], [], 0
    for name, method, crc, csize, usize, payload in members:
        raw = name.encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, csize, usize, len(raw), 0)
        local += [header, raw, payload]
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, csize, usize,
                                   len(raw), 0, 0, 0, 0, 0, offset) + raw)  # fmt: skip
        offset += len(header) + len(raw) + len(payload)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), offset, 0)
    return b"".join(local) + directory + end


_ZERO_MB = b"\0" * (1 << 20)


def zip_streamed_zeros(name: str, size: int, extra: list[tuple[str, bytes]] = ()) -> bytes:
    """A ZIP with ``extra`` members (stored) and one deflated member of ``size`` zero bytes (a whole number of
    MiB): a bomb about 1000 times smaller than it inflates, built without deflating it all (one MiB's deflate
    blocks, byte-aligned by a full flush, repeated)."""
    mib = size >> 20
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(_ZERO_MB) + packer.flush(zlib.Z_FULL_FLUSH)
    payload = block * mib + packer.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(_ZERO_MB, crc)
    members = [(n, 0, zlib.crc32(d), len(d), len(d), d) for n, d in extra]
    members.append((name, 8, crc, len(payload), mib << 20, payload))
    return raw_zip(members)


def rewrite(data: bytes, drop: Callable[[str], bool] = lambda n: False, replace: dict | None = None,
            add: list[tuple[str, bytes]] = ()) -> bytes:  # fmt: skip
    """A ZIP's bytes with members dropped, replaced or added."""
    replace = replace or {}
    members = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            if not drop(info.filename):
                members.append((info.filename, replace.get(info.filename, z.read(info.filename))))
    return zip_bytes(members + list(add))


class Kit:
    """Material the cases share, built lazily once: small valid files of every kind, and targets outside the
    case folders (a real video and a secret file) that hostile files point at.

    Args:
        root: a folder of the caller's; ``root/outside`` receives the targets.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.outside = self.root / "outside"
        self.outside.mkdir(parents=True, exist_ok=True)

    @cached_property
    def target_video(self) -> Path:
        """A real, readable MP4 outside every case folder: playlists name it."""
        path = self.outside / "target.mp4"
        path.write_bytes(self.mp4)
        return path

    @cached_property
    def secret(self) -> Path:
        path = self.outside / "secret.txt"
        path.write_text("server secret\n")
        return path

    # videos
    @cached_property
    def mp4(self) -> bytes:
        return _video_bytes("mp4", "libx264")

    @cached_property
    def mov(self) -> bytes:
        return _video_bytes("mov", "libx264")

    @cached_property
    def mkv(self) -> bytes:
        return _video_bytes("matroska", "libx264")

    @cached_property
    def webm(self) -> bytes:
        return _video_bytes("webm", "libvpx")

    @cached_property
    def avi(self) -> bytes:
        return _video_bytes("avi", "mpeg4")

    # images
    @cached_property
    def bgr(self) -> np.ndarray:
        image = np.zeros((48, 64, 3), np.uint8)
        cv2.circle(image, (32, 24), 15, (20, 200, 90), -1)
        return image

    def encoded(self, ext: str) -> bytes:
        return cv2.imencode(ext, self.bgr)[1].tobytes()

    @cached_property
    def images(self) -> dict[str, bytes]:
        return {e: self.encoded("." + e) for e in ("png", "jpg", "webp", "bmp", "tiff")}

    @cached_property
    def png_bomb(self) -> bytes:
        return png_bomb()

    # takes
    @cached_property
    def take(self):
        from generators.takes import make_take

        return make_take(num_frames=12)

    @cached_property
    def take_bin(self) -> bytes:
        from generators.takes import frames_bin

        return frames_bin(self.take)

    @cached_property
    def take_json(self) -> bytes:
        from generators.takes import take_json

        return take_json(self.take)

    @cached_property
    def take_meta(self) -> bytes:
        from generators.takes import meta_json

        return meta_json(self.take.meta)

    def take_doc(self) -> dict:
        return json.loads(self.take_json)

    @cached_property
    def take_zip(self) -> bytes:
        return zip_bytes([("meta.json", self.take_meta), ("frames.bin", self.take_bin)], zipfile.ZIP_STORED)

    # captures
    @cached_property
    def scene(self):
        from generators.scene import make_scene

        return make_scene(num_frames=3, color_size=(64, 48), depth_size=(32, 24))

    def _capture(self, writer: str, name: str, **kw) -> bytes:
        from generators import captures

        path = self.outside / name
        getattr(captures, writer)(self.scene, path, **kw)
        data = path.read_bytes()
        path.unlink()
        return data

    @cached_property
    def r3d(self) -> bytes:
        return self._capture("write_r3d", "base.r3d")

    @cached_property
    def r3d_video(self) -> bytes:
        return self._capture("write_r3d", "base_video.r3d", video=True)

    @cached_property
    def r3d_exr(self) -> bytes:
        return self._capture("write_r3d_exr", "base_exr.zip")

    @cached_property
    def stray(self) -> bytes:
        return self._capture("write_stray", "base_stray.zip")

    @cached_property
    def stray_npy(self) -> bytes:
        return self._capture("write_stray", "base_stray_npy.zip", npy=True)

    @cached_property
    def generic(self) -> bytes:
        return self._capture("write_generic", "base_generic.zip")

    @cached_property
    def generic_npy(self) -> bytes:
        return self._capture("write_generic", "base_generic_npy.zip", depth="npy")

    def r3d_meta(self) -> dict:
        with zipfile.ZipFile(io.BytesIO(self.r3d)) as z:
            return json.loads(z.read("metadata"))

    def generic_spec(self) -> dict:
        with zipfile.ZipFile(io.BytesIO(self.generic)) as z:
            return json.loads(z.read("intrinsics.json"))


def _bytes(get: Callable[[Kit], bytes]) -> Writer:
    """A writer of ``get(kit)`` under the case's file name (set by :func:`_case`)."""

    def write(folder: Path, kit: Kit, filename: str = "") -> Path:
        path = folder / filename
        path.write_bytes(get(kit))
        return path

    return write


def _case(kind: str, id: str, filename: str, expect, get: Callable[[Kit], bytes], **kw) -> Case:
    base = _bytes(get)

    def write(folder: Path, kit: Kit) -> Path:
        return base(folder, kit, filename)

    return Case(kind, id, filename, expect, write, **kw)


# ---------------------------------------------------------------------------------------------------------
# Images

IMAGE_EXTS = ("png", "jpg", "webp", "bmp", "tiff")


def _image_cases() -> list[Case]:
    cases = []
    for ext in IMAGE_EXTS:
        cases.append(_case("image", f"valid-{ext}", f"photo.{ext}", None, lambda k, e=ext: k.images[e]))
        for other in IMAGE_EXTS:
            if other != ext:  # content decides, not the name
                cases.append(_case("image", f"{ext}-named-{other}", f"photo.{other}", None,
                                   lambda k, e=ext: k.images[e]))  # fmt: skip
        for frac, label in ((0.0, "empty"), (0.05, "header-only"), (0.5, "half")):
            cases.append(_case("image", f"truncated-{label}-{ext}", f"cut.{ext}", ImageError,
                               lambda k, e=ext, f=frac: k.images[e][: int(len(k.images[e]) * f)]))  # fmt: skip
        cases.append(_case("image", f"garbage-{ext}", f"noise.{ext}", ImageError,
                           lambda k: np.random.default_rng(1).bytes(3000)))  # fmt: skip
    bombs = [
        ("png-13300sq-rgba-bomb", "bomb.png", lambda k: k.png_bomb),
        ("png-60000sq-header", "huge.png", lambda k: png_declaring(60000, 60000, zlib.compress(b"\0" * 1000))),
        ("png-8000sq-header", "big.png", lambda k: png_declaring(8000, 8000, zlib.compress(b"\0" * 1000))),
        ("png-2^31-wide", "wide.png", lambda k: png_declaring(2**31 - 1, 2, b"")),
        ("png-13300sq-as-jpg", "bomb.jpg", lambda k: k.png_bomb),
        ("jpeg-65000sq-sof", "huge.jpg", lambda k: jpeg_declaring(k.images["jpg"], 65000, 65000)),
        ("jpeg-20000x10000-sof", "big.jpg", lambda k: jpeg_declaring(k.images["jpg"], 20000, 10000)),
        ("bmp-100000sq", "huge.bmp", lambda k: bmp_declaring(100000, 100000)),
        ("bmp-30000x-30000-topdown", "top.bmp", lambda k: bmp_declaring(30000, -30000)),
        ("tiff-70000sq", "huge.tiff", lambda k: tiff_declaring(70000, 70000)),
        ("tiff-9000sq", "big.tif", lambda k: tiff_declaring(9000, 9000)),
    ]
    for id, name, get in bombs:
        cases.append(_case("image", id, name, LimitError, get, bomb=True))
    small = [
        ("png-zero-width", "zero.png", lambda k: png_declaring(0, 10, zlib.compress(b"\0" * 10)), ImageError),
        ("png-1x1", "dot.png", lambda k: cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes(), ImageError),
        ("bmp-zero-height", "zero.bmp", lambda k: bmp_declaring(10, 0), ImageError),
        ("png-header-lies-small", "lies.png", lambda k: png_declaring(100, 100, zlib.compress(b"\0" * 50)), ImageError),
        ("png-bad-crc", "crc.png", lambda k: k.images["png"][:20] + b"\xff" + k.images["png"][21:], ImageError),
        ("gif-as-png", "anim.png", lambda k: b"GIF89a" + struct.pack("<HH", 10, 10) + b"\0" * 40, ImageError),
        ("svg-as-png", "vector.png", lambda k: b'<svg xmlns="http://www.w3.org/2000/svg" width="9e9"/>', ImageError),
        ("html-as-jpg", "page.jpg", lambda k: b"<html><img src='file:///etc/passwd'></html>", ImageError),
        ("m3u8-as-jpg", "list.jpg", lambda k: b"#EXTM3U\n/etc/passwd\n", ImageError),
        ("zip-as-png", "arch.png", lambda k: zip_bytes([("a.png", k.images["png"])]), ImageError),
        (
            "psd-as-png",
            "layers.png",
            lambda k: b"8BPS\x00\x01" + b"\0" * 6 + struct.pack(">HIIHH", 3, 30000, 30000, 8, 3),
            ImageError,
        ),
        ("ico-as-png", "fav.png", lambda k: b"\0\0\1\0\1\0" + b"\0" * 40, ImageError),
        ("pgm-as-png", "pix.png", lambda k: b"P5\n60000 60000\n255\n" + b"\0" * 100, ImageError),
        ("exr-as-png", "hdr.png", lambda k: b"\x76\x2f\x31\x01" + b"\0" * 100, ImageError),
        ("text-as-webp", "note.webp", lambda k: b"hello, this is text", ImageError),
        ("riff-wav-as-webp", "sound.webp", lambda k: b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 32, ImageError),
        ("webp-vp8-16383sq", "big.webp", lambda k: _webp_declaring(k.images["webp"], 16383, 16383), LimitError),
    ]
    for id, name, get, expect in small:
        cases.append(_case("image", id, name, expect, get, bomb=expect is LimitError))
    for ext in ("gif", "svg", "heic", "psd", "ico", "exr", ""):
        cases.append(_case("image", f"unsupported-ext-{ext or 'none'}", f"image.{ext}" if ext else "image",
                           UnsupportedFileError, lambda k: k.images["png"]))  # fmt: skip
    cases.append(_case("image", "pixel-limit-small", "photo.png", LimitError, lambda k: k.images["png"],
                       limits=replace(CORPUS_LIMITS, max_image_pixels=1000)))  # fmt: skip
    cases.append(_case("image", "file-limit-small", "photo.png", LimitError, lambda k: k.images["png"],
                       limits=replace(CORPUS_LIMITS, max_file_bytes=100)))  # fmt: skip
    return cases


def _webp_declaring(webp: bytes, width: int, height: int) -> bytes:
    """A lossy WebP whose VP8 frame header claims ``width`` x ``height`` (14 bits each)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(webp)).convert("RGB").save(buffer, "WEBP", quality=80)  # lossy: a "VP8 " chunk
    data = bytearray(buffer.getvalue())
    at = data.find(b"VP8 ")
    if at < 0:
        raise ValueError("not a simple lossy WebP")
    start = at + 8 + 6  # chunk header, then the 3-byte frame tag and the 3-byte start code
    struct.pack_into("<HH", data, start, width & 0x3FFF, height & 0x3FFF)
    return bytes(data)


# ---------------------------------------------------------------------------------------------------------
# Videos

VIDEO_EXTS = ("mp4", "mov", "m4v", "mkv", "webm", "avi")


def _playlists(target: str) -> dict[str, bytes]:
    """Text files that make FFmpeg open ``target`` when it probes them."""
    hls = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
    hls += "#EXTINF:1.0,\n{}\n#EXT-X-ENDLIST\n"
    return {
        "hls-abs": hls.format(target).encode(),
        "hls-file-url": hls.format("file:" + target).encode(),
        "hls-subfile": hls.format(f"subfile,,start,0,end,0,,:{target}").encode(),
        "hls-concat-proto": hls.format(f"concat:{target}|{target}").encode(),
        "hls-http": hls.format("http://127.0.0.1:9/segment.ts").encode(),
        "hls-relative": hls.format("../outside/target.mp4").encode(),
        "hls-bom": b"\xef\xbb\xbf" + hls.format(target).encode(),
        "hls-crlf": hls.format(target).replace("\n", "\r\n").encode(),
        "hls-master": f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{target}\n".encode(),
        "ffconcat": f"ffconcat version 1.0\nfile '{target}'\n".encode(),
        "ffconcat-bare": f"file '{target}'\n".encode(),
        "ffconcat-url": f"ffconcat version 1.0\nfile 'file:{target}'\nfile 'http://127.0.0.1:9/x.mp4'\n".encode(),
        "image2-pattern": b"img%03d.png\n",
        "tee": f"tee:[f=mp4]{target}|[f=null]-\n".encode(),
        "sdp": b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nm=video 9 RTP/AVP 96\r\n",
        "ffmetadata": b";FFMETADATA1\ntitle=x\n",
        "dash-mpd": f'<?xml version="1.0"?><MPD><Period><BaseURL>{target}</BaseURL></Period></MPD>'.encode(),
        "pls": f"[playlist]\nFile1={target}\nNumberOfEntries=1\n".encode(),
        "url-only": f"file://{target}\n".encode(),
    }


def _video_cases() -> list[Case]:
    cases = []
    valid = {"mp4": "mp4", "mov": "mov", "m4v": "mp4", "mkv": "mkv", "webm": "webm", "avi": "avi"}
    for ext, source in valid.items():
        cases.append(_case("video", f"valid-{ext}", f"clip.{ext}", None, lambda k, s=source: getattr(k, s)))
    for source in ("mp4", "mkv", "webm", "avi"):
        for ext in VIDEO_EXTS:
            if ext != source and not (source == "mp4" and ext in ("mov", "m4v")):
                cases.append(_case("video", f"{source}-named-{ext}", f"clip.{ext}", None,
                                   lambda k, s=source: getattr(k, s)))  # fmt: skip
    for trick in _playlists("/x").keys():
        for ext in VIDEO_EXTS + ("m3u8", "txt", "ts"):
            expect = UnsupportedFileError if ext in ("m3u8", "txt", "ts") else VideoError
            cases.append(_case("video", f"{trick}-as-{ext}", f"clip.{ext}", expect,
                               lambda k, t=trick: _playlists(str(k.target_video))[t]))  # fmt: skip
    polyglots = [
        ("empty-mp4", "empty.mp4", lambda k: b"", VideoError),
        ("empty-mkv", "empty.mkv", lambda k: b"", VideoError),
        (
            "ftyp-then-playlist",
            "poly.mp4",
            lambda k: struct.pack(">I", 16) + b"ftypisom" + b"\0\0\0\0" + _playlists(str(k.target_video))["hls-abs"],
            VideoError,
        ),
        ("ebml-then-garbage", "poly.mkv", lambda k: b"\x1a\x45\xdf\xa3" + b"\x80" * 200, VideoError),
        ("riff-avi-then-garbage", "poly.avi", lambda k: b"RIFF\0\0\0\0AVI LIST" + b"\0" * 200, VideoError),
        ("garbage", "noise.mp4", lambda k: np.random.default_rng(2).bytes(5000), VideoError),
        ("ftyp-garbage", "ftyp.mp4", lambda k: k.mp4[:32] + np.random.default_rng(3).bytes(4000), VideoError),
        ("jpeg-as-mp4", "still.mp4", lambda k: k.images["jpg"], VideoError),
        ("png-as-mov", "still.mov", lambda k: k.images["png"], VideoError),
        ("png-named-pattern", "frame%03d.mp4", lambda k: k.images["png"], VideoError),
        ("zip-as-mp4", "arch.mp4", lambda k: zip_bytes([("a.mp4", k.mp4)]), VideoError),
        ("gzip-as-mp4", "clip.mp4", lambda k: b"\x1f\x8b\x08\0" + b"\0" * 100, VideoError),
        ("pdf-as-mp4", "doc.mp4", lambda k: b"%PDF-1.4\n" + b"\0" * 100, VideoError),
        ("wav-as-avi", "sound.avi", lambda k: b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 32, VideoError),
        ("mpegts-as-mp4", "stream.mp4", lambda k: (b"\x47" + b"\0" * 187) * 4, VideoError),
        (
            "utf16-playlist",
            "clip.mp4",
            lambda k: _playlists(str(k.target_video))["hls-abs"].decode().encode("utf-16"),
            VideoError,
        ),
        ("mp4-truncated-100", "cut.mp4", lambda k: k.mp4[:100], VideoError),
        ("mp4-truncated-half", "cut.mp4", lambda k: k.mp4[: len(k.mp4) // 2], VideoError),
        ("mkv-truncated-header", "cut.mkv", lambda k: k.mkv[:60], VideoError),
        ("avi-truncated-header", "cut.avi", lambda k: k.avi[:100], VideoError),
        ("mp4-only-ftyp", "ftyp.mp4", lambda k: k.mp4[:32], VideoError),
    ]
    for id, name, get, expect in polyglots:
        cases.append(_case("video", id, name, expect, get))
    for id, limits in (
        ("pixel-limit", replace(CORPUS_LIMITS, max_image_pixels=1000)),
        ("frame-limit", replace(CORPUS_LIMITS, max_frames=2)),
        ("duration-limit", replace(CORPUS_LIMITS, max_duration_s=0.1)),
        ("file-limit", replace(CORPUS_LIMITS, max_file_bytes=100)),
    ):
        cases.append(_case("video", id, "clip.mp4", LimitError, lambda k: k.mp4, limits=limits))
    return cases


# ---------------------------------------------------------------------------------------------------------
# Takes


def _doc_edit(edit: Callable[[dict], object]) -> Callable[[Kit], bytes]:
    def get(kit: Kit) -> bytes:
        doc = kit.take_doc()
        edit(doc)
        return json.dumps(doc).encode()

    return get


def _frames_bin(kit: Kit, edit: Callable[[np.ndarray], None]) -> bytes:
    from posekit.io.takes import FRAME_DTYPE

    frames = np.frombuffer(kit.take_bin, FRAME_DTYPE).copy()
    edit(frames)
    return frames.tobytes()


def _set(doc_path: Callable[[dict], dict], key: str, value: object) -> Callable[[dict], object]:
    return lambda d: doc_path(d).__setitem__(key, value)


def _take_cases() -> list[Case]:
    meta = lambda d: d["meta"]  # noqa: E731
    frame = lambda i: lambda d: d["frames"][i]  # noqa: E731
    cases = [
        _case("take", "valid-bin", "PoseTake.bin", None, lambda k: k.take_bin),
        _case("take", "valid-json", "PoseTake.json", None, lambda k: k.take_json),
        _case("take", "valid-zip", "PoseTake.zip", None, lambda k: k.take_zip),
        _case("take", "bin-trailing-partial", "t.bin", None, lambda k: k.take_bin + b"\0" * 100),
        _case("take", "json-utf8-bom", "t.json", None, lambda k: b"\xef\xbb\xbf" + k.take_json),
        _case("take", "json-crlf", "t.json", None, lambda k: k.take_json.replace(b"\n", b"\r\n")),
        _case("take", "json-compact", "t.json", None, lambda k: json.dumps(k.take_doc()).encode()),
        _case("take", "json-nan-null", "t.json", None,
              _doc_edit(lambda d: d["frames"][0]["joints"][0].update(camera3D=[None, "nan", "NaN"]))),
        _case("take", "json-bare-list", "t.json", None, lambda k: json.dumps(k.take_doc()["frames"]).encode()),
        _case("take", "json-named-bin", "t.bin", None, lambda k: k.take_json),
    ]  # fmt: skip
    for enc in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        cases.append(_case("take", f"json-{enc}", "t.json", None, lambda k, e=enc: k.take_json.decode().encode(e)))
    for n in (65, 4096, 300_000):
        cases.append(_case("take", f"json-leading-ws-{n}", "t.json", None, lambda k, n=n: b" " * n + k.take_json))
        cases.append(_case("take", f"json-leading-newlines-{n}", "t.json", None,
                           lambda k, n=n: b"\r\n" * (n // 2) + k.take_json))  # fmt: skip
    cases.append(_case("take", "json-ws-2MB-then-json", "t.json", TakeError,
                       lambda k: b" " * (2 << 20) + k.take_json))  # fmt: skip
    bad_json = [
        ("latin1", "t.json", lambda k: '{"frames": [], "meta": {"notes": "caf\xe9"}}'.encode("latin-1"), TakeError),
        ("m3u8-as-json", "t.json", lambda k: b"#EXTM3U\n/etc/passwd\n", TakeError),
        ("garbage-json", "t.json", lambda k: np.random.default_rng(4).bytes(2000), TakeError),
        ("empty-json", "t.json", lambda k: b"", TakeError),
        ("ws-only-json", "t.json", lambda k: b" " * 5000, TakeError),
        ("zero-frames", "t.json", _doc_edit(lambda d: d.__setitem__("frames", [])), TakeError),
        ("zero-frames-list", "t.json", lambda k: b"[]", TakeError),
        ("zero-frames-bin", "t.bin", lambda k: b"", TakeError),
        ("frames-not-list", "t.json", _doc_edit(lambda d: d.__setitem__("frames", {"a": 1})), TakeError),
        ("nan-timestamp", "t.json", _doc_edit(_set(frame(3), "timestamp", float("nan"))), TakeError),
        ("inf-timestamp", "t.json", _doc_edit(_set(frame(3), "timestamp", float("inf"))), TakeError),
        ("huge-int-timestamp", "t.json", lambda k: k.take_json.replace(
            b'"timestamp" : ', b'"timestamp" : 1' + b"0" * 400 + b"+", 1), TakeError),
        ("decreasing-time", "t.json", _doc_edit(_set(frame(5), "timestamp", 0.0)), TakeError),
        ("decreasing-time-bin", "t.bin",
         lambda k: _frames_bin(k, lambda f: f.__setitem__("timestamp", f["timestamp"][::-1].copy())), TakeError),
        ("huge-span", "t.json", _doc_edit(_set(frame(11), "timestamp", 1e308)), LimitError),
        ("fps-1e308", "t.json", _doc_edit(_set(meta, "fps", 1e308)), TakeError),
        ("fps-nan", "t.json", _doc_edit(_set(meta, "fps", float("nan"))), TakeError),
        ("fps-inf", "t.json", _doc_edit(_set(meta, "fps", float("inf"))), TakeError),
        ("fps-negative", "t.json", _doc_edit(_set(meta, "fps", -30)), TakeError),
        ("fps-huge-int", "t.json", lambda k: k.take_json.replace(b'"fps" : ', b'"fps" : 9' * 1 + b"9" * 400, 1),
         TakeError),
        ("fps-string", "t.json", _doc_edit(_set(meta, "fps", "30")), TakeError),
        ("duration-inf", "t.json", _doc_edit(_set(meta, "duration", float("inf"))), TakeError),
        ("createdAt-1e308", "t.json", _doc_edit(_set(meta, "createdAt", 1e308)), TakeError),
        ("minscore-nan", "t.json", _doc_edit(_set(meta, "minKeypointScore", float("nan"))), TakeError),
        ("meta-deep", "t.json",
         lambda k: k.take_json.replace(b'"meta" : {', b'"meta" : {"x": ' + deep_json(200).encode() + b",", 1),
         TakeError),
        ("doc-deep-100k", "t.json", lambda k: deep_json(100_000).encode(), TakeError),
        ("frame-deep", "t.json", lambda k: ('{"frames": [{"timestamp": 0, "joints": ' + deep_json(50_000) + "}]}")
         .encode(), TakeError),
        ("joints-18", "t.json", _doc_edit(lambda d: d["frames"][2]["joints"].pop()), TakeError),
        ("joints-20", "t.json", _doc_edit(lambda d: d["frames"][2]["joints"].append(d["frames"][2]["joints"][0])),
         TakeError),
        ("joints-0", "t.json", _doc_edit(lambda d: d["frames"][0].__setitem__("joints", [])), TakeError),
        ("joint-twice", "t.json", _doc_edit(lambda d: d["frames"][0]["joints"].__setitem__(
            1, d["frames"][0]["joints"][0])), TakeError),
        ("bin-767-bytes", "t.bin", lambda k: k.take_bin[:767], TakeError),
        ("bin-garbage", "t.bin", lambda k: np.full(768 * 4, 0xFF, np.uint8).tobytes(), TakeError),
        ("schema-wrong", "t.json", _doc_edit(_set(meta, "jointSchema", "COCO133")), TakeError),
        ("frameCount-mismatch-bin", "t.zip", lambda k: zip_bytes([
            ("meta.json", json.dumps({**json.loads(k.take_meta), "frameCount": 5}).encode()),
            ("frames.bin", k.take_bin)]), TakeError),
        ("frameCount-negative", "t.json", _doc_edit(_set(meta, "frameCount", -1)), TakeError),
        ("json-1000-frames", "t.json", _doc_edit(lambda d: d.__setitem__("frames", d["frames"] * 84)), LimitError),
        ("bin-1000-frames", "t.bin", lambda k: k.take_bin * 84, LimitError),
        ("zip-1000-frames", "t.zip", lambda k: zip_bytes([("frames.bin", k.take_bin * 84)]), LimitError),
        ("json-over-bytes", "t.json", lambda k: k.take_json + b" " * (16 << 20), LimitError),
        ("zip-duplicate-frames-bin", "t.zip", lambda k: zip_bytes([
            ("meta.json", k.take_meta), ("frames.bin", k.take_bin), ("frames.bin", k.take_bin[: 768 * 3])]),
         ArchiveError),
        ("zip-duplicate-meta", "t.zip", lambda k: zip_bytes([
            ("meta.json", k.take_meta), ("meta.json", b"{}"), ("frames.bin", k.take_bin)]), ArchiveError),
        ("zip-two-takes", "t.zip", lambda k: zip_bytes([("a/frames.bin", k.take_bin), ("b/frames.bin", k.take_bin)]),
         TakeError),
        ("zip-encrypted", "t.zip", lambda k: encrypt_flag(k.take_zip), ArchiveError),
        ("zip-encrypted-meta", "t.zip", lambda k: encrypt_flag(k.take_zip, "meta.json"), ArchiveError),
        ("zip-frames-json-bomb", "t.zip", lambda k: zip_streamed_zeros("frames.json", 200 << 20,
                                                                       [("meta.json", k.take_meta)]), LimitError),
        ("zip-traversal", "t.zip", lambda k: zip_bytes([("../frames.bin", k.take_bin)]), ArchiveError),
        ("zip-truncated", "t.zip", lambda k: k.take_zip[: len(k.take_zip) // 2], ArchiveError),
        ("zip-frames-bin-corrupt-crc", "t.zip", lambda k: _flip_member_byte(k.take_zip, "frames.bin"), ArchiveError),
        ("zip-meta-not-json", "t.zip", lambda k: zip_bytes([("meta.json", b"\xff\xfe{"), ("frames.bin", k.take_bin)]),
         TakeError),
        ("zip-meta-deep", "t.zip", lambda k: zip_bytes([("meta.json", ('{"a": ' + deep_json(60) + "}").encode()),
                                                        ("frames.bin", k.take_bin)]), TakeError),
    ]  # fmt: skip
    for id, name, get, expect in bad_json:
        cases.append(_case("take", id, name, expect, get, bomb="bomb" in id))
    return cases


def _flip_member_byte(data: bytes, member: str) -> bytes:
    """Corrupt one byte of a stored member's data (its CRC no longer matches)."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(member)
    name_len, extra_len = struct.unpack_from("<HH", out, info.header_offset + 26)
    at = info.header_offset + 30 + name_len + extra_len + 100
    out[at] ^= 0xFF
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------
# Captures


def _r3d_meta(edit: Callable[[dict], object], base: str = "r3d") -> Callable[[Kit], bytes]:
    def get(kit: Kit) -> bytes:
        meta = kit.r3d_meta()
        edit(meta)
        return rewrite(getattr(kit, base), replace={"metadata": json.dumps(meta).encode()})

    return get


def _r3d_meta_text(text: Callable[[Kit], str]) -> Callable[[Kit], bytes]:
    return lambda k: rewrite(k.r3d, replace={"metadata": text(k).encode()})


def _generic_spec(edit: Callable[[dict], object]) -> Callable[[Kit], bytes]:
    def get(kit: Kit) -> bytes:
        spec = kit.generic_spec()
        edit(spec)
        return rewrite(kit.generic, replace={"intrinsics.json": json.dumps(spec).encode()})

    return get


def _capture_cases() -> list[Case]:
    root = "8c2f1e0a/"
    cases = [
        _case("capture", "valid-r3d", "scan.r3d", None, lambda k: k.r3d),
        _case("capture", "valid-r3d-video", "scan.r3d", None, lambda k: k.r3d_video),
        _case("capture", "valid-r3d-exr", "export.zip", None, lambda k: k.r3d_exr),
        _case("capture", "valid-stray", "stray.zip", None, lambda k: k.stray),
        _case("capture", "valid-stray-npy", "stray.zip", None, lambda k: k.stray_npy),
        _case("capture", "valid-generic", "rgbd.zip", None, lambda k: k.generic),
        _case("capture", "valid-generic-npy", "rgbd.zip", None, lambda k: k.generic_npy),
        _case("capture", "r3d-named-zip", "scan.zip", None, lambda k: k.r3d),
    ]
    r3d_meta = [
        ("fps-1e308", lambda m: m.__setitem__("fps", 1e308)),
        ("fps-nan", lambda m: m.__setitem__("fps", float("nan"))),
        ("fps-inf", lambda m: m.__setitem__("fps", float("inf"))),
        ("fps-negative", lambda m: m.__setitem__("fps", -1)),
        ("fps-zero", lambda m: m.__setitem__("fps", 0)),
        ("fps-string", lambda m: m.__setitem__("fps", "60")),
        ("fps-bool", lambda m: m.__setitem__("fps", True)),
        ("K-1e308", lambda m: m["K"].__setitem__(0, 1e308)),
        ("K-nan", lambda m: m["K"].__setitem__(4, float("nan"))),
        ("K-negative-fx", lambda m: m["K"].__setitem__(0, -500.0)),
        ("K-short", lambda m: m.__setitem__("K", [1, 2, 3])),
        ("K-nested", lambda m: m.__setitem__("K", [[1] * 9])),
        ("w-huge", lambda m: m.__setitem__("w", 1e308)),
        ("w-negative", lambda m: m.__setitem__("w", -64)),
        ("dw-60000", lambda m: m.update(dw=60000, dh=60000)),
        ("timestamps-decreasing", lambda m: m.__setitem__("frameTimestamps", [3.0, 2.0, 1.0])),
        ("timestamps-nan", lambda m: m.__setitem__("frameTimestamps", [0.0, float("nan"), 1.0])),
        ("timestamps-count", lambda m: m.__setitem__("frameTimestamps", [0.0])),
        ("timestamps-huge", lambda m: m.__setitem__("frameTimestamps", [0.0, 1.0, 1e308])),
        ("timestamps-strings", lambda m: m.__setitem__("frameTimestamps", ["a", "b", "c"])),
        ("timestamps-object", lambda m: m.__setitem__("frameTimestamps", {"a": 1})),
        ("perframe-inf", lambda m: m.__setitem__("perFrameIntrinsicCoeffs", [[float("inf"), 1, 1, 1]] * 3)),
        ("perframe-count", lambda m: m.__setitem__("perFrameIntrinsicCoeffs", [[500, 500, 32, 24]])),
        ("metadata-list", lambda m: m.clear()),
    ]
    expect_limit = {"dw-60000", "timestamps-huge", "w-huge"}
    for id, edit in r3d_meta:
        expect = LimitError if id in expect_limit else CaptureError
        cases.append(_case("capture", f"r3d-{id}", "scan.r3d", expect, _r3d_meta(edit)))
    cases += [
        _case("capture", "r3d-metadata-deep-40", "scan.r3d", LimitError,
              _r3d_meta(lambda m: m.__setitem__("extra", json.loads(deep_json(40))))),
        _case("capture", "r3d-metadata-deep-100k", "scan.r3d", LimitError,
              _r3d_meta_text(lambda k: '{"w": ' + deep_json(100_000) + "}")),
        _case("capture", "r3d-metadata-not-json", "scan.r3d", CaptureError, _r3d_meta_text(lambda k: "{w: 1")),
        _case("capture", "r3d-metadata-utf16", "scan.r3d", None,
              lambda k: rewrite(k.r3d, replace={"metadata": json.dumps(k.r3d_meta()).encode("utf-16")})),
        _case("capture", "r3d-metadata-latin1", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, replace={"metadata": b'{"w": "\xe9"}'})),
        _case("capture", "r3d-metadata-array", "scan.r3d", CaptureError, _r3d_meta_text(lambda k: "[1, 2]")),
        _case("capture", "r3d-fps-1e400-token", "scan.r3d", CaptureError,
              _r3d_meta_text(lambda k: json.dumps(k.r3d_meta()).replace('"fps": 30.0', '"fps": 1e400'))),
        _case("capture", "r3d-color-60000sq", "scan.r3d", LimitError,
              lambda k: rewrite(k.r3d, replace={"rgbd/0.jpg": jpeg_declaring(k.images["jpg"], 60000, 60000)}),
              bomb=True),
        _case("capture", "r3d-color-later-60000sq", "scan.r3d", LimitError,
              lambda k: rewrite(k.r3d, replace={"rgbd/1.jpg": jpeg_declaring(k.images["jpg"], 60000, 60000)}),
              bomb=True),
        _case("capture", "r3d-color-png-bomb", "scan.r3d", LimitError,
              lambda k: rewrite(k.r3d, drop=lambda n: n == "rgbd/0.jpg", add=[("rgbd/0.jpg", k.png_bomb)]),
              bomb=True),
        _case("capture", "r3d-color-not-image", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, replace={"rgbd/1.jpg": b"#EXTM3U\n/etc/passwd\n"})),
        _case("capture", "r3d-color-other-size", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, replace={"rgbd/1.jpg": cv2.imencode(".jpg", np.zeros((24, 32, 3), np.uint8))[1]
                                                .tobytes()})),
        _case("capture", "r3d-depth-lying-lzfse", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, replace={"rgbd/1.depth": b"bvx-" + struct.pack("<I", 3072) + b"\0" * 10
                                                + b"bvx$"})),
        _case("capture", "r3d-depth-garbage", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, replace={"rgbd/0.depth": b"\0" * 64})),
        _case("capture", "r3d-video-is-playlist", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d_video, replace={"rgbd.mp4": _playlists(str(k.target_video))["hls-abs"]})),
        _case("capture", "r3d-video-is-ffconcat", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d_video, replace={"rgbd.mp4": _playlists(str(k.target_video))["ffconcat"]})),
        _case("capture", "r3d-video-empty", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d_video, replace={"rgbd.mp4": b""})),
        _case("capture", "r3d-video-truncated", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d_video, replace={"rgbd.mp4": _member(k.r3d_video, "rgbd.mp4")[:300]})),
        _case("capture", "r3d-encrypted-metadata", "scan.r3d", CaptureError,
              lambda k: encrypt_flag(k.r3d, "metadata")),
        _case("capture", "r3d-encrypted-zip-name", "scan.zip", ArchiveError, lambda k: encrypt_flag(k.r3d)),
        _case("capture", "r3d-duplicate-metadata", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, add=[("metadata", b"{}")])),
        _case("capture", "r3d-traversal", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, add=[("../../etc/cron.d/x", b"* * * * * root id")])),
        _case("capture", "r3d-absolute-name", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, add=[("/etc/passwd", b"x")])),
        _case("capture", "r3d-symlink-member", "scan.r3d", CaptureError, lambda k: _symlink_member(k.r3d, "rgbd/1.jpg",
                                                                                                "/etc/passwd")),
        _case("capture", "r3d-depth-bomb", "scan.r3d", LimitError,
              lambda k: zip_streamed_zeros("rgbd/0.depth", 300 << 20, _members(k.r3d, lambda n: n != "rgbd/0.depth")),
              bomb=True),
        _case("capture", "r3d-metadata-bomb", "scan.r3d", LimitError,
              lambda k: zip_streamed_zeros("metadata", 300 << 20, _members(k.r3d, lambda n: n != "metadata")),
              bomb=True),
        _case("capture", "r3d-too-many-members", "scan.r3d", LimitError,
              lambda k: rewrite(k.r3d, add=[(f"pad/{i}", b"") for i in range(40)]),
              limits=replace(CORPUS_LIMITS, max_archive_members=30)),
        _case("capture", "r3d-garbage", "scan.r3d", CaptureError, lambda k: np.random.default_rng(5).bytes(4000)),
        _case("capture", "r3d-empty", "scan.r3d", CaptureError, lambda k: b""),
        _case("capture", "r3d-no-frames", "scan.r3d", CaptureError,
              lambda k: rewrite(k.r3d, drop=lambda n: n.startswith("rgbd/"))),
        _case("capture", "r3d-frame-limit", "scan.r3d", LimitError, lambda k: k.r3d,
              limits=replace(CORPUS_LIMITS, max_frames=2)),
        _case("capture", "exr-depth-60000sq", "export.zip", LimitError,
              lambda k: rewrite(k.r3d_exr, replace={"depth/0.exr": _exr_declaring(60000, 60000)}), bomb=True),
        _case("capture", "exr-depth-truncated", "export.zip", CaptureError,
              lambda k: rewrite(k.r3d_exr, replace={"depth/1.exr": _member(k.r3d_exr, "depth/1.exr")[:50]})),
        _case("capture", "exr-empty-compression", "export.zip", CaptureError,
              lambda k: rewrite(k.r3d_exr, replace={"depth/1.exr": _exr_declaring(32, 24, compression=b"")})),
        _case("capture", "exr-metadata-deep", "export.zip", LimitError,
              lambda k: rewrite(k.r3d_exr, replace={"metadata.json": ('{"a": ' + deep_json(50) + "}").encode()})),
    ]  # fmt: skip
    npy_tricks = [
        ("npz-as-npy", lambda k: _npz(), CaptureError),
        ("npy-bad-magic", lambda k: b"\x93NUMPX\x01\x00" + b"\0" * 100, CaptureError),
        ("npy-malformed-dict", lambda k: npy_header((24, 32), raw="{'descr': '<f4', 'shape': (24, 32)") + b"\0" * 3072,
         CaptureError),
        ("npy-code-in-header", lambda k: npy_header((24, 32), raw="__import__('os').system('id')") + b"\0" * 3072,
         CaptureError),
        ("npy-huge-shape", lambda k: npy_header((100000, 100000)) + b"\0" * 3072, LimitError),
        ("npy-overflow-shape", lambda k: npy_header((2**62, 2**62)) + b"\0" * 64, LimitError),
        ("npy-negative-shape", lambda k: npy_header((-24, 32)) + b"\0" * 3072, CaptureError),
        ("npy-3d", lambda k: _np_save(np.zeros((24, 32, 2), np.float32)), CaptureError),
        ("npy-object", lambda k: npy_header((24, 32), descr="|O") + b"\0" * 64, CaptureError),
        ("npy-pickle", lambda k: _np_save_pickled(), CaptureError),
        ("npy-short-data", lambda k: npy_header((24, 32)) + b"\0" * 100, CaptureError),
        ("npy-long-data", lambda k: npy_header((24, 32)) + b"\0" * 5000, CaptureError),
        ("npy-structured", lambda k: npy_header((24, 32), raw="{'descr': [('a', '<f4')], 'fortran_order': False, "
                                                         "'shape': (24, 32), }") + b"\0" * 3072, CaptureError),
        ("npy-version-9", lambda k: b"\x93NUMPY\x09\x00" + b"\0" * 100, CaptureError),
        ("npy-fortran-valid", lambda k: _np_save(np.asfortranarray(np.full((24, 32), 2.0, np.float32))), None),
        ("npy-truncated-header", lambda k: npy_header((24, 32))[:20], CaptureError),
    ]  # fmt: skip
    for base, folder in (("generic_npy", ""), ("stray_npy", root)):
        for id, get, expect in npy_tricks:
            name = "rgbd.zip" if base == "generic_npy" else "stray.zip"
            cases.append(_case("capture", f"{base}-{id}", name, expect,
                               lambda k, g=get, b=base, f=folder: rewrite(getattr(k, b),
                                                                          replace={f"{f}depth/000001.npy": g(k)}),
                               bomb=expect is LimitError))  # fmt: skip
    generic_spec = [
        ("fps-1e308", lambda s: s.__setitem__("fps", 1e308), CaptureError),
        ("fps-nan", lambda s: s.__setitem__("fps", float("nan")), CaptureError),
        ("fx-inf", lambda s: s.__setitem__("fx", float("inf")), CaptureError),
        ("fx-1e308", lambda s: s.__setitem__("fx", 1e308), CaptureError),
        ("cx-huge-int", lambda s: s.__setitem__("cx", 10**400), CaptureError),
        ("width-60000", lambda s: s.update(width=60000, height=60000), LimitError),
        ("width-float", lambda s: s.__setitem__("width", 64.5), CaptureError),
        ("timestamps-decreasing", lambda s: s.__setitem__("timestamps", [0.2, 0.1, 0.0]), CaptureError),
        ("timestamps-inf", lambda s: s.__setitem__("timestamps", [0.0, float("inf"), 1.0]), CaptureError),
        ("depth-scale-negative", lambda s: s.__setitem__("depth_scale", -1), CaptureError),
    ]
    for id, edit, expect in generic_spec:
        cases.append(_case("capture", f"generic-{id}", "rgbd.zip", expect, _generic_spec(edit)))
    cases += [
        _case("capture", "generic-depth-png-60000sq", "rgbd.zip", LimitError,
              lambda k: rewrite(k.generic, replace={"depth/000000.png": png_declaring(60000, 60000, b"", 0, 16)}),
              bomb=True),
        _case("capture", "generic-depth-png-bomb-13300", "rgbd.zip", LimitError,
              lambda k: rewrite(k.generic, replace={"depth/000001.png": k.png_bomb}), bomb=True),
        _case("capture", "generic-color-png-bomb-13300", "rgbd.zip", LimitError,
              lambda k: rewrite(k.generic, drop=lambda n: n == "color/000001.jpg",
                                add=[("color/000001.png", k.png_bomb)]), bomb=True),
        _case("capture", "generic-conf-levels", "rgbd.zip", CaptureError,
              lambda k: rewrite(k.generic, replace={"confidence/000000.png": cv2.imencode(
                  ".png", np.full((24, 32), 9, np.uint8))[1].tobytes()})),
        _case("capture", "generic-intrinsics-deep", "rgbd.zip", LimitError,
              lambda k: rewrite(k.generic, replace={"intrinsics.json": ('{"fx": ' + deep_json(100_000) + "}")
                                                    .encode()})),
        _case("capture", "generic-duplicate-color", "rgbd.zip", ArchiveError,
              lambda k: rewrite(k.generic, add=[("color/000000.jpg", k.images["jpg"])])),
        _case("capture", "generic-encrypted-depth", "rgbd.zip", ArchiveError,
              lambda k: encrypt_flag(k.generic, "depth/000001.png")),
        _case("capture", "generic-two-numberings", "rgbd.zip", CaptureError,
              lambda k: rewrite(k.generic, add=[("color/1.jpg", k.images["jpg"])])),
        _case("capture", "stray-rgb-is-playlist", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "rgb.mp4": _playlists(str(k.target_video))["hls-abs"]})),
        _case("capture", "stray-rgb-is-ffconcat", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "rgb.mp4": _playlists(str(k.target_video))["ffconcat"]})),
        _case("capture", "stray-rgb-is-png", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "rgb.mp4": k.images["png"]})),
        _case("capture", "stray-rgb-garbage", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "rgb.mp4": k.mp4[:40] + b"\0" * 3000})),
        _case("capture", "stray-camera-nan", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "camera_matrix.csv": b"nan,0,1\n0,1,1\n0,0,1\n"})),
        _case("capture", "stray-camera-1e400", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "camera_matrix.csv": b"1e400,0,1\n0,1,1\n0,0,1\n"})),
        _case("capture", "stray-odometry-inf", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "odometry.csv": b"timestamp, frame\ninf, 0\n1, 1\n2, 2\n"})),
        _case("capture", "stray-odometry-back", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "odometry.csv": b"timestamp, frame\n5, 0\n4, 1\n3, 2\n"})),
        _case("capture", "stray-odometry-huge-field", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "odometry.csv": b"timestamp, frame\n" + b"1" * 200_000})),
        _case("capture", "stray-depth-8bit-3ch", "stray.zip", CaptureError,
              lambda k: rewrite(k.stray, replace={root + "depth/000001.png": k.images["png"]})),
        _case("capture", "stray-rgb-bomb", "stray.zip", LimitError,
              lambda k: zip_streamed_zeros(root + "rgb.mp4", 300 << 20,
                                           _members(k.stray, lambda n: "rgb.mp4" not in n)),
              bomb=True),
        _case("capture", "unknown-zip", "stuff.zip", CaptureError,
              lambda k: zip_bytes([("a.txt", b"x"), ("b/c.jpg", k.images["jpg"])])),
        _case("capture", "take-named-r3d", "take.r3d", CaptureError, lambda k: k.take_zip),
    ]  # fmt: skip
    cases += _folder_cases()
    return cases


def _member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


def _members(data: bytes, keep: Callable[[str], bool]) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(n, z.read(n)) for n in z.namelist() if keep(n)]


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, depth=np.zeros((24, 32), np.float32))
    return buffer.getvalue()


def _np_save_pickled() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _symlink_member(data: bytes, member: str, target: str) -> bytes:
    """Replace ``member`` by a Unix symbolic link to ``target`` (mode 0o120777; its content is the target)."""
    members = _members(data, lambda n: n != member)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for n, d in members:
            z.writestr(n, d)
        info = zipfile.ZipInfo(member)
        info.create_system = 3
        info.external_attr = (0o120777 << 16) & 0xFFFF0000
        z.writestr(info, target)
    return buffer.getvalue()


def _exr_declaring(width: int, height: int, compression: bytes = b"\x03") -> bytes:
    def attr(name: str, kind: str, value: bytes) -> bytes:
        return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value

    chlist = b"R\0" + struct.pack("<iBxxxii", 1, 0, 1, 1) + b"\0"
    header = b"".join([
        b"\x76\x2f\x31\x01", struct.pack("<I", 2), attr("channels", "chlist", chlist),
        attr("compression", "compression", compression),
        attr("dataWindow", "box2i", struct.pack("<iiii", 0, 0, width - 1, height - 1)),
        attr("displayWindow", "box2i", struct.pack("<iiii", 0, 0, width - 1, height - 1)),
        attr("lineOrder", "lineOrder", b"\0"), b"\0",
    ])  # fmt: skip
    return header + struct.pack("<Q", len(header) + 8) + b"\0" * 16


def _folder_cases() -> list[Case]:
    """Captures given as folders (the CLI reads folders): symbolic links must not be followed."""

    def folder_with(link: str, target: Callable[[Kit], Path]) -> Writer:
        def write(folder: Path, kit: Kit) -> Path:
            out = folder / "capture"
            with zipfile.ZipFile(io.BytesIO(kit.generic)) as z:
                z.extractall(out)
            (out / link).unlink(missing_ok=True)
            os.symlink(target(kit), out / link)
            return out

        return write

    def plain_folder(folder: Path, kit: Kit) -> Path:
        out = folder / "capture"
        with zipfile.ZipFile(io.BytesIO(kit.generic)) as z:
            z.extractall(out)
        return out

    return [
        Case("capture", "folder-valid", "capture", None, plain_folder),
        Case("capture", "folder-symlink-intrinsics-to-secret", "capture", CaptureError,
             folder_with("intrinsics.json", lambda k: k.secret)),
        Case("capture", "folder-symlink-depth-to-video", "capture", CaptureError,
             folder_with("depth/000001.png", lambda k: k.target_video)),
        Case("capture", "folder-symlink-dir-to-outside", "capture", None,
             folder_with("linked", lambda k: k.outside)),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# ZIP tricks, whatever the ZIP claims to be


def _zip_cases() -> list[Case]:
    names = {
        "dotdot": "../evil.txt",
        "dotdot-deep": "a/../../evil.txt",
        "absolute": "/tmp/evil.txt",
        "backslash": "..\\evil.txt",
        "drive": "C:/evil.txt",
        "drive-backslash": "C:\\evil.txt",
        "unc": "\\\\server\\share\\evil.txt",
    }
    cases = []
    for id, name in names.items():
        for ext in ("zip", "r3d"):
            expect = ArchiveError if ext == "zip" else CaptureError
            cases.append(_case("zip", f"traversal-{id}-{ext}", f"upload.{ext}", expect,
                               lambda k, n=name: zip_bytes([(n, b"x"), ("frames.bin", k.take_bin)])))  # fmt: skip
    for ext, expect in (("zip", LimitError), ("r3d", LimitError)):
        cases.append(
            _case(
                "zip",
                f"too-many-members-{ext}",
                f"many.{ext}",
                expect,
                lambda k: zip_bytes([(f"f{i}", b"") for i in range(20_001)], zipfile.ZIP_STORED),
            )
        )
        cases.append(_case("zip", f"bomb-1GB-{ext}", f"bomb.{ext}", expect,
                           lambda k: zip_streamed_zeros("metadata", 1 << 30,
                                                        [("rgbd/0.depth", b"x"), ("rgbd/0.jpg", k.images["jpg"])]),
                           bomb=True))  # fmt: skip
    cases += [
        _case("zip", "bomb-frames-bin", "take.zip", LimitError,
              lambda k: zip_streamed_zeros("frames.bin", 300 << 20), bomb=True),
        _case("zip", "duplicate-names", "dup.zip", ArchiveError,
              lambda k: zip_bytes([("frames.bin", k.take_bin), ("frames.bin", k.take_bin)])),
        _case("zip", "duplicate-names-r3d", "dup.r3d", CaptureError,
              lambda k: zip_bytes([("metadata", b"{}"), ("metadata", b"{}")])),
        _case("zip", "encrypted-all", "locked.zip", ArchiveError, lambda k: encrypt_flag(k.take_zip)),
        _case("zip", "not-a-zip", "fake.zip", ArchiveError, lambda k: b"PK\x03\x04" + b"\0" * 100),
        _case("zip", "empty-file-zip", "empty.zip", ArchiveError, lambda k: b""),
        _case("zip", "empty-archive", "empty.zip", CaptureError, lambda k: zip_bytes([])),
        _case("zip", "truncated-central-dir", "cut.zip", ArchiveError, lambda k: k.take_zip[:-10]),
        _case("zip", "lying-cd-offset", "lie.zip", ArchiveError, lambda k: _lie_cd_offset(k.take_zip)),
        _case("zip", "lying-entries-count", "lie.zip", None, lambda k: _lie_entry_count(k.take_zip)),
        _case("zip", "unsupported-method", "odd.zip", ArchiveError, lambda k: _set_method(k.take_zip, 99)),
        _case("zip", "lzma-method-ok", "xz.zip", None,
              lambda k: zip_bytes([("frames.bin", k.take_bin)], zipfile.ZIP_LZMA)),
        _case("zip", "bad-utf8-name", "names.zip", ArchiveError, lambda k: _bad_utf8_name(k.take_zip)),
        _case("zip", "zip-in-zip", "nested.zip", CaptureError, lambda k: zip_bytes([("inner.zip", k.take_zip)])),
        _case("zip", "symlink-member-take", "link.zip", TakeError,
              lambda k: _symlink_member(k.take_zip, "frames.bin", "/etc/passwd")),
        _case("zip", "comment-garbage", "c.zip", None, lambda k: _with_comment(k.take_zip)),
        _case("zip", "prepended-junk", "sfx.zip", ArchiveError, lambda k: b"MZ" + b"\0" * 1000 + k.take_zip),
        _case("zip", "jpeg-zip-polyglot", "photo.zip", ArchiveError, lambda k: k.images["jpg"] + k.take_zip),
    ]  # fmt: skip
    return cases


def _end_record(data: bytes) -> int:
    return data.rfind(b"PK\x05\x06")


def _lie_cd_offset(data: bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, _end_record(data) + 16, 0xFFFFFF00)
    return bytes(out)


def _lie_entry_count(data: bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into("<HH", out, _end_record(data) + 8, 60000, 60000)
    return bytes(out)


def _set_method(data: bytes, method: int) -> bytes:
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos, cd = z.infolist(), z.start_dir
    for info in infos:
        struct.pack_into("<H", out, info.header_offset + 8, method)
    pos = cd
    while out[pos : pos + 4] == b"PK\x01\x02":
        struct.pack_into("<H", out, pos + 10, method)
        n, e, c = struct.unpack_from("<HHH", out, pos + 28)
        pos += 46 + n + e + c
    return bytes(out)


def _bad_utf8_name(data: bytes) -> bytes:
    """The first member's name bytes made invalid UTF-8 with the UTF-8 flag set."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info, cd = z.infolist()[0], z.start_dir
    for at in (info.header_offset + 26, cd + 28):
        name_at = info.header_offset + 30 if at == info.header_offset + 26 else cd + 46
        out[name_at] = 0xFF
        flag_at = info.header_offset + 6 if at == info.header_offset + 26 else cd + 8
        struct.pack_into("<H", out, flag_at, struct.unpack_from("<H", out, flag_at)[0] | 0x800)
    return bytes(out)


def _with_comment(data: bytes) -> bytes:
    comment = b"#EXTM3U\n/etc/passwd\n" * 10
    out = bytearray(data)
    struct.pack_into("<H", out, _end_record(data) + 20, len(comment))
    return bytes(out) + comment


# ---------------------------------------------------------------------------------------------------------


def build_corpus() -> list[Case]:
    """Every hostile case, in kind order; ids are unique."""
    cases = _image_cases() + _video_cases() + _take_cases() + _capture_cases() + _zip_cases()
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise AssertionError(f"duplicate case ids: {sorted(duplicates)}")
    return cases
