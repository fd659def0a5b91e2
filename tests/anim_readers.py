"""Independent readers of the animation files posekit writes, and the reference they are compared with.

Written from the formats' descriptions, not from posekit's writers: a BVH parser with forward kinematics in
the file's channel order, a GLB parser (header, JSON and BIN chunks, accessors) with quaternion forward
kinematics, and :func:`reference_positions`, the input keypoints with bone lengths set to the rig's.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.processing.rig import Rig
from posekit.sequence import PoseSequence


@dataclass
class Bvh:
    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3) file units
    channels: list[list[str]]
    end_sites: dict[int, np.ndarray]
    frame_time: float
    motion: np.ndarray  # (F, C)


def parse_bvh(text: str) -> Bvh:
    tokens = text.split()
    pos = 0

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    assert take() == "HIERARCHY"
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}
    stack: list[int] = []
    while True:
        tok = take()
        if tok in ("ROOT", "JOINT"):
            names.append(take())
            parents.append(stack[-1] if stack else -1)
            assert take() == "{"
            assert take() == "OFFSET"
            offsets.append([float(take()) for _ in range(3)])
            assert take() == "CHANNELS"
            channels.append([take() for _ in range(int(take()))])
            stack.append(len(names) - 1)
        elif tok == "End":
            assert take() == "Site" and take() == "{" and take() == "OFFSET"
            end_sites[stack[-1]] = np.array([float(take()) for _ in range(3)])
            assert take() == "}"
        elif tok == "}":
            stack.pop()
        elif tok == "MOTION":
            break
        else:
            raise AssertionError(f"unexpected token {tok!r}")
    assert not stack
    assert take() == "Frames:"
    frames = int(take())
    assert take() == "Frame" and take() == "Time:"
    frame_time = float(take())
    values = np.array([float(x) for x in tokens[pos:]])
    motion = values.reshape(frames, -1)
    assert motion.shape[1] == sum(len(c) for c in channels)
    return Bvh(names, parents, np.array(offsets), channels, end_sites, frame_time, motion)


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((len(a), 3, 3))
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    m[:, i, i] = 1
    m[:, j, j], m[:, j, k], m[:, k, j], m[:, k, k] = c, -s, s, c
    return m


def bvh_positions(bvh: Bvh) -> np.ndarray:
    """(F, J, 3) world joint positions in file units: rotations composed in channel order (the first listed
    channel is the outermost), position channels added to the offset."""
    f = bvh.motion.shape[0]
    world_r = np.zeros((f, len(bvh.names), 3, 3))
    world_p = np.zeros((f, len(bvh.names), 3))
    col = 0
    for j, chans in enumerate(bvh.channels):
        local_r = np.broadcast_to(np.eye(3), (f, 3, 3)).copy()
        local_p = np.broadcast_to(bvh.offsets[j], (f, 3)).copy()
        for c in chans:
            v = bvh.motion[:, col]
            col += 1
            if c.endswith("position"):
                local_p[:, "XYZ".index(c[0])] += v
            else:
                local_r = local_r @ _axis_rotation(c[0], v)
        p = bvh.parents[j]
        if p < 0:
            world_r[:, j], world_p[:, j] = local_r, local_p
        else:
            world_r[:, j] = world_r[:, p] @ local_r
            world_p[:, j] = world_p[:, p] + np.einsum("fij,fj->fi", world_r[:, p], local_p)
    return world_p


@dataclass
class Glb:
    doc: dict[str, Any]
    bin: bytes

    def accessor(self, index: int) -> np.ndarray:
        acc = self.doc["accessors"][index]
        view = self.doc["bufferViews"][acc["bufferView"]]
        assert acc["componentType"] == 5126
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        data = np.frombuffer(self.bin, "<f4", acc["count"] * width, start)
        return data.reshape(acc["count"], width).astype(np.float64).squeeze(-1 if width == 1 else None)


def parse_glb(data: bytes) -> Glb:
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    doc = json.loads(data[20 : 20 + json_len])
    rest = 20 + json_len
    binary = b""
    if rest < len(data):
        bin_len, bin_type = struct.unpack_from("<II", data, rest)
        assert bin_type == 0x004E4942 and bin_len % 4 == 0 and rest + 8 + bin_len == len(data)
        binary = data[rest + 8 : rest + 8 + bin_len]
        assert doc["buffers"][0]["byteLength"] <= bin_len
    return Glb(doc, binary)


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)  # fmt: skip


def glb_positions(glb: Glb) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``(times (F,), node names, world positions (F, N, 3) metres)`` of the first animation's keys."""
    nodes = glb.doc["nodes"]
    anim = glb.doc["animations"][0]
    times = glb.accessor(anim["samplers"][0]["input"])
    f, n = len(times), len(nodes)
    trans = np.array([node.get("translation", [0.0, 0.0, 0.0]) for node in nodes], dtype=np.float64)
    trans = np.broadcast_to(trans, (f, n, 3)).copy()
    rot = np.broadcast_to(np.array([node.get("rotation", [0.0, 0.0, 0.0, 1.0]) for node in nodes]), (f, n, 4)).copy()
    for ch in anim["channels"]:
        sampler = anim["samplers"][ch["sampler"]]
        assert np.array_equal(glb.accessor(sampler["input"]), times)
        values = glb.accessor(sampler["output"])
        target = ch["target"]
        (trans if target["path"] == "translation" else rot)[:, target["node"]] = values
    parent = {c: i for i, node in enumerate(nodes) for c in node.get("children", [])}
    world_r = np.zeros((f, n, 3, 3))
    world_p = np.zeros((f, n, 3))
    for i in range(n):  # posekit lists parents before children; a parent later in the list would fail here
        r = _quat_matrix(rot[:, i])
        if i not in parent:
            world_r[:, i], world_p[:, i] = r, trans[:, i]
        else:
            p = parent[i]
            assert p < i
            world_r[:, i] = world_r[:, p] @ r
            world_p[:, i] = world_p[:, p] + np.einsum("fij,fj->fi", world_r[:, p], trans[:, i])
    return times, [node["name"] for node in nodes], world_p


