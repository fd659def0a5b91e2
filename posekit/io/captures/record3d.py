"""Record3D captures: the ``.r3d`` archive and the "EXR + JPG" export (zipped, or as a folder).

``.r3d`` (a ZIP): ``metadata`` (JSON) with ``w``, ``h`` (colour size), ``dw``, ``dh`` (depth size), ``fps``,
``K`` (9 floats, column-major, for the colour size ``w`` x ``h``), ``poses``, and in some versions
``frameTimestamps``, ``perFrameIntrinsicCoeffs`` (``[fx, fy, cx, cy]`` per frame) and ``cameraType``; per
frame ``rgbd/<i>.jpg``, ``rgbd/<i>.depth`` (LZFSE float32 metres, row-major ``dh`` x ``dw``) and, with LiDAR,
``rgbd/<i>.conf`` (LZFSE uint8 0..2). Some versions hold one ``rgbd.mp4`` instead of the JPEGs.

EXR + JPG export: ``metadata.json`` (same keys), ``rgb/<i>.jpg``, ``depth/<i>.exr`` (metres in channel R,
half or float, ZIP compressed), no confidence.

Intrinsics are rescaled from ``w`` x ``h`` to the colour frames actually stored (older versions saved JPEGs
at the depth resolution). Timestamps are ``frameTimestamps`` minus the first, else ``index / fps``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from posekit.coords import Intrinsics, scale_intrinsics
from posekit.io.captures import _io
from posekit.io.captures.base import CaptureError, CaptureInfo
from posekit.io.captures.exr import exr_size, read_exr_channel
from posekit.io.captures.lzfse import declared_size, decompress_exact
from posekit.limits import check_fps

R3D = "Record3D .r3d"
R3D_EXR = "Record3D EXR + JPG export"


def _number(meta: dict[str, Any], key: str, what: str, required: bool = True) -> float | None:
    value = meta.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) or value <= 0:
        raise CaptureError(f"{what}: expected a positive number for metadata key {key!r}, got {str(value)[:40]}")
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _size(meta: dict[str, Any], wkey: str, hkey: str, what: str) -> tuple[int, int] | None:
    if meta.get(wkey) is None and meta.get(hkey) is None:
        return None
    w, h = _number(meta, wkey, what), _number(meta, hkey, what)
    if w != int(w) or h != int(h):
        raise CaptureError(f"{what}: expected whole pixel counts for {wkey!r} and {hkey!r}, got {w}, {h}")
    return int(w), int(h)


def _intrinsics_from_k(k: Any, what: str) -> Intrinsics:
    """Record3D's ``K`` is a column-major 3x3 (``reshape(3, 3).T``): fx, fy, cx, cy at 0, 4, 6, 7."""
    if not isinstance(k, list) or len(k) != 9:
        raise CaptureError(f"{what}: expected metadata 'K' to be a list of 9 numbers (a 3x3 matrix), got {str(k)[:80]}")
    return _io.positive_intrinsics([k[0], k[4], k[6], k[7]], what)


