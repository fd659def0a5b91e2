"""Stray Scanner captures: the app's dataset folder, zipped (or as a folder).

Layout (the app's data specification): ``rgb.mp4`` (HEVC, typically 1920x1440), ``depth/000000.png`` (uint16
millimetres, 256x192; older exports ``depth/000000.npy``), ``confidence/000000.png`` (uint8 0..2),
``camera_matrix.csv`` (3x3 K for the video's resolution), ``odometry.csv`` (a header, then ``timestamp,
frame, x, y, z, qx, qy, qz, qw``; older exports have 7 columns ``x, y, z, qx, qy, qz, qw`` and no time),
``imu.csv``. The folder may sit one level down in the ZIP.

Timestamps are odometry's (minus the first) matched by frame number, else ``index / fps`` of the video.
Depth ``.npy`` of integers are millimetres (as the app wrote them), of floats metres.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import numpy as np

from posekit.coords import Intrinsics
from posekit.io.captures import _io
from posekit.io.captures.base import CaptureError, CaptureInfo

STRAY = "Stray Scanner capture"


def _camera_matrix(data: bytes) -> Intrinsics:
    try:
        rows = [[float(v) for v in line.split(",")] for line in data.decode().strip().splitlines()]
        k = np.array(rows, dtype=np.float64)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CaptureError(f"{STRAY}: camera_matrix.csv is not a 3x3 matrix of numbers ({exc})") from exc
    if k.shape != (3, 3):
        raise CaptureError(f"{STRAY}: expected a 3x3 matrix in camera_matrix.csv, got shape {k.shape}")
    return _io.positive_intrinsics([k[0, 0], k[1, 1], k[0, 2], k[1, 2]], f"{STRAY}: camera_matrix.csv")


def _odometry_times(data: bytes, n: int) -> np.ndarray | None:
    """Seconds per frame from odometry.csv (None for the old 7-column files without time).

    Raises:
        CaptureError: unreadable, or a frame without a row.
    """
    try:
        rows = list(csv.reader(io.StringIO(data.decode())))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CaptureError(f"{STRAY}: odometry.csv is not a CSV file ({exc})") from exc
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "timestamp" not in header:
        return None
    t_col, f_col = header.index("timestamp"), header.index("frame") if "frame" in header else None
    times: dict[int, float] = {}
    try:
        for row_number, row in enumerate(rows[1:]):
            if not row:
                continue
            frame = int(row[f_col]) if f_col is not None else row_number
            times.setdefault(frame, float(row[t_col]))
    except (ValueError, IndexError) as exc:
        raise CaptureError(f"{STRAY}: odometry.csv has a malformed row ({exc})") from exc
    missing = [i for i in range(n) if i not in times]
    if missing:
        raise CaptureError(f"{STRAY}: odometry.csv has no row for frame {missing[0]} (of {n} depth frames)")
    return np.array([times[i] for i in range(n)])


class StrayCapture(_io.SourceCapture):
    """A Stray Scanner dataset (zipped or a folder), frames decoded lazily: the video streams through PyAV,
    depth and confidence are read one frame at a time.

    Args:
        path: the ZIP (any file name) or the dataset folder.
        limits: bounds checked before decoding.

    Raises:
        CaptureError: a missing or malformed member; the video, depth and confidence counts differ.
        LimitError: over a bound.
    """

    format = "stray"
    what = STRAY

    def _open(self) -> None:
        names = _io.data_names(self.source)
        root = _io.find_root(names, "camera_matrix.csv")
        if root is None:
            raise CaptureError(f"{STRAY}: expected a camera_matrix.csv, the archive has none")
        k = _camera_matrix(_io.read_member(self.source, root + "camera_matrix.csv", STRAY, 1 << 16))
        self.video = root + "rgb.mp4"
        if self.video not in names:
            raise CaptureError(f"{STRAY}: expected the colour video rgb.mp4 beside camera_matrix.csv")
        png = _io.numbered(names, root + "depth/", (".png",), STRAY)
        npy = _io.numbered(names, root + "depth/", (".npy",), STRAY)
        if png and npy:
            raise CaptureError(f"{STRAY}: depth/ mixes .png and .npy frames")
        self.depth_members = _io.contiguous(png or npy, STRAY, "depth maps (depth/<i>.png or .npy)")
        n = len(self.depth_members)
        conf = _io.numbered(names, root + "confidence/", (".png",), STRAY)
        self.conf_members = _io.contiguous(conf, STRAY, "confidence maps (confidence/<i>.png)", n) if conf else None
        with _io.open_member(self.source, self.video, STRAY) as stream:
            self.color_size, count, fps = _io.video_header(stream, f"{STRAY}: rgb.mp4")
        self.limits.check_pixels(*self.color_size, f"{STRAY}: rgb.mp4")
        if count and count != n:
            raise CaptureError(f"{STRAY}: rgb.mp4 has {count} frames but depth/ has {n} maps")
        odometry = root + "odometry.csv"
        times = None
        if odometry in names:
            times = _odometry_times(_io.read_member(self.source, odometry, STRAY, 256 * 1024**2), n)
        self.timestamps = _io.timestamps_or_fps(times, n, fps, STRAY)
        _io.check_length(n, self.timestamps, self.limits, STRAY)
        self.intrinsics = k
        first = self._read_depth(0)
        self.depth_size = (first.shape[1], first.shape[0])
        self.info = CaptureInfo(self.format, n, fps, self.color_size, self.depth_size, {"root": root})

    def _read_depth(self, index: int) -> np.ndarray:
        """Depth of one frame in metres, NaN where invalid, of whatever size the member holds."""
        name = self.depth_members[index]
        what = f"{STRAY}: {name}"
        data = _io.read_member(self.source, name, STRAY, _io.image_bytes_limit(self.limits))
        if not name.endswith(".npy"):
            return _io.depth_from_png(data, 0.001, self.limits, what)
        raw = _io.load_npy(data, what, self.limits)
        if raw.ndim != 2 or raw.dtype.kind not in "uif":
            raise CaptureError(f"{what}: expected a 2D numeric depth array, got {raw.dtype} {raw.shape}")
        self.limits.check_pixels(raw.shape[1], raw.shape[0], what)
        return _io.clean_depth(raw.astype(np.float32) / 1000 if raw.dtype.kind in "ui" else raw)

    def _depth(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        what = f"{STRAY}: {self.depth_members[index]}"
        depth = _io.check_depth(self._read_depth(index), self.depth_size, what)
        if self.conf_members is None:
            return depth, None
        return depth, _io.read_confidence_png(
            self.source, self.conf_members[index], self.limits, self.depth_size, STRAY
        )

    def _color_frames(self, indices: range) -> Iterator[np.ndarray]:
        return _io.video_frames_at(self.source, self.video, indices, STRAY, "rgb.mp4", self.info.num_frames)
