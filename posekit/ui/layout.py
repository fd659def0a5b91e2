"""The Gradio page: settings shared by three tabs (Image, Video, iPhone take / RGB-D), each an API endpoint."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import gradio as gr

from posekit.io.inputs import IMAGE_EXTENSIONS, RGBD_EXTENSIONS, VIDEO_EXTENSIONS
from posekit.limits import Limits
from posekit.pipelines.settings import MODEL_DEFAULTS
from posekit.ui.files import APP_LIMITS, WorkDirs
from posekit.ui.handlers import NO_3D, App, raw_image_input, strict_inputs
from posekit.ui.live import live_tab
from posekit.ui.models import MODEL_INFO, ModelRegistry, model_id, on_zero_gpu

ASSETS = Path(__file__).resolve().parents[2] / "assets"
MAX_FRAME_STEP = 10
QUEUE_SIZE = 32
"""Requests waiting at most: enough for a burst (the load test sends 20 at once), bounded for one GPU."""
LIGHT_CONCURRENCY = 2
"""Images (and takes, besides the captures running) processed at once: a second request is not held up by a
slow first one, and both fit one GPU beside a video."""

INTRO = """# posekit
2D and 3D human pose from a photo, a video or an iPhone depth capture. **RTMW3D** finds 133 whole-body
keypoints in 3D; the **PoseKit** model is the iPhone app's 17+2-joint 2D model. A take recorded with the PoseKit
iPhone app plays back here without any model. Each tab is also an API endpoint (`/image`, `/video`, `/rgbd`)
for Python's `gradio_client`: the project's README shows how."""


SMOOTHING_CHOICES = [("Off", "none"), ("EMA", "ema"), ("One-Euro", "one_euro")]
DEPTH_CHOICES = [("Strict", "strict"), ("Balanced", "balanced"), ("Lenient", "lenient")]
RGBD_HELP = """Upload a take exported by the **PoseKit iPhone app** (`.json`, `.bin` or `.zip`): it plays back as
recorded, with the phone's own 3D, and needs no model. Or upload an **RGB-D capture** (a Record3D `.r3d` or its
EXR export zipped, a zipped Stray Scanner folder, or the generic RGB-D ZIP described in the README): the chosen
model finds the people and the depth map gives metric 3D."""


def _model_defaults(name: str) -> tuple[float, float]:
    """The thresholds measured for the model just chosen (see :data:`posekit.pipelines.settings.MODEL_DEFAULTS`)."""
    defaults = MODEL_DEFAULTS[model_id(name)]
    return defaults.bbox_threshold, defaults.keypoint_threshold


def _examples(folder: str, suffixes: tuple[str, ...]) -> list[list[str]]:
    root = ASSETS / folder
    if not root.is_dir():
        return []
    return [[str(p)] for p in sorted(root.iterdir()) if p.suffix.lower() in suffixes]


def create_demo(
    registry: ModelRegistry | None = None,
    limits: Limits = APP_LIMITS,
    preload: bool | None = None,
    concurrency_limit: int = 1,
) -> gr.Blocks:
    """Build the app.

    Args:
        registry: the models (default: RTMW3D-L, RTMW3D-X, PoseKit from their published weights, or
            ``POSEKIT_WEIGHTS_DIR``).
        limits: upload bounds, checked before anything is decoded.
        preload: load every model before serving (a model whose weights are missing shows a message instead);
            None: only on a ZeroGPU Space, whose GPU calls must not spend their time loading. Otherwise the page
            is served at once and each model loads on its first request.
        concurrency_limit: videos and captures processed at once (one GPU: 1); the others wait in the queue.
            Images and takes have workers of their own (:data:`LIGHT_CONCURRENCY`), so they never wait behind one.
    """
    registry = registry or ModelRegistry()
    if on_zero_gpu() if preload is None else preload:
        registry.preload()
    app = App(registry, limits, WorkDirs(), threading.BoundedSemaphore(concurrency_limit))
    names = list(registry.names)

    with gr.Blocks(title="posekit: 2D and 3D human pose", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(registry.status_markdown(), elem_id="model-status", visible=bool(registry.status_markdown()))
        model = gr.Radio(
            names, value=names[0], label="Model", elem_id="model",
            info=" · ".join(f"{n}: {MODEL_INFO[n]}" for n in names if n in MODEL_INFO),
        )  # fmt: skip
        with gr.Accordion("Settings", open=False):
            with gr.Row():
                first = MODEL_DEFAULTS[model_id(names[0])]
                box_threshold = gr.Slider(
                    0.05, 0.95, value=first.bbox_threshold, step=0.05, label="Box threshold",
                    info="Person detector score a box needs: higher finds fewer, surer people.",
                )  # fmt: skip
                keypoint_threshold = gr.Slider(
                    0.0, 1.0, value=first.keypoint_threshold, step=0.01, label="Keypoint threshold",
                    info="Joints scored below it are hidden in the overlay and the 3D view (the downloads keep "
                    "them, with their scores). Each model sets its own measured default when chosen: RTMW3D "
                    "0.3; PoseKit 0.1, as its scores run lower (median 0.19 on visible joints).",
                )  # fmt: skip
                single_person = gr.Checkbox(
                    value=False, label="Single person",
                    info="Keep only the most prominent person (largest box × highest score); in videos, the "
                    "main track.",
                )  # fmt: skip
            with gr.Row():
                smoothing = gr.Radio(
                    SMOOTHING_CHOICES, value="one_euro", label="Smoothing (videos, captures)",
                    info="Over time, per joint: One-Euro follows fast moves with little lag; EMA is the "
                    "iPhone app's filter; Off keeps the raw per-frame poses. Takes play back as the phone "
                    "smoothed them.",
                )  # fmt: skip
                smoothing_strength = gr.Slider(
                    0.0, 1.0, value=0.5, step=0.05, label="Smoothing strength",
                    info="0 = light (nearly raw), 0.5 = default, 1 = heavy (steady, but slower to follow).",
                )  # fmt: skip
                depth_mode = gr.Radio(
                    DEPTH_CHOICES, value="balanced", label="Depth confidence (RGB-D captures)",
                    info="Which depth samples a joint may use: strict = high-confidence only; balanced = "
                    "medium or better (the app's default); lenient = any valid depth.",
                )  # fmt: skip
            with gr.Row():
                max_duration_s = gr.Slider(
                    1, limits.max_duration_s, value=min(10.0, limits.max_duration_s), step=1,
                    label="Duration (s)",
                    info=f"Seconds of a video or capture to process, from its start (at most "
                    f"{limits.max_frames} frames).",
                )  # fmt: skip
                frame_step = gr.Slider(
                    1, MAX_FRAME_STEP, value=1, step=1, label="Frame step",
                    info="Process every n-th frame: 2 halves the work (and the overlay's frame rate).",
                )  # fmt: skip
        common = [model, box_threshold, keypoint_threshold, single_person]
        model.change(_model_defaults, [model], [box_threshold, keypoint_threshold], api_visibility="private",
                     queue=False)  # fmt: skip
        temporal = [smoothing, smoothing_strength]
        bounds = [max_duration_s, frame_step]

        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    with gr.Column():
                        image_in = gr.Image(
                            type="filepath", sources=["upload", "webcam", "clipboard"], label="Image",
                            elem_id="image-input",
                        )  # fmt: skip
                        image_btn = gr.Button("Find poses", variant="primary", elem_id="image-run")
                        gr.Examples(_examples("images", IMAGE_EXTENSIONS), [image_in], label="Examples (COCO)")
                    with gr.Column():
                        image_out = gr.Image(label="2D overlay", type="filepath", elem_id="image-overlay",
                                             interactive=False)  # fmt: skip
                image_outputs = [image_out, *_result_components("image", animation=False)]

            with gr.Tab("Video", id="video"):
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(sources=["upload"], label="Video", elem_id="video-input")
                        video_btn = gr.Button("Find poses", variant="primary", elem_id="video-run")
                        gr.Examples(_examples("videos", VIDEO_EXTENSIONS), [video_in], label="Examples")
                    with gr.Column():
                        video_out = gr.Video(label="2D overlay", elem_id="video-overlay", interactive=False)
                video_outputs = [video_out, *_result_components("video")]

            with gr.Tab("iPhone take / RGB-D", id="rgbd"):
                gr.Markdown(RGBD_HELP)
                with gr.Row():
                    with gr.Column():
                        rgbd_in = gr.File(
                            label="Take or capture", file_types=list(RGBD_EXTENSIONS), elem_id="rgbd-input"
                        )
                        rgbd_btn = gr.Button("Play back / find poses", variant="primary", elem_id="rgbd-run")
                        gr.Examples(_examples("rgbd", RGBD_EXTENSIONS), [rgbd_in], label="Examples (synthetic)")
                    with gr.Column():
                        rgbd_out = gr.Video(label="2D overlay (captures)", elem_id="rgbd-overlay",
                                            interactive=False)  # fmt: skip
                rgbd_outputs = [rgbd_out, *_result_components("rgbd", overlay=rgbd_out)]

            live_tab(registry, app.workdirs)  # webcam poses, streamed: posekit/ui/live.py

        # Inputs reach the handlers undecoded (an image's header is checked before any pixel is), and Gradio's
        # own input checks answer in the library's words (posekit.ui.handlers.strict_inputs).
        raw_image_input(image_in, limits, lambda: app.workdirs.new("upload"))
        strict_inputs(image=image_in, video=video_in, file=rgbd_in, model=model, box_threshold=box_threshold,
                      keypoint_threshold=keypoint_threshold, single_person=single_person, smoothing=smoothing,
                      smoothing_strength=smoothing_strength, depth_mode=depth_mode, max_duration_s=max_duration_s,
                      frame_step=frame_step)  # fmt: skip
        # Light work (an image, a take's playback) never waits behind heavy work (a video, a capture): each has
        # its own workers. /rgbd serves both: its workers are light, and a capture also takes the app's heavy
        # slot (App.heavy, shared with /video), so at most `concurrency_limit` videos and captures run at once.
        image_btn.click(app.image, [image_in, *common], image_outputs, api_name="image", concurrency_id="light",
                        concurrency_limit=LIGHT_CONCURRENCY)  # fmt: skip
        video_btn.click(
            app.video, [video_in, *common, *temporal, *bounds], video_outputs, api_name="video",
            concurrency_id="heavy", concurrency_limit=concurrency_limit,
        )  # fmt: skip
        rgbd_btn.click(
            app.rgbd, [rgbd_in, *common, *temporal, depth_mode, *bounds], rgbd_outputs, api_name="rgbd",
            concurrency_id="rgbd", concurrency_limit=concurrency_limit + LIGHT_CONCURRENCY,
        )  # fmt: skip

    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=concurrency_limit)
    return demo


# gr.Plot hands Plotly only the figure's data and layout, not its animation frames: this puts them back once
# the new figure is drawn, and again whenever Gradio draws the plot anew (a tab shown again).
# It also runs the play/pause buttons and the slider itself: Plotly's own controls drop the promise of the
# animation they start, and an animation interrupted by pause, replay or the slider rejects it, which the page
# reports as an uncaught error. Marked ``execute: false``, the controls still show their state and only say what
# was asked (plotly_buttonclicked, plotly_sliderchange); the animation then runs here, its interruption caught.
# On a narrow screen (a phone) the 3D view is made about as tall as it is wide, so the scene is not cut off.
PLOT_JS = """
(value) => {
  const figure = value && value.plot ? JSON.parse(value.plot) : null;
  const state = (window.__posekitPlots = window.__posekitPlots || {});
  const plot = (state["ELEM"] = state["ELEM"] || {});
  plot.figure = figure;
  const animate = (gd, args) => window.Plotly.animate(gd, ...args).catch(() => {});  // interrupted: fine
  const fit = (gd, layout) => {
    // Plotly stops following the page's width once a height is set: both are set here, as the page changes.
    const width = gd.clientWidth, full = gd._fullLayout;
    if (!layout.scene || !layout.height || !width) return;
    const height = width < 640 ? Math.max(360, Math.min(layout.height, Math.round(width * 1.3))) : layout.height;
    if (Math.abs(full.height - height) > 2 || Math.abs(full.width - width) > 2) {
      window.Plotly.relayout(gd, { width, height }).catch(() => {});
    }
  };
  const attach = (gd, figure) => {
    const steps = (((figure.layout || {}).sliders || [])[0] || {}).steps || [];
    const drawn = ((gd.layout.sliders || [])[0] || {}).steps?.length === steps.length &&
      gd.data.length === figure.data.length;
    if (!drawn) return;
    gd.__posekitFigure = figure;
    const manual = {};
    ((gd.layout.updatemenus || [])[0] || {}).buttons?.forEach((_, i) => {
      manual[`updatemenus[0].buttons[${i}].execute`] = false;
    });
    steps.forEach((_, i) => { manual[`sliders[0].steps[${i}].execute`] = false; });
    window.Plotly.deleteFrames(gd)
      .then(() => window.Plotly.addFrames(gd, figure.frames))
      .then(() => window.Plotly.relayout(gd, manual))
      .catch((error) => console.warn("posekit: the 3D animation could not be set up", error));
    if (!gd.__posekitControls) {
      gd.__posekitControls = true;
      gd.on("plotly_buttonclicked", (event) => animate(gd, event.button.args));
      gd.on("plotly_sliderchange", (event) => { if (event.interaction) animate(gd, event.step.args); });
    }
  };
  const tick = () => {
    const figure = plot.figure;
    const gd = document.querySelector("#ELEM .js-plotly-plot");
    if (!figure || !gd || !gd._fullLayout || !window.Plotly) return;
    fit(gd, figure.layout || {});
    if (figure.frames && figure.frames.length && gd.__posekitFigure !== figure) attach(gd, figure);
  };
  if (!plot.watch) plot.watch = setInterval(tick, 250);
  tick();
}
"""


def _result_components(
    prefix: str, animation: bool = True, overlay: gr.components.Component | None = None
) -> list[gr.components.Component]:
    """The outputs every tab shares: the 3D plot, the summary and the two downloads.

    The downloads show once there is something to download (empty, each is a tall drop zone), the plot only
    when the result has 3D (the summary says when it has none), and ``overlay`` only when the result has one
    (a take has none).
    """
    # No label: with one, gr.Plot pushes a titled figure 100 px down to make room for it.
    plot = gr.Plot(label="3D skeleton", show_label=False, elem_id=f"{prefix}-plot")
    plot.change(None, [plot], None, js=PLOT_JS.replace("ELEM", f"{prefix}-plot"))
    summary = gr.Markdown(elem_id=f"{prefix}-summary")
    contents = "JSON, CSV, overlay; an iPhone take for PoseKit and captures"
    if animation:
        contents += "; BVH and glTF animation when there is 3D"
    with gr.Row():
        json_file = gr.File(label="Results (JSON)", elem_id=f"{prefix}-json", interactive=False, visible=False)
        zip_file = gr.File(label=f"Results (ZIP: {contents})", elem_id=f"{prefix}-zip", interactive=False,
                           visible=False)  # fmt: skip
    shown = [json_file, zip_file] if overlay is None else [json_file, zip_file, overlay]
    summary.change(_what_shows, [summary, *shown], [plot, *shown], queue=False, api_visibility="private")
    return [plot, summary, json_file, zip_file]


def _what_shows(summary: str, *outputs: object) -> list[dict]:
    """After a result: the plot when it has 3D, each other output when it holds something."""
    return [gr.update(visible=NO_3D not in (summary or "")), *[gr.update(visible=v is not None) for v in outputs]]


def launch(demo: gr.Blocks, limits: Limits = APP_LIMITS) -> None:
    """Serve the app: ``GRADIO_SERVER_NAME`` (default 127.0.0.1) and ``GRADIO_SERVER_PORT`` (7860) choose
    where; uploads above ``limits.max_file_bytes`` are refused by the server before they reach a handler."""
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        max_file_size=limits.max_file_bytes,
    )