def reference_positions(
    seq: PoseSequence, rig: Rig, person: int = 0, min_score: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """The input with bone lengths set to the rig's: ``(positions (T, J, 3) metres, Y-up, known (T, J))``.

    Each rig joint is the mean of its source keypoints converted to Y-up as ``(x, -y, -z)``; then from the root
    down each bone keeps its input direction and gets the rig's length. ``known`` is where the joint and every
    keypoint joint above it are seen (finite and scored at least ``min_score``).
    """
    d = rig.definition
    kp = seq.keypoints_3d[:, person] * np.array([1.0, -1.0, -1.0])
    ok = np.isfinite(kp).all(-1) & (seq.scores[:, person] >= min_score)
    t = kp.shape[0]
    raw = np.full((t, d.num_joints, 3), np.nan)
    out = np.full_like(raw, np.nan)
    known = np.zeros((t, d.num_joints), dtype=bool)
    for j, joint in enumerate(d.joints):
        if joint.sources:
            src = list(joint.sources)
            seen = ok[:, src].all(1)
            raw[:, j] = np.where(seen[:, None], kp[:, src].mean(1), np.nan)
        else:
            seen = known[:, joint.parent]
            raw[:, j] = raw[:, joint.parent]
        if joint.parent < 0:
            out[:, j], known[:, j] = raw[:, j], seen
        elif not joint.sources:
            out[:, j], known[:, j] = out[:, joint.parent], known[:, joint.parent]
        else:
            bone = raw[:, j] - raw[:, joint.parent]
            length = np.linalg.norm(rig.offsets[j])
            out[:, j] = out[:, joint.parent] + length * bone / np.linalg.norm(bone, axis=-1, keepdims=True)
            known[:, j] = seen & known[:, joint.parent]
    return out, known


def rms_cm(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Root mean square distance in centimetres between (..., 3) metre positions over ``mask``."""
    return float(np.sqrt(np.mean(np.sum((a[mask] - b[mask]) ** 2, axis=-1))) * 100)
