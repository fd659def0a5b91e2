"""Any input, one call: :func:`run_file` tells the input's kind and runs its job; :func:`input_jobs` expands
what a user names (a file, or a folder of images) into jobs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from posekit.io.inputs import IMAGE_EXTENSIONS, FileKind, file_kind
from posekit.io.takes import is_take_archive
from posekit.limits import DEFAULT_LIMITS, Limits
from posekit.pipelines.capture import run_capture
from posekit.pipelines.image import run_image
from posekit.pipelines.models import Models
from posekit.pipelines.results import Job, JobResult, Outputs, ProgressFn
from posekit.pipelines.settings import Settings
from posekit.pipelines.take import run_take
from posekit.pipelines.video import run_video


def input_jobs(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> list[tuple[Path, FileKind]]:
    """``(file, kind)`` for each job of one named input: a file is one job; a folder holding images gives one
    job per image (sorted by name); any other folder is a take or capture folder (one job).

    Raises:
        FileNotFoundError: nothing there. UnsupportedFileError: a file of no kind posekit reads.
    """
    path = Path(path)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if images:
            return [(p, "image") for p in images]
        return [(path, "take" if is_take_archive(path, limits) else "capture")]
    if not path.is_file():
        raise FileNotFoundError(f"{path.name or path}: no such file or folder")
    return [(path, file_kind(path, limits))]


def run_file(
    path: str | os.PathLike,
    settings: Settings,
    models: Models,
    out_dir: str | os.PathLike,
    stem: str | None = None,
    kind: FileKind | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: ProgressFn | None = None,
    name: str | None = None,
) -> JobResult:
    """Process one input and write its results under ``out_dir`` (see :mod:`posekit.pipelines.results`).

    Args:
        path: an image, a video, a take or a capture (file or folder).
        settings: how to process it; models: where the models come from (loaded on first use).
        stem: the results' file names (default: the input's name without its extension).
        kind: the input's kind when known (default: :func:`~posekit.io.inputs.file_kind`).
        name: the input's name to record and show (default: its file name; the app passes the upload's).

    Raises:
        ValueError (UnsupportedFileError, ImageError, VideoError, TakeError, CaptureError, LimitError...) for a
        bad input, with a message naming it; ModelUnavailableError when the model cannot be loaded.
    """
    path = Path(path)
    kind = kind or (input_jobs(path, limits)[0][1] if path.is_dir() else file_kind(path, limits))
    outputs = Outputs(Path(out_dir), stem or (path.stem if path.suffix else path.name))
    job = Job(path, name or path.name, settings, models, outputs, limits, progress)
    return RUNNERS[kind](job)


RUNNERS: dict[str, Callable[[Job], JobResult]] = {
    "image": run_image, "video": run_video, "take": run_take, "capture": run_capture,
}  # fmt: skip
"""The job of each input kind."""
