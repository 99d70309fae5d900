"""Helpers the tests import: tiny datasets and images, plain SQL on a store, and a real
studio server for browser tests. (Fixtures live in conftest.py; tests never import it, as a
spawned process would find the repository's own conftest.py first.)"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
from PIL import Image

from sslcore.dataset import Dataset
from sslcore.store import Store

SHARED_DATASETS = Path(__file__).parents[1].parent / "shared" / "datasets"

BACKENDS = ["sqlite", "postgresql"]
"""A test module that sets ``BACKENDS = BACKENDS`` runs its store tests on both."""


def sql(store: Store, statement: str, **params) -> list[tuple]:
    """Rows of a plain SQL statement on the store's own database (either backend)."""
    from sqlalchemy import text

    with store.db.begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(row) for row in result] if result.returns_rows else []


def image_bytes(fmt: str = "PNG", size=(6, 5), color="red", mode="RGB", **save) -> bytes:
    """A tiny image encoded in ``fmt``."""
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def text_dataset(texts, labels=None, ids=None, name="toy") -> Dataset:
    """A text Dataset built by hand (ids default to t0, t1, ...)."""
    ids = ids if ids is not None else [f"t{i}" for i in range(len(texts))]
    labels = labels if labels is not None else [None] * len(texts)
    items = pd.DataFrame({"item_id": ids, "text": list(texts), "label": list(labels)})
    return Dataset(name, "text", items)


def sign_in(page, name: str = "browser-tester") -> None:
    """Answer the studio's once-per-session "Who is labeling?" form in a Playwright page."""
    start = page.get_by_role("button", name="Start labeling")
    start.wait_for(timeout=90_000)
    page.get_by_role("textbox", name="Your name").fill(name)
    start.click()
    start.wait_for(state="detached", timeout=60_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_studio(data_dir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``sslabel app`` on a free loopback port, in a session of its own; returns once
    /_stcore/health answers. ``options`` go to ``sslabel app``."""
    port = _free_port()
    with open(data_dir / "server.log", "a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sslcore.cli", "app", "--port", str(port),
             "--data-dir", str(data_dir), *options],
            stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1],
            start_new_session=True,
            # No MiniLM in the background (the embeddings extra may be installed): it would
            # take the cores from the page timings these tests wait on.
            env={**os.environ, "SSLABEL_BACKGROUND_FEATURES": "0"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_studio(process, signal.SIGKILL)
            raise RuntimeError((data_dir / "server.log").read_text()[-3000:])
        time.sleep(0.5)


def stop_studio(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the server's whole process group and wait for it."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning' &&
         !document.querySelector('[data-testid="stStatusWidget"]');
}"""
"""True once Streamlit has finished the current run (and any run asked for since): the app
root says whether a script runs; the status widget shows while one is queued."""


def playwright_or_skip():
    """Playwright's sync API for a browser test module, called at its top: skips the module
    when Debian's chromium is absent, or fails when SSLABEL_REQUIRE_BROWSER is set (CI)."""
    import pytest

    if not Path(CHROMIUM).exists():
        if os.environ.get("SSLABEL_REQUIRE_BROWSER"):
            raise RuntimeError("SSLABEL_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def wait_idle(page, timeout: int = 60_000) -> None:
    """Wait until the studio's current run has ended (see ``IDLE``)."""
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=timeout)


def press_for(page, key: str, shows, timeout: int = 30_000) -> None:
    """Press ``key`` and wait for the locator ``shows``; press once more if the page ended
    its runs without showing it. Headless Chromium on a loaded 2-core machine lost the
    first key press of a freshly drawn grid once in a full test run (never alone, 3 of 3);
    a second press only follows a first that changed nothing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.keyboard.press(key)
    try:
        shows.wait_for(timeout=10_000)
        return
    except PlaywrightTimeout:
        wait_idle(page)
        if shows.is_visible():
            return
    page.keyboard.press(key)
    shows.wait_for(timeout=timeout)
