"""What a batch run has already done: one small JSON "done marker" per input under ``OUT/.posekit-batch/``.

A marker is written (atomically) only after all of its input's outputs are on disk: the JSON and overlay by
the worker, then the Parquet part holding its keypoint rows, closed by the driver. It records the input's size
and modification time and a hash of the settings, so a rerun redoes an input that changed, or all of them
when the settings changed, and skips the rest. An input without a marker (failed, or cut off by a crash) is
simply redone: its JSON is rewritten in place and Parquet rows it may have left in a part are removed first
(:func:`reconcile`), so the keypoints table never holds an input twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posekit.batch.inputs import WorkItem, is_url
from posekit.io.atomic import atomic_path, atomic_write

STATE_DIR = ".posekit-batch"
KEYPOINTS_DIR = "keypoints"
MARKER_SUFFIX = ".done"
MARKER_VERSION = 1


def settings_hash(settings: Any) -> str:
    """16 hex digits identifying the settings that shape the results (every field of ``settings.to_dict()``)."""
    data = settings.to_dict() if hasattr(settings, "to_dict") else dict(settings)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def source_stat(source: str) -> tuple[int, float]:
    """``(size in bytes, modification time)`` of a local file or folder (summed over a folder's files, newest
    time), or of a remote object through fsspec."""
    if is_url(source):
        import fsspec

        fs, path = fsspec.core.url_to_fs(source)
        info = fs.info(path)
        mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or info.get("updated")
        if hasattr(mtime, "timestamp"):
            mtime = mtime.timestamp()
        try:
            mtime = float(mtime) if mtime is not None else 0.0
        except (TypeError, ValueError):
            mtime = 0.0
        return int(info.get("size") or 0), mtime
    path = Path(source)
    if path.is_dir():
        size, newest = 0, path.stat().st_mtime
        for root, _, files in os.walk(path):
            for name in files:
                st = os.stat(os.path.join(root, name))
                size += st.st_size
                newest = max(newest, st.st_mtime)
        return size, newest
    st = path.stat()
    return st.st_size, st.st_mtime


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path) as f:
        json.dump(data, f, indent=1, allow_nan=False)


@dataclass
class Plan:
    """Items to run, items already complete (with their markers), and markers that are stale."""

    run: list[WorkItem] = field(default_factory=list)
    skipped: list[tuple[WorkItem, dict[str, Any]]] = field(default_factory=list)
    stale: dict[str, dict[str, Any]] = field(default_factory=dict)  # item id -> its outdated marker


class State:
    """The done markers of one output folder."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.out_dir = Path(out_dir)
        self.folder = self.out_dir / STATE_DIR

    def marker_path(self, item_id: str) -> Path:
        return self.folder / f"{item_id}{MARKER_SUFFIX}"

    def read(self, item_id: str) -> dict[str, Any] | None:
        try:
            with open(self.marker_path(item_id)) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, record: dict[str, Any]) -> None:
        write_json_atomic(self.marker_path(record["id"]), {"version": MARKER_VERSION, **record})

    def remove(self, item_id: str) -> None:
        self.marker_path(item_id).unlink(missing_ok=True)

    def markers(self) -> Iterable[dict[str, Any]]:
        if not self.folder.is_dir():
            return
        for path in self.folder.glob(f"*{MARKER_SUFFIX}"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                yield data

    def is_complete(self, item: WorkItem, marker: dict[str, Any] | None, settings_key: str) -> bool:
        if not marker or marker.get("version") != MARKER_VERSION or marker.get("settings") != settings_key:
            return False
        if marker.get("source") != item.source:
            return False
        try:
            size, mtime = source_stat(item.source)
        except (OSError, ValueError):
            return False
        if size != marker.get("size") or abs(mtime - float(marker.get("mtime", -1))) > 1e-3:
            return False
        return all((self.out_dir / rel).is_file() for rel in marker.get("outputs", []) + marker.get("parts", []))

    def plan(self, items: Sequence[WorkItem], settings_key: str) -> Plan:
        plan = Plan()
        for item in items:
            marker = self.read(item.id)
            if self.is_complete(item, marker, settings_key):
                plan.skipped.append((item, marker))
            else:
                plan.run.append(item)
                if marker is not None:
                    plan.stale[item.id] = marker
        return plan


def reconcile(state: State, plan: Plan) -> None:
    """Make the keypoints table hold only inputs that have a valid marker and are not about to be redone.

    Deletes unfinished parts (``*.tmp``), parts no marker refers to, and removes the rows of the inputs about to
    be redone from parts that other inputs still need; then drops those inputs' stale markers.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    root = state.out_dir / KEYPOINTS_DIR
    if not root.is_dir():
        for item_id in plan.stale:
            state.remove(item_id)
        return
    for tmp in root.rglob("*.tmp"):
        tmp.unlink(missing_ok=True)
    redo = {item.id for item in plan.run}
    keep: dict[str, set[str]] = {}  # part (relative to OUT) -> sources still needed
    drop: dict[str, set[str]] = {}  # part -> sources whose rows go
    for marker in state.markers():
        for part in marker.get("parts", []):
            (drop if marker.get("id") in redo else keep).setdefault(part, set()).add(marker.get("source", ""))
    for path in root.rglob("*.parquet"):
        rel = path.relative_to(state.out_dir).as_posix()
        if rel not in keep:
            path.unlink()
        elif rel in drop:
            table = pq.read_table(path)
            mask = pc.invert(pc.is_in(table["input"], value_set=_string_array(drop[rel])))
            with atomic_path(path, ".parquet") as tmp:
                pq.write_table(table.filter(mask), tmp, compression="zstd")
    for item_id in plan.stale:
        state.remove(item_id)


def _string_array(values: Iterable[str]) -> Any:
    import pyarrow as pa

    return pa.array(sorted(values), pa.string())
