"""The app's actions, as thin functions over :mod:`posekit.pipelines`: check the upload and the settings (bounds
first, before any decoding), run the job, and show its results: the overlay, the 3D figure, a summary and the
result files.

Each public handler returns ``(overlay, figure, summary, json_path, zip_path)`` and raises only ``gr.Error``
with a message meant for people (never a traceback, never a server path). The work runs in
:func:`posekit.ui.inference.run_job`, the only function that asks ZeroGPU for a GPU; a take's playback needs
none.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from posekit.io.images import ImageError
from posekit.io.video import probe_video
from posekit.limits import LimitError, Limits, error_reason
from posekit.pipelines import JobResult, ModelUnavailableError, Settings, run_file
from posekit.pipelines.settings import EXPORT_FORMATS, SMOOTHING_LABELS
from posekit.pipelines.video import expected_frames, read_bounds
from posekit.sequence import PoseSequence
from posekit.ui.files import APP_LIMITS, WorkDirs, check_image_upload, rgbd_kind
from posekit.ui.inference import Progress, check_work, run_job
from posekit.ui.models import ModelRegistry, model_id
from posekit.viz import plot3d

log = logging.getLogger(__name__)

Outputs = tuple[str | None, go.Figure | None, str, str | None, str | None]

MAX_PLOT_FRAMES = 60
"""Frames in a 3D animation (evenly spaced): keeps the page smooth; the downloads keep every frame."""
INFERENCE_MAX_SIDE = 1920
"""Frames above it are downscaled for the models (results stay in original pixels)."""
OVERLAY_MAX_SIDE = 1280
"""The overlay video plays in a browser tab: HD is enough."""

SPACE_TEXT = {
    "model": "**model-relative**: RTMW3D's root-relative 3D placed at a nominal depth (5.1 m) with nominal "
    "intrinsics; the pose's shape is right, its absolute scale and position are not.",
    "metric_depth": "**metric, from depth**: joints back-projected with the capture's measured depth and "
    "real camera intrinsics, in metres.",
    "phone": "**from the phone**: computed on the iPhone by the PoseKit app from ARKit depth, in metres.",
    None: "**none**: this model gives 2D keypoints only, so there is no 3D view; upload an RGB-D capture for "
    "metric 3D.",
}
NO_3D = f"3D: {SPACE_TEXT[None]}"
"""The summary's line for a result without 3D (the page then hides the 3D view)."""


def refusal(title: str, message: str) -> gr.Error:
    """The ``gr.Error`` of an expected rejection: escaped for display, titled, and no traceback in the server's log.

    The title also leads the text: Gradio 6.31's page reads a toast's title from a field its own client never
    sets (``_title``), so every toast on the page says "Error"; gradio_client callers get ``AppError.title``.
    """
    return gr.Error(f"{title}. {html.escape(message, quote=False)}", title=title, print_exception=False)


@contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Turn any failure into ``gr.Error`` with a readable, escaped message; an expected rejection is logged in
    one line, an unexpected one with its traceback (once: ``gr.Error`` itself prints none)."""
    try:
        yield
    except gr.Error:
        raise
    except (ValueError, FileNotFoundError, ModelUnavailableError) as exc:  # LimitError, ImageError... too
        log.info("refused %s: %s", what, exc)
        raise refusal(f"Could not process the {what}", str(exc)) from None
    except MemoryError:
        log.warning("out of memory while processing the %s", what)
        raise refusal("Out of memory", f"while processing the {what}: try a smaller or shorter file.") from None
    except Exception as exc:
        if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda's, without importing torch here
            log.warning("GPU out of memory while processing the %s", what)
            raise refusal(
                "Out of GPU memory",
                f"The GPU ran out of memory on this {what}: try fewer frames, a larger frame step or RTMW3D-L.",
            ) from None
        log.exception("unexpected error while processing the %s", what)
        raise gr.Error(
            f"Something went wrong while processing the {what} ({type(exc).__name__}). "
            "Try another file, model or setting.",
            title="Unexpected error",
            print_exception=False,
        ) from None


# ---- Gradio's inputs: no decoding before the handler, Gradio's own checks in the library's words -------------


def raw_image_input(component: gr.Image, limits: Limits, scratch: Callable[[], Path]) -> gr.Image:
    """Hand the image handler the uploaded file's path, unopened.

    ``gr.Image(type="filepath")`` opens every upload in ``preprocess`` and, unless ``image_mode`` matches the
    file's own mode, decodes it, applies EXIF rotation, converts it to RGB and saves a copy, all before the
    handler can look at the header: a 688 KB RGBA PNG declaring 13300x13300 pixels then costs gigabytes. Here
    the upload's path goes to the handler untouched (Gradio has already checked that it is one of its uploads),
    and :func:`~posekit.io.images.check_image_header` judges it. An inline ``data:`` image (API callers may
    send one) is bounded, checked from its header and written to ``scratch()`` before anything decodes it.
    (Patched on the instance: subclassing a component makes Gradio write type stubs next to this module.)
    """

    def preprocess(payload):  # noqa: ANN001, ANN202 - Gradio's signature
        if payload is None:
            return None
        url = getattr(payload, "url", None)
        if not getattr(payload, "path", None) and isinstance(url, str) and url.startswith("data:"):
            return str(_data_url_image(url, limits, scratch()))
        if not getattr(payload, "path", None):
            raise ValueError("no uploaded file")
        return str(payload.path)

    component.preprocess = preprocess
    return component


def _data_url_image(url: str, limits: Limits, folder: Path) -> Path:
    """An inline ``data:image/...;base64,...`` image, bounded before decoding the base64, checked from its
    header before anything decodes the pixels, then saved as a file for the handler."""
    import base64
    import binascii

    from posekit.io.images import check_image_header, image_header

    head, _, body = url.partition(",")
    if not head.endswith(";base64"):
        raise ImageError("image: expected a base64 data URL (data:image/png;base64,...) or an uploaded file")
    if len(body) > limits.max_file_bytes * 4 // 3 + 4:
        raise LimitError(f"image: the inline image is over the limit of {limits.max_file_bytes / 1e6:,.1f} MB")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("image: expected base64 image data after 'data:...;base64,', got something else") from None
    check_image_header(data, limits, what="image")
    suffix = {"JPEG": ".jpg", "PNG": ".png", "WebP": ".webp", "BMP": ".bmp", "TIFF": ".tiff"}
    path = folder / f"image{suffix.get(image_header(data, 'image')[2], '.img')}"
    path.write_bytes(data)
    return path


def strict_inputs(**components: gr.components.Component) -> None:
    """Make Gradio's own checks of the endpoints' inputs (a slider's range, a radio's choices, a file's type, a
    value of the wrong type) answer as the library does: the parameter's name, what was expected and what came,
    as a titled ``gr.Error`` logged in one line, instead of a bare "The upstream Gradio app has raised an
    exception" and a traceback in the server's log. Keys are the endpoints' parameter names."""
    for name, component in components.items():
        component.preprocess = _strict(component.preprocess, name, _expected(component))
        if getattr(component, "data_model", None) is not None:  # an upload: Gradio validates its payload first
            component.data_model = _StrictModel(component.data_model, name)


