"""A real browser for the tests: Debian's chromium driven by Selenium through chromium-driver.

The browser has no network but loopback: pages are served from 127.0.0.1 (``serve_folder``).
Screenshots go where the test says and, when ``FLEET_ARTIFACTS`` names a folder, are copied there
(CI keeps them).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from loopback_http import Quiet, serving

BROWSER_PACKAGES = "chromium chromium-driver"
CHROMIUM_FLAGS = [  # root, no display, a closed network: nothing may phone home or wait for it
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser() -> str | None:
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return None
    return f"needs the Debian packages {BROWSER_PACKAGES} (apt-get install {BROWSER_PACKAGES})"


def skip_module_without_browser() -> None:
    """Outside CI, skip a browser test module on a machine without chromium; in CI its fixture fails."""
    missing = missing_browser()
    if missing and not os.environ.get("CI"):
        pytest.skip(missing, allow_module_level=True)


@contextmanager
def browser_session(profile: Path) -> Iterator[Any]:
    """A headless chromium with an empty profile in ``profile``, logging the page's console."""
    missing = missing_browser()
    if missing:
        pytest.fail(f"CI must run the browser test: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        yield session
    finally:
        session.quit()


def set_width(browser: Any, width: int, height: int = 900) -> None:
    """The viewport itself (not the window) is ``width`` CSS pixels wide."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def console_errors(browser: Any) -> list[str]:
    """Errors the page logged (uncaught exceptions included) since the last call.

    The browser's own request for ``/favicon.ico`` (the page names none) is not the page's error.
    """
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]
    ]


def save_screenshot(browser: Any, path: Path) -> Path:
    """The whole page at the current width (the viewport grows to the page's height for the shot)."""
    width = browser.execute_script("return window.innerWidth")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    set_width(browser, width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(path)), path
    set_width(browser, width)
    artifacts = os.environ.get("FLEET_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(artifacts) / path.name)
    return path


class _QuietFiles(Quiet, SimpleHTTPRequestHandler):
    pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1; yields the base URL."""
    with serving(functools.partial(_QuietFiles, directory=str(folder))) as address:
        yield f"http://{address}"
