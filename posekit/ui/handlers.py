"""The app's actions, as thin functions over the library: validate the upload (bounds first, before any
decoding), decode once to BGR, run the model, and produce the overlay, the 3D figure, a summary and the
result files.

Each public handler returns ``(overlay, figure, summary, json_path, zip_path)`` and raises only
``gr.Error`` with a message meant for people (never a traceback). Inference runs in
:mod:`posekit.ui.inference`, the only functions that ask ZeroGPU for a GPU; a take's playback needs none.
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
import plotly.graph_objects as go

from posekit.io import export
from posekit.io.captures.open import open_capture
from posekit.io.images import read_image
from posekit.io.takes import load_take, save_take
from posekit.io.video import ReadBounds, VideoReader
from posekit.limits import Limits
from posekit.poses import Poses
from posekit.processing.depth_sampler import DEPTH_MODES
from posekit.sequence import PoseSequence
from posekit.skeletons import POSEKIT_COCO17_2
from posekit.ui.files import APP_LIMITS, WorkDirs, check_image_upload, rgbd_kind
from posekit.ui.inference import Progress, capture_frames, infer_capture, infer_image, infer_video
from posekit.ui.models import ModelRegistry, ModelUnavailableError
from posekit.ui.settings import SMOOTHING_NAMES, Settings, Temporal
from posekit.viz import plot3d
from posekit.viz.drawing import draw_poses

log = logging.getLogger(__name__)

Outputs = tuple[str | None, go.Figure, str, str, str]

MAX_PLOT_FRAMES = 60
"""Frames in a 3D animation (evenly spaced): keeps the page smooth; the downloads keep every frame."""

SPACE_TEXT = {
    "model": "**model-relative**: RTMW3D's root-relative 3D placed at a nominal depth (5.1 m) with nominal "
    "intrinsics; the pose's shape is right, its absolute scale and position are not.",
    "metric_depth": "**metric, from depth**: joints back-projected with the capture's measured depth and "
    "real camera intrinsics, in metres.",
    "phone": "**from the phone**: computed on the iPhone by the PoseKit app from ARKit depth, in metres.",
    None: "**none**: this model gives 2D keypoints only; upload an RGB-D capture for metric 3D.",
}


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
        if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda's, without importing torch here
            raise gr.Error(
                f"The GPU ran out of memory on this {what}: try fewer frames, a larger frame step or RTMW3D-L."
            ) from None
        log.exception("unexpected error while processing the %s", what)
        raise gr.Error(
            f"Something went wrong while processing the {what} ({type(exc).__name__}). "
            "Try another file, model or setting.",
            title="Unexpected error",
        ) from None


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
            json_path, zip_path = self._write(out, document, poses, {"overlay.jpg": overlay}, _take_writer(poses))
            return str(overlay), figure, summary, json_path, zip_path

    # ---- Video -------------------------------------------------------------------------------------------
    def video(
        self,
        video: str | None,
        model: str,
        box_threshold: float = 0.5,
        keypoint_threshold: float = 0.3,
        single_person: bool = False,
        smoothing: str = "one_euro",
        smoothing_strength: float = 0.5,
        max_duration_s: float = 10.0,
        frame_step: int = 1,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects it
    ) -> Outputs:
        """A video: overlay video, animated 3D, summary, JSON and ZIP."""
        with friendly_errors("video"):
            if not video:
                raise ValueError("Upload a video or pick an example first.")
            settings = Settings(model, box_threshold, keypoint_threshold, single_person)
            timing = Temporal(smoothing, smoothing_strength, max_duration_s, frame_step)
            # Size, pixels, duration and frame count from the container, before the model and the decoding.
            bounds = ReadBounds(max_duration_s=timing.max_duration_s, stride=timing.frame_step)
            info = VideoReader(video, bounds, self.limits, keep_original=False).info
            expected = timing.expected_frames(info.num_frames, info.fps, info.duration_s, self.limits)
            loaded = self.registry.get(settings.model)
            out = self.workdirs.new("video")
            start = time.perf_counter()
            result = infer_video(loaded, video, settings, timing, self.limits, out / "overlay.mp4",
                                 expected_frames=expected, progress=Progress())  # fmt: skip
            seconds = time.perf_counter() - start
            seq = result.sequence
            figure = plot3d.sequence_figure(seq, settings.keypoint_threshold, max_frames=MAX_PLOT_FRAMES)
            notes = [_plot_note(seq.num_frames), *[f"⚠️ {w}" for w in result.warnings]]
            summary = _summary(
                f"**{_people(seq.num_people)}** tracked over **{seq.num_frames} frames** "
                f"({_span(seq)} of a {info.width}×{info.height} video) by {settings.model} in {seconds:.1f} s on "
                f"{self.registry.device.upper()}; smoothing: {SMOOTHING_NAMES[timing.smoothing]}.",
                seq.space_3d,
                notes,
            )
            source = {"kind": "video", "name": Path(video).name, **timing.to_dict()}
            document = export.result_document(seq, _model_id(settings.model), source)
            overlay = result.overlay_path
            files = {"overlay.mp4": overlay} if overlay else {}
            json_path, zip_path = self._write(out, document, seq, files, _take_writer(seq))
            return (str(overlay) if overlay else None), figure, summary, json_path, zip_path

    # ---- iPhone take or RGB-D capture ----------------------------------------------------------------------
    def rgbd(
        self,
        file: str | None,
        model: str,
        box_threshold: float = 0.5,
        keypoint_threshold: float = 0.3,
        single_person: bool = False,
        smoothing: str = "one_euro",
        smoothing_strength: float = 0.5,
        depth_mode: str = "balanced",
        max_duration_s: float = 10.0,
        frame_step: int = 1,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects it
    ) -> Outputs:
        """A PoseKit take (played back, no model) or an RGB-D capture (model + depth: metric 3D)."""
        with friendly_errors("upload"):
            if not file:
                raise ValueError("Upload a PoseKit take or an RGB-D capture, or pick an example first.")
            settings = Settings(model, box_threshold, keypoint_threshold, single_person)
            timing = Temporal(smoothing, smoothing_strength, max_duration_s, frame_step)
            if depth_mode not in DEPTH_MODES:
                raise ValueError(f"depth mode: expected one of {list(DEPTH_MODES)}, got {depth_mode!r}")
            if rgbd_kind(file, self.limits) == "take":
                return self._take(file, settings)
            progress(0.0, desc="Opening the capture")
            return self._capture(file, settings, timing, depth_mode)

    def _take(self, file: str, settings: Settings) -> Outputs:
        """Play a take back as the phone recorded it: its own 3D, no model, no GPU, no network."""
        seq = load_take(file, self.limits)
        figure = plot3d.sequence_figure(seq, settings.keypoint_threshold, max_frames=MAX_PLOT_FRAMES, upright=True)
        meta = seq.meta
        device = f" on {meta['deviceModel']}" if meta.get("deviceModel") else ""
        summary = _summary(
            f"**iPhone take** recorded{device}: **{seq.num_frames} frames** ({_span(seq)}), "
            f"{_people(int(seq.present.any(axis=0).sum()))}; played back as recorded (no model run, and no "
            "smoothing added: the phone already smoothed it).",
            seq.space_3d,
            [_plot_note(seq.num_frames), "A take holds poses only (no images), so there is no overlay video."],
        )
        out = self.workdirs.new("take")
        source = {"kind": "iphone-take", "name": Path(file).name}
        document = export.result_document(seq, "iphone-take", source)
        json_path, zip_path = self._write(out, document, seq, {}, _take_writer(seq))
        return None, figure, summary, json_path, zip_path

    def _capture(self, file: str, settings: Settings, timing: Temporal, depth_mode: str) -> Outputs:
        """Run the chosen model on the colour frames and lift the main person to metric 3D with the depth."""
        with open_capture(file, self.limits) as capture:  # format, frames, duration, pixels: before decoding
            info = capture.info
            count = capture_frames(info.num_frames, info.fps, timing)
        expected = len(range(0, count, timing.frame_step))
        loaded = self.registry.get(settings.model)
        out = self.workdirs.new("capture")
        start = time.perf_counter()
        seq, overlay = infer_capture(loaded, file, settings, timing, depth_mode, self.limits, out / "overlay.mp4",
                                     expected_frames=expected, progress=Progress())  # fmt: skip
        seconds = time.perf_counter() - start
        figure = plot3d.sequence_figure(seq, settings.keypoint_threshold, max_frames=MAX_PLOT_FRAMES, upright=True)
        found = int(seq.present[:, 0].sum()) if seq.num_people else 0
        summary = _summary(
            f"**{info.format} capture**: the main person found in **{found} of {seq.num_frames} frames** "
            f"({_span(seq)}, {info.color_size[0]}×{info.color_size[1]} colour, depth "
            f"{'×'.join(map(str, info.depth_size)) if info.depth_size else 'none'}) by {settings.model} in "
            f"{seconds:.1f} s on {self.registry.device.upper()}; depth confidence: {depth_mode}; smoothing: "
            f"{SMOOTHING_NAMES[timing.smoothing]}.",
            seq.space_3d,
            [_plot_note(seq.num_frames), seq.meta.get("3d", {}).get("keypoints_3d", "")],
        )
        source = {"kind": "rgbd-capture", "name": Path(file).name, "format": info.format, "depth_mode": depth_mode,
                  **timing.to_dict()}  # fmt: skip
        document = export.result_document(seq, _model_id(settings.model), source)
        json_path, zip_path = self._write(out, document, seq, {"overlay.mp4": overlay}, _take_writer(seq))
        return str(overlay), figure, summary, json_path, zip_path

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


def _take_writer(result: Poses | PoseSequence) -> dict[str, Callable[[Path], Any]] | None:
    """An app-compatible take for the ZIP, named as the app names its exports: for PoseKit-schema results, and
    for RGB-D captures (whose metric 3D maps to the app's joints); not for RTMW3D's model-relative 3D, which
    the app would show as if measured."""
    if result.skeleton.name != POSEKIT_COCO17_2.name and result.space_3d != "metric_depth":
        return None
    seq = result if isinstance(result, PoseSequence) else PoseSequence.from_frames([result], [0.0])
    if seq.num_people == 0:
        return None
    name = time.strftime("PoseTake_%Y-%m-%dT%H%M%SZ.zip", time.gmtime())
    return {f"take/{name}": lambda path: save_take(seq, path, "zip")}


def _span(seq: PoseSequence) -> str:
    t = seq.relative_time()
    return f"{t[-1]:.1f} s" if len(t) else "0 s"


def _plot_note(num_frames: int) -> str:
    if num_frames <= MAX_PLOT_FRAMES:
        return ""
    return (
        f"The 3D animation shows {MAX_PLOT_FRAMES} of the {num_frames} frames, evenly spaced, to stay smooth in "
        "the browser; the downloads hold every frame."
    )


def _model_id(name: str) -> str:
    return name.lower()


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _summary(first: str, space_3d: str | None, notes: list[str] | None = None) -> str:
    lines = [first, f"3D: {SPACE_TEXT.get(space_3d, SPACE_TEXT[None])}", *[n for n in notes or [] if n]]
    return "\n\n".join(lines)