class _StrictModel:
    """A component's payload model whose validation failure (a string where a file was expected...) is a clear
    ``gr.Error``: Gradio validates upload payloads before ``preprocess``, outside any error handling of its own."""

    def __init__(self, model: type, name: str) -> None:
        self._model, self._name = model, name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._model, attr)

    def model_validate(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        import pydantic

        try:
            return self._model.model_validate(obj, *args, **kwargs)
        except pydantic.ValidationError:
            reason = f"expected an uploaded file (handle_file(path) in gradio_client), got {_shown(obj)}"
            log.info("refused %s: %s", self._name, reason)
            raise refusal("Invalid input", f"{self._name}: {reason}") from None


def _strict(preprocess: Callable[[Any], Any], name: str, expected: str | None) -> Callable[[Any], Any]:
    def strict(payload):  # noqa: ANN001, ANN202 - Gradio's signature
        try:
            return preprocess(payload)
        except gr.Error as exc:
            if exc.print_exception is False:  # one of ours, already logged
                raise
            reason = f"expected {expected}, got {_shown(payload)}" if expected else exc.message
        except Exception as exc:  # noqa: BLE001 - any failure of Gradio's preprocessing is the input's
            reason = f"expected {expected or 'an uploaded file'}, got {_shown(payload)}"
            if not expected:
                reason += f" ({error_reason(exc)})"
        log.info("refused %s: %s", name, reason)
        raise refusal("Invalid input", f"{name}: {reason}") from None

    return strict


def _expected(component: gr.components.Component) -> str | None:
    """What a parameter component accepts, in words (None for uploads: Gradio's own message says it)."""
    if isinstance(component, gr.Slider):
        return f"a number from {component.minimum:g} to {component.maximum:g}"
    if isinstance(component, (gr.Radio, gr.Dropdown)):
        return "one of " + ", ".join(str(value) for _, value in component.choices)  # as Settings says it
    if isinstance(component, gr.Checkbox):
        return "true or false"
    return None


def _shown(payload: Any) -> str:
    """A value as the message shows it: short, and for an upload only its own file name."""
    if hasattr(payload, "path") or isinstance(payload, dict):
        name = getattr(payload, "orig_name", None) or (payload.get("orig_name") if isinstance(payload, dict) else None)
        return f"the file {Path(str(name)).name!r}" if name else "an upload"
    text = repr(payload)
    return text if len(text) <= 60 else text[:57] + "..."


def app_settings(
    model: str,
    box_threshold: float | None = None,
    keypoint_threshold: float | None = None,
    single_person: bool = False,
    **sequence: object,
) -> Settings:
    """The :class:`~posekit.pipelines.settings.Settings` of a request: the app's choices on the library's
    defaults, plus the app's bounds on frame size and overlay size. Raises ``ValueError`` naming a bad value."""
    return Settings(
        model=model_id(model),
        bbox_threshold=box_threshold,
        keypoint_threshold=keypoint_threshold,
        single_person=single_person,
        max_side=INFERENCE_MAX_SIDE,
        overlay_max_side=OVERLAY_MAX_SIDE,
        zip=True,
        export=EXPORT_FORMATS,
        **sequence,  # type: ignore[arg-type]
    )


@dataclass
class App:
    """The handlers with what they share: the models, the upload bounds and the output folders."""

    registry: ModelRegistry
    limits: Limits = APP_LIMITS
    workdirs: WorkDirs = field(default_factory=WorkDirs)
    heavy: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(1))
    """Videos and captures running at once, whichever endpoint they came through (``/video``, or ``/rgbd``,
    whose takes are light and must not wait behind a video): images and takes never take it."""

    # ---- Image -------------------------------------------------------------------------------------------
    def image(
        self,
        image: str | None,
        model: str,
        box_threshold: float | None = None,
        keypoint_threshold: float | None = None,
        single_person: bool = False,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects it
    ) -> Outputs:
        """One image: overlay image, 3D skeletons, summary, JSON and ZIP."""
        with friendly_errors("image"):
            if not image:
                raise ValueError("Upload an image, take a webcam snapshot or pick an example first.")
            settings = app_settings(model, box_threshold, keypoint_threshold, single_person)
            check_image_upload(image, self.limits)
            self._load(model, progress)
            result = self._run(image, settings, "image", 1, progress)
            poses = result.result
            figure = plot3d.pose_figure(poses, settings.keypoint_threshold)
            w, h = result.document["source"]["width"], result.document["source"]["height"]
            summary = _summary(
                f"**{_people(len(poses))}** found in a {w}×{h} image by {model} ({_how(settings)}) in "
                f"{result.seconds:.2f} s on {self.registry.device.upper()}.",
                poses.space_3d,
            )
            return _files(result, figure, summary)

    # ---- Video -------------------------------------------------------------------------------------------
    def video(
        self,
        video: str | None,
        model: str,
        box_threshold: float | None = None,
        keypoint_threshold: float | None = None,
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
            settings = app_settings(model, box_threshold, keypoint_threshold, single_person, smoothing=smoothing,
                                    smoothing_strength=smoothing_strength, max_duration_s=max_duration_s,
                                    frame_step=frame_step)  # fmt: skip
            # Size, pixels, duration and frame count from the container, before the model and the decoding.
            info = probe_video(video, self.limits, read_bounds(settings))
            expected = expected_frames(info, read_bounds(settings))
            if expected:  # the work budget, before the model; a video that does not say is stopped if too long
                check_work(settings, expected, self.registry.device, self.limits, Path(video).name)
            self._load(model, progress)
            result = self._run(video, settings, "video", expected or self.limits.max_frames, progress)
            seq = result.result
            figure = plot3d.sequence_figure(seq, settings.keypoint_threshold, max_frames=MAX_PLOT_FRAMES)
            summary = _summary(
                f"**{_people(seq.num_people)}** tracked over **{seq.num_frames} frames** ({_span(seq)} of a "
                f"{info.width}×{info.height} video) by {model} ({_how(settings)}) in {result.seconds:.1f} s on "
                f"{self.registry.device.upper()}; smoothing: {SMOOTHING_LABELS[settings.smoothing_method]}.",
                seq.space_3d,
                [_plot_note(seq.num_frames), *[f"⚠️ {html.escape(w)}" for w in result.warnings]],
            )
            return _files(result, figure, summary)

    # ---- iPhone take or RGB-D capture ----------------------------------------------------------------------
    def rgbd(
        self,
        file: str | None,
        model: str,
        box_threshold: float | None = None,
        keypoint_threshold: float | None = None,
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
            settings = app_settings(model, box_threshold, keypoint_threshold, single_person, smoothing=smoothing,
                                    smoothing_strength=smoothing_strength, max_duration_s=max_duration_s,
                                    frame_step=frame_step, depth_mode=depth_mode)  # fmt: skip
            if rgbd_kind(file, self.limits) == "take":
                return self._take(file, settings, progress)
            return self._capture(file, settings, model, progress)

    def _take(self, file: str, settings: Settings, progress: gr.Progress) -> Outputs:
        """Play a take back as the phone recorded it: its own 3D, no model, no GPU, no network."""
        progress(0.1, desc="Reading the take")
        result = run_file(file, settings, self.registry.models, self.workdirs.new("take"), _stem(file), "take",
                          self.limits, Progress(0.1, 0.6), Path(file).name)  # fmt: skip
        seq = result.result
        progress(0.6, desc="Drawing the 3D playback")
        figure = plot3d.sequence_figure(seq, settings.keypoint_threshold, max_frames=MAX_PLOT_FRAMES, upright=True)
        meta = seq.meta
        device = f" on {html.escape(str(meta['deviceModel']))}" if meta.get("deviceModel") else ""
        summary = _summary(
            f"**iPhone take** recorded{device}: **{seq.num_frames} frames** ({_span(seq)}), "
            f"{_people(int(seq.present.any(axis=0).sum()))}; played back as recorded (no model run, and no "
            "smoothing added: the phone already smoothed it). A take holds poses only, so there is no overlay.",
            seq.space_3d,
            [_plot_note(seq.num_frames)],
        )
        return _files(result, figure, summary)

    def _capture(self, file: str, settings: Settings, model: str, progress: gr.Progress) -> Outputs:
        """Run the chosen model on the colour frames and lift the main person to metric 3D with the depth."""
        from posekit.io.captures.open import open_capture
        from posekit.pipelines.capture import capture_frame_count

        progress(0.0, desc="Opening the capture")
        with open_capture(file, self.limits) as capture:  # format, frames, duration, pixels: before decoding
            info = capture.info
            count = capture_frame_count(capture, settings)
        frames = len(range(0, count, settings.frame_step))
        check_work(settings, frames, self.registry.device, self.limits, Path(file).name)
        self._load(model, progress)
        result = self._run(file, settings, "capture", frames, progress)
        seq = result.result
        figure = plot3d.sequence_figure(seq, settings.keypoint_threshold, max_frames=MAX_PLOT_FRAMES, upright=True)
        found = int(seq.present[:, 0].sum()) if seq.num_people else 0
        depth = "×".join(map(str, info.depth_size)) if info.depth_size else "none"
        summary = _summary(
            f"**{info.format} capture**: the main person found in **{found} of {seq.num_frames} frames** "
            f"({_span(seq)}, {info.color_size[0]}×{info.color_size[1]} colour, depth {depth}) by {model} "
            f"({_how(settings)}) in {result.seconds:.1f} s on {self.registry.device.upper()}; depth confidence: "
            f"{settings.depth_mode.capitalize()}; smoothing: {SMOOTHING_LABELS[settings.smoothing_method]}.",
            seq.space_3d,
            [_plot_note(seq.num_frames)],
        )
        return _files(result, figure, summary)

    # ---- Shared ------------------------------------------------------------------------------------------
    def _load(self, model: str, progress: gr.Progress) -> None:
        """Load the model on its first use, saying so (it then stays loaded for every later request)."""
        if not self.registry.loaded(model):
            progress(0.02, desc=f"Loading the {model} model (first use; it then stays loaded)")
            self.registry.load(model)

    def _run(self, path: str, settings: Settings, kind: str, expected: int, progress: gr.Progress) -> JobResult:
        """Run the job; a video or capture first waits for the heavy slot (see :attr:`heavy`)."""
        out = self.workdirs.new(kind)
        args = (self.registry, path, settings, str(out), _stem(path), kind, self.limits, Path(path).name)
        if kind == "image":
            return run_job(*args, expected_frames=expected)
        if not self.heavy.acquire(blocking=False):
            progress(0.0, desc="Waiting for the video or capture before this one")
            self.heavy.acquire()
        try:
            return run_job(*args, expected_frames=expected)
        finally:
            self.heavy.release()


def _stem(path: str) -> str:
    """The results' file names: the upload's own name, kept to safe characters."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(path).stem)[:80].strip("._")
    return stem or "results"


def _files(result: JobResult, figure: go.Figure, summary: str) -> Outputs:
    overlay = result.files.get("overlay")
    zipped = result.files.get("zip")
    return (str(overlay) if overlay else None), figure, summary, str(result.files["json"]), (
        str(zipped) if zipped else None)  # fmt: skip


def _how(settings: Settings) -> str:
    """Which way people were found, for the summary."""
    if settings.detector:
        return "people found by RTMDet-M"
    return "whole frame, one person, refined on a crop" if settings.model == "posekit" else "its own framing"


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


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _summary(first: str, space_3d: str | None, notes: list[str] | None = None) -> str:
    lines = [first, f"3D: {SPACE_TEXT.get(space_3d, SPACE_TEXT[None])}", *[n for n in notes or [] if n]]
    return "\n\n".join(lines)


__all__ = ["App", "app_settings", "friendly_errors"]
