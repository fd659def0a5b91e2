"""Writing results: the versioned JSON document, a CSV of keypoints, and the results ZIP.

The JSON schema is documented in ``docs/json-schema.md``. Every writer goes through a temporary file in the
target folder and renames it into place, so a failure never leaves a half-written result.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.atomic import atomic_write
from posekit.poses import Poses
from posekit.sequence import PoseSequence

SCHEMA = "posekit.result"
SCHEMA_VERSION = 1

CSV_COLUMNS = (
    "frame", "time_s", "track_id", "keypoint_index", "keypoint", "x_px", "y_px", "score",
    "x_m", "y_m", "z_m",
)  # fmt: skip


def result_document(
    result: Poses | PoseSequence, model: str, source: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON document of a result.

    Args:
        result: one image's :class:`Poses`, or a :class:`PoseSequence`.
        model: the model that produced it (e.g. ``"rtmw3d-l"``, ``"posekit"``, ``"iphone-take"``).
        source: what was processed (file name, kind, frame rate...), copied as given.

    Returns:
        ``{"schema": "posekit.result", "version": 1, "kind": "image"|"sequence", "model", "source",
        "conventions", "result"}`` where ``result`` is ``Poses.to_json()`` or ``PoseSequence.to_json()``.
    """
    kind = "image" if isinstance(result, Poses) else "sequence"
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "kind": kind,
        "model": model,
        "source": dict(source or {}),
        "conventions": {
            "keypoints_2d": "pixels of image_size, x right, y down (normalised 0..1 when image_size is [1, 1])",
            "keypoints_3d": "camera frame, metres, x right, y down, z forward; null where unknown",
            "canonical_3d": "pelvis-centred, metres, x right, y up, z forward of the person",
        },
        "result": result.to_json(),
    }


def read_result(path: str | os.PathLike) -> Poses | PoseSequence:
    """Load a JSON document written by :func:`write_json` back into :class:`Poses` or :class:`PoseSequence`."""
    return result_from_document(json.loads(Path(path).read_text()), Path(path).name)


def result_from_document(data: Mapping[str, Any], what: str = "document") -> Poses | PoseSequence:
    """The :class:`Poses` or :class:`PoseSequence` of a result document (:func:`result_document`'s output)."""
    if data.get("schema") != SCHEMA or not isinstance(data.get("version"), int):
        raise ValueError(f"{what}: expected a {SCHEMA} document, got schema {data.get('schema')!r}")
    if data["version"] > SCHEMA_VERSION:
        raise ValueError(f"{what}: schema version {data['version']} is newer than this posekit ({SCHEMA_VERSION})")
    cls = Poses if data["kind"] == "image" else PoseSequence
    return cls.from_json(data["result"])


def write_json(document: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write a result document as JSON (strict: no NaN tokens)."""
    with atomic_write(path) as f:
        json.dump(document, f, allow_nan=False, indent=1)
    return Path(path)


def _rows(result: Poses | PoseSequence) -> Iterator[list[Any]]:
    names = result.skeleton.keypoint_names
    k = len(names)
    if isinstance(result, Poses):
        seq = PoseSequence.from_frames([result], [0.0])
    else:
        seq = result
    present = seq.present
    has3d = seq.keypoints_3d is not None
    times = seq.relative_time()
    for t in range(seq.num_frames):
        for p in np.flatnonzero(present[t]):
            xy = seq.keypoints_2d[t, p]
            xyz = seq.keypoints_3d[t, p] if has3d else np.full((k, 3), np.nan)
            for j in range(k):
                yield [t, f"{times[t]:.6f}", int(seq.track_ids[p]), j, names[j], *_fmt(xy[j]),
                       f"{seq.scores[t, p, j]:.4f}", *_fmt(xyz[j])]  # fmt: skip


def _fmt(values: np.ndarray) -> list[str]:
    return ["" if not np.isfinite(v) else f"{v:.6g}" for v in values]


def keypoints_csv(result: Poses | PoseSequence) -> str:
    """One row per frame, person and keypoint (:data:`CSV_COLUMNS`); empty cells where a value is unknown.
    2D in pixels, 3D in camera-frame metres; ``time_s`` counts from the first frame."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_rows(result))
    return buf.getvalue()


def write_results_zip(
    path: str | os.PathLike,
    document: Mapping[str, Any],
    result: Poses | PoseSequence,
    files: Mapping[str, str | os.PathLike] | None = None,
    writers: Mapping[str, Callable[[Path], Any]] | None = None,
) -> Path:
    """Write the results ZIP: ``results.json``, ``keypoints.csv``, and extra members.

    Args:
        path: the ZIP to write.
        document: from :func:`result_document`.
        result: the same result, for the CSV.
        files: archive name -> existing file to include (e.g. ``{"overlay.mp4": ...}``).
        writers: archive name -> function that writes that member to the path it is given (e.g. an
            app-compatible take with ``posekit.io.take_writer.save_take``); run in a temporary folder.
    """
    with atomic_write(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("results.json", json.dumps(document, allow_nan=False, indent=1))
        z.writestr("keypoints.csv", keypoints_csv(result))
        for name, src in (files or {}).items():
            z.write(src, name)
        if writers:
            with tempfile.TemporaryDirectory(
                dir=Path(path).parent, prefix=".members-"
            ) as tmp:  # in the request's folder
                for name, write in writers.items():
                    target = Path(tmp) / Path(name).name
                    write(target)
                    z.write(target, name)
    return Path(path)
