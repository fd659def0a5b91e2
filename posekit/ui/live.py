"""The Live tab: poses of the visitor's webcam, in the browser, as they move.

The browser sends a webcam frame (JPEG) every :data:`STREAM_EVERY` seconds over one streaming event; the
server keeps only the latest frame it was sent (Gradio's stream overwrites the pending chunk, so a slow frame
never builds a queue: stale frames are dropped, not processed late) and answers with the overlay. Each
browser session has its own :class:`~posekit.pipelines.live.LiveSession` in a ``gr.State`` (tracking,
smoothing, timing, the recording); the models are the app's, loaded once and kept warm.

Where it runs:

* CPU: PoseKit (~10-20 ms a frame on 2 cores); RTMW3D can be chosen, at a few frames per second.
* A GPU (local or a dedicated Space): RTMW3D-L by default.
* ZeroGPU: a GPU is lent per call, for seconds, after a queue: a stream of ten calls a second each asking for
  one is not viable, so the Live tab runs PoseKit on the Space's CPU; RTMW3D runs on a recorded clip in the
  Video tab.

The figures shown are measured: frames per second and the server's time per frame (``LiveSession.stats``),
and, in the page itself, the overlays shown per second. (The time from a camera frame to its overlay on the
screen is measured by ``benchmarks/bench_live.py --browser`` with a fake camera whose frames carry their
number.)
"""

from __future__ import annotations

import html
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import gradio as gr
import numpy as np

from posekit.pipelines.live import LiveSession, live_settings
from posekit.pipelines.models import Models
from posekit.pipelines.results import Outputs, write_results
from posekit.ui.files import WorkDirs
from posekit.ui.handlers import friendly_errors
from posekit.ui.models import ModelRegistry, model_id, on_zero_gpu

log = logging.getLogger(__name__)

STREAM_EVERY = 0.06
"""Seconds between webcam frames sent by the browser (Gradio's own ~0.1 s would cap a stream at 10 frames/s).
The server answers the latest frame it holds and waits for the next one, so the rate is the lower of ~16
frames/s and what the model sustains; each frame costs the server a ~50 KB upload to parse, which is why
this is not smaller."""
TIME_LIMIT_S = 60
"""A stream runs at most a minute of processing, then the visitor starts it again: one visitor cannot hold a
worker for ever."""
LIVE_CONCURRENCY = max(1, min(4, os.cpu_count() or 1))
"""Streams served at once: PoseKit at ~15 frames/s takes about a third of a core, so one per core (at most 4);
later visitors wait in the queue. Live streams have their own concurrency group, so they never hold up the
Image and Video jobs (and those never hold up a stream)."""
LIVE_TORCH_THREADS = 1
"""CPU threads a stream's model runs on. One stream needs ~10-40 ms a frame of one core; two threads save a
few ms on an idle machine but, when the cores are busy (other streams, the server parsing uploads, other
jobs), PyTorch's threads wait on each other: on the 2-core test machine under load, PoseKit took 420-1100 ms
a frame with 2 threads against 33-44 ms with 1 (``benchmarks/bench_live.py --threads``)."""
STATE_TTL_S = 900
"""A closed tab's session (tracker, recording) is dropped after 15 minutes."""

LIVE_HELP = """Pose from your **webcam**, live: allow the camera, press **Record** under it to start the stream,
and move. The overlay is drawn on the server and streamed back; the figures under it are measured, not
promised. Tick **Record poses** to keep the poses; untick it to get the same JSON and ZIP files as the Video
tab. Each stream runs up to {limit} s; start it again to go on. Frames are processed in memory, not stored."""

ZERO_GPU_NOTE = """**On this ZeroGPU Space** a GPU is lent per call, for seconds, after a queue: a live stream of
ten calls a second cannot each ask for one. So live poses run on the Space's **CPU with PoseKit** (2D, 19 joints).
For RTMW3D's 133 keypoints in 3D, record a short clip and upload it in the **Video** tab."""

