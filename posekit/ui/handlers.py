"""The app's actions, as thin functions over the library: validate the upload (bounds first, before any
decoding), decode once to BGR, run the model, and produce the overlay, the 3D figure, a summary and the
result files.

Each public handler returns ``(overlay, figure, summary, json_path, zip_path)`` and raises only
``gr.Error`` with a message meant for people (never a traceback). Inference runs in the ``infer_*``
functions, the only ones that ask ZeroGPU for a GPU.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np
import plotly.graph_objects as go

from posekit.drawing import draw_poses
from posekit.images import read_image
from posekit.limits import Limits
from posekit.pipeline import export, plot3d
from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import POSEKIT_COCO17_2
from posekit.ui.files import APP_LIMITS, WorkDirs, check_image_upload
from posekit.ui.gpu import gpu
from posekit.ui.models import LoadedModel, ModelRegistry, ModelUnavailableError

log = logging.getLogger(__name__)

Outputs = tuple[str | None, go.Figure, str, str, str]

SPACE_TEXT = {
    "model": "**model-relative**: RTMW3D's root-relative 3D placed at a nominal depth (5.1 m) with nominal "
    "intrinsics; the pose's shape is right, its absolute scale and position are not.",
    "metric_depth": "**metric, from depth**: joints back-projected with the capture's measured depth and "
    "real camera intrinsics, in metres.",
    "phone": "**from the phone**: computed on the iPhone by the PoseKit app from ARKit depth, in metres.",
    None: "**none**: this model gives 2D keypoints only; upload an RGB-D capture for metric 3D.",
}


@dataclass(frozen=True)
class Settings:
    """What the user chose; checked here because API callers can send anything.

    Attributes:
        model: one of the registry's names.
        box_threshold: person detector score below which a box is dropped, 0..1.
        keypoint_threshold: keypoint score below which a joint is not drawn (2D and 3D), 0..1.
        single_person: keep only the most prominent person (largest box x highest score).
    """

    model: str
    box_threshold: float = 0.5
    keypoint_threshold: float = 0.3
    single_person: bool = False

    def __post_init__(self) -> None:
        for name in ("box_threshold", "keypoint_threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name.replace('_', ' ')}: expected a number from 0 to 1, got {value!r}")


@contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Turn any failure into ``gr.Error`` with a readable message; log unexpected ones with their traceback."""
    try:
        yield
    except gr.Error:
        raise
    except (ValueError, FileNotFoundError, ModelUnavailableError) as exc:  # LimitError, ImageError... too
        raise gr.Error(str(exc), title=f"Could not process the {what}") from None
    except MemoryError:
        raise gr.Error(f"Out of memory while processing the {what}: try a smaller or shorter file.") from None
    except Exception as exc:
        log.exception("unexpected error while processing the %s", what)
        raise gr.Error(
            f"Something went wrong while processing the {what} ({type(exc).__name__}). "
            "Try another file, model or setting.",
            title="Unexpected error",
        ) from None


