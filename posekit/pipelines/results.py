"""What every job returns and writes: :class:`JobResult`, the output names, the results JSON and ZIP.

A job writing to ``folder`` with stem ``photo`` writes ``photo.json`` (the versioned document of
:mod:`posekit.io.export`, recording the settings that produced it), ``photo_overlay.jpg`` or
``photo_overlay.mp4`` when an overlay is drawn, and with ``zip`` on ``photo.zip`` (the JSON, a keypoints CSV,
the overlay, an app-compatible PoseKit take where the result maps to the app's joints, and with
``settings.export`` the main person's BVH/glTF animation for a sequence with 3D). Every file is written
atomically.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.io.atomic import atomic_write
from posekit.io.export import result_document, write_json, write_results_zip
from posekit.io.take_writer import save_take
from posekit.limits import DEFAULT_LIMITS, Limits
from posekit.pipelines.models import Models
from posekit.pipelines.settings import Settings
from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import POSEKIT_COCO17_2
from posekit.viz.drawing import draw_poses

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
"""``progress(fraction, message)``: the fraction (0..1) of the job done, and what it is doing, for a person."""


def silent(fraction: float, message: str) -> None:
    """A progress callback that shows nothing."""


@dataclass
class JobResult:
    """One input's results.

    Attributes:
        kind: ``"image"``, ``"video"``, ``"take"`` or ``"capture"``.
        name: the input's own file name.
        document: the results JSON document (as written).
        result: the poses: :class:`~posekit.poses.Poses` (image) or :class:`~posekit.sequence.PoseSequence`.
        files: what was written: ``"json"``, and ``"overlay"``, ``"zip"`` when made.
        warnings: what was skipped or cut (e.g. a damaged end of a video).
        seconds: wall time of the estimation.
        details: kind-specific figures for summaries (frames per second, capture format...).
    """

    kind: str
    name: str
    document: dict[str, Any]
    result: Poses | PoseSequence
    files: dict[str, Path]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outputs:
    """Where a job writes: ``folder / (stem + suffix)``."""

    folder: Path
    stem: str

    def path(self, suffix: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"{self.stem}{suffix}"


@dataclass
class Job:
    """One input to process, and everything its job needs.

    Attributes:
        path: the input (file or folder). name: its own name, to record and show (the app passes the upload's).
        settings: how to process it. models: where the models come from. outputs: where to write.
        limits: upload bounds. progress: ``progress(fraction, message)``.
    """

    path: Path
    name: str
    settings: Settings
    models: Models
    outputs: Outputs
    limits: Limits = DEFAULT_LIMITS
    progress: ProgressFn | None = silent

    def __post_init__(self) -> None:
        self.progress = self.progress or silent


@dataclass
class Written:
    document: dict[str, Any]
    files: dict[str, Path]


def write_image_overlay(path: Path, image: np.ndarray, poses: Poses, settings: Settings) -> Path:
    ok, encoded = cv2.imencode(".jpg", draw_poses(image, poses, settings.keypoint_threshold),
                               [cv2.IMWRITE_JPEG_QUALITY, 92])  # fmt: skip
    if not ok:
        raise ValueError(f"{path.name}: the overlay image could not be encoded")
    with atomic_write(path, "wb") as f:
        f.write(encoded.tobytes())
    return path


def take_writers(result: Poses | PoseSequence) -> dict[str, Callable[[Path], Any]]:
    """An app-compatible take for the ZIP, named as the app names its exports: for PoseKit-schema results, and
    for RGB-D captures (whose metric 3D maps to the app's joints); not for RTMW3D's model-relative 3D, which
    the app would show as if measured."""
    if result.skeleton.name != POSEKIT_COCO17_2.name and result.space_3d != "metric_depth":
        return {}
    seq = result if isinstance(result, PoseSequence) else PoseSequence.from_frames([result], [0.0])
    if seq.num_people == 0:
        return {}
    name = time.strftime("PoseTake_%Y-%m-%dT%H%M%SZ.zip", time.gmtime())
    return {f"take/{name}": lambda path: save_take(seq, path, "zip")}


def write_animations(result: Poses | PoseSequence, folder: Path, stem: str, formats: tuple[str, ...]) -> list[Path]:
    """The main person's animation files (:func:`posekit.io.animation.export_animations`) for a sequence with
    3D, in ``formats``; none for an image, a 2D-only result, or a sequence with no usable 3D (logged)."""
    if not formats or not isinstance(result, PoseSequence) or result.keypoints_3d is None or not result.num_people:
        return []
    from posekit.io.animation import AnimationExportError, export_animations

    try:
        return export_animations(result, folder, stem, formats)  # type: ignore[arg-type]
    except AnimationExportError as exc:
        log.warning("no animation files: %s", exc)
        return []


def write_results(
    result: Poses | PoseSequence,
    source: dict[str, Any],
    settings: Settings | None,
    models: Models | None,
    outputs: Outputs,
    files: dict[str, Path],
    model_id: str | None = None,
    zip: bool | None = None,
    export: tuple[str, ...] | None = None,
) -> Written:
    """Write ``<stem>.json`` (and ``<stem>.zip`` when ``settings.zip``); returns the document and all files.

    Args:
        source: what was processed (kind, file name, sizes...), recorded as given.
        settings: recorded in the document (None: no model ran, e.g. a take played back).
        files: ``"overlay"`` -> the overlay written, included in the ZIP.
        model_id: the document's ``model`` (default: ``settings.model``).
        zip: write the ZIP (default: ``settings.zip``).
        export: animation formats the ZIP also holds, as ``animation/<stem>.<format>`` (default:
            ``settings.export``).
    """
    document = result_document(result, model_id or (settings.model if settings else "none"), source)
    if settings is not None:
        document["settings"] = settings.to_dict()
    if models is not None and settings is not None:
        document["runtime"] = models.runtime(settings.model)
    written = {"json": write_json(document, outputs.path(".json")), **files}
    if zip if zip is not None else settings is not None and settings.zip:
        members = {f"overlay{p.suffix}": p for key, p in files.items() if key == "overlay"}
        formats = export if export is not None else settings.export if settings is not None else ()
        with tempfile.TemporaryDirectory() as tmp:
            for path in write_animations(result, Path(tmp), outputs.stem, formats):
                members[f"animation/{path.name}"] = path
            written["zip"] = write_results_zip(outputs.path(".zip"), document, result, members, take_writers(result))
    return Written(document, written)
