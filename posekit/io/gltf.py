"""glTF 2.0 binary (``.glb``) writer for a :class:`~posekit.processing.joint_rotations.Motion`.

What the file holds: one scene with a skinless node hierarchy (one node per rig joint, hubs included), its
static transform the rest pose (T-pose: ``translation`` = the rig offset, no rotation), and one animation
with ``LINEAR`` samplers: ``translation`` of the root node and ``rotation`` (unit quaternions ``(x, y, z, w)``,
sign-continuous over time) of every joint that has children (a leaf's rotation moves nothing).

Conventions (glTF's own): metres, Y-up, right-handed, a character facing +Z: the rig frame of
:mod:`posekit.processing.rig`. Key times are seconds since the first frame, from the sequence's timestamps
(real timing, gaps kept); frames whose float32 time does not increase are dropped, since glTF requires
strictly increasing inputs. ``asset.extras.posekit`` records whether the root translation is metric.

Binary layout per the spec: 12-byte header, a JSON chunk padded with spaces to 4 bytes, a BIN chunk padded
with zeros; one bufferView per accessor, every offset a multiple of 4; the time accessor has ``min``/``max``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.atomic import atomic_write
from posekit.processing.joint_rotations import Motion
from posekit.processing.rotations import continuous_quaternions, matrix_to_quaternion

GLB_MAGIC, GLB_VERSION = 0x46546C67, 2
CHUNK_JSON, CHUNK_BIN = 0x4E4F534A, 0x004E4942
FLOAT = 5126


class _Buffer:
    """The BIN chunk under construction: float32 arrays, one bufferView and accessor each."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(self, values: np.ndarray, kind: str, bounds: bool = False) -> int:
        raw = np.ascontiguousarray(values, dtype="<f4").tobytes()
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)})
        self.data += raw  # float32 only, so every view stays 4-byte aligned
        accessor: dict[str, Any] = {"bufferView": len(self.views) - 1, "componentType": FLOAT,
                                    "count": int(values.shape[0]), "type": kind}  # fmt: skip
        if bounds:
            flat = np.asarray(values, dtype=np.float32).reshape(values.shape[0], -1)
            accessor["min"] = flat.min(axis=0).astype(float).tolist()
            accessor["max"] = flat.max(axis=0).astype(float).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _increasing(times: np.ndarray) -> np.ndarray:
    """Indices of the frames kept: each one's float32 time is greater than the last kept one's."""
    t32 = times.astype(np.float32)
    keep, last = [], -np.inf
    for i, t in enumerate(t32):
        if t > last:
            keep.append(i)
            last = t
    return np.array(keep, dtype=np.int64)


def glb_bytes(motion: Motion) -> bytes:
    """The ``.glb`` file's bytes (see the module docstring)."""
    rig = motion.rig
    joints = rig.definition.joints
    keep = _increasing(motion.times)
    nodes: list[dict[str, Any]] = []
    for i, joint in enumerate(joints):
        node: dict[str, Any] = {"name": joint.name}
        if joint.parent >= 0 and np.any(rig.offsets[i]):
            node["translation"] = rig.offsets[i].tolist()
        children = rig.definition.children(i)
        if children:
            node["children"] = children
        nodes.append(node)
    buf = _Buffer()
    samplers: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    if keep.size:
        time = buf.add(motion.times[keep], "SCALAR", bounds=True)

        def animate(node: int, path: str, values: np.ndarray, kind: str) -> None:
            samplers.append({"input": time, "output": buf.add(values, kind), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

        animate(0, "translation", motion.root_translation[keep], "VEC3")
        quats = continuous_quaternions(matrix_to_quaternion(motion.local_rotations[keep]))
        for i in range(len(joints)):
            if rig.definition.children(i):
                animate(i, "rotation", quats[:, i], "VEC4")
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "posekit", "extras": {"posekit": {"metric": motion.metric}}},
        "scene": 0,
        "scenes": [{"name": motion.name, "nodes": [0]}],
        "nodes": nodes,
    }
    if channels:
        doc["animations"] = [{"name": motion.name, "samplers": samplers, "channels": channels}]
        doc["buffers"] = [{"byteLength": len(buf.data)}]
        doc["bufferViews"] = buf.views
        doc["accessors"] = buf.accessors
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = bytes(buf.data) + b"\0" * (-len(buf.data) % 4)
    chunks = struct.pack("<II", len(text), CHUNK_JSON) + text
    if channels:
        chunks += struct.pack("<II", len(body), CHUNK_BIN) + body
    return struct.pack("<III", GLB_MAGIC, GLB_VERSION, 12 + len(chunks)) + chunks


def write_glb(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` as a ``.glb`` file (atomically)."""
    with atomic_write(path, "wb") as f:
        f.write(glb_bytes(motion))
    return Path(path)
