"""The Live tab in a real browser: headless Debian Chromium with a fake webcam fed from a real clip
(``street.mp4`` with a walking figure and frame numbers drawn on it, :mod:`generators.camera`) streams to the
served app; overlays must come back and change, the page must show its measured frames per second, and a
recording must end as a results JSON with tracked people.

Two apps: PoseKit with random weights in the real format (the real network's cost, so the frames per second
mean something; random weights still "find" one person in every frame, as the presence rule passes their
~0.5 scores), and the oracle models (:mod:`generators.fake_models`) through ``Models(estimator_loader=...)``,
which find the walking figure, so its track id must hold for the whole recording.

Skipped with the reason when Chromium, playwright or the shared clip is missing. Screenshots land in
``test-output/live_*.png``, the measured figures in ``test-output/live_browser.json``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from browser_setup import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, playwright_sync_api
from generators.camera import PROBE_ARGS, PROBE_JS, fake_camera_y4m
from generators.fake_models import FakeDetector, FakePoseModel
from generators.weights import write_weights

from posekit.io.export import read_result
from posekit.pipelines.models import Models
from posekit.sequence import PoseSequence
from posekit.ui import create_demo
from posekit.ui.models import ModelRegistry

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CLIP = ROOT / "tests" / "data" / "video" / "street.mp4"  # in the repository: the test never skips for want of it

IDLE_MIN_FPS = 10.0
"""Frames per second the page must show with PoseKit on CPU when the machine is ours: a stream needs ~25 ms of
server time a frame (``benchmarks/bench_live.py``), and the browser sends a frame every 0.06 s."""
BUSY_MIN_FPS = 3.0
"""...and when other work already oversubscribes the cores (load average above the core count before the test
starts): Chromium, the server and PoseKit then share what is left. Measured on the 2-core test machine at load
averages of 13-17 from other test suites: 3.7, 5.5, 7.5 and 11.8 frames/s shown, with PoseKit itself at
21-30 ms a frame (median); so the floor is 3. ``POSEKIT_LIVE_MIN_FPS`` sets it outright."""


def min_fps(load: float) -> float:
    if "POSEKIT_LIVE_MIN_FPS" in os.environ:
        return float(os.environ["POSEKIT_LIVE_MIN_FPS"])
    return IDLE_MIN_FPS if load < (os.cpu_count() or 1) else BUSY_MIN_FPS


sync_api = playwright_sync_api()

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def camera(tmp_path_factory) -> Path:
    return fake_camera_y4m(tmp_path_factory.mktemp("camera") / "street.y4m", CLIP, num_frames=120)


@pytest.fixture(scope="module")
def load_before() -> float:
    """The machine's load average before this module starts anything (Chromium, the app)."""
    return os.getloadavg()[0]


@pytest.fixture(scope="module")
def browser(camera, load_before):
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"]  # fmt: skip
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def _serve(registry: ModelRegistry):
    demo = create_demo(registry=registry)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    return demo


def _start_stream(browser, url: str):
    """A page on the Live tab with the webcam streaming and the latency probe installed."""
    page = browser.new_page(viewport={"width": 1280, "height": 1300})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url, wait_until="load")
    page.click("button[role=tab]:has-text('Live')")
    page.click("#live-camera button:has-text('Click to Access Webcam')")
    page.wait_for_function("document.querySelector('#live-camera video')?.videoWidth > 0", timeout=20_000)
    page.evaluate(PROBE_JS, PROBE_ARGS)
    page.click("#live-camera button.capture-button")  # Gradio's "Record": starts the stream
    page.wait_for_selector("#live-overlay img", timeout=60_000)  # the first frame loads the model
    return page, problems


def _record(page, seconds: float, tmp_path: Path) -> tuple[PoseSequence, str]:
    """Tick Record poses for ``seconds``, untick, and read the JSON offered."""
    page.check("#live-record input")
    time.sleep(seconds)
    stats = page.inner_text("#live-stats")
    page.uncheck("#live-record input")
    link = page.wait_for_selector("#live-json a", timeout=30_000)
    response = page.request.get(link.get_attribute("href"))
    assert response.ok
    path = tmp_path / "live.json"
    path.write_bytes(response.body())
    seq = read_result(path)
    assert isinstance(seq, PoseSequence)
    return seq, stats


def _probe(page) -> dict:
    return page.evaluate("() => window.posekitProbe")


def _save(name: str, figures: dict) -> None:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / "live_browser.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report[name] = figures
    path.write_text(json.dumps(report, indent=2))


