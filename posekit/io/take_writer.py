"""Writing PoseKit takes exactly as the iPhone app writes them (see :mod:`posekit.io.takes` for the forms):
``save_take`` converts any COCO17+2 or COCO-WholeBody sequence to the app's frames and meta and writes a ZIP,
JSON, ``frames.bin`` or a take folder, atomically."""

from __future__ import annotations

import datetime as dt
import math
import os
import struct
import uuid as uuidlib
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io import swift_json
from posekit.io.atomic import atomic_dir, atomic_write
from posekit.io.takes import (
    DEFAULT_MIN_KEYPOINT_SCORE,
    FORMATS,
    FRAME_DTYPE,
    JOINT_NAMES,
    JOINT_SCHEMA,
    NUM_JOINTS,
    SWIFT_EPOCH,
    TAKE_META_FIELDS,
    UNITS,
    TakeError,
    TakeFormat,
    encode_frames,
)
from posekit.processing.canonical import canonicalize
from posekit.processing.people import select_main_track
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, derive_pelvis_neck, wholebody_to_posekit


def _posekit_arrays(seq: PoseSequence, person: int) -> dict[str, np.ndarray | None]:
    """One person's 2D/scores/3D/canonical/depth confidence in COCO17+2, mapping COCO-WholeBody if needed."""
    one = seq.people(person)
    kp2, sc = one.keypoints_2d[:, 0], one.scores[:, 0]
    kp3, canon, conf = one.keypoints_3d, one.canonical_3d, one.depth_confidence
    kp3 = None if kp3 is None else kp3[:, 0]
    canon = None if canon is None else canon[:, 0]
    conf = None if conf is None else conf[:, 0]
    if seq.skeleton.name == COCO_WHOLEBODY.name:
        kp2, sc_mapped = wholebody_to_posekit(kp2, sc)
        kp3 = None if kp3 is None else wholebody_to_posekit(kp3, sc)[0]
        conf = None if conf is None else derive_pelvis_neck(conf[..., :17, None], sc[..., :17])[0][..., 0]
        sc, canon = sc_mapped, None  # the body frame must be rebuilt from the mapped joints
    elif seq.skeleton.name != POSEKIT_COCO17_2.name:
        raise TakeError(
            f"a take holds {JOINT_SCHEMA} joints; expected a sequence with skeleton {POSEKIT_COCO17_2.name!r} "
            f"or {COCO_WHOLEBODY.name!r} (mapped), got {seq.skeleton.name!r}"
        )
    return {"kp2": kp2, "scores": sc, "kp3": kp3, "canonical": canon, "depth_confidence": conf}


