"""Writers of every supported RGB-D capture format from a synthetic :class:`~generators.scene.Scene`.

Each writes the layout the real app produces (see ``posekit/io/captures/*.py`` for the facts) into
one file under the given path: ``.r3d`` (LZFSE depth and confidence, JPEGs or an ``rgbd.mp4``), Record3D's
EXR + JPG export zipped (half-float ZIP-compressed EXR, channel R), a zipped Stray Scanner folder (HEVC
``rgb.mp4``, millimetre PNG or ``.npy`` depth, confidence PNGs, ``camera_matrix.csv``, ``odometry.csv``) and
the generic RGB-D ZIP of ``docs/rgbd-zip.md``. :func:`rewrite_zip` derives malformed variants.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from generators.scene import Scene

R3D_TIME_ORIGIN = 1234.5
"""Record3D and Stray Scanner timestamps count from the device's boot; the writers add this offset."""


def _jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def depth_mm(depth: np.ndarray) -> np.ndarray:
    """float metres (NaN invalid) -> uint16 millimetres (0 invalid), as Stray Scanner and the generic ZIP store."""
    return np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.uint16)


def encode_video(frames: np.ndarray, fps: float, codec: str = "libx265") -> bytes:
    """(T, H, W, 3) BGR frames -> an MP4 (HEVC like the iPhone apps, H.264 if this FFmpeg lacks x265)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        try:
            stream = container.add_stream(codec, rate=round(fps))
        except (av.FFmpegError, ValueError):
            stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = (
            {"crf": "12"} if stream.codec_context.name != "libx265" else {"x265-params": "log-level=error:crf=12"}
        )
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def encode_exr(depth: np.ndarray, dtype: type = np.float16, compress: bool = True, channel: str = "R") -> bytes:
    """A single-channel scanline OpenEXR (ZIP compression, 16 lines per chunk, or none) as Record3D writes."""
    h, w = depth.shape
    pixel_type = {np.float16: 1, np.float32: 2}[dtype]
    lines = 16 if compress else 1

    def attr(name: str, kind: str, value: bytes) -> bytes:
        return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value

    chlist = channel.encode() + b"\0" + struct.pack("<iBxxxii", pixel_type, 0, 1, 1) + b"\0"
    header = b"".join([
        b"\x76\x2f\x31\x01", struct.pack("<I", 2),
        attr("channels", "chlist", chlist),
        attr("compression", "compression", bytes([3 if compress else 0])),
        attr("dataWindow", "box2i", struct.pack("<iiii", 0, 0, w - 1, h - 1)),
        attr("displayWindow", "box2i", struct.pack("<iiii", 0, 0, w - 1, h - 1)),
        attr("lineOrder", "lineOrder", b"\0"),
        attr("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        attr("screenWindowCenter", "v2f", struct.pack("<ff", 0, 0)),
        attr("screenWindowWidth", "float", struct.pack("<f", 1.0)),
        b"\0",
    ])  # fmt: skip
    values = depth.astype(dtype).astype(np.dtype(dtype).newbyteorder("<"))
    chunks = []
    for y in range(0, h, lines):
        raw = values[y : y + lines].tobytes()
        if compress:
            b = np.frombuffer(raw, np.uint8)
            t = np.concatenate([b[0::2], b[1::2]])
            pred = t.copy()
            pred[1:] = t[1:] - t[:-1] + 128  # uint8 arithmetic wraps, as the format's predictor does
            packed = zlib.compress(pred.tobytes())
            raw = packed if len(packed) < len(raw) else raw
        chunks.append(struct.pack("<ii", y, len(raw)) + raw)
    start = len(header) + 8 * len(chunks)
    offsets = np.cumsum([start] + [len(c) for c in chunks[:-1]]).astype("<u8")
    return header + offsets.tobytes() + b"".join(chunks)


def _record3d_metadata(scene: Scene, per_frame_intrinsics: bool, timestamps: bool) -> dict:
    fx, fy, cx, cy = scene.intrinsics
    meta = {
        "w": scene.color_size[0], "h": scene.color_size[1], "dw": scene.depth_size[0], "dh": scene.depth_size[1],
        "fps": scene.fps, "K": [fx, 0.0, 0.0, 0.0, fy, 0.0, cx, cy, 1.0], "cameraType": 1,
        "poses": [[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]] * scene.num_frames,
    }  # fmt: skip
    if timestamps:
        meta["frameTimestamps"] = (scene.timestamps + R3D_TIME_ORIGIN).tolist()
    if per_frame_intrinsics:
        meta["perFrameIntrinsicCoeffs"] = [[fx, fy, cx + i, cy - i] for i in range(scene.num_frames)]
    return meta


def write_r3d(
    scene: Scene,
    path: Path,
    video: bool = False,
    confidence: bool = True,
    timestamps: bool = True,
    per_frame_intrinsics: bool = False,
    invalid_as_zero: bool = False,
) -> Path:
    """A Record3D ``.r3d``: ``metadata``, ``rgbd/<i>.jpg`` (or one ``rgbd.mp4``), LZFSE ``.depth`` / ``.conf``.

    ``per_frame_intrinsics`` writes ``perFrameIntrinsicCoeffs`` with cx + i, cy - i for frame i;
    ``invalid_as_zero`` stores invalid depth as 0 instead of NaN (both occur in real files).
    """
    import lzfse

    meta = _record3d_metadata(scene, per_frame_intrinsics, timestamps)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("metadata", json.dumps(meta))
        z.writestr("icon", _jpeg(scene.color[0][::4, ::4]))
        if video:
            z.writestr("rgbd.mp4", encode_video(scene.color, scene.fps))
        for i in range(scene.num_frames):
            if not video:
                z.writestr(f"rgbd/{i}.jpg", _jpeg(scene.color[i]))
            depth = np.nan_to_num(scene.depth[i], nan=0.0) if invalid_as_zero else scene.depth[i]
            z.writestr(f"rgbd/{i}.depth", lzfse.compress(depth.astype("<f4").tobytes()))
            if confidence:
                z.writestr(f"rgbd/{i}.conf", lzfse.compress(scene.confidence[i].tobytes()))
    return path


def write_r3d_exr(scene: Scene, path: Path, root: str = "", dtype: type = np.float16) -> Path:
    """Record3D's EXR + JPG export, zipped: ``metadata.json``, ``rgb/<i>.jpg``, ``depth/<i>.exr``."""
    meta = _record3d_metadata(scene, per_frame_intrinsics=False, timestamps=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(root + "metadata.json", json.dumps(meta))
        for i in range(scene.num_frames):
            z.writestr(f"{root}rgb/{i}.jpg", _jpeg(scene.color[i]))
            z.writestr(f"{root}depth/{i}.exr", encode_exr(scene.depth[i], dtype))
    return path


def write_stray(
    scene: Scene, path: Path, root: str = "8c2f1e0a/", npy: bool = False, old_odometry: bool = False
) -> Path:
    """A Stray Scanner dataset folder zipped as users do (the folder itself inside the ZIP by default)."""
    fx, fy, cx, cy = scene.intrinsics
    k = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(root + "rgb.mp4", encode_video(scene.color, scene.fps))
        z.writestr(root + "camera_matrix.csv", "\n".join(",".join(repr(float(v)) for v in row) for row in k) + "\n")
        if old_odometry:
            rows = ["x, y, z, qx, qy, qz, qw"] + ["0, 0, 0, 0, 0, 0, 1"] * scene.num_frames
        else:
            rows = ["timestamp, frame, x, y, z, qx, qy, qz, qw"] + [
                f"{float(t) + R3D_TIME_ORIGIN!r}, {i:06d}, 0, 0, 0, 0, 0, 0, 1" for i, t in enumerate(scene.timestamps)
            ]
        z.writestr(root + "odometry.csv", "\n".join(rows) + "\n")
        z.writestr(root + "imu.csv", "timestamp, a_x, a_y, a_z, alpha_x, alpha_y, alpha_z\n")
        for i in range(scene.num_frames):
            if npy:
                buffer = io.BytesIO()
                np.save(buffer, depth_mm(scene.depth[i]))
                z.writestr(f"{root}depth/{i:06d}.npy", buffer.getvalue())
            else:
                z.writestr(f"{root}depth/{i:06d}.png", _png(depth_mm(scene.depth[i])))
            z.writestr(f"{root}confidence/{i:06d}.png", _png(scene.confidence[i]))
    return path


def write_generic(
    scene: Scene, path: Path, depth: str = "png", root: str = "", timestamps: bool = True, confidence: bool = True
) -> Path:
    """The generic RGB-D ZIP (``docs/rgbd-zip.md``): depth ``"png"`` (millimetres) or ``"npy"`` (metres)."""
    fx, fy, cx, cy = scene.intrinsics
    spec = {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": scene.color_size[0], "height": scene.color_size[1]}
    spec["fps"] = scene.fps
    if timestamps:
        spec["timestamps"] = scene.timestamps.tolist()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(root + "intrinsics.json", json.dumps(spec))
        for i in range(scene.num_frames):
            z.writestr(f"{root}color/{i:06d}.jpg", _jpeg(scene.color[i]))
            if depth == "npy":
                buffer = io.BytesIO()
                np.save(buffer, scene.depth[i])
                z.writestr(f"{root}depth/{i:06d}.npy", buffer.getvalue())
            else:
                z.writestr(f"{root}depth/{i:06d}.png", _png(depth_mm(scene.depth[i])))
            if confidence:
                z.writestr(f"{root}confidence/{i:06d}.png", _png(scene.confidence[i]))
    return path


def rewrite_zip(
    src: Path,
    dst: Path,
    drop: Callable[[str], bool] = lambda name: False,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
) -> Path:
    """Copy a ZIP, dropping members, replacing some contents and adding members (malformed variants)."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if not drop(info.filename):
                zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
        for name, data in add.items():
            zout.writestr(zipfile.ZipInfo(name), data)
    return dst
