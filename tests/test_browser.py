"""End-to-end tests in a real headless Chromium (Debian's package), driven by Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sslcore.store import DEMO_PREFIX, Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("SSLABEL_REQUIRE_BROWSER"):
        raise RuntimeError("SSLABEL_REQUIRE_BROWSER is set but chromium is not installed")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    port = _free_port()
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "sslcore.cli", "app", "--port", str(port),
         "--data-dir", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((data_dir / "server.log").read_text())
        time.sleep(0.5)
    yield url, data_dir
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_label_ten_digits_from_the_keyboard(server, page):
    url, data_dir = server
    page.goto(f"{url}/label")
    page.get_by_text("Label · " + DEMO_PREFIX + "digits").wait_for(timeout=60_000)
    page.get_by_role("button", name="Skip").first.wait_for(timeout=60_000)
    _wait_idle(page)
    # The first request for a page URL must still get app.py's navigation menu.
    assert page.get_by_text("Projects and data").is_visible()
    _shot(page, "label")
    for digit in "0123456789":
        page.get_by_role("button", name="Skip").first.wait_for(timeout=30_000)
        caption = page.get_by_text("Item digit-").inner_text()
        page.keyboard.press(digit)
        page.wait_for_function(
            "(old) => !document.body.innerText.includes(old)", arg=caption, timeout=30_000
        )
    _wait_idle(page)
    project = Store(data_dir).open_project(DEMO_PREFIX + "digits")
    labels = project.labels()
    assert sorted(labels.values()) == list("0123456789")
    assert page.get_by_text("10 / 1,797 labeled").is_visible()


def test_projects_page_and_a_bad_upload(server, page, tmp_path):
    url, _ = server
    page.goto(f"{url}/projects")
    page.get_by_text("New project").wait_for(timeout=60_000)
    _wait_idle(page)
    _shot(page, "projects")
    page.get_by_role("tab", name="From a file").click()
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("id,text\n1,caf\xe9\n".encode("latin-1"))
    page.locator("input[type=file]").set_input_files(str(bad))
    error = page.get_by_text("is not UTF-8")
    error.wait_for(timeout=30_000)
    assert "latin1.csv" in error.inner_text()
    _shot(page, "projects-bad-upload")