class _Record3DBase(_io.SourceCapture):
    """Shared parsing of Record3D metadata and colour frames; subclasses read depth."""

    format: str
    what: str

    def _parse_metadata(self, meta: dict[str, Any], n: int, video_fps: float | None) -> None:
        what = self.what
        self.meta_color_size = _size(meta, "w", "h", what)
        if self.meta_color_size is None:
            raise CaptureError(f"{what}: metadata lacks the colour size 'w' and 'h'")
        self.limits.check_pixels(*self.meta_color_size, f"{what}: metadata 'w' x 'h'")
        fps = meta.get("fps")
        self.fps = video_fps if fps is None else check_fps(fps, f"{what}: metadata 'fps'", CaptureError)
        self.base_intrinsics = _intrinsics_from_k(meta.get("K"), what)
        coeffs = meta.get("perFrameIntrinsicCoeffs")
        self.per_frame: list[Intrinsics] | None = None
        if coeffs is not None:
            if not isinstance(coeffs, list) or len(coeffs) != n:
                count = len(coeffs) if isinstance(coeffs, list) else type(coeffs).__name__
                raise CaptureError(f"{what}: perFrameIntrinsicCoeffs has {count} entries for {n} frames")
            self.per_frame = [
                _io.positive_intrinsics(c, f"{what}: perFrameIntrinsicCoeffs[{i}]") for i, c in enumerate(coeffs)
            ]
        self.timestamps = _io.timestamps_or_fps(meta.get("frameTimestamps"), n, self.fps, what)
        _io.check_length(n, self.timestamps, self.limits, what)

    def _intrinsics(self, index: int) -> Intrinsics:
        k = self.per_frame[index] if self.per_frame is not None else self.base_intrinsics
        return scale_intrinsics(k, self.meta_color_size, self.color_size)

    def _color_frames(self, indices: range) -> Iterator[np.ndarray]:
        """Colour frames of ``indices`` in order, one at a time (JPEG members, or the video streamed)."""
        if self.video is None:
            for i in indices:
                yield self._jpeg(i)
            return
        yield from _io.video_frames_at(self.source, self.video, indices, self.what, self.video, self.info.num_frames)

    def _jpeg(self, index: int) -> np.ndarray:
        name = self.color_members[index]
        what = f"{self.what}: {name}"
        data = _io.read_member(self.source, name, self.what, _io.image_bytes_limit(self.limits))
        image = _io.decode_image(data, self.limits, what)
        if image.shape[:2] != (self.color_size[1], self.color_size[0]):
            raise CaptureError(f"{what}: expected {self.color_size[0]}x{self.color_size[1]} like frame 0, "
                               f"got {image.shape[1]}x{image.shape[0]}")  # fmt: skip
        return image

    def _first_color_size(self) -> tuple[tuple[int, int], float | None]:
        """``(W, H)`` of the colour frames from the first JPEG's header or the video's, and the video's fps."""
        rate = None
        if self.video is not None:
            with _io.open_member(self.source, self.video, self.what) as stream:
                size, count, rate = _io.video_header(stream, f"{self.what}: {self.video}")
            if count and count != len(self.depth_members):
                raise CaptureError(
                    f"{self.what}: {self.video} has {count} frames but there are {len(self.depth_members)} depth maps"
                )
        else:
            name = self.color_members[0]
            data = _io.read_member(self.source, name, self.what, _io.image_bytes_limit(self.limits))
            size = _io.image_size(data, f"{self.what}: {name}")
        self.limits.check_pixels(*size, f"{self.what}: colour frames")
        return size, rate


