"""The page in a real browser: headless Debian Chromium runs the three tabs the way a person does, with no console
error or uncaught exception at any point (play, pause and replay of the 3D animation included):

* an image with the PoseKit model (2D only: no tall empty 3D panel),
* a video with RTMW3D (3D): the progress bar must move with the frames while it runs,
* an iPhone take played back (no empty overlay box).

Each result is photographed at 1280 and at 390 px wide (a phone) into ``test-output/browser_<case>_<width>.png``.

Needs the system's Chromium (``apt-get install chromium``, never a downloaded browser) and the
``playwright`` Python package (its driver only); skipped with the reason when either is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_setup import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, playwright_sync_api
from generators.videos import walking_video
from generators.weights import write_weights

from posekit.ui import create_demo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "assets" / "images" / "coco_000000000785.jpg"
TAKE = ROOT / "assets" / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"
OUTPUT = ROOT / "test-output"
WIDTHS = (1280, 390)

sync_api = playwright_sync_api()
pytestmark = BROWSER_MARKS

# Every text the progress bars show, sampled every 50 ms from the page itself (polling from Python would miss
# the short steps).
RECORD_PROGRESS = """() => {
  window.__progress = [];
  window.__progressTimer = setInterval(() => {
    for (const el of document.querySelectorAll('.progress-level')) {
      const text = el.textContent.trim();
      if (text && window.__progress[window.__progress.length - 1] !== text) window.__progress.push(text);
    }
  }, 50);
}"""
FIGURE = "document.querySelector('#{0}-plot .js-plotly-plot')"
PLOTS_FIT = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => gd.offsetParent).every(gd => {
  const full = gd._fullLayout, width = gd.clientWidth;
  return full && Math.abs(full.width - width) < 3 &&
    (!full.scene || width >= 640 || full.height <= Math.max(360, width * 1.3) + 2);
})"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    weights = write_weights(tmp_path_factory.mktemp("weights"), rtmw3d=("l",), posekit=True)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"POSEKIT_WEIGHTS_DIR": str(weights), "HF_HUB_OFFLINE": "1", "POSEKIT_OFFLINE": "1"}.items():
            mp.setenv(key, value)
        demo = create_demo()
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
        yield demo.local_url
        demo.close()


@pytest.fixture
def page(app_url):
    """A fresh page on the app; the test fails if the page logged an error or threw."""
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1000})
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            # Not "networkidle": the Live tab's stream keeps Gradio's heartbeat connection open for good.
            page.goto(app_url, wait_until="load")
            page.wait_for_selector("#image-input", timeout=30_000)
            yield page
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def _photograph(page, case: str) -> None:
    """Full-page screenshots at each width (the plot follows the page's width)."""
    OUTPUT.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_function(PLOTS_FIT, timeout=30_000)  # Plotly follows the new width (and height, on a phone)
        page.wait_for_timeout(700)  # and WebGL draws the scene again
        page.screenshot(path=str(OUTPUT / f"browser_{case}_{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 1000})


def _box(page, selector: str) -> dict | None:
    element = page.query_selector(selector)
    return element.bounding_box() if element else None


def _play_pause_replay(page, tab: str, everything: bool = True) -> None:
    """Play and pause (an interrupted animation), then play on to the end, replay, pause and scrub: the page
    must not throw at any step. (Headless Chromium draws WebGL in software, a few frames a second: only short
    clips are played through.)"""
    figure = FIGURE.format(tab)
    buttons = f"#{tab}-plot .updatemenu-button"
    active = f"{figure}._fullLayout.sliders[0].active"
    page.click(f"{buttons} >> nth=0")  # play
    page.wait_for_function(f"({active}) > 0", timeout=30_000)
    page.click(f"{buttons} >> nth=1")  # pause: interrupts the animation
    paused = page.evaluate(f"() => {active}")
    page.wait_for_timeout(400)
    assert page.evaluate(f"() => {active}") == paused, "pause did not stop the animation"
    if not everything:
        return
    page.click(f"{buttons} >> nth=0")  # play on from there
    last = f"{figure}._fullLayout.sliders[0].steps.length - 1"
    page.wait_for_function(f"({active}) === ({last}) && !{figure}._transitionData._animationRaf", timeout=60_000)
    page.click(f"{buttons} >> nth=0")  # replay from the start
    page.wait_for_function(f"({active}) < ({last})", timeout=30_000)
    page.wait_for_timeout(200)
    page.click(f"{buttons} >> nth=1")  # pause
    rail = page.query_selector(f"#{tab}-plot .slider-rail-rect").bounding_box()
    page.mouse.click(rail["x"] + rail["width"] * 0.5, rail["y"] + rail["height"] / 2)  # scrub to the middle
    page.wait_for_function(f"({active}) > 0", timeout=30_000)
    page.wait_for_timeout(300)


def test_image_with_a_2d_model(page):
    page.click("#model label:has-text('PoseKit')")
    page.set_input_files("#image-input input[type=file]", str(EXAMPLE))
    page.wait_for_selector("#image-input img", timeout=30_000)  # the upload is shown
    page.click("#image-run")
    overlay = page.wait_for_selector("#image-overlay img", timeout=120_000)
    assert overlay.get_attribute("src")
    page.wait_for_function("document.querySelector('#image-summary').innerText.includes('PoseKit')", timeout=30_000)
    summary = page.inner_text("#image-summary")
    assert "2D" in summary and "no 3D" in summary, summary
    plot = _box(page, "#image-plot")
    assert plot is None or plot["height"] < 150, f"a 2D-only result keeps a {plot} 3D panel"
    assert "BVH" not in page.inner_text("#image-zip")  # images have no animation
    _photograph(page, "image_posekit")


def test_video_progress_moves_and_the_3d_animation_plays(page, tmp_path):
    clip = walking_video(tmp_path / "walk.mp4", num_frames=3, size=(160, 120), fps=10.0)
    page.click("button[role=tab]:has-text('Video')")
    page.set_input_files("#video-input input[type=file]", str(clip.path))
    page.wait_for_selector("#video-input video", timeout=30_000)
    page.evaluate(RECORD_PROGRESS)
    page.click("#video-run")
    page.wait_for_selector("#video-plot .js-plotly-plot", timeout=180_000)
    frames = f"{FIGURE.format('video')}._transitionData?._frames?.length || 0"
    page.wait_for_function(f"({frames}) === 3", timeout=30_000)  # gr.Plot drops frames: the page adds them
    seen = page.evaluate("() => { clearInterval(window.__progressTimer); return window.__progress; }")
    percents = [float(m.group(1)) for text in seen if (m := re.search(r"([\d.]+)%$", text))]
    print("progress seen:", seen)
    assert percents == sorted(percents), f"the bar went back: {seen}"
    during = {p for p in percents if 2.0 < p < 95.0}  # after the model's loading, before the end of the job
    assert len(during) >= 3, f"the bar did not move with the frames: {seen}"
    assert any("frames 1-3 of about 3" in text for text in seen), seen
    summary = page.inner_text("#video-summary")
    assert "3 frames" in summary and "model-relative" in summary, summary
    assert "BVH" in page.inner_text("#video-zip")
    _play_pause_replay(page, "video")
    _photograph(page, "video_3d")


def test_take_plays_back(page):
    page.click("button[role=tab]:has-text('iPhone take')")
    page.set_input_files("#rgbd-input input[type=file]", str(TAKE))
    page.click("#rgbd-run")
    page.wait_for_selector("#rgbd-plot .js-plotly-plot", timeout=60_000)
    frames = f"{FIGURE.format('rgbd')}._transitionData?._frames?.length || 0"
    page.wait_for_function(f"({frames}) === 60", timeout=30_000)
    page.wait_for_function("document.querySelector('#rgbd-summary').innerText.includes('iPhone take')")
    assert not page.is_visible("#rgbd-overlay"), "a take has no overlay: its empty box must not show"
    _play_pause_replay(page, "rgbd", everything=False)  # the video did the rest
    _photograph(page, "take")