def select_people(boxes: np.ndarray, scores: np.ndarray, box_threshold: float, single_person: bool):
    """Boxes at or above ``box_threshold``; with ``single_person`` only the most prominent one, the largest
    ``area x score``, as the RTMPose3D wrapper picks it.

    Returns:
        ``(boxes (M, 4) float32 xyxy, scores (M,) float32)``.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    keep = scores >= box_threshold
    boxes, scores = boxes[keep], scores[keep]
    if single_person and len(boxes) > 1:
        area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
        best = int(np.argmax(area * scores))
        boxes, scores = boxes[best : best + 1], scores[best : best + 1]
    return boxes, scores


def _image_gpu_seconds(model: LoadedModel, *args: Any, **kwargs: Any) -> int:
    return 30 if model.name == "RTMW3D-X" else 20


@gpu(duration=_image_gpu_seconds)
def infer_image(model: LoadedModel, image: np.ndarray, settings: Settings) -> Poses:
    """Detect people, keep the boxes the settings allow, estimate their poses.

    Args:
        image: (H, W, 3) uint8 BGR.
    """
    boxes, scores = select_people(*model.detector(image), settings.box_threshold, settings.single_person)
    if len(boxes) == 0:
        poses = Poses.empty(model.estimator.skeleton, with_3d=model.name != "PoseKit")
        poses.image_size = (image.shape[1], image.shape[0])
        return poses
    poses = model.estimator(image, bboxes=boxes)
    poses.bbox_scores = scores[: len(poses)] if len(poses) == len(scores) else poses.bbox_scores
    return poses


@dataclass
class App:
    """The handlers with what they share: the models, the upload bounds and the output folders."""

    registry: ModelRegistry
    limits: Limits = APP_LIMITS
    workdirs: WorkDirs = field(default_factory=WorkDirs)

    # ---- Image -------------------------------------------------------------------------------------------
    def image(
        self,
        image: str | None,
        model: str,
        box_threshold: float = 0.5,
        keypoint_threshold: float = 0.3,
        single_person: bool = False,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects it
    ) -> Outputs:
        """One image: overlay image, 3D skeletons, summary, JSON and ZIP."""
        with friendly_errors("image"):
            if not image:
                raise ValueError("Upload an image, take a webcam snapshot or pick an example first.")
            settings = Settings(model, box_threshold, keypoint_threshold, single_person)
            check_image_upload(image, self.limits)
            progress(0.1, desc="Loading the model")
            loaded = self.registry.get(settings.model)
            bgr = read_image(image, max_pixels=self.limits.max_image_pixels)  # the one decode, to BGR
            progress(0.3, desc="Finding people")
            start = time.perf_counter()
            poses = infer_image(loaded, bgr, settings)
            seconds = time.perf_counter() - start
            progress(0.8, desc="Drawing")
            out = self.workdirs.new("image")
            overlay = out / "overlay.jpg"
            cv2.imwrite(str(overlay), draw_poses(bgr, poses, settings.keypoint_threshold))
            figure = plot3d.pose_figure(poses, settings.keypoint_threshold)
            source = {"kind": "image", "name": Path(image).name, "image_size": [bgr.shape[1], bgr.shape[0]]}
            document = export.result_document(poses, _model_id(settings.model), source)
            summary = _summary(
                f"**{_people(len(poses))}** found in a {bgr.shape[1]}×{bgr.shape[0]} image by {settings.model} "
                f"in {seconds:.2f} s on {self.registry.device.upper()}.",
                poses.space_3d,
            )
            json_path, zip_path = self._write(out, document, poses, {"overlay.jpg": overlay})
            return str(overlay), figure, summary, json_path, zip_path

    def video(self, video, model, box_threshold=0.5, keypoint_threshold=0.3, single_person=False,
              smoothing="one_euro", smoothing_strength=0.5, start_s=0.0, end_s=0.0, frame_step=1,
              progress: gr.Progress = gr.Progress()) -> Outputs:  # noqa: B008
        raise gr.Error("not wired yet")

    def rgbd(self, file, model, box_threshold=0.5, keypoint_threshold=0.3, single_person=False,
             smoothing="one_euro", smoothing_strength=0.5, depth_mode="balanced", start_s=0.0, end_s=0.0,
             frame_step=1, progress: gr.Progress = gr.Progress()) -> Outputs:  # noqa: B008
        raise gr.Error("not wired yet")

    # ---- Shared ------------------------------------------------------------------------------------------
    def _write(
        self,
        out: Path,
        document: dict[str, Any],
        result: Poses | PoseSequence,
        files: dict[str, Path],
        writers: dict[str, Callable[[Path], Any]] | None = None,
    ) -> tuple[str, str]:
        json_path = export.write_json(document, out / "results.json")
        zip_path = export.write_results_zip(out / "results.zip", document, result, files=files, writers=writers)
        return str(json_path), str(zip_path)


def _model_id(name: str) -> str:
    return name.lower()


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _summary(first: str, space_3d: str | None, notes: list[str] | None = None) -> str:
    lines = [first, f"3D: {SPACE_TEXT.get(space_3d, SPACE_TEXT[None])}", *(notes or [])]
    return "\n\n".join(lines)


__all__ = ["App", "Settings", "friendly_errors", "infer_image", "select_people", "POSEKIT_COCO17_2"]
