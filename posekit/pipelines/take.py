"""The take job: a PoseKit iPhone take played back as recorded (its own metric 3D; no model, no GPU)."""

from __future__ import annotations

from pathlib import Path

from posekit.io.takes import load_take
from posekit.limits import DEFAULT_LIMITS, Limits
from posekit.pipelines.results import JobResult, Outputs, ProgressFn, write_results
from posekit.pipelines.settings import Settings

TAKE_MODEL_ID = "iphone-take"
"""The results document's ``model`` for a take: the phone's own model ran, on the phone."""


def run_take(
    path: Path,
    settings: Settings,
    outputs: Outputs,
    limits: Limits = DEFAULT_LIMITS,
    progress: ProgressFn | None = None,
    name: str | None = None,
) -> JobResult:
    """Read a take (bounded) and write its JSON (and ZIP with ``settings.zip``); nothing is re-estimated, and
    no smoothing is added: the phone smoothed it already."""
    report = progress or (lambda fraction, message: None)
    name = name or path.name
    report(0.0, "reading the take")
    seq = load_take(path, limits)
    report(0.5, f"{seq.num_frames} frames read")
    source = {"kind": "take", "file": name}
    written = write_results(seq, source, None, None, outputs, {}, model_id=TAKE_MODEL_ID, zip=settings.zip)
    report(1.0, "done")
    return JobResult("take", name, written.document, seq, written.files, [], 0.0, {"meta": seq.meta})
