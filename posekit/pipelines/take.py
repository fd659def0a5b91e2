"""The take job: a PoseKit iPhone take played back as recorded (its own metric 3D; no model, no GPU)."""

from __future__ import annotations

from posekit.io.takes import load_take
from posekit.pipelines.results import Job, JobResult, write_results

TAKE_MODEL_ID = "iphone-take"
"""The results document's ``model`` for a take: the phone's own model ran, on the phone."""


def run_take(job: Job) -> JobResult:
    """Read a take (bounded) and write its JSON (and ZIP with ``settings.zip``); nothing is re-estimated, and
    no smoothing is added: the phone smoothed it already."""
    report = job.progress
    report(0.0, "reading the take")
    seq = load_take(job.path, job.limits)
    report(0.5, f"{seq.num_frames} frames read")
    source = {"kind": "take", "file": job.name}
    written = write_results(seq, source, None, None, job.outputs, {}, model_id=TAKE_MODEL_ID, zip=job.settings.zip,
                           export=job.settings.export)  # fmt: skip
    report(1.0, "done")
    return JobResult("take", job.name, written.document, seq, written.files, [], 0.0, {"meta": seq.meta})
