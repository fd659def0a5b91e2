"""Live latency with PoseKit on CPU: per frame, from a captured frame to its overlay ready to send, and (with
``--browser``) from a camera frame shown in Chromium to its overlay shown in the same page.

Server side: the frames of a real clip (``street.mp4`` with a walking figure drawn on it, 640x360, as the fake
camera gives them) go one by one through what the Live tab does with each: RGB to BGR, ``LiveSession.process``
(downscale, whole frame or carried box, PoseKit, track, One-Euro), drawing the overlay, and the JPEG the page
is sent. Closed loop: the next frame starts when the previous overlay is ready, so frames/s is what one stream
can reach. PoseKit runs with random weights in the real format (a temporary ``POSEKIT_WEIGHTS_DIR``): its cost
does not depend on the weights' values, and random weights still "find" one person a frame.

Browser (``--browser``): the app is served, headless Debian Chromium streams a fake camera (the same frames,
each carrying its number in black and white blocks) from the Live tab, and the page times each camera frame
when the webcam's ``<video>`` shows it and again when its overlay is shown (``generators.camera.PROBE_JS``).

Run:  python benchmarks/bench_live.py [--frames 300] [--threads 1,2] [--max-seconds 60] [--browser --seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from generators.camera import PROBE_ARGS, PROBE_JS, fake_camera_y4m  # noqa: E402
from generators.weights import write_posekit  # noqa: E402

from posekit.pipelines import Models  # noqa: E402
from posekit.pipelines.live import LiveSession, live_settings  # noqa: E402

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "video" / "street.mp4"
COMMAND = "python benchmarks/bench_live.py " + " ".join(sys.argv[1:])


def read_y4m(path: Path) -> list[np.ndarray]:
    """The BGR frames of a 4:2:0 YUV4MPEG2 file."""
    data = path.read_bytes()
    header, rest = data.split(b"\n", 1)
    fields = {f[:1]: f[1:] for f in header.split()[1:]}
    w, h = int(fields[b"W"]), int(fields[b"H"])
    n = w * h * 3 // 2
    frames = []
    for chunk in rest.split(b"FRAME\n")[1:]:
        yuv = np.frombuffer(chunk[:n], np.uint8).reshape(h * 3 // 2, w)
        frames.append(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420))
    return frames


def figures(ms: list[float] | np.ndarray) -> dict[str, float]:
    ms = np.asarray(ms, dtype=np.float64)
    if not len(ms):
        return {"n": 0}
    return {"n": int(len(ms)), "median_ms": round(float(np.median(ms)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "max_ms": round(float(ms.max()), 1)}  # fmt: skip


def server_side(frames: list[np.ndarray], count: int, threads: int, max_seconds: float) -> dict:
    import torch

    torch.set_num_threads(threads)
    model = Models("cpu").estimator("posekit")
    session = LiveSession(model, None, live_settings("posekit"))
    rgb_frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]  # what Gradio hands the handler
    for i in range(10):  # warm-up
        session.process(frames[i % len(frames)], i / 30)
    stages: dict[str, list[float]] = {"process": [], "overlay_ready": [], "jpeg_ready": []}
    people = 0
    start = time.perf_counter()
    for i in range(count):
        if time.perf_counter() - start > max_seconds:  # a machine too busy for this setting: say so, go on
            count = i
            break
        captured = time.perf_counter()
        bgr = cv2.cvtColor(rgb_frames[i % len(frames)], cv2.COLOR_RGB2BGR)
        poses = session.process(bgr, 1.0 + i / 30)
        processed = time.perf_counter()
        overlay = cv2.cvtColor(session.render(poses), cv2.COLOR_BGR2RGB)
        drawn = time.perf_counter()
        cv2.imencode(".jpg", overlay[..., ::-1])  # Gradio writes the overlay as a JPEG file for the page
        encoded = time.perf_counter()
        stages["process"].append((processed - captured) * 1000)
        stages["overlay_ready"].append((drawn - captured) * 1000)
        stages["jpeg_ready"].append((encoded - captured) * 1000)
        people += len(poses)
    total = time.perf_counter() - start
    return {
        "threads": threads,
        "frames": count,
        "frames_per_s": round(count / total, 1),
        "people_per_frame": round(people / max(count, 1), 2),
        **{f"capture_to_{k}": figures(v) for k, v in stages.items()},
        "stages_s": {k: round(v, 2) for k, v in session.timings.items()},
    }


def browser_side(camera: Path, seconds: float) -> dict:
    import shutil

    from playwright.sync_api import sync_playwright

    from posekit.ui import create_demo
    from posekit.ui.models import ModelRegistry

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    demo = create_demo(registry=ModelRegistry(Models("cpu"), names=("PoseKit",)))
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"]  # fmt: skip
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=args)
            page = browser.new_page(viewport={"width": 1280, "height": 1300})
            page.goto(demo.local_url, wait_until="load")
            page.click("button[role=tab]:has-text('Live')")
            page.click("#live-camera button:has-text('Click to Access Webcam')")
            page.wait_for_function("document.querySelector('#live-camera video')?.videoWidth > 0", timeout=20_000)
            page.evaluate(PROBE_JS, PROBE_ARGS)
            page.click("#live-camera button.capture-button")
            page.wait_for_selector("#live-overlay img", timeout=60_000)
            time.sleep(3.0)  # warm-up
            page.evaluate("() => { const P = window.posekitProbe; P.latencies = []; P.sendLatencies = []; "
                          "P.shown = []; P.stale = 0; }")  # fmt: skip
            time.sleep(seconds)
            probe = page.evaluate("() => window.posekitProbe")
            stats = page.inner_text("#live-stats")
            browser.close()
    finally:
        demo.close()
    shown = np.asarray(probe["shown"])
    span = (shown[-1] - shown[0]) / 1000 if len(shown) > 1 else float("nan")
    return {
        "seconds": seconds,
        "overlays_shown_per_s": round((len(shown) - 1) / span, 1) if len(shown) > 1 else 0.0,
        "camera_to_overlay_shown": figures(probe["latencies"]),
        "upload_to_overlay_shown": figures(probe["sendLatencies"]),
        "unmatched_frame_numbers": probe["stale"],
        "page_stats": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--threads", default="1,2", help="PyTorch CPU threads to try, comma-separated")
    parser.add_argument("--browser", action="store_true", help="also measure in Chromium with a fake camera")
    parser.add_argument("--seconds", type=float, default=15.0, help="browser: seconds measured")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="server side: at most this long a setting")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--no-server", action="store_true", help="skip the server-side measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_posekit(tmp / "weights", 0)
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(tmp / "weights")
        camera = fake_camera_y4m(tmp / "camera.y4m", CLIP, num_frames=120)  # the 4 s loop PROBE_ARGS expects
        frames = read_y4m(camera)
        report = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at start",
            "model": "PoseKit, random weights in the real format, CPU, frames 640x360",
            "server": []
            if args.no_server
            else [
                server_side(frames, args.frames, int(t), args.max_seconds) for t in args.threads.split(",")
            ],  # fmt: skip
        }
        if args.browser:
            report["browser"] = browser_side(camera, args.seconds)
        report["load_average_at_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(f"\nRerun: {COMMAND}")


if __name__ == "__main__":
    main()
