"""PoseKit iPhone takes: read every form the app exports, write exactly what it writes.

A take holds pose frames only (no images). Forms (``Export/Exporter.swift``, ``Storage/TakeRecorder.swift``):

* ``frames.bin``: little-endian, no header, 768 bytes a frame: float64 timestamp, then for each of the 19
  COCO17+2 joints ten float32: camera3D xyz, playback3D xyz, xNorm, yNorm, score2D, depthConfidence.
  A trailing partial frame is ignored, as the app does. Exported alone as ``PoseTake_<date>.bin``.
* ``meta.json``: the app's ``TakeMeta`` (Swift ``JSONEncoder``, pretty, sorted keys).
* ``PoseTake_<date>.json``: ``{"frames": [...], "meta": {...}}``; NaN, Infinity, null and "nan" strings are
  accepted for missing values (Swift refuses NaN, so real files may differ there).
* ``PoseTake_<date>.zip``: stored entries ``meta.json``, ``frames.bin``, ``frames.json``.
* the take folder on the phone: ``meta.json`` + ``frames.bin``.

The form is detected from the content (ZIP signature, JSON's first character, folder), not the file name.
Every size is checked against :class:`~posekit.limits.Limits` before anything is decoded. Writing is
:mod:`posekit.io.take_writer`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit.io.archive import SafeZip
from posekit.limits import DEFAULT_LIMITS, LimitError, Limits, check_fps, check_json_depth
from posekit.sequence import PoseSequence
from posekit.skeletons import POSEKIT_COCO17_2

TakeFormat = Literal["zip", "json", "bin", "folder"]
FORMATS: tuple[str, ...] = ("zip", "json", "bin", "folder")

JOINT_NAMES: tuple[str, ...] = POSEKIT_COCO17_2.keypoint_names
NUM_JOINTS = len(JOINT_NAMES)
FRAME_DTYPE = np.dtype([("timestamp", "<f8"), ("joints", "<f4", (NUM_JOINTS, 10))])
"""One frame of ``frames.bin``; ``joints[..., 0:3]`` camera3D, ``3:6`` playback3D, ``6:8`` 2D, ``8`` score2D,
``9`` depthConfidence."""
FRAME_BYTES = FRAME_DTYPE.itemsize  # 768
CAMERA, PLAYBACK, POINT_2D, SCORE, DEPTH_CONFIDENCE = slice(0, 3), slice(3, 6), slice(6, 8), 8, 9

JOINT_SCHEMA = "COCO17+2"
UNITS = "meters"
DEFAULT_MIN_KEYPOINT_SCORE = 0.3
SWIFT_EPOCH = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
"""Swift's ``Date`` reference: ``createdAt`` counts seconds from here."""

MAX_META_BYTES = 1 << 20
JSON_BYTES_PER_FRAME = 16 << 10
"""Bound on JSON text per frame (the app writes about 9 KB); JSON larger than frames x this is refused."""

TAKE_META_FIELDS: tuple[str, ...] = (
    "createdAt", "deviceModel", "duration", "fps", "frameCount", "iosVersion", "jointSchema",
    "minKeypointScore", "modelIdentifier", "modelVersion", "notes", "units", "uuid",
)  # fmt: skip


class TakeError(ValueError):
    """A file that is not a readable PoseKit take, or a sequence that cannot be saved as one."""


# ---------------------------------------------------------------------------------------------------------
# Reading


_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")
"""UTF-32 and UTF-16 byte order marks (UTF-32 first: its little-endian mark starts like UTF-16's)."""


def _looks_like_json(head: bytes) -> bool:
    """Whether a file starting with ``head`` is JSON text: UTF-8 (a BOM and any whitespace allowed) or UTF-16/32
    (with a BOM, or a first character padded with zero bytes)."""
    if head.startswith(_BOMS):
        return True
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if text[:1] in (b"{", b"["):
        return True
    # UTF-16/32 without a mark: ASCII characters with zero bytes beside them ("{\0", "\0{").
    wide = head.replace(b"\x00", b"")
    return head.count(b"\x00") * 2 >= len(head[:64]) > 0 and wide.lstrip(b" \t\r\n")[:1] in (b"{", b"[")


