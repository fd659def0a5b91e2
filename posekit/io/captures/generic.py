"""The generic RGB-D ZIP: posekit's own documented layout for any depth camera (``docs/rgbd-zip.md``).

::

    intrinsics.json          {"fx", "fy", "cx", "cy", "width", "height"} (+ optional "fps", "timestamps",
                             "depth_scale")
    color/000000.jpg         colour frames (.jpg, .jpeg or .png), numbered 0..N-1, any zero padding
    depth/000000.png         uint16 depth units (depth_scale metres each, default 0.001 = millimetres)
      or depth/000000.npy    float32 / float64 metres
    confidence/000000.png    optional uint8 levels 0 (low), 1, 2 (high)

Intrinsics are in pixels of the colour frames, which must be ``width`` x ``height``. Invalid depth is 0 (or
NaN in ``.npy``). The files may sit one folder down in the ZIP.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from posekit.io.captures import _io
from posekit.io.captures.base import CaptureError, CaptureInfo
from posekit.limits import check_fps

GENERIC = "generic RGB-D ZIP"
DEFAULT_FPS = 30.0
"""Frame rate assumed when ``intrinsics.json`` gives neither ``fps`` nor ``timestamps``."""


def _positive(spec: dict, key: str, default: float | None = None) -> float:
    value = spec.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not ok or not math.isfinite(float(value)) or float(value) > 1e9:
        raise CaptureError(
            f"{GENERIC}: expected a positive number for {key!r} in intrinsics.json, got {str(value)[:40]}"
        )
    return float(value)


class GenericCapture(_io.SourceCapture):
    """A generic RGB-D ZIP (or its folder), frames decoded lazily.

    Args:
        path: the ZIP (any file name) or the folder.
        limits: bounds checked before decoding.

    Raises:
        CaptureError: a missing or malformed member, counts of colour, depth and confidence that differ,
            colour frames of another size than intrinsics.json says.
        LimitError: over a bound.
    """

    format = "generic"
    what = GENERIC

    def _open(self) -> None:
        names = _io.data_names(self.source)
        root = _io.find_root(names, "intrinsics.json")
        if root is None:
            raise CaptureError(f"{GENERIC}: expected an intrinsics.json, the archive has none")
        spec = _io.read_json(self.source, root + "intrinsics.json", GENERIC)
        self.intrinsics = _io.positive_intrinsics(
            [spec.get(k) for k in ("fx", "fy", "cx", "cy")], f"{GENERIC}: intrinsics.json"
        )
        width, height = _positive(spec, "width"), _positive(spec, "height")
        if width != int(width) or height != int(height):
            raise CaptureError(f"{GENERIC}: expected whole numbers for width and height, got {width}, {height}")
        self.color_size = (int(width), int(height))
        self.limits.check_pixels(*self.color_size, f"{GENERIC}: colour frames")
        self.depth_scale = _positive(spec, "depth_scale", 0.001)
        colors = _io.numbered(names, root + "color/", (".jpg", ".jpeg", ".png"), GENERIC)
        self.color_members = _io.contiguous(colors, GENERIC, "colour frames (color/<i>.jpg)")
        n = len(self.color_members)
        png = _io.numbered(names, root + "depth/", (".png",), GENERIC)
        npy = _io.numbered(names, root + "depth/", (".npy",), GENERIC)
        if png and npy:
            raise CaptureError(f"{GENERIC}: depth/ mixes .png and .npy frames")
        self.depth_members = _io.contiguous(png or npy, GENERIC, "depth maps (depth/<i>.png or .npy)", n)
        conf = _io.numbered(names, root + "confidence/", (".png",), GENERIC)
        self.conf_members = _io.contiguous(conf, GENERIC, "confidence maps (confidence/<i>.png)", n) if conf else None
        fps = check_fps(spec["fps"], f"{GENERIC}: intrinsics.json 'fps'", CaptureError) if "fps" in spec else None
        self.timestamps = _io.timestamps_or_fps(spec.get("timestamps"), n, fps or DEFAULT_FPS, GENERIC)
        _io.check_length(n, self.timestamps, self.limits, GENERIC)
        first = self._read_depth(0)
        self.depth_size = (first.shape[1], first.shape[0])
        self.info = CaptureInfo(self.format, n, fps, self.color_size, self.depth_size, spec)

    def _read_depth(self, index: int) -> np.ndarray:
        name = self.depth_members[index]
        what = f"{GENERIC}: {name}"
        data = _io.read_member(self.source, name, GENERIC, _io.image_bytes_limit(self.limits))
        if not name.endswith(".npy"):
            return _io.depth_from_png(data, self.depth_scale, self.limits, what)
        raw = _io.load_npy(data, what, self.limits)
        if raw.ndim != 2 or raw.dtype.kind != "f":
            raise CaptureError(f"{what}: expected a 2D float array of metres, got {raw.dtype} with shape {raw.shape}")
        self.limits.check_pixels(raw.shape[1], raw.shape[0], what)
        return _io.clean_depth(raw)

    def _color_frames(self, indices: range) -> Iterator[np.ndarray]:
        for i in indices:
            name = self.color_members[i]
            data = _io.read_member(self.source, name, GENERIC, _io.image_bytes_limit(self.limits))
            color = _io.decode_image(data, self.limits, f"{GENERIC}: {name}")
            if (color.shape[1], color.shape[0]) != self.color_size:
                raise CaptureError(
                    f"{GENERIC}: {name} is {color.shape[1]}x{color.shape[0]}, intrinsics.json says "
                    f"{self.color_size[0]}x{self.color_size[1]}"
                )
            yield color

    def _depth(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        what = f"{GENERIC}: {self.depth_members[index]}"
        depth = _io.check_depth(self._read_depth(index), self.depth_size, what)
        if self.conf_members is None:
            return depth, None
        return depth, _io.read_confidence_png(
            self.source, self.conf_members[index], self.limits, self.depth_size, GENERIC
        )