# Measured in the page: the overlays shown per second (the overlay image's load events), written under the
# server's figures; window.posekitLive keeps the times for tests.
BROWSER_STATS_JS = """
const live = window.posekitLive = window.posekitLive || {shown: []};
if (!live.installed) {
  live.installed = true;
  document.addEventListener('load', (event) => {
    const box = document.querySelector('#live-overlay');
    if (!box || !box.contains(event.target) || event.target.tagName !== 'IMG') return;
    live.shown.push(performance.now());
    if (live.shown.length > 400) live.shown.splice(0, live.shown.length - 400);
  }, true);
  setInterval(() => {
    const now = performance.now();
    const recent = live.shown.filter((t) => now - t < 2000);
    const span = recent.length > 1 ? (recent[recent.length - 1] - recent[0]) / 1000 : 0;
    live.fps = span > 0 ? (recent.length - 1) / span : 0;
    const target = element.querySelector('.live-browser-stats');
    if (target) target.textContent = recent.length > 1 ? `In this browser: ${live.fps.toFixed(1)} overlays/s shown`
      : 'In this browser: no overlay shown in the last 2 s';
  }, 500);
}
"""


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 0


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """PyTorch's CPU threads set to ``n`` while any stream frame runs, and back to what they were after the last
    (the setting is the process's: the first frame in saves it, the last one out restores it)."""
    global _threads_users, _threads_before
    import torch

    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(n)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)


@dataclass
class Stream:
    """A browser session's live state: the model it runs (by the app's name) and its :class:`LiveSession`."""

    name: str
    session: LiveSession


def _stats_markdown(session: LiveSession, people: int, label: str, device: str) -> str:
    s = session.stats()
    fps = f"{s['fps']:.1f}" if np.isfinite(s["fps"]) else "–"
    rec = f" · ⏺ recording: {session.recorded_frames} frames" if session.recording else ""
    return (
        f"**{fps} frames/s** · server time per frame **{s['latency_median_ms']:.0f} ms** (median; p95 "
        f"{s['latency_p95_ms']:.0f} ms) · {people} {'person' if people == 1 else 'people'} · {label} on "
        f"{device.upper()}, frames downscaled to {session.settings.max_side} px{rec}"
    )


@dataclass
class Live:
    """The Live tab's handlers and what they share.

    Args:
        registry: the app's models (kept loaded: the first frame of the first stream loads the model).
        workdirs: where recordings are written.
        models: the models streams use (default: the registry's; on ZeroGPU a CPU copy, as its GPU cannot be
            held by a stream).
    """

    registry: ModelRegistry
    workdirs: WorkDirs = field(default_factory=WorkDirs)
    models: Models | None = None

    def __post_init__(self) -> None:
        self.zero_gpu = on_zero_gpu()
        if self.models is None:
            self.models = Models("cpu") if self.zero_gpu else self.registry.models
        from posekit.estimators.base import resolve_device

        self.device = str(resolve_device(self.models.device))

    @property
    def choices(self) -> list[str]:
        """The models a stream may run: PoseKit only on ZeroGPU (its CPU), else every model the app offers."""
        return [n for n in self.registry.names if not self.zero_gpu or model_id(n) == "posekit"]

    @property
    def default(self) -> str:
        """RTMW3D-L on a GPU of our own, PoseKit elsewhere (CPU, ZeroGPU)."""
        choices = self.choices
        if self.device.startswith("cuda") and "RTMW3D-L" in choices:
            return "RTMW3D-L"
        return "PoseKit" if "PoseKit" in choices else choices[0]

    def _stream(self, name: str) -> Stream:
        settings = live_settings(model_id(name))
        model, detector = self.models.for_job(settings)  # type: ignore[union-attr]
        return Stream(name, LiveSession(model, detector, settings))

    def frame(
        self, image: np.ndarray | None, stream: Stream | None, name: str, record: bool
    ) -> tuple[np.ndarray | None, str, Stream | None]:
        """One webcam frame (RGB) -> its overlay (RGB), the measured figures, the session's state."""
        if image is None:
            return None, "", stream
        with friendly_errors("live stream"):
            name = name if name in self.choices else self.default
            if stream is None or stream.name != name:
                stream = self._stream(name)
                if record:  # ticked before the stream began; from now on only the Record handler starts and stops
                    stream.session.start_recording()
            session = stream.session
            bgr = cv2.cvtColor(np.asarray(image, np.uint8), cv2.COLOR_RGB2BGR)
            with _torch_threads(LIVE_TORCH_THREADS):
                poses = session.process(bgr, time.monotonic())
            overlay = cv2.cvtColor(session.render(poses), cv2.COLOR_BGR2RGB)
            return overlay, _stats_markdown(session, len(poses), name, self.device), stream

    def record(
        self, record: bool, stream: Stream | None
    ) -> tuple[str, str | None, str | None, list[str] | None, Stream | None]:
        """Tick: start keeping poses. Untick: stop, and write the recording's JSON and ZIP (and BVH/GLB with 3D)."""
        session = stream.session if stream is not None else None
        if record:
            if session is not None:
                session.start_recording()
            return "⏺ Recording: untick **Record poses** to stop and get the files.", None, None, None, stream
        if session is None or not session.recording or session.recorded_frames == 0:
            if session is not None:
                session.recording = False
            return "Nothing was recorded: start the stream, then tick **Record poses**.", None, None, None, stream
        with friendly_errors("recording"):
            seq = session.stop_recording()
            out = self.workdirs.new("live")
            stem = time.strftime("live_%Y%m%d-%H%M%S")
            source = {**seq.meta.get("source", {}), "kind": "live"}
            written = write_results(seq, source, session.settings, self.models, Outputs(Path(out), stem), {},
                                    zip=True)  # fmt: skip
            animations = None
            if seq.keypoints_3d is not None and seq.num_people:
                from posekit.io.animation import export_animations

                try:
                    animations = [str(p) for p in export_animations(seq, out, stem)]
                except ValueError as exc:  # e.g. too few joints seen for a rig
                    log.info("no animation for the recording: %s", exc)
            span = seq.relative_time()[-1] if seq.num_frames else 0.0
            people = int(seq.present.any(axis=0).sum()) if seq.num_people else 0
            exported = "BVH and GLB animations of the main person below." if animations else "2D only: no animation."
            summary = (
                f"Recorded **{seq.num_frames} frames** ({span:.1f} s), **{people} "
                f"{'person' if people == 1 else 'people'}** tracked, by {html.escape(stream.name)}; "
                f"smoothing: One-Euro, online. {exported}"
            )
            zipped = written.files.get("zip")
            return summary, str(written.files["json"]), str(zipped) if zipped else None, animations, stream


