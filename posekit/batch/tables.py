"""The two tables of a batch run: keypoints (long format, one row per joint) and errors; and the writer that rolls
keypoint rows into Parquet parts under ``OUT/keypoints/kind=<kind>/``.

Partitioned by ``kind`` (Hive style, so ``pandas.read_parquet(OUT / "keypoints")`` and Spark/DuckDB give a
``kind`` column back) rather than by input hash: analyses almost always split images from sequences (an image
has no frame clock; a video has many frames per input), and a part per input would mean a million files of a
few kilobytes for a million photos. Each part collects many inputs (up to :data:`PART_ROWS` rows or
:data:`PART_SECONDS` seconds), and an input's done marker is written only once the part holding its rows is
closed; ``posekit.batch.state.reconcile`` keeps reruns free of duplicates.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from posekit.io.atomic import atomic_path, publish

KEYPOINT_SCHEMA = pa.schema([
    ("input", pa.string()),
    ("frame", pa.int32()),
    ("time", pa.float64()),
    ("track_id", pa.int64()),
    ("joint", pa.string()),
    ("joint_index", pa.int16()),
    ("x", pa.float32()),
    ("y", pa.float32()),
    ("z", pa.float32()),
    ("score", pa.float32()),
    ("space_3d", pa.string()),
])  # fmt: skip
"""Columns of the keypoint part files; ``kind`` comes from the partition folder. ``frame`` is 0 and ``time`` null
for an image; ``track_id`` is the person's index in an image and its track id in a sequence; ``time`` is the
source's clock, as in the result JSON; ``z`` is the 3D depth coordinate (null without 3D; ``x``/``y`` are always
the 2D pixels); ``space_3d`` says where the 3D comes from."""

ERROR_SCHEMA = pa.schema([("input", pa.string()), ("error_type", pa.string()), ("message", pa.string())])

PART_ROWS = 2_000_000
PART_SECONDS = 60.0


def keypoint_table(result: Any, source: str) -> pa.Table:
    """Long-format keypoints of a ``Poses`` (one image) or a ``PoseSequence``; people absent from a frame (all
    coordinates NaN there) give no rows."""
    names = np.asarray(result.skeleton.keypoint_names, dtype=object)
    k = len(names)
    kp = np.asarray(result.keypoints_2d, dtype=np.float64)
    scores = np.asarray(result.scores, dtype=np.float64)
    kp3 = None if result.keypoints_3d is None else np.asarray(result.keypoints_3d, dtype=np.float64)
    if kp.ndim == 3:  # Poses: (N, K, 2) -> one frame
        kp, scores = kp[None], scores[None]
        kp3 = None if kp3 is None else kp3[None]
        times = np.full(1, np.nan)
        tracks = np.arange(kp.shape[1], dtype=np.int64)
    else:
        times = np.asarray(result.timestamps, dtype=np.float64)
        tracks = result.track_ids
        tracks = np.arange(kp.shape[1], dtype=np.int64) if tracks is None else np.asarray(tracks, np.int64)
    t, p = kp.shape[:2]
    present = ~np.isnan(kp).all(axis=(2, 3))  # (T, P)
    fi, pi = np.nonzero(present)
    m = len(fi)
    frame = np.repeat(fi, k).astype(np.int32)
    person = np.repeat(pi, k)
    joint_index = np.tile(np.arange(k, dtype=np.int16), m)
    xy = kp[fi, pi].reshape(-1, 2)
    z = kp3[fi, pi].reshape(-1, 3)[:, 2] if kp3 is not None else None
    time_col = times[frame] if t else np.zeros(0)
    space = getattr(result, "space_3d", None) if kp3 is not None else None
    n = m * k
    columns = [
        pa.array(np.full(n, source, dtype=object), pa.string()),
        pa.array(frame, pa.int32()),
        pa.array(time_col, pa.float64(), mask=np.isnan(time_col)),
        pa.array(tracks[person] if p else np.zeros(0, np.int64), pa.int64()),
        pa.array(names[joint_index], pa.string()),
        pa.array(joint_index, pa.int16()),
        pa.array(xy[:, 0].astype(np.float32), pa.float32()),
        pa.array(xy[:, 1].astype(np.float32), pa.float32()),
        pa.nulls(n, pa.float32()) if z is None else pa.array(z.astype(np.float32), pa.float32()),
        pa.array(scores[fi, pi].reshape(-1).astype(np.float32), pa.float32()),
        pa.nulls(n, pa.string()) if space is None else pa.array(np.full(n, space, dtype=object), pa.string()),
    ]
    return pa.Table.from_arrays(columns, schema=KEYPOINT_SCHEMA)


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def write_errors(path: Path, rows: list[dict[str, str]]) -> Path:
    """``OUT/errors.parquet``: one row per input that failed in this run (written even when empty)."""
    table = pa.Table.from_pylist(rows, schema=ERROR_SCHEMA)
    with atomic_path(path, ".parquet") as tmp:
        pq.write_table(table, tmp)
    return path


class KeypointWriter:
    """Appends each input's rows to an open part per kind; when a part closes (by size, age or at the end), it is
    renamed into place and ``on_commit`` gets the records of the inputs whose rows it holds (the caller then
    writes their done markers)."""

    def __init__(self, out_dir: Path, on_commit: Callable[[list[dict[str, Any]]], None]) -> None:
        self.out_dir = Path(out_dir)
        self.on_commit = on_commit
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self._open: dict[str, dict[str, Any]] = {}
        self._count = 0
        self.rows_written = 0

    def add(self, kind: str, table: pa.Table, record: dict[str, Any]) -> None:
        if table.num_rows == 0:
            self.on_commit([{**record, "parts": []}])
            return
        part = self._open.get(kind)
        if part is None:
            self._count += 1
            rel = f"keypoints/kind={kind}/part-{self.run_id}-{self._count:05d}.parquet"
            final = self.out_dir / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(final.name + ".tmp")
            writer = pq.ParquetWriter(tmp, KEYPOINT_SCHEMA, compression="zstd")
            part = {"rel": rel, "final": final, "tmp": tmp, "writer": writer, "rows": 0, "since": time.monotonic(),
                    "records": []}  # fmt: skip
            self._open[kind] = part
        part["writer"].write_table(table)
        part["rows"] += table.num_rows
        part["records"].append({**record, "parts": [part["rel"]]})
        if part["rows"] >= PART_ROWS:
            self._close(kind)

    def flush_old(self) -> None:
        """Close parts open longer than :data:`PART_SECONDS`, so a long run commits its progress as it goes."""
        now = time.monotonic()
        for kind in [k for k, p in self._open.items() if now - p["since"] >= PART_SECONDS]:
            self._close(kind)

    def close(self) -> None:
        for kind in list(self._open):
            self._close(kind)

    def _close(self, kind: str) -> None:
        part = self._open.pop(kind)
        part["writer"].close()
        publish(part["tmp"], part["final"])
        self.rows_written += part["rows"]
        self.on_commit(part["records"])
