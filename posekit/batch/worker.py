"""The Ray Data actor: holds one ``Models`` for its lifetime and runs ``run_file`` on each item of a unit.

This module does not import Ray: the class is a plain callable that Ray instantiates once per actor. Every
exception of an item is caught and returned as a failed row, so one bad input never stops the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path, PurePosixPath
from typing import Any

from posekit.batch.inputs import REMOTE_KIND, WorkItem
from posekit.batch.state import source_stat

RESULT_COLUMNS = ("id", "source", "kind", "status", "error_type", "message", "frames", "seconds", "size", "mtime",
                  "outputs", "keypoints")  # fmt: skip
"""One output row per item: ``status`` is ``"done"`` or ``"failed"``; ``outputs`` a JSON list of paths
relative to OUT; ``keypoints`` the item's keypoint rows as Arrow IPC bytes (empty when failed)."""


def unit_rows(items: list[WorkItem]) -> dict[str, Any]:
    """A unit (several images, or one sequence) as one row of the input dataset."""
    return {"kind": items[0].kind, "unit": json.dumps([item.to_dict() for item in items])}


class PoseWorker:
    """``map_batches`` callable class: one per Ray actor; models load on the first item that needs them."""

    def __init__(self, settings: Any, out_dir: str, threads: int | None = None) -> None:
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        from posekit.pipelines import Models

        self.settings = settings
        self.out_dir = Path(out_dir)
        self.models = Models.for_settings(settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows: dict[str, list[Any]] = {c: [] for c in RESULT_COLUMNS}
        for unit in batch["unit"]:
            for data in json.loads(str(unit)):
                row = self.process(WorkItem(**data))
                for c in RESULT_COLUMNS:
                    rows[c].append(row[c])
        return rows

    def process(self, item: WorkItem) -> dict[str, Any]:
        from posekit.batch.tables import keypoint_table, to_ipc
        from posekit.pipelines import run_file

        start = time.perf_counter()
        row: dict[str, Any] = {"id": item.id, "source": item.source, "kind": item.kind, "status": "failed",
                               "error_type": "", "message": "", "frames": 0, "seconds": 0.0, "size": 0, "mtime": 0.0,
                               "outputs": "[]", "keypoints": b""}  # fmt: skip
        scratch = None
        try:
            row["size"], row["mtime"] = source_stat(item.source)  # before reading: a later change means a redo
            path = Path(item.source)
            if item.is_remote:
                scratch = Path(tempfile.mkdtemp(prefix="posekit-batch-"))
                path = fetch(item.source, scratch)
            out = self.out_dir / item.rel_dir
            out.mkdir(parents=True, exist_ok=True)
            kind = None if item.kind == REMOTE_KIND else item.kind
            res = run_file(path, self.settings, self.models, out, stem=item.stem, kind=kind)
            table = keypoint_table(res.result, item.source)
            timestamps = getattr(res.result, "timestamps", None)
            row.update(
                status="done",
                kind=res.kind,
                frames=1 if timestamps is None else len(timestamps),
                outputs=json.dumps(sorted(_relative(p, self.out_dir) for p in res.files.values())),
                keypoints=to_ipc(table),
                message="; ".join(res.warnings),
            )
        except Exception as exc:  # noqa: BLE001 - one input's failure, whatever it is, is a row, not a crash
            row["error_type"] = type(exc).__name__
            message = str(exc).strip() or type(exc).__name__
            if not isinstance(exc, (ValueError, OSError)):  # not a bad input but a bug: keep where it happened
                message += "\n" + "".join(traceback.format_exception(exc)[-3:])
            row["message"] = message
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        row["seconds"] = time.perf_counter() - start
        return row


def fetch(url: str, folder: Path) -> Path:
    """Copy a remote object (any fsspec URL; S3 needs ``s3fs``) to ``folder``, keeping its file name, which tells
    the readers its kind."""
    import fsspec

    name = PurePosixPath(url.split("?", 1)[0]).name or "input"
    dest = folder / name
    with fsspec.open(url, "rb") as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, length=8 << 20)
    return dest


def _relative(path: Path | str, root: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), root.resolve())).as_posix()
