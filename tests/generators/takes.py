"""Synthetic PoseKit iPhone takes in every form the app exports, written independently of posekit's writer.

:func:`make_take` builds a known motion (a person 2.2 m in front of the phone, turning slowly and swinging
the arms) as the app would record it: normalised 2D, camera3D (metres, x right, y down, z forward),
playback3D from the app's canonicaliser, scores and depth confidences, with the app's conventions for
missing values (3D NaN under the minimum score; a joint the model did not find at (0.5, 0.5) with score 0).

Writers (plain ``struct``/``json``/``zipfile``, so they test posekit's reader rather than mirror it):
:func:`write_bin` (``frames.bin``, optionally with a trailing partial frame), :func:`write_json` (NaN as
``NaN`` tokens, ``null`` or ``"nan"`` strings), :func:`write_zip` (stored entries), :func:`write_folder`.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit.processing.canonical import canonicalize
from posekit.skeletons import POSEKIT_NAMES

IMAGE_SIZE = (1920, 1440)
INTRINSICS = (1450.0, 1450.0, 960.0, 720.0)
MIN_SCORE = 0.3

# Standing rest pose, person frame: metres, x to the person's left, y up from the pelvis, z backwards.
_REST = np.array([
    [0.0, 0.62, -0.09], [0.035, 0.66, -0.08], [-0.035, 0.66, -0.08], [0.09, 0.64, 0.0], [-0.09, 0.64, 0.0],
    [0.19, 0.45, 0.0], [-0.19, 0.45, 0.0], [0.25, 0.18, 0.02], [-0.25, 0.18, 0.02], [0.28, -0.07, -0.02],
    [-0.28, -0.07, -0.02], [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.11, -0.43, -0.02], [-0.11, -0.43, -0.02],
    [0.12, -0.86, 0.02], [-0.12, -0.86, 0.02], [0.0, 0.0, 0.0], [0.0, 0.45, 0.0],
])  # fmt: skip


@dataclass
class SyntheticTake:
    """A take's content: T frames of the 19 COCO17+2 joints, float32 as stored by the app."""

    timestamps: np.ndarray  # (T,) float64 seconds, device clock
    camera3d: np.ndarray  # (T, 19, 3) float32
    playback3d: np.ndarray  # (T, 19, 3) float32
    uv: np.ndarray  # (T, 19, 2) float32
    scores: np.ndarray  # (T, 19) float32
    depth_confidence: np.ndarray  # (T, 19) float32
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)

    def joint_values(self) -> np.ndarray:
        """(T, 19, 10) float32 in the order of frames.bin."""
        return np.concatenate(
            [self.camera3d, self.playback3d, self.uv, self.scores[..., None], self.depth_confidence[..., None]], -1
        ).astype(np.float32)


