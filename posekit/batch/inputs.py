"""What a batch run works on: command-line inputs (files, folders, globs, manifests) -> :class:`WorkItem` s.

Every item gets a stable id (a hash of where it lives), its output folder relative to the common root of all
inputs (so ``OUT`` mirrors the input layout) and a result stem unique within that folder. Nothing here imports
Ray; remote paths (``s3://``, ``gs://``, ... in manifests) are only named here and copied by the workers.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from posekit.io.inputs import IMAGE_EXTENSIONS, UnsupportedFileError, file_kind
from posekit.io.takes import is_take_archive

MANIFEST_EXTENSIONS = (".csv", ".jsonl", ".ndjson")
"""A command-line input with one of these extensions is a list of inputs (a ``path`` column or key)."""

REMOTE_KIND = "remote"
"""Kind of a remote item whose kind needs its content (a ``.zip`` is a take or a capture): told in the worker."""


class BatchInputError(ValueError):
    """A command-line input that names nothing to process (missing file, empty glob, manifest without paths)."""


@dataclass(frozen=True)
class WorkItem:
    """One input of a batch run.

    Attributes:
        source: absolute local path, or a URL (``scheme://...``) from a manifest.
        kind: ``"image"``, ``"video"``, ``"take"``, ``"capture"`` or :data:`REMOTE_KIND`.
        rel_dir: output folder, relative to ``OUT`` (POSIX, ``""`` for ``OUT`` itself).
        stem: result file stem, unique within ``rel_dir``.
        id: 16 hex digits of SHA-1 of ``source``: names its done marker.
    """

    source: str
    kind: str
    rel_dir: str = ""
    stem: str = ""
    id: str = ""

    @property
    def is_remote(self) -> bool:
        return is_url(self.source)

    @property
    def rel_stem(self) -> str:
        """``rel_dir/stem``: how the summary and the errors table name the item's outputs."""
        return str(PurePosixPath(self.rel_dir or ".") / self.stem)

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "kind": self.kind, "rel_dir": self.rel_dir, "stem": self.stem, "id": self.id}