def test_live_posekit_streams_overlays_at_its_measured_rate(browser, tmp_path, monkeypatch, load_before):
    weights = write_weights(tmp_path / "weights", rtmw3d=(), posekit=True)
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(weights))
    demo = _serve(ModelRegistry(Models("cpu"), names=("PoseKit",)))
    try:
        page, problems = _start_stream(browser, demo.local_url)
        time.sleep(1.0)  # past the first frames (model load, warm-up)
        seq, stats = _record(page, 4.0, tmp_path)
        probe = _probe(page)
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "live_posekit.png"), full_page=True)
        browser_fps = page.evaluate("() => window.posekitLive && window.posekitLive.fps")
        summary = page.inner_text("#live-summary")
    finally:
        demo.close()
    shown = np.asarray(probe["shown"])
    fps = float(re.search(r"([\d.]+) frames/s", stats).group(1))
    server_ms = float(re.search(r"per frame \*?\*?([\d.]+) ms", stats).group(1)) if "ms" in stats else None
    latencies = np.asarray(probe["latencies"])
    figures = {
        "server_fps_shown": fps, "server_stats": stats, "browser_overlays_per_s": browser_fps,
        "overlays": len(shown), "camera_frames": probe["camera"], "decoded_frame_numbers": len(latencies),
        "capture_to_overlay_ms_median": float(np.median(latencies)) if len(latencies) else None,
        "capture_to_overlay_ms_p95": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "upload_to_overlay_ms_median": float(np.median(probe["sendLatencies"])) if probe["sendLatencies"] else None,
        "unmatched_frame_numbers": probe["stale"],
        "recorded_frames": seq.num_frames, "load_average_before": load_before, "min_fps": min_fps(load_before),
        "load_average_after": os.getloadavg()[0],
    }  # fmt: skip
    _save("posekit_random_weights", figures)
    print(json.dumps(figures, indent=2))
    assert not problems, problems
    # Overlays come back and change from frame to frame (each is a new camera frame, drawn anew)
    assert len(shown) >= 20 and len(set(probe["hashes"])) >= 0.8 * len(probe["hashes"])
    assert len(latencies) + probe["stale"] >= 10  # the frame numbers survive both JPEGs: the latency is measured
    assert len(probe["sendLatencies"]) >= 10
    assert fps > min_fps(load_before), f"{fps} frames/s shown ({stats}); load average before {load_before:.1f}"
    assert server_ms is not None
    # The recording: a valid sequence of the frames seen while ticked, with the person random weights "find"
    assert seq.num_frames >= 5 * BUSY_MIN_FPS and seq.num_people >= 1 and seq.meta["smoothing"]["method"] == "one_euro"
    assert seq.image_size == (640, 360) and seq.skeleton.num_keypoints == 19
    assert summary.startswith(f"Recorded {seq.num_frames} frames")


def test_live_recording_tracks_the_walking_figure(browser, tmp_path):
    models = Models("cpu", estimator_loader=lambda *args: FakePoseModel(), detector_loader=lambda *args: FakeDetector())
    demo = _serve(ModelRegistry(models, names=("PoseKit",)))
    try:
        page, problems = _start_stream(browser, demo.local_url)
        seq, stats = _record(page, 4.0, tmp_path)
        summary = page.inner_text("#live-summary")
        zip_link = page.query_selector("#live-zip a")
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "live_tracked.png"), full_page=True)
        probe = _probe(page)
    finally:
        demo.close()
    _save("oracle_models", {"server_stats": stats, "recorded_frames": seq.num_frames,
                            "overlays": len(probe["shown"])})  # fmt: skip
    assert not problems, problems
    # One person in every frame, under one id: the figure walks ~55 px/s, so its boxes overlap from one frame
    # to the next unless the browser stalls for over a second (seen at load averages of 20: then a new id
    # may start, and the first must still hold most of the recording). Strict ids: tests/pipelines/test_live.py.
    assert seq.num_frames >= 10 and seq.present.sum(axis=1).tolist() == [1] * seq.num_frames
    assert len(seq.track_ids) <= 2 and seq.present.mean(axis=0).max() >= 0.8, seq.present.mean(axis=0)
    if len(seq.track_ids) > 1:
        switch = int(np.flatnonzero(seq.present[:, 1])[0])
        assert seq.timestamps[switch] - seq.timestamps[switch - 1] > 0.5  # only across a stall
    # The figure is 216 px high in a 640x360 camera frame: its keypoints span about that
    span = np.nanmax(seq.keypoints_2d[:, 0, :, 1], axis=1) - np.nanmin(seq.keypoints_2d[:, 0, :, 1], axis=1)
    assert np.nanmedian(span) == pytest.approx(0.8 * 216, rel=0.15)
    assert f"Recorded {seq.num_frames} frames" in summary and "tracked" in summary
    assert zip_link is not None
