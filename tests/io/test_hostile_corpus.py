"""Every case of the generated hostile corpus (``generators/hostile.py``) through the library's readers (#16).

For each case: :func:`posekit.io.inputs.file_kind`, then the reader of that kind (``read_image``,
``probe_video`` + ``VideoReader``, ``load_take``, ``open_capture(...).frames()``) must give a valid result or
the case's expected library error, with a message that names no server folder; nothing may be written
anywhere (an audit hook watches every file Python opens for writing); bombs must stay within bounded memory.
A table of the outcomes per kind goes to ``test-output/hostile_corpus.txt``.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from generators.hostile import KINDS, Case, Kit, build_corpus

from posekit.io.archive import ArchiveError
from posekit.io.captures.base import CaptureError
from posekit.io.captures.open import open_capture
from posekit.io.images import ImageError, read_image
from posekit.io.inputs import UnsupportedFileError, file_kind
from posekit.io.takes import TakeError, load_take
from posekit.io.video import ReadBounds, VideoReader, VideoWarning, probe_video
from posekit.io.video_open import VideoError
from posekit.limits import LimitError

LIBRARY_ERRORS = (ArchiveError, CaptureError, ImageError, LimitError, TakeError, UnsupportedFileError, VideoError)
BOMB_PEAK_BYTES = 64 * 1024**2
"""Python-visible allocation bound (tracemalloc peak) while a bomb is refused."""
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "hostile_corpus.txt"

_WRITE_EVENTS = {"os.rename", "os.replace", "os.remove", "os.unlink", "os.mkdir", "os.rmdir", "os.symlink", "os.link",
                 "os.truncate", "shutil.copyfile", "shutil.rmtree", "os.chmod"}  # fmt: skip
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _FileAudit:
    """A process-wide audit hook (they cannot be removed), active only while a case is read: records every file
    opened for writing or changed, and every file opened at all."""

    def __init__(self) -> None:
        self.active = False
        self.writes: list[str] = []
        self.opened: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            if not isinstance(path, (str, bytes, os.PathLike)):
                return
            path = os.fsdecode(path)
            self.opened.append(path)
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and "__pycache__" not in path:
                self.writes.append(f"open({path!r}, {mode!r})")
        elif event in _WRITE_EVENTS:
            self.writes.append(f"{event}{args!r}")


AUDIT = _FileAudit()


def read_upload(path: Path, case: Case) -> str:
    """Read an upload the way the CLI and the app do; returns a short description of the valid result."""
    limits = case.limits
    kind = "capture" if path.is_dir() else file_kind(path, limits)  # the CLI reads capture folders
    if kind == "image":
        image = read_image(path, limits=limits)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        return f"image {image.shape[1]}x{image.shape[0]}"
    if kind == "video":
        info = probe_video(path, limits, ReadBounds(max_frames=4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VideoWarning)
            frames = list(VideoReader(path, ReadBounds(max_frames=4), limits, keep_original=False))
        assert frames and all(f.inference_image.shape[:2] == (info.height, info.width) for f in frames)
        return f"video {info.container} {len(frames)} frames"
    if kind == "take":
        seq = load_take(path, limits)
        assert seq.num_frames > 0 and np.all(np.diff(seq.timestamps) >= 0)
        return f"take {seq.num_frames} frames"
    with open_capture(path, limits) as capture:
        frames = list(capture.frames(stop=2))
    assert frames and all(f.color.ndim == 3 for f in frames)
    return f"capture {capture.info.format} {len(frames)} frames"


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run(case: Case, root: Path, kit: Kit) -> tuple[str, str, str | None]:
    """(outcome, detail, problem): outcome ``accepted``, ``clean error`` or ``unexpected``."""
    folder = root / "cases" / case.kind / case.id
    folder.mkdir(parents=True)
    path = case.write(folder, kit)
    before = _listing(root)
    if case.bomb:
        tracemalloc.start()
    AUDIT.writes.clear()
    AUDIT.active = True
    error: BaseException | None = None
    try:
        detail = read_upload(path, case)
    except Exception as exc:  # noqa: BLE001 - classified below
        error, detail = exc, f"{type(exc).__name__}: {exc}"
    finally:
        AUDIT.active = False
        peak = tracemalloc.get_traced_memory()[1] if case.bomb else 0
        if case.bomb:
            tracemalloc.stop()
    problems = []
    if AUDIT.writes:
        problems.append(f"wrote files: {AUDIT.writes[:3]}")
    if _listing(root) != before:
        problems.append(f"files appeared: {sorted(_listing(root) - before)[:3]}")
    if peak > BOMB_PEAK_BYTES:
        problems.append(f"peak memory {peak / 1e6:.0f} MB over {BOMB_PEAK_BYTES / 1e6:.0f} MB")
    if error is not None:
        message = str(error)
        for secret in {str(root), str(root.resolve()), str(folder), str(kit.outside)}:
            if secret in message:
                problems.append(f"message names a server folder: {message[:200]}")
        if not isinstance(error, LIBRARY_ERRORS):
            problems.append(f"not a library error: {detail[:300]}")
        elif case.expect is None:
            problems.append(f"expected a valid result, got {detail[:300]}")
        elif not isinstance(error, case.expect):
            problems.append(f"expected {case.expect.__name__}, got {detail[:300]}")
    elif case.expect is not None:
        problems.append(f"expected {case.expect.__name__}, got a valid result: {detail}")
    outcome = "unexpected" if problems else ("accepted" if error is None else "clean error")
    return outcome, detail, "; ".join(problems) or None


def _table(rows: list[tuple[Case, str, str, str | None, float]]) -> str:
    per_kind: dict[str, Counter] = defaultdict(Counter)
    errors: dict[str, Counter] = defaultdict(Counter)
    for case, outcome, detail, _, _ in rows:
        per_kind[case.kind]["cases"] += 1
        per_kind[case.kind][outcome] += 1
        per_kind[case.kind]["bombs"] += case.bomb
        if outcome == "clean error":
            errors[case.kind][detail.split(":", 1)[0]] += 1
    lines = [f"{'kind':<9}{'cases':>7}{'accepted':>10}{'clean error':>13}{'unexpected':>12}{'bombs':>7}  errors"]
    total: Counter = Counter()
    for kind in KINDS:
        c = per_kind[kind]
        total.update(c)
        kinds = ", ".join(f"{name} {n}" for name, n in errors[kind].most_common())
        lines.append(f"{kind:<9}{c['cases']:>7}{c['accepted']:>10}{c['clean error']:>13}{c['unexpected']:>12}"
                     f"{c['bombs']:>7}  {kinds}")  # fmt: skip
    lines.append(f"{'total':<9}{total['cases']:>7}{total['accepted']:>10}{total['clean error']:>13}"
                 f"{total['unexpected']:>12}{total['bombs']:>7}")  # fmt: skip
    lines += ["", "slowest cases:"]
    for case, _, _, _, seconds in sorted(rows, key=lambda r: -r[4])[:8]:
        lines.append(f"  {seconds:6.2f} s  {case.kind}/{case.id}")
    lines += ["", "every case (kind/id, file name, outcome: detail):"]
    for case, outcome, detail, problem, _ in rows:
        lines.append(f"  {case.kind}/{case.id} [{case.filename}] {outcome}: {detail[:160]}"
                     + (f"  <-- {problem}" if problem else ""))  # fmt: skip
    return "\n".join(lines) + "\n"


def test_hostile_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    kit = Kit(root)
    cases = build_corpus()
    assert len(cases) >= 300 and {c.kind for c in cases} == set(KINDS)
    rows = []
    for case in cases:
        start = time.perf_counter()
        outcome, detail, problem = _run(case, root, kit)
        rows.append((case, outcome, detail, problem, time.perf_counter() - start))
    table = _table(rows)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(table)
    print(table.split("\n\nevery case")[0])
    failures = [f"{c.kind}/{c.id} [{c.filename}]: {p}" for c, _, _, p, _ in rows if p]
    assert not failures, f"{len(failures)} of {len(rows)} cases misbehaved:\n" + "\n".join(failures)


@pytest.mark.parametrize("kind", KINDS)
def test_corpus_covers_every_kind_with_both_outcomes(kind):
    cases = [c for c in build_corpus() if c.kind == kind]
    assert any(c.expect is None for c in cases) and sum(c.expect is not None for c in cases) >= 20
