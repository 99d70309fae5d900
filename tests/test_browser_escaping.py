"""Names that are Markdown or HTML load nothing and link nowhere (issue 12, item 1).

A project, its classes, item ids and texts, an annotator and an uploaded file's columns
all carry Markdown images, HTML images and bare URLs pointing at a local catcher server.
Every page of the studio is opened in headless Chromium; the catcher must receive no
request, and no element of any page may point at it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from helpers import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    playwright_or_skip,
    start_studio,
    stop_studio,
    text_dataset,
)

from sslcore.store import Store

pytestmark = pytest.mark.browser
sync_api = playwright_or_skip()


class Catcher(ThreadingHTTPServer):
    """Records the path of every request it gets."""

    def __init__(self):
        self.paths: list[str] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                catcher.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def payload(base: str, where: str) -> str:
    """A name that would load or link ``base`` if rendered as Markdown or HTML."""
    return f"![{where}]({base}/{where}.png) <img src={base}/{where}-img.png> {base}/{where}"


@pytest.fixture(scope="module")
def catcher():
    server = Catcher()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def studio(tmp_path_factory, catcher):
    data_dir = tmp_path_factory.mktemp("escaping")
    base = catcher.base
    classes = [payload(base, "class-a"), f"<b>bold</b> [x]({base}/class-b)"]
    texts = [f"{payload(base, 'text')} number {i} " + ("alpha " if i % 2 else "beta ") * 3
             for i in range(60)]  # fmt: skip
    ids = [f"{payload(base, 'id')}-{i}" for i in range(60)]
    labels = [classes[i % 2] if i < 12 else None for i in range(60)]
    name = payload(base, "project")
    project = Store(data_dir).create_project(name, text_dataset(texts, labels=labels, ids=ids))
    project.set_overlap(2)  # two votes that disagree: a dispute for the Conflicts page
    project.label(ids[30], classes[0], annotator=payload(base, "voter-1"))
    project.label(ids[30], classes[1], annotator=payload(base, "voter-2"))
    process, url = start_studio(data_dir, "--no-demos")
    yield url, name, base
    stop_studio(process)


@pytest.fixture(scope="module")
def page(catcher):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        yield context.new_page()
        browser.close()


def _wait_idle(page) -> None:
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000
    )


def _pointing_at(page, base: str) -> list[str]:
    """Elements of the page whose src or href leads to the catcher."""
    return page.evaluate(
        """(base) => Array.from(document.querySelectorAll('[src], [href], [srcset]'))
             .filter(e => ['src', 'href', 'srcset'].some(a => (e.getAttribute(a) || '')
                                                                .includes(base)))
             .map(e => (e.closest('[data-testid]') || e).getAttribute('data-testid') + ' '
                       + (e.closest('[data-testid]') || e).outerHTML.slice(0, 400))""",
        base,
    )


PAGES = [
    ("", "Label ·"), ("review", "Review suggestions ·"), ("conflicts", "Resolve as"),
    ("map", "Map ·"),
    ("insights", "Insights ·"), ("export", "Export ·"), ("projects", "Classes of"),
]  # fmt: skip


def test_an_import_error_naming_columns_loads_nothing(studio, page, catcher, tmp_path):
    url, name, base = studio
    page.goto(f"{url}/projects?project={quote(name)}")
    page.get_by_role("tab", name="From a file").wait_for(timeout=120_000)
    _wait_idle(page)
    bad = tmp_path / "columns.csv"
    column = payload(base, "column")
    bad.write_text(f'text,"{column}","{column}"\nhi,1,2\n')
    page.get_by_role("tab", name="From a file").click()
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("appear more than once").wait_for(timeout=30_000)
    _wait_idle(page)
    page.wait_for_timeout(1000)  # let any late image request arrive
    assert _pointing_at(page, base) == []
    assert catcher.paths == []


def test_no_page_loads_or_links_what_names_point_at(studio, page, catcher):
    url, name, base = studio
    annotator = payload(base, "annotator")
    query = f"?project={quote(name)}&annotator={quote(annotator)}"
    for path, heading in PAGES:
        page.goto(f"{url}/{path}{query}")
        page.get_by_text(heading).first.wait_for(timeout=120_000)
        _wait_idle(page)
        assert _pointing_at(page, base) == [], path
        # The names are shown as typed (word joiners aside, which break autolinks).
        shown = page.evaluate("() => document.body.innerText").replace("\u2060", "")
        assert f"![project]({base}/project.png) <img src={base}" in shown, path
    page.wait_for_timeout(1000)
    assert catcher.paths == []