def live_tab(registry: ModelRegistry, workdirs: WorkDirs, models: Models | None = None) -> Live:
    """Build the Live tab inside the caller's ``gr.Tabs()`` and wire its events; returns its handlers."""
    live = Live(registry, workdirs, models)
    with gr.Tab("Live", id="live"):
        gr.Markdown(LIVE_HELP.format(limit=TIME_LIMIT_S))
        if live.zero_gpu:
            gr.Markdown(ZERO_GPU_NOTE, elem_id="live-zero-gpu")
        with gr.Row():
            with gr.Column():
                # Not mirrored: the server must see the person's left on the image's right, as a camera does.
                camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam",
                                  webcam_options=gr.WebcamOptions(mirror=False), elem_id="live-camera")  # fmt: skip
                with gr.Row():
                    model = gr.Radio(live.choices, value=live.default, label="Live model", elem_id="live-model",
                                     info="PoseKit: ~10-20 ms a frame on a CPU. RTMW3D: 3D, 133 keypoints; "
                                     "real time on a GPU only.")  # fmt: skip
                    record = gr.Checkbox(False, label="Record poses", elem_id="live-record",
                                         info="Keep the stream's poses; untick to get the files.")  # fmt: skip
            with gr.Column():
                overlay = gr.Image(label="Live overlay", type="numpy", format="jpeg", interactive=False,
                                   elem_id="live-overlay")  # fmt: skip
                stats = gr.Markdown(elem_id="live-stats")
                gr.HTML("<p class='live-browser-stats'></p>", js_on_load=BROWSER_STATS_JS, elem_id="live-browser")
        summary = gr.Markdown(elem_id="live-summary")
        with gr.Row():
            json_file = gr.File(label="Recording (JSON)", elem_id="live-json", interactive=False)
            zip_file = gr.File(label="Recording (ZIP: JSON, CSV; an iPhone take for PoseKit)", elem_id="live-zip",
                               interactive=False)  # fmt: skip
            animations = gr.File(label="Animations (BVH, GLB; 3D models)", file_count="multiple",
                                 elem_id="live-animations", interactive=False)  # fmt: skip
        session = gr.State(None, time_to_live=STATE_TTL_S)

    # The stream is the browser's conversation with its own session: not an API (use posekit.pipelines.live).
    camera.stream(
        live.frame, [camera, session, model, record], [overlay, stats, session], stream_every=STREAM_EVERY,
        time_limit=TIME_LIMIT_S, concurrency_limit=LIVE_CONCURRENCY, concurrency_id="live", show_progress="hidden",
        api_visibility="private",
    )  # fmt: skip
    record.change(live.record, [record, session], [summary, json_file, zip_file, animations, session],
                  api_visibility="private", concurrency_limit=None)  # fmt: skip
    return live


__all__ = ["LIVE_CONCURRENCY", "STREAM_EVERY", "TIME_LIMIT_S", "Live", "Stream", "live_tab"]