def is_url(text: str) -> bool:
    """``scheme://...`` with a scheme of two letters or more (so ``C:\\`` stays a path); ``file://`` counts."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").isalnum()


def item_id(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------- discovery


def discover(
    inputs: Sequence[str | os.PathLike], exclude: Sequence[str | os.PathLike] = ()
) -> tuple[list[WorkItem], list[dict[str, str]]]:
    """The work items of command-line ``inputs``, named and laid out (see :func:`layout`), and the inputs that
    name nothing, as rows of the errors table (``input``, ``error_type``, ``message``): one bad input never
    stops the others.

    Args:
        inputs: files, folders (walked recursively), glob patterns, or manifests (``.csv``/``.jsonl`` with a
            ``path`` column; relative paths are relative to the manifest; URLs are kept as they are).
        exclude: folders never walked into (the output folder, when it lies inside an input folder).
    """
    excluded = {Path(p).resolve() for p in exclude}
    found: dict[str, str] = {}  # source -> kind, first mention wins, order kept
    errors: list[dict[str, str]] = []
    for given in inputs:
        for source, kind in _expand(os.fspath(given), excluded, errors):
            found.setdefault(source, kind)
    return layout([WorkItem(source, kind) for source, kind in found.items()]), errors


def _expand(text: str, excluded: set[Path], errors: list[dict[str, str]]) -> list[tuple[str, str]]:
    """``(source, kind)`` pairs of one input; a problem goes to ``errors`` (each manifest entry on its own)."""
    try:
        if Path(text).suffix.lower() in MANIFEST_EXTENSIONS and Path(text).is_file():
            return [pair for entry in read_manifest(Path(text)) for pair in _expand(entry, excluded, errors)]
        return _expand_one(text, excluded)
    except (BatchInputError, OSError, UnicodeDecodeError) as exc:
        errors.append({"input": text, "error_type": type(exc).__name__, "message": str(exc)})
        return []


def _expand_one(text: str, excluded: set[Path]) -> list[tuple[str, str]]:
    if is_url(text):
        return [(text, kind_from_name(text))]
    path = Path(text).expanduser()
    if path.is_dir():
        items = list(walk(path, excluded))
        if not items:
            raise BatchInputError(f"{text}: the folder holds no image, video, take or capture")
        return items
    if path.is_file():
        try:
            return [(str(path.resolve()), file_kind(path))]
        except UnsupportedFileError as exc:
            raise BatchInputError(str(exc)) from None
        except (OSError, ValueError):  # a damaged or oversized ZIP: the worker's run says what is wrong
            return [(str(path.resolve()), "capture")]
    if glob.has_magic(text):
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches:
            raise BatchInputError(f"{text}: no file matches this pattern")
        pairs = []
        for match in matches:
            m = Path(match)
            if m.is_dir():
                pairs.extend(walk(m, excluded))
            elif (kind := _kind_or_none(m)) is not None:
                pairs.append((str(m.resolve()), kind))
        return pairs
    raise BatchInputError(f"{text}: no such file or folder")


def walk(folder: Path, excluded: set[Path] = frozenset()) -> Iterable[tuple[str, str]]:
    """``(source, kind)`` of everything posekit reads under ``folder``, in sorted order.

    A take folder (``frames.bin``/``frames.json``) or an unzipped capture folder is one item and is not
    walked into; files of other kinds and hidden entries (``.name``) are skipped.
    """
    folder = folder.resolve()
    if folder in excluded:
        return
    special = _folder_kind(folder)
    if special is not None:
        yield str(folder), special
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from walk(entry, excluded)
        elif entry.is_file() and (kind := _kind_or_none(entry)) is not None:
            yield str(entry.resolve()), kind


_CAPTURE_MARKERS = (("metadata", "rgbd"), ("metadata.json", "depth"), ("camera_matrix.csv", None),
                    ("intrinsics.json", None))  # fmt: skip
"""(file, folder) at the root of an unzipped capture, after ``posekit.io.captures.open.detect_format``."""


def _folder_kind(folder: Path) -> str | None:
    """``"take"`` or ``"capture"`` for a folder that is one input, None for a plain folder."""
    if is_take_archive(folder):
        return "take"
    if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir() if p.is_file()):
        return None  # a folder of images, whatever else it holds
    for name, sub in _CAPTURE_MARKERS:
        if (folder / name).is_file() and (sub is None or (folder / sub).is_dir()):
            return "capture"
    return None


def _kind_or_none(path: Path) -> str | None:
    try:
        return file_kind(path)
    except UnsupportedFileError:
        return None
    except (OSError, ValueError):  # a damaged or oversized ZIP: the worker's run says what is wrong
        return "capture"


def kind_from_name(name: str) -> str:
    """The kind of a remote file from its extension alone; :data:`REMOTE_KIND` where its content decides."""
    suffix = PurePosixPath(name.split("?", 1)[0]).suffix.lower()
    if suffix in (".zip",):
        return REMOTE_KIND
    try:
        return file_kind(PurePosixPath(f"x{suffix}"))
    except (UnsupportedFileError, OSError, ValueError):
        return REMOTE_KIND


def read_manifest(path: Path) -> list[str]:
    """The ``path`` entries of a CSV (header row with a ``path`` column) or JSONL manifest, relative paths resolved
    against the manifest's folder."""
    entries: list[str] = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise BatchInputError(f"{path}: a CSV manifest needs a header row with a 'path' column")
            entries = [row["path"].strip() for row in reader if (row.get("path") or "").strip()]
    else:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BatchInputError(f"{path}:{number}: not JSON ({exc.msg})") from None
                value = record.get("path") if isinstance(record, dict) else None
                if not isinstance(value, str) or not value.strip():
                    raise BatchInputError(f"{path}:{number}: expected an object with a 'path' string")
                entries.append(value.strip())
    if not entries:
        raise BatchInputError(f"{path}: the manifest lists no path")
    return [e if is_url(e) or os.path.isabs(e) else str(path.parent / e) for e in entries]


# ---------------------------------------------------------------------------------------------------- layout


def _parts(source: str) -> tuple[str, ...]:
    """Path components, a URL's ``scheme://host`` first, so local and remote sources never share a root."""
    if is_url(source):
        scheme, _, rest = source.partition("://")
        host, _, key = rest.split("?", 1)[0].partition("/")
        return (f"{scheme}://{host}", *[p for p in key.split("/") if p])
    return Path(source).parts


def layout(items: Sequence[WorkItem]) -> list[WorkItem]:
    """Give each item its output folder (its folder relative to the common root of all items) and a stem
    unique in that folder (``name``, then ``name-2``, ... in the order given), and its id."""
    parents = [_parts(item.source)[:-1] for item in items]
    common = len(parents[0]) if parents else 0
    for p in parents[1:]:
        common = min(common, len(p))
        for i in range(common):
            if p[i] != parents[0][i]:
                common = i
                break
    used: set[tuple[str, str]] = set()
    out = []
    for item, parent in zip(items, parents):
        rel = [p.replace("://", "_") for p in parent[common:]]
        rel_dir = str(PurePosixPath(*rel)) if rel else ""
        name = _parts(item.source)[-1]
        base = PurePosixPath(name).stem if PurePosixPath(name).suffix else name
        stem, n = base, 1
        while (rel_dir, stem) in used:
            n += 1
            stem = f"{base}-{n}"
        used.add((rel_dir, stem))
        out.append(WorkItem(item.source, item.kind, rel_dir, stem, item_id(item.source)))
    return out