def make_take(num_frames: int = 45, fps: float = 30.0, seed: int = 0, start: float = 35120.25) -> SyntheticTake:
    """A recorded motion with the app's missing-value conventions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    t = start + np.arange(num_frames) / fps + rng.uniform(0, 0.002, num_frames)  # jittered device clock
    phase = 2 * np.pi * np.arange(num_frames) / max(num_frames, 1)
    local = np.broadcast_to(_REST, (num_frames, 19, 3)).copy()
    swing = 0.25 * np.sin(phase)
    local[:, [7, 9], 2] += swing[:, None] * np.array([0.5, 1.0])
    local[:, [8, 10], 2] -= swing[:, None] * np.array([0.5, 1.0])
    angle = 0.4 * np.sin(phase / 2)
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, y, z = local[..., 0], local[..., 1], local[..., 2]
    # Person frame -> camera frame: face the camera (person's left on the image's right), y down, 2.2 m away.
    cam = np.stack([c * x + s * z, -y + 0.1, -s * x + c * z + 2.2], -1)
    fx, fy, cx, cy = INTRINSICS
    uv = np.stack([(fx * cam[..., 0] / cam[..., 2] + cx) / IMAGE_SIZE[0],
                   (fy * cam[..., 1] / cam[..., 2] + cy) / IMAGE_SIZE[1]], -1)  # fmt: skip
    scores = rng.uniform(0.55, 0.98, (num_frames, 19))
    scores[:, 3] = 0.12  # the left ear is never trusted
    scores[:, 17] = np.minimum(scores[:, 11], scores[:, 12])
    scores[:, 18] = np.minimum(scores[:, 5], scores[:, 6])
    camera3d = cam + rng.normal(0, 0.004, cam.shape)  # LiDAR noise
    camera3d[scores < MIN_SCORE] = np.nan
    if num_frames > 5:
        uv[5, 16], scores[5, 16] = 0.5, 0.0  # a joint the model did not find
        camera3d[5, 16] = np.nan
    depth_confidence = np.where(np.isnan(camera3d[..., 0]), 0.0, np.where(rng.uniform(size=scores.shape) < 0.8,
                                                                          1.0, 0.5))  # fmt: skip
    playback = canonicalize(camera3d, scores, MIN_SCORE)
    meta = {
        "createdAt": 757382400.5,
        "deviceModel": "iPhone15,2",
        "duration": float(t[-1] - t[0]),
        "fps": int(fps),
        "frameCount": num_frames,
        "iosVersion": "17.4",
        "jointSchema": "COCO17+2",
        "minKeypointScore": MIN_SCORE,
        "modelIdentifier": "PoseKitModel",
        "modelVersion": "1.0",
        "units": "meters",
        "uuid": "5F0E8D52-8B1C-4C57-9A43-0C3E6B1D2A77",
    }
    f32 = np.float32
    return SyntheticTake(t, camera3d.astype(f32), playback.astype(f32), uv.astype(f32), scores.astype(f32),
                         depth_confidence.astype(f32), meta)  # fmt: skip


def frames_bin(take: SyntheticTake, trailing: int = 0) -> bytes:
    """``frames.bin`` bytes: per frame ``<d`` then 190 ``<f``; ``trailing`` extra bytes of a cut-off frame."""
    values = take.joint_values().reshape(take.num_frames, -1)
    data = b"".join(struct.pack("<d190f", ts, *row) for ts, row in zip(take.timestamps.tolist(), values.tolist()))
    return data + b"\x7f" * trailing


def meta_json(meta: dict[str, Any]) -> bytes:
    """``meta.json`` laid out like Swift's pretty, sorted ``JSONEncoder`` output."""
    return json.dumps(meta, indent=2, sort_keys=True, separators=(",", " : ")).encode()


NanStyle = Literal["token", "null", "string"]


def _value(v: float, nan_style: NanStyle) -> Any:
    if np.isfinite(v) or nan_style == "token":
        return float(v)
    return None if nan_style == "null" else "nan"


def take_json(take: SyntheticTake, nan_style: NanStyle = "token") -> bytes:
    """The app's JSON export ``{"frames": [...], "meta": {...}}`` with missing values as ``nan_style``."""
    values = take.joint_values()
    frames = []
    for ts, joints in zip(take.timestamps.tolist(), values):
        rows = []
        for name, v in zip(POSEKIT_NAMES, joints.tolist()):
            w = [_value(x, nan_style) for x in v]
            rows.append({"joint": name, "camera3D": w[0:3], "playback3D": w[3:6], "keypoint2D": w[6:8],
                         "score2D": w[8], "depthConfidence": w[9]})  # fmt: skip
        frames.append({"timestamp": ts, "joints": rows})
    text = json.dumps({"frames": frames, "meta": take.meta}, indent=2, sort_keys=True, separators=(",", " : "))
    return text.encode()


def write_bin(path: Path, take: SyntheticTake, trailing: int = 0) -> Path:
    path.write_bytes(frames_bin(take, trailing))
    return path


def write_json(path: Path, take: SyntheticTake, nan_style: NanStyle = "token") -> Path:
    path.write_bytes(take_json(take, nan_style))
    return path


def write_zip(path: Path, take: SyntheticTake, members: tuple[str, ...] = ("meta.json", "frames.bin", "frames.json"),
              prefix: str = "") -> Path:  # fmt: skip
    """The app's export ZIP (stored entries); ``members`` and ``prefix`` (a folder) make variants."""
    content = {"meta.json": meta_json(take.meta), "frames.bin": frames_bin(take), "frames.json": take_json(take)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name in members:
            z.writestr(prefix + name, content[name])
    return path


def write_folder(path: Path, take: SyntheticTake) -> Path:
    """The take folder on the phone: ``meta.json`` + ``frames.bin``."""
    path.mkdir()
    (path / "meta.json").write_bytes(meta_json(take.meta))
    (path / "frames.bin").write_bytes(frames_bin(take))
    return path


def write_all(folder: Path, take: SyntheticTake) -> dict[str, Path]:
    """Every form in ``folder``, named as the app names its exports."""
    stem = "PoseTake_2025-01-01T120000Z"
    return {
        "bin": write_bin(folder / f"{stem}.bin", take),
        "json": write_json(folder / f"{stem}.json", take),
        "zip": write_zip(folder / f"{stem}.zip", take),
        "folder": write_folder(folder / "5F0E8D52-8B1C-4C57-9A43-0C3E6B1D2A77", take),
    }
