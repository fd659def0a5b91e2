"""The generated hostile corpus (``generators/hostile.py``, #16) through the served app's endpoints.

Each case is uploaded with gradio_client as a user would send it: images to ``/image``, videos to ``/video``,
takes, captures and ZIP tricks to ``/rgbd`` (PoseKit, 2 s, so that valid inputs run quickly). Each must end in
a valid result or a clear ``gr.Error``: titled, not "Something went wrong" nor Gradio's bare "upstream app has
raised an exception", no traceback, no server folder in the message. Nothing may stay written outside the
request folders (Gradio's upload folder, the app's work folders, the client's downloads: an audit hook
watches every file Python opens for writing; a temporary folder removed by the end of the request is counted
apart), a bomb may not raise the server's peak RSS by more than :data:`BOMB_EXTRA_RSS`, and the server must
answer afterwards. Capture folders (4 cases) cannot be uploaded and are counted as skipped.

By default a representative subset runs (every bomb, up to two hostile and one valid case of each kind and
family: about 180 of the 546, ~90 s); ``POSEKIT_APP_HOSTILE=all`` runs every case (~4 min on 2 CPUs). The table goes to
``test-output/app_hostile.txt``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from generators.hostile import KINDS, Case, Kit, build_corpus  # noqa: E402
from generators.weights import write_weights  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from posekit.ui import create_demo  # noqa: E402
from posekit.ui.files import APP_LIMITS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "app_hostile.txt"
IMAGE = ROOT / "assets" / "images" / "coco_000000000785.jpg"
BOMB_EXTRA_RSS = 256 * 1024**2
"""Peak RSS the server may gain while it refuses one bomb (the library's own test bounds Python's allocations
at 64 MB; this counts everything: Gradio's upload, the request, native buffers)."""
TITLES = {"Could not process the image", "Could not process the video", "Could not process the upload", "Invalid input"}
SETTINGS = {  # PoseKit, no smoothing, 2 s from the start: valid inputs run in a moment
    "/image": ("PoseKit", 0.3, 0.1, False),
    "/video": ("PoseKit", 0.3, 0.1, False, "none", 0.5, 2.0, 1),
    "/rgbd": ("PoseKit", 0.3, 0.1, False, "none", 0.5, "balanced", 2.0, 1),
}
CLIENT_STAGING = re.compile(re.escape(os.path.realpath(tempfile.gettempdir())) + r"/[0-9a-f]{40}/")
"""gradio_client downloads each result into ``<temp>/<40 hex>/`` before moving it to its download folder: the
test's own writes, not the server's."""
ENDPOINT = {"image": "/image", "video": "/video", "take": "/rgbd", "capture": "/rgbd", "zip": "/rgbd"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _Writes:
    """Files opened for writing anywhere in this process (server and client threads) while active."""

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active or event not in ("open", "os.rename", "os.replace", "os.symlink", "os.link"):
            return
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if not writing or not isinstance(path, (str, bytes, os.PathLike)):
                return
            self.paths.append(os.path.realpath(os.fsdecode(path)))
        else:
            self.paths.extend(os.path.realpath(os.fsdecode(a)) for a in args[:2] if isinstance(a, (str, bytes)))


WRITES = _Writes()
TRANSIENT: set[str] = set()
"""Temporary folders outside the request folders that a request wrote into and removed before it ended."""


def representative(cases: list[Case]) -> list[Case]:
    """Every bomb, and up to two hostile cases and one valid case of each (kind, family); the family is the id's
    first word."""
    seen: Counter = Counter()
    out = []
    for case in cases:
        family = (case.kind, case.id.split("-")[0], case.expect is None)
        if case.bomb or seen[family] < (1 if case.expect is None else 2):
            out.append(case)
            seen[family] += 1
    return out


def _peak_rss_reset() -> int | None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status("VmRSS")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    weights = write_weights(tmp_path_factory.mktemp("weights"), rtmw3d=(), posekit=True)
    downloads = tmp_path_factory.mktemp("downloads")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"HF_HUB_OFFLINE": "1", "POSEKIT_OFFLINE": "1", "POSEKIT_WEIGHTS_DIR": str(weights)}.items():
            mp.setenv(key, value)
        demo = create_demo(limits=APP_LIMITS)
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
        client = Client(demo.local_url, verbose=False, download_files=str(downloads))
        try:
            yield demo, client, downloads
        finally:
            demo.close()


def _allowed_roots(downloads: Path) -> list[str]:
    """Where a request may write: Gradio's upload folder and cache, the app's work folders, the downloads."""
    import gradio.utils

    temp = os.path.realpath(tempfile.gettempdir())
    return [os.path.realpath(gradio.utils.get_upload_folder()), os.path.realpath(downloads),
            os.path.join(temp, "posekit-app-")]  # fmt: skip


def _secrets(root: Path, kit: Kit) -> set[str]:
    import gradio.utils

    # (not the bare temp folder: a hostile ZIP's own member names may say "/tmp/...", and messages quote them)
    return {str(root), str(root.resolve()), str(kit.outside), gradio.utils.get_upload_folder(), "/gradio/",
            os.path.realpath(tempfile.gettempdir()) + "/tmp"}  # fmt: skip


def _check_message(error: AppError, secrets: set[str]) -> list[str]:
    message, problems = error.message, []
    if "Something went wrong" in message or "upstream Gradio app" in message:
        problems.append("not a clear error")
    if "Traceback" in message or 'File "' in message:
        problems.append("traceback in the message")
    problems += [f"names a server folder ({s})" for s in secrets if s in message]
    if error.title not in TITLES:
        problems.append(f"title {error.title!r}")
    if not message.startswith(f"{error.title}. "):
        problems.append("the title does not lead the text")
    return problems


def _run(case: Case, client: Client, root: Path, kit: Kit, downloads: Path) -> tuple[str, str, list[str], float]:
    """(outcome, detail, problems, extra peak RSS): outcome ``accepted``, ``clean error``, ``unexpected`` or
    ``skipped``."""
    folder = root / "cases" / case.kind / case.id
    folder.mkdir(parents=True)
    path = case.write(folder, kit)
    if path.is_dir():
        return "skipped", "a folder: the app takes uploaded files", [], 0.0
    api = ENDPOINT[case.kind]
    base = _peak_rss_reset() if case.bomb else None
    WRITES.paths.clear()
    WRITES.active = True
    problems: list[str] = []
    try:
        outputs = client.predict(handle_file(path), *SETTINGS[api], api_name=api)
        outcome, detail = "accepted", outputs[2].split("\n")[0][:140]
        if not outputs[3] or not Path(outputs[3]).is_file():
            problems.append("no results file")
    except AppError as error:
        outcome, detail = "clean error", error.message
        problems += _check_message(error, _secrets(root, kit))
    except Exception as exc:  # noqa: BLE001 - the client failing is a problem of the app's
        outcome, detail = "unexpected", f"{type(exc).__name__}: {exc}"
        problems.append("the client failed")
    finally:
        WRITES.active = False
    extra = (_status("VmHWM") - base) if base is not None else 0
    if extra > BOMB_EXTRA_RSS:
        problems.append(f"peak RSS +{extra / 1e6:.0f} MB")
    allowed = _allowed_roots(downloads)
    outside = sorted({p for p in WRITES.paths if not p.startswith(tuple(allowed)) and "__pycache__" not in p
                      and not CLIENT_STAGING.match(p)})  # fmt: skip
    left = [p for p in outside if os.path.exists(p)]
    if left:
        problems.append(f"left files outside the request folders: {left[:3]}")
    elif outside:
        TRANSIENT.update(os.path.dirname(p) for p in outside)
    if outcome == "accepted" and case.expect is not None and not _accepted_by_design(case):
        problems.append(f"expected a clear error ({case.expect.__name__} in the library)")
    if problems:
        outcome = "unexpected"
    return outcome, detail, problems, extra


def _accepted_by_design(case: Case) -> bool:
    """A case the library refuses that the app may accept: its error came from a bound tighter than the app's, or
    from the CLI's refusal of an extension (the app's /image judges an image by its header, whatever its name)."""
    from generators.hostile import CORPUS_LIMITS

    return case.limits != CORPUS_LIMITS or (case.kind == "image" and case.id.startswith("unsupported-ext"))


def _table(rows: list[tuple[Case, str, str, list[str], float, float]], seconds: float) -> str:
    per_kind: dict[str, Counter] = defaultdict(Counter)
    for case, outcome, _, _, _, _ in rows:
        c = per_kind[case.kind]
        c["cases"] += 1
        c[outcome] += 1
        c["valid refused"] += case.expect is None and outcome == "clean error"
        c["hostile accepted"] += case.expect is not None and outcome == "accepted"
    head = ["cases", "accepted", "clean error", "unexpected", "skipped", "valid refused", "hostile accepted"]
    lines = [f"{'kind':<9}" + "".join(f"{h:>{len(h) + 2}}" for h in head)]
    total: Counter = Counter()
    for kind in KINDS:
        total.update(per_kind[kind])
        lines.append(f"{kind:<9}" + "".join(f"{per_kind[kind][h]:>{len(h) + 2}}" for h in head))
    lines.append(f"{'total':<9}" + "".join(f"{total[h]:>{len(h) + 2}}" for h in head))
    bombs = [(case, extra) for case, _, _, _, extra, _ in rows if case.bomb]
    if bombs:
        worst = max(bombs, key=lambda b: b[1])
        lines.append(f"\n{len(bombs)} bombs: largest extra peak RSS of the server {worst[1] / 1e6:.1f} MB "
                     f"({worst[0].kind}/{worst[0].id})")  # fmt: skip
    lines.append(f"{len(rows)} cases through the served app in {seconds:.0f} s")
    if TRANSIENT:
        lines.append(f"{len(TRANSIENT)} temporary folders outside the request folders were written and removed "
                     f"within their request, e.g. {sorted(TRANSIENT)[0]}")  # fmt: skip
    lines += ["", "slowest cases:"]
    for case, _, _, _, _, s in sorted(rows, key=lambda r: -r[5])[:8]:
        lines.append(f"  {s:6.2f} s  {case.kind}/{case.id}")
    lines += ["", "'valid refused': valid for the library, refused by the app (its own bounds or file types);",
              "'hostile accepted': the library's corpus test expects an error, the app gave a result: allowed only",
              "where that error comes from a bound tighter than the app's (the *-limit cases) or from the CLI's",
              "refusal of an image extension (a PNG named .gif or .svg: the app judges an image by its header).",
              "", "every case (kind/id [file name] outcome: detail):"]  # fmt: skip
    for case, outcome, detail, problems, _, _ in rows:
        line = f"  {case.kind}/{case.id} [{case.filename}] {outcome}: {detail[:180]}"
        lines.append(line + (f"  <-- {'; '.join(problems)}" if problems else ""))
    return "\n".join(lines) + "\n"


def test_hostile_corpus_through_the_app(app, tmp_path_factory):
    demo, client, downloads = app
    client.predict(handle_file(IMAGE), *SETTINGS["/image"], api_name="/image")  # the model loads once, first
    root = tmp_path_factory.mktemp("hostile-app")
    kit = Kit(root)
    cases = build_corpus()
    if os.environ.get("POSEKIT_APP_HOSTILE") != "all":
        cases = representative(cases)
    rows = []
    start = time.perf_counter()
    for case in cases:
        t = time.perf_counter()
        outcome, detail, problems, extra = _run(case, client, root, kit, downloads)
        rows.append((case, outcome, detail, problems, extra, time.perf_counter() - t))
    seconds = time.perf_counter() - start
    # the server still answers
    _, _, summary, _, _ = client.predict(handle_file(IMAGE), *SETTINGS["/image"], api_name="/image")
    assert "PoseKit" in summary
    table = _table(rows, seconds)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(table)
    print(table.split("\n\nevery case")[0])
    failures = [f"{c.kind}/{c.id} [{c.filename}]: {'; '.join(p)} ({d[:200]})" for c, _, d, p, _, _ in rows if p]
    assert not failures, f"{len(failures)} of {len(rows)} cases misbehaved:\n" + "\n".join(failures)
