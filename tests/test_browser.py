"""The page in a real browser: headless Debian Chromium loads the app, uploads an example image, and waits for
the overlay and the 3D plot, with no console errors; a screenshot lands in ``test-output/``.

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
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "images" / "coco_000000000785.jpg"
OUTPUT = ROOT / "test-output"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason="Debian chromium is not installed (apt-get install -y chromium)"
    ),  # fmt: skip
]


@pytest.fixture
def app_url(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(write_weights(tmp_path / "weights", rtmw3d=("l",))))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("POSEKIT_OFFLINE", "1")
    demo = create_demo()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo.local_url
    demo.close()


def test_image_in_the_browser(app_url):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(app_url, wait_until="networkidle")
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
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
