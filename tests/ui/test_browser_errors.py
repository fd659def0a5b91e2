"""An error in a real browser (#16): the message of a rejected upload shows literally (a ZIP member named
``../<i>evil</i>.txt``, quoted by the message, is not set in italics), leads with its title, and names the upload
by its own file name only. (The upload's own file name cannot carry markup: Gradio's upload drops ``<`` and
``>`` from it.)

Gradio 6.31's page titles every toast "Error" (it reads the title from ``_title``, a field its client never
sets), which is why :func:`posekit.ui.handlers.refusal` also puts the title at the start of the text.

Needs the system's Chromium and the ``playwright`` package (its driver only), as ``test_browser.py``.
"""

from __future__ import annotations

import zipfile

import pytest
from browser_setup import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, playwright_sync_api
from generators.weights import write_weights

from posekit.ui import create_demo

sync_api = playwright_sync_api()
pytestmark = BROWSER_MARKS


def test_error_toast_shows_the_text_literally(tmp_path):
    weights = write_weights(tmp_path / "weights", rtmw3d=(), posekit=True)
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as z:
        z.writestr("frames.json", "{}")
        z.writestr("../<i>evil</i>.txt", "x")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"POSEKIT_WEIGHTS_DIR": str(weights), "HF_HUB_OFFLINE": "1", "POSEKIT_OFFLINE": "1"}.items():
            mp.setenv(key, value)
        demo = create_demo()
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
        try:
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 1200})
                    # Not "networkidle": the Live tab's stream keeps Gradio's heartbeat connection open for good.
                    page.goto(demo.local_url, wait_until="load")
                    page.wait_for_selector("#image-input", timeout=30_000)
                    page.click("button[role=tab]:has-text('iPhone take')")
                    page.set_input_files("#rgbd-input input[type=file]", str(upload))
                    page.wait_for_timeout(500)
                    page.click("#rgbd-run")
                    toast = page.wait_for_selector(".toast-body", timeout=60_000)
                    text = toast.inner_text()
                    italics = page.eval_on_selector_all(".toast-body i, .toast-body b", "els => els.length")
                finally:
                    browser.close()
        finally:
            demo.close()
    assert "Could not process the upload. upload.zip: " in text, text  # its title in front, the upload's name
    assert "../<i>evil</i>.txt" in text  # literal
    assert italics == 0
    assert str(tmp_path) not in text and "/gradio/" not in text