def detect_take_format(path: str | os.PathLike) -> TakeFormat:
    """``"folder"``, ``"zip"``, ``"json"`` or ``"bin"``, from what the path holds (not its name).

    JSON is told by its first character after any byte order mark and whitespace (read up to 1 MB of
    whitespace), in UTF-8, UTF-16 or UTF-32.
    """
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.is_file():
        raise TakeError(f"expected a PoseKit take file or folder, but {path.name!r} does not exist")
    with open(path, "rb") as f:
        head = f.read(64)
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return "zip"
        if _looks_like_json(head):
            return "json"
        if head.removeprefix(b"\xef\xbb\xbf").strip(b" \t\r\n") == b"" and head:
            rest = head + f.read(1 << 20)  # long leading whitespace
            if _looks_like_json(rest.lstrip(b" \t\r\n") or b" "):
                return "json"
    return "bin"


FRAME_MEMBERS = ("frames.bin", "frames.json")


def is_take_archive(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> bool:
    """Whether a ZIP (or folder) holds a PoseKit take: the app's ``frames.bin`` or ``frames.json`` at its root or
    one folder down. Other members (``__MACOSX/``, ``.DS_Store`` from zipping on a Mac) do not matter; no RGB-D
    capture format has these names. Only the ZIP's directory is read."""
    path = Path(path)
    if path.is_dir():
        return any((path / m).is_file() for m in FRAME_MEMBERS)
    with SafeZip(path, limits) as archive:
        names = {Path(n).name for n in archive.names() if n.count("/") <= 1}
    return bool(names & set(FRAME_MEMBERS))


def load_take(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> PoseSequence:
    """Read a take in any form (see the module docstring) as a one-person COCO17+2 :class:`PoseSequence`.

    Returns:
        ``keypoints_2d`` (T, 1, 19, 2) normalised 0..1 (``image_size`` (1, 1)), ``scores``, ``keypoints_3d`` =
        camera3D and ``canonical_3d`` = playback3D (metres), ``depth_confidence``, ``space_3d`` "phone",
        ``meta`` = the take's ``meta.json`` ({} for a bare ``.bin``), ``fps`` = meta's target rate, else the
        median rate of the timestamps.

    Raises:
        TakeError: not a take, wrong joint count or schema, bad numbers, inconsistent frame counts.
        LimitError: over the upload limits. ArchiveError: unsafe or corrupt ZIP.
    """
    path = Path(path)
    form = detect_take_format(path)
    if form == "folder":
        frames, meta, from_json = _read_folder(path, limits)
    elif form == "zip":
        frames, meta, from_json = _read_zip(path, limits)
    else:
        size = limits.check_file(path)
        if form == "bin" and path.suffix.lower() == ".json":
            from posekit.io.video_open import describe_content

            with open(path, "rb") as f:
                got = describe_content(f.read(512))
            raise TakeError(f"{path.name}: expected UTF-8 JSON (a PoseKit take export), got {got}")
        if form == "bin":
            limits.check_frames(size // FRAME_BYTES, path.name)
        data = path.read_bytes() if form == "bin" else _read_bounded(path, _max_json_bytes(limits))
        frames, meta, from_json = _read_single(data, form, path, limits)
    _check_consistency(frames, meta, from_json, path.name, limits)
    return to_sequence(frames, meta)


def _read_single(data: bytes, form: str, path: Path, limits: Limits) -> tuple[np.ndarray, dict[str, Any], bool]:
    if form == "json":
        try:
            frames, meta = parse_take_json(data, path.name, limits)
            return frames, meta, True
        except TakeError:
            # A .bin whose first timestamp byte happens to look like '{' or '['.
            if path.suffix.lower() == ".json" or len(data) % FRAME_BYTES:
                raise
    return decode_frames(data, path.name, limits), {}, False


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise LimitError(f"{path.name}: {size:,} bytes of take JSON is over the limit of {max_bytes:,}")
    return path.read_bytes()


def _max_json_bytes(limits: Limits) -> int:
    return limits.max_frames * JSON_BYTES_PER_FRAME + MAX_META_BYTES


def _read_folder(path: Path, limits: Limits) -> tuple[np.ndarray, dict[str, Any], bool]:
    bin_path, json_path, meta_path = path / "frames.bin", path / "frames.json", path / "meta.json"
    meta = {}
    if meta_path.is_file():
        meta = parse_meta(_read_bounded(meta_path, MAX_META_BYTES), f"{path.name}/meta.json")
    if bin_path.is_file():
        limits.check_file(bin_path)
        limits.check_frames(bin_path.stat().st_size // FRAME_BYTES, f"{path.name}/frames.bin")
        return decode_frames(bin_path.read_bytes(), f"{path.name}/frames.bin", limits), meta, False
    if json_path.is_file():
        frames, json_meta = parse_take_json(_read_bounded(json_path, _max_json_bytes(limits)), json_path.name, limits)
        return frames, meta or json_meta, True
    found = sorted(p.name for p in path.iterdir())[:10]
    raise TakeError(f"{path.name}: expected a PoseKit take folder with frames.bin (and meta.json), found {found}")


def _find_members(names: list[str]) -> dict[str, str]:
    """Take members by base name, at the top of the archive or in one folder (a zipped take folder)."""
    found: dict[str, list[str]] = {}
    for name in names:
        parts = name.split("/")
        base = parts[-1]
        if base in ("frames.bin", "frames.json", "meta.json") and len(parts) <= 2 and not parts[0].startswith("__"):
            found.setdefault(base, []).append(name)
    many = {base: paths for base, paths in found.items() if len(paths) > 1}
    if many:
        raise TakeError(f"expected one take per ZIP, found several: {many}")
    return {base: paths[0] for base, paths in found.items()}


def _read_zip(path: Path, limits: Limits) -> tuple[np.ndarray, dict[str, Any], bool]:
    with SafeZip(path, limits) as z:
        try:
            members = _find_members(z.names())
        except TakeError as exc:
            raise TakeError(f"{path.name}: {exc}") from None
        meta: dict[str, Any] = {}
        if "meta.json" in members:
            meta = parse_meta(z.read(members["meta.json"], MAX_META_BYTES), f"{path.name}:meta.json")
        if "frames.bin" in members:
            name = members["frames.bin"]
            limits.check_frames(z.size(name) // FRAME_BYTES, f"{path.name}:{name}")
            data = z.read(name, limits.max_frames * FRAME_BYTES + FRAME_BYTES - 1)
            return decode_frames(data, f"{path.name}:{name}", limits), meta, False
        if "frames.json" in members:
            name = members["frames.json"]
            frames, json_meta = parse_take_json(z.read(name, _max_json_bytes(limits)), f"{path.name}:{name}", limits)
            return frames, meta or json_meta, True
        listed = z.names()[:10]
    raise TakeError(
        f"{path.name}: expected a PoseKit take ZIP with frames.bin or frames.json (and meta.json), found {listed}"
    )


def decode_frames(data: bytes, name: str = "frames.bin", limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """``frames.bin`` bytes -> (T,) :data:`FRAME_DTYPE` records (a trailing partial frame is ignored)."""
    count = len(data) // FRAME_BYTES
    if count == 0:
        raise TakeError(
            f"{name}: expected PoseKit frames of {FRAME_BYTES} bytes each, got {len(data)} bytes (not a take?)"
        )
    limits.check_frames(count, name)
    frames = np.frombuffer(data, FRAME_DTYPE, count=count).copy()
    first = frames[0]["joints"]
    with np.errstate(invalid="ignore"):
        plausible = (
            math.isfinite(frames[0]["timestamp"])
            and np.isfinite(first[:, POINT_2D]).all()
            and ((first[:, SCORE] >= 0) & (first[:, SCORE] <= 1)).all()
            and ((first[:, DEPTH_CONFIDENCE] >= 0) & (first[:, DEPTH_CONFIDENCE] <= 1)).all()
        )
    if not plausible:
        raise TakeError(
            f"{name}: does not look like a PoseKit frames.bin (the first frame's timestamp, 2D, scores or depth "
            "confidences are not valid numbers)"
        )
    return frames


def encode_frames(frames: np.ndarray) -> bytes:
    """(T,) :data:`FRAME_DTYPE` records -> ``frames.bin`` bytes (the app's ``PoseFrameBinaryCodec``)."""
    return np.ascontiguousarray(frames, dtype=FRAME_DTYPE).tobytes()


_NAN_WORDS = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan, "inf": math.inf, "+inf": math.inf,
              "infinity": math.inf, "+infinity": math.inf, "-inf": -math.inf, "-infinity": -math.inf}  # fmt: skip


def _number(value: Any, where: Callable[[], str]) -> float:
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            pass
    elif isinstance(value, str) and value.strip().lower() in _NAN_WORDS:
        return _NAN_WORDS[value.strip().lower()]
    raise TakeError(f"{where()}: expected a number (or null / NaN), got {str(value)[:40]!r}")


def _numbers(value: Any, n: int, where: Callable[[], str]) -> list[float]:
    if value is None:
        return [math.nan] * n
    if not isinstance(value, list) or len(value) != n:
        raise TakeError(f"{where()}: expected a list of {n} numbers, got {str(value)[:60]!r}")
    return [_number(v, where) for v in value]


def _parse_joints(joints: Any, i: int, name: str) -> list[list[float]]:
    if not isinstance(joints, list):
        raise TakeError(f"{name}: frame {i}: expected a list of joints, got {type(joints).__name__}")
    if len(joints) != NUM_JOINTS:
        raise TakeError(f"{name}: frame {i}: expected {NUM_JOINTS} joints ({JOINT_SCHEMA}), got {len(joints)}")
    rows: list[list[float] | None] = [None] * NUM_JOINTS
    for j, joint in enumerate(joints):
        if not isinstance(joint, dict):
            raise TakeError(f"{name}: frame {i}, joint {j}: expected an object, got {type(joint).__name__}")
        label = joint.get("joint", JOINT_NAMES[j])
        if label not in JOINT_NAMES:
            raise TakeError(f"{name}: frame {i}: unknown joint {label!r}; expected the {JOINT_SCHEMA} names")
        slot = JOINT_NAMES.index(label)
        if rows[slot] is not None:
            raise TakeError(f"{name}: frame {i}: joint {label!r} appears twice")

        def where(field: str = "", label: str = label) -> str:
            return f"{name}: frame {i}, joint {label!r}" + (f", {field}" if field else "")

        for key in ("keypoint2D", "score2D"):
            if key not in joint:
                raise TakeError(f"{where()}: expected a {key!r} field")
        rows[slot] = (
            _numbers(joint.get("camera3D"), 3, lambda: where("camera3D"))
            + _numbers(joint.get("playback3D"), 3, lambda: where("playback3D"))
            + _numbers(joint["keypoint2D"], 2, lambda: where("keypoint2D"))
            + [_number(joint["score2D"], lambda: where("score2D"))]
            + [_number(joint.get("depthConfidence", 0.0), lambda: where("depthConfidence"))]
        )
    return rows  # type: ignore[return-value]


def _fast_joints(joints: Any) -> list[Any] | None:
    """The 190 values of a frame's joints in storage order when it is exactly as the app writes it (names in
    order, arrays of the right lengths, numbers only), else None (the careful parser then explains)."""
    if type(joints) is not list or len(joints) != NUM_JOINTS:
        return None
    out: list[Any] = []
    try:
        for joint, name in zip(joints, JOINT_NAMES):
            c, p, k = joint["camera3D"], joint["playback3D"], joint["keypoint2D"]
            if joint.get("joint", name) != name or len(c) != 3 or len(p) != 3 or len(k) != 2:
                return None
            out += c
            out += p
            out += k
            out.append(joint["score2D"])
            out.append(joint["depthConfidence"])
    except (AttributeError, KeyError, TypeError):
        return None
    return out if all(type(v) is float or type(v) is int for v in out) else None


def parse_take_json(
    data: bytes | str, name: str = "take.json", limits: Limits = DEFAULT_LIMITS
) -> tuple[np.ndarray, dict[str, Any]]:
    """The app's take JSON (``{"frames": [...], "meta": {...}}``, or a bare list of frames) -> frames, meta."""
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise TakeError(f"{name}: expected UTF-8 JSON (a PoseKit take export), the text is not valid UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise TakeError(f"{name}: expected PoseKit take JSON, could not parse it ({str(exc)[:120]})") from None
    if isinstance(doc, list):
        frames_json, meta = doc, {}
    elif isinstance(doc, dict) and "frames" in doc:
        frames_json, meta = doc["frames"], doc.get("meta") or {}
        if not isinstance(meta, dict):
            raise TakeError(f"{name}: expected 'meta' to be an object, got {type(meta).__name__}")
    else:
        keys = sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
        raise TakeError(f"{name}: expected a PoseKit take JSON with 'frames' and 'meta', got {keys}")
    if not isinstance(frames_json, list):
        raise TakeError(f"{name}: expected 'frames' to be a list, got {type(frames_json).__name__}")
    limits.check_frames(len(frames_json), name)
    frames = np.zeros(len(frames_json), FRAME_DTYPE)
    for i, frame in enumerate(frames_json):
        if not isinstance(frame, dict) or "joints" not in frame or "timestamp" not in frame:
            raise TakeError(f"{name}: frame {i}: expected an object with 'timestamp' and 'joints'")
        frames[i]["timestamp"] = _number(frame["timestamp"], lambda i=i: f"{name}: frame {i}, timestamp")
        values = _fast_joints(frame["joints"])
        with np.errstate(over="ignore"):
            if values is not None:
                frames[i]["joints"] = np.array(values, dtype=np.float64).reshape(NUM_JOINTS, 10)
            else:
                frames[i]["joints"] = _parse_joints(frame["joints"], i, name)
    return frames, _check_meta(meta, name)


def parse_meta(data: bytes, name: str = "meta.json") -> dict[str, Any]:
    """``meta.json`` bytes -> dict (validated: an object, joint schema ``COCO17+2``, units metres)."""
    try:
        meta = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise TakeError(f"{name}: expected the take's JSON metadata, could not parse it ({str(exc)[:120]})") from None
    return _check_meta(meta, name)


def _check_meta(meta: Any, name: str) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise TakeError(f"{name}: expected a JSON object of take metadata, got {type(meta).__name__}")
    if meta.get("jointSchema", JOINT_SCHEMA) != JOINT_SCHEMA:
        raise TakeError(f"{name}: jointSchema {meta['jointSchema']!r} is not supported; expected {JOINT_SCHEMA!r}")
    if meta.get("units", UNITS) != UNITS:
        raise TakeError(f"{name}: units {meta['units']!r} are not supported; expected {UNITS!r}")
    count = meta.get("frameCount")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise TakeError(f"{name}: frameCount: expected a whole number, got {str(count)[:40]}")
    try:
        check_json_depth(meta, f"{name}: meta")
    except LimitError as exc:
        raise TakeError(str(exc)) from None
    if meta.get("fps") is not None:
        check_fps(meta["fps"], f"{name}: meta 'fps'", TakeError)
    for key, low, high in (("duration", 0.0, math.inf), ("createdAt", -1e11, 1e11), ("minKeypointScore", 0.0, 1.0)):
        value = meta.get(key)
        if value is None:
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        try:
            ok = ok and math.isfinite(float(value)) and low <= float(value) <= high
        except OverflowError:
            ok = False
        if not ok:
            bound = f"a number from {low:g} to {high:g}" if math.isfinite(high) else f"a finite number >= {low:g}"
            raise TakeError(f"{name}: meta {key!r}: expected {bound}, got {str(value)[:40]}")
    return meta


def _check_consistency(frames: np.ndarray, meta: dict[str, Any], from_json: bool, name: str, limits: Limits) -> None:
    ts = frames["timestamp"]
    if ts.size == 0:
        raise TakeError(f"{name}: expected a take with at least one frame, got 0 frames")
    bad = np.flatnonzero(~np.isfinite(ts))
    if bad.size:
        raise TakeError(f"{name}: frame {bad[0]}: timestamp {ts[bad[0]]} is not a finite number")
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise TakeError(
            f"{name}: frame {i}: timestamp {ts[i]:.6f} s goes back in time (frame {i - 1} is at {ts[i - 1]:.6f} s); "
            "expected timestamps that never decrease"
        )
    with np.errstate(over="ignore"):
        span = float(ts.max()) - float(ts.min())
    if not span <= limits.max_duration_s:
        raise LimitError(f"{name}: {span:,.0f} s of take is over the limit of {limits.max_duration_s:,.0f} s")
    count = meta.get("frameCount")
    # The app writes frames.bin frame by frame and meta.json (frameCount) when recording stops, so they agree;
    # JSON exports may lack frames (Swift cannot encode NaN), but never have more.
    if count is not None and (len(frames) > count or (not from_json and len(frames) != count)):
        source = "the JSON" if from_json else "frames.bin"
        raise TakeError(f"{name}: meta.json says frameCount {count} but {source} holds {len(frames)} frames")


def to_sequence(frames: np.ndarray, meta: dict[str, Any]) -> PoseSequence:
    """(T,) :data:`FRAME_DTYPE` records and meta -> a one-person :class:`PoseSequence` (see :func:`load_take`)."""
    j = frames["joints"].astype(np.float64)[:, None]  # (T, 1, 19, 10)
    fps = meta.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        dt_ = np.diff(frames["timestamp"])
        dt_ = dt_[dt_ > 0]
        fps = float(1.0 / np.median(dt_)) if dt_.size else None
    return PoseSequence(
        timestamps=frames["timestamp"],
        keypoints_2d=j[..., POINT_2D],
        scores=j[..., SCORE],
        skeleton=POSEKIT_COCO17_2,
        keypoints_3d=j[..., CAMERA],
        canonical_3d=j[..., PLAYBACK],
        depth_confidence=j[..., DEPTH_CONFIDENCE],
        image_size=(1, 1),
        fps=None if fps is None else float(fps),
        space_3d="phone",
        meta=dict(meta),
    )


# ---------------------------------------------------------------------------------------------------------
# Writing