class Record3DCapture(_Record3DBase):
    """A Record3D ``.r3d`` file (or the folder it unzips to), frames decoded lazily.

    Args:
        path: the ``.r3d`` (any file name: it is recognised as a ZIP) or its unzipped folder.
        limits: bounds checked before decoding: file size, members, inflated bytes, frames, duration, pixels.

    Raises:
        CaptureError: a missing or malformed member, or colour, depth and confidence counts that differ.
        LimitError: over a bound.
        ImportError: no LZFSE binding (``pip install lzfse``) when frames are read.
    """

    format = "record3d"
    what = R3D

    def _open(self) -> None:
        names = _io.data_names(self.source)
        root = _io.find_root(names, "metadata")
        if root is None:
            raise CaptureError(f"{R3D}: expected a 'metadata' member, the archive has none")
        meta = _io.read_json(self.source, root + "metadata", R3D)
        folder = root + "rgbd/"
        depth = _io.numbered(names, folder, (".depth",), R3D)
        self.depth_members = _io.contiguous(depth, R3D, "depth maps (rgbd/<i>.depth)")
        n = len(self.depth_members)
        jpegs = _io.numbered(names, folder, (".jpg", ".jpeg"), R3D)
        self.video = root + "rgbd.mp4" if not jpegs and root + "rgbd.mp4" in names else None
        if not jpegs and self.video is None:
            raise CaptureError(f"{R3D}: expected colour frames rgbd/<i>.jpg or rgbd.mp4, found neither")
        self.color_members = [] if self.video else _io.contiguous(jpegs, R3D, "colour frames (rgbd/<i>.jpg)", n)
        conf = _io.numbered(names, folder, (".conf",), R3D)
        self.conf_members = _io.contiguous(conf, R3D, "confidence maps (rgbd/<i>.conf)", n) if conf else None
        self.color_size, video_fps = self._first_color_size()
        self._parse_metadata(meta, n, video_fps)
        self.depth_size = _size(meta, "dw", "dh", R3D) or self._infer_depth_size()
        self.limits.check_pixels(*self.depth_size, f"{R3D}: depth maps")
        self.info = CaptureInfo(self.format, n, self.fps, self.color_size, self.depth_size, meta)

    def _infer_depth_size(self) -> tuple[int, int]:
        """Versions without ``dw``/``dh``: the size the first depth frame declares, in the colour aspect."""
        first = _io.read_member(self.source, self.depth_members[0], R3D, self._depth_bytes_limit(None))
        pixels = declared_size(first, f"{R3D}: {self.depth_members[0]}") // 4
        w, h = self.meta_color_size
        dh = round(math.sqrt(pixels * h / w))
        if dh <= 0 or pixels % dh or (pixels // dh) * h != dh * w:
            raise CaptureError(f"{R3D}: metadata lacks 'dw'/'dh' and {pixels} depth pixels do not fit a {w}x{h} aspect")
        return pixels // dh, dh

    def _depth_bytes_limit(self, size: int | None) -> int:
        # LZFSE never grows data by more than a few block headers; without a known size, the pixel bound.
        pixels = self.limits.max_image_pixels if size is None else size
        return pixels * 4 + 4096

    def _depth(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        w, h = self.depth_size
        name = self.depth_members[index]
        what = f"{R3D}: {name}"
        data = _io.read_member(self.source, name, R3D, self._depth_bytes_limit(w * h))
        raw = np.frombuffer(decompress_exact(data, w * h * 4, what), "<f4").reshape(h, w)
        depth = _io.check_depth(_io.clean_depth(raw), (w, h), what)
        if self.conf_members is None:
            return depth, None
        name = self.conf_members[index]
        data = _io.read_member(self.source, name, R3D, w * h + 4096)
        conf = np.frombuffer(decompress_exact(data, w * h, f"{R3D}: {name}"), np.uint8).reshape(h, w)
        return depth, _io.check_confidence(conf, (w, h), f"{R3D}: {name}")


class Record3DExrCapture(_Record3DBase):
    """Record3D's "EXR + JPG" export, zipped (or as a folder), frames decoded lazily.

    Args:
        path: the ZIP (any file name) or the export folder.
        limits: bounds checked before decoding.

    Raises:
        CaptureError: a missing or malformed member, colour and depth counts that differ, an EXR variant
            other than scanline NONE/ZIPS/ZIP.
        LimitError: over a bound.
    """

    format = "record3d-exr"
    what = R3D_EXR

    def _open(self) -> None:
        names = _io.data_names(self.source)
        root = _io.find_root(names, "metadata.json")
        if root is None:
            raise CaptureError(f"{R3D_EXR}: expected a 'metadata.json' member, the archive has none")
        meta = _io.read_json(self.source, root + "metadata.json", R3D_EXR)
        exrs = _io.numbered(names, root + "depth/", (".exr",), R3D_EXR)
        self.depth_members = _io.contiguous(exrs, R3D_EXR, "depth maps (depth/<i>.exr)")
        n = len(self.depth_members)
        jpegs = _io.numbered(names, root + "rgb/", (".jpg", ".jpeg", ".png"), R3D_EXR)
        self.color_members = _io.contiguous(jpegs, R3D_EXR, "colour frames (rgb/<i>.jpg)", n)
        self.video = None
        self.color_size, _ = self._first_color_size()
        self._parse_metadata(meta, n, None)
        first = _io.read_member(self.source, self.depth_members[0], R3D_EXR, _io.image_bytes_limit(self.limits))
        self.depth_size = exr_size(first, f"{R3D_EXR}: {self.depth_members[0]}")
        self.limits.check_pixels(*self.depth_size, f"{R3D_EXR}: depth maps")
        declared = _size(meta, "dw", "dh", R3D_EXR)
        if declared is not None and declared != self.depth_size:
            raise CaptureError(f"{R3D_EXR}: metadata says depth is {declared[0]}x{declared[1]}, "
                               f"the EXR files are {self.depth_size[0]}x{self.depth_size[1]}")  # fmt: skip
        self.limits.check_pixels(*self.depth_size, f"{R3D_EXR}: depth maps")
        self.info = CaptureInfo(self.format, n, self.fps, self.color_size, self.depth_size, meta)

    def _depth(self, index: int) -> tuple[np.ndarray, None]:
        name = self.depth_members[index]
        what = f"{R3D_EXR}: {name}"
        data = _io.read_member(self.source, name, R3D_EXR, _io.image_bytes_limit(self.limits))
        depth = _io.clean_depth(read_exr_channel(data, self.limits, what))
        return _io.check_depth(depth, self.depth_size, what), None