def from_sequence(
    seq: PoseSequence, meta: dict[str, Any] | None = None, person: int | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """A :class:`PoseSequence` -> (T,) :data:`FRAME_DTYPE` records and the take's ``TakeMeta`` dict.

    2D in pixels of ``image_size`` is normalised; a missing 2D joint becomes the app's (0.5, 0.5, score 0);
    missing 3D is NaN; ``playback3D`` is ``canonical_3d`` if the sequence has it, else computed with the
    app's canonicaliser from the 3D and ``minKeypointScore``. COCO-WholeBody sequences are mapped to COCO17+2
    (the first 17 joints plus derived Pelvis and Neck); other skeletons are refused.

    Args:
        seq: the sequence.
        meta: ``TakeMeta`` fields overriding ``seq.meta``'s (other keys are not written).
        person: which person (track index) to save; default: the main track
            (:func:`~posekit.processing.people.select_main_track`).
    """
    if seq.num_people == 0:
        raise TakeError("cannot save a take: the sequence has no person")
    if person is None:
        person = select_main_track(seq)
    if not 0 <= person < seq.num_people:
        raise TakeError(f"person: expected an index in 0..{seq.num_people - 1}, got {person}")
    take_meta = build_meta(seq, meta)
    a = _posekit_arrays(seq, person)
    t = seq.num_frames
    kp2 = a["kp2"] / np.array(seq.image_size, dtype=np.float64)
    scores = np.nan_to_num(a["scores"], nan=0.0)
    missing_2d = np.isnan(kp2).any(axis=-1)
    kp2 = np.where(missing_2d[..., None], 0.5, kp2)
    scores = np.where(missing_2d, 0.0, scores)
    kp3 = a["kp3"] if a["kp3"] is not None else np.full((t, NUM_JOINTS, 3), np.nan)
    canon = a["canonical"]
    if canon is None:
        canon = canonicalize(kp3, scores, take_meta["minKeypointScore"])
    conf = np.zeros((t, NUM_JOINTS)) if a["depth_confidence"] is None else np.nan_to_num(a["depth_confidence"])
    frames = np.zeros(t, FRAME_DTYPE)
    frames["timestamp"] = seq.timestamps
    joints = np.concatenate([kp3, canon, kp2, scores[..., None], conf[..., None]], axis=-1)
    with np.errstate(over="ignore", invalid="ignore"):
        frames["joints"] = joints.astype(np.float32)
    return frames, take_meta


def _field(meta: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = meta.get(key, default)
    if value is None and key == "notes":
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TakeError(f"take meta {key!r}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def build_meta(seq: PoseSequence, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``TakeMeta`` written for ``seq``: its meta's take fields, overridden by ``meta``, completed with
    defaults (new uuid, now, the timestamps' rate). ``duration`` and ``frameCount`` always follow the frames,
    as the app computes them."""
    merged = {k: v for k, v in seq.meta.items() if k in TAKE_META_FIELDS}
    merged.update(meta or {})
    unknown = sorted(set(meta or {}) - set(TAKE_META_FIELDS))
    if unknown:
        raise TakeError(f"take meta: unknown fields {unknown}; expected some of {list(TAKE_META_FIELDS)}")
    now = (dt.datetime.now(dt.timezone.utc) - SWIFT_EPOCH).total_seconds()
    fps = merged.get("fps")
    if fps is None:
        fps = int(round(seq.estimated_fps() or 30))
    ts = seq.timestamps
    out: dict[str, Any] = {
        "uuid": _field(merged, "uuid", str, str(uuidlib.uuid4()).upper()),
        "createdAt": float(_field(merged, "createdAt", (int, float), now)),
        "duration": float(max(0.0, ts[-1] - ts[0])) if ts.size else 0.0,
        "fps": int(round(_field({"fps": fps}, "fps", (int, float), 30))),
        "deviceModel": _field(merged, "deviceModel", str, "posekit"),
        "iosVersion": _field(merged, "iosVersion", str, ""),
        "modelIdentifier": _field(merged, "modelIdentifier", str, "posekit"),
        "modelVersion": _field(merged, "modelVersion", str, ""),
        "minKeypointScore": float(_field(merged, "minKeypointScore", (int, float), DEFAULT_MIN_KEYPOINT_SCORE)),
        "jointSchema": JOINT_SCHEMA,
        "units": UNITS,
        "frameCount": seq.num_frames,
    }
    notes = _field(merged, "notes", str, None)
    if notes is not None:
        out["notes"] = notes
    if not math.isfinite(out["createdAt"]):
        raise TakeError(f"take meta 'createdAt': expected seconds since 2001-01-01, got {out['createdAt']}")
    return out


def meta_json(meta: dict[str, Any]) -> bytes:
    """``meta.json`` exactly as the app's ``JSONEncoder`` writes ``TakeMeta``."""
    doc = dict(meta)
    doc["minKeypointScore"] = swift_json.Float32(meta["minKeypointScore"])
    return swift_json.dumps(doc).encode()


def _joint_template(name: str) -> str:
    """One joint of the JSON export at its nesting depth, with ``{0}``..``{9}`` for the ten stored values."""
    key, item = " " * 10, " " * 12

    def array(*fields: int) -> str:
        return "[\n" + ",\n".join(f"{item}{{{i}}}" for i in fields) + f"\n{key}]"

    lines = [
        f'"camera3D" : {array(0, 1, 2)}',
        '"depthConfidence" : {9}',
        f'"joint" : {swift_json.dumps(name)}'.replace("{", "{{").replace("}", "}}"),
        f'"keypoint2D" : {array(6, 7)}',
        f'"playback3D" : {array(3, 4, 5)}',
        '"score2D" : {8}',
    ]
    return " " * 8 + "{{\n" + ",\n".join(key + line for line in lines) + "\n" + " " * 8 + "}}"


_JOINT_TEMPLATES = tuple(_joint_template(name) for name in JOINT_NAMES)


def frames_json(frames: np.ndarray, meta: dict[str, Any]) -> bytes:
    """The app's JSON export ``{"frames": [...], "meta": {...}}`` as Swift's pretty, sorted ``JSONEncoder``
    writes it (NaN, which Swift refuses, as null). Equal to ``swift_json.dumps`` of the document, assembled
    from per-joint templates because the generic encoder is slow for long takes."""
    meta_doc = {**meta, "minKeypointScore": swift_json.Float32(meta["minKeypointScore"])}
    if len(frames) == 0:
        return swift_json.dumps({"frames": [], "meta": meta_doc}).encode()
    values = ["null" if v is None else v for v in swift_json.format_float32(frames["joints"])]
    docs = []
    for i, t in enumerate(frames["timestamp"].tolist()):
        base = i * NUM_JOINTS * 10
        joints = ",\n".join(
            template.format(*values[base + 10 * j : base + 10 * j + 10]) for j, template in enumerate(_JOINT_TEMPLATES)
        )
        stamp = swift_json.format_double(t) or "null"
        docs.append(f'    {{\n      "joints" : [\n{joints}\n      ],\n      "timestamp" : {stamp}\n    }}')
    meta_text = swift_json.dumps(meta_doc).replace("\n", "\n  ")
    return ('{\n  "frames" : [\n' + ",\n".join(docs) + '\n  ],\n  "meta" : ' + meta_text + "\n}").encode()


def _dos_datetime(created_at: float) -> tuple[int, int]:
    when = SWIFT_EPOCH + dt.timedelta(seconds=created_at)
    year = max(1980, min(2107, when.year))
    return (when.hour << 11) | (when.minute << 5) | (when.second // 2), ((year - 1980) << 9) | (
        when.month << 5
    ) | when.day


def stored_zip(entries: list[tuple[str, bytes]], created_at: float) -> bytes:
    """A ZIP of stored (uncompressed) entries laid out as the app's ``ZipWriter`` writes it (version 20, no
    extra fields, no data descriptors), dated ``created_at`` (UTC; the app stamps the export time)."""
    time, date = _dos_datetime(created_at)
    local, central, offset = [], [], 0
    for name, data in entries:
        raw = name.encode()
        if len(data) >= 1 << 32:
            raise TakeError(f"{name}: {len(data):,} bytes is too large for a ZIP without ZIP64")
        crc = zlib.crc32(data)
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, time, date, crc, len(data), len(data), len(raw), 0)
        local += [header, raw, data]
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                0,
                time,
                date,
                crc,
                len(data),
                len(data),
                len(raw),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw  # fmt: skip
        )
        offset += len(header) + len(raw) + len(data)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return b"".join(local) + directory + end


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def _write_folder(path: Path, files: dict[str, bytes]) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise TakeError(f"cannot save a take folder at {path.name!r}: it exists and is not an empty folder")
    with atomic_dir(path) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)


def save_take(
    seq: PoseSequence,
    path: str | os.PathLike,
    format: TakeFormat = "zip",
    meta: dict[str, Any] | None = None,
    person: int | None = None,
) -> Path:
    """Save ``seq`` as a take in one of the app's forms (see :func:`from_sequence` for the conversion).

    Args:
        format: ``"zip"`` (stored meta.json, frames.bin, frames.json), ``"json"`` (the JSON export),
            ``"bin"`` (frames.bin only) or ``"folder"`` (meta.json + frames.bin, the app's take folder).

    Returns:
        ``path``. Nothing is written if anything fails.
    """
    if format not in FORMATS:
        raise TakeError(f"take format: expected one of {FORMATS}, got {format!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise TakeError(f"cannot save a take at {path.name!r}: the folder {path.parent.name!r} does not exist")
    if format != "folder" and path.is_dir():
        raise TakeError(f"cannot save a take file at {path.name!r}: it is a folder")
    frames, take_meta = from_sequence(seq, meta, person)
    if format == "bin":
        _write_bytes(path, encode_frames(frames))
    elif format == "json":
        _write_bytes(path, frames_json(frames, take_meta))
    elif format == "folder":
        _write_folder(path, {"meta.json": meta_json(take_meta), "frames.bin": encode_frames(frames)})
    else:
        entries = [("meta.json", meta_json(take_meta)), ("frames.bin", encode_frames(frames)),
                   ("frames.json", frames_json(frames, take_meta))]  # fmt: skip
        _write_bytes(path, stored_zip(entries, take_meta["createdAt"]))
    return path
