"""The page in a real browser: headless Debian Chromium loads the app, uploads an example image, and waits for
the overlay and the 3D plot, with no console errors; then plays an iPhone take's 3D animation. Screenshots
land in ``test-output/``.

Needs the system's Chromium (``apt-get install chromium``, never a downloaded browser) and the
``playwright`` Python package (its driver only); skipped with the reason when either is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from generators.weights import write_weights

from posekit.ui import create_demo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "assets" / "images" / "coco_000000000785.jpg"
TAKE = ROOT / "assets" / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"
OUTPUT = ROOT / "test-output"

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason="Debian chromium is not installed (apt-get install -y chromium)"
    ),  # fmt: skip
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    weights = write_weights(tmp_path_factory.mktemp("weights"), rtmw3d=("l",))
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
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            # Not "networkidle": the Live tab's stream keeps Gradio's heartbeat connection open for good.
            page.goto(app_url, wait_until="load")
            page.wait_for_selector("#image-input", timeout=30_000)
            yield page
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def test_image_in_the_browser(page):
    page.set_input_files("#image-input input[type=file]", str(EXAMPLE))
    page.wait_for_selector("#image-input img", timeout=30_000)  # the upload is shown
    page.click("#image-run")
    overlay = page.wait_for_selector("#image-overlay img", timeout=180_000)
    assert overlay.get_attribute("src")
    plot = page.wait_for_selector("#image-plot .js-plotly-plot", timeout=60_000)
    page.wait_for_selector("#image-plot .legendtext", timeout=30_000)  # the traces are drawn
    assert "person #0" in plot.inner_text()
    assert "1 person" in page.inner_text("#image-summary")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "browser_image.png"), full_page=True)


def test_take_animation_plays_in_the_browser(page):
    page.click("button[role=tab]:has-text('iPhone take')")
    page.set_input_files("#rgbd-input input[type=file]", str(TAKE))
    page.click("#rgbd-run")
    page.wait_for_selector("#rgbd-plot .js-plotly-plot", timeout=60_000)
    frames = "document.querySelector('#rgbd-plot .js-plotly-plot')._transitionData?._frames?.length || 0"
    page.wait_for_function(f"({frames}) === 60", timeout=30_000)  # gr.Plot drops frames: the page adds them
    page.click("#rgbd-plot .updatemenu-button >> nth=0")  # play
    active = "document.querySelector('#rgbd-plot .js-plotly-plot')._fullLayout.sliders[0].active"
    page.wait_for_function(f"({active}) > 0", timeout=30_000)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "browser_take.png"), full_page=True)
