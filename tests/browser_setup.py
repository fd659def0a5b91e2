"""What the browser tests share: Debian's Chromium (never a downloaded browser) driven by Playwright, and the
marks that skip a test, with the reason, where either is missing."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason="Debian chromium is not installed (apt-get install -y chromium)"
    ),  # fmt: skip
]


def playwright_sync_api():  # noqa: ANN201 - the module, or the test module skips
    """Playwright's sync API; skips the calling test module when the package is not installed."""
    return pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
