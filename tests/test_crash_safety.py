"""SIGKILL in the middle of work: every acknowledged label survives and the database is sound.

A child process (tests/crash_child.py) labels, bulk-accepts, exports or builds the
graph and prints a line after each call returns; the parent kills it at a chosen
point, reopens the store and checks. The store tests run on SQLite and on
PostgreSQL (there the child's death drops its connection and the server rolls
back what it had not committed). The last test does the same to the real
studio server driven by a browser.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import BACKENDS, sign_in, sql, start_studio, stop_studio, text_dataset, wait_idle

from sslcore.cache import fingerprint
from sslcore.demos import DEMO_PREFIX, ensure_demo_projects
from sslcore.features import featurize
from sslcore.graph import build_knn_graph
from sslcore.store import Store

BACKENDS = BACKENDS
CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).parents[1]
N_ITEMS = 3000


def make_project(data_dir: Path, database_url: str | None = None):
    store = Store(data_dir, database_url=database_url)
    project = store.create_project(
        "crash", text_dataset([f"text {i}" for i in range(N_ITEMS)]), class_names=["a", "b", "c"]
    )
    return store, project


class Child:
    """A crash_child.py process whose printed lines are read by a thread."""

    def __init__(self, *args, database_url: str | None = None):
        env = dict(os.environ)
        if database_url:
            env["SSLABEL_DATABASE_URL"] = database_url
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, predicate, timeout: float = 60.0) -> None:
        """Read lines until ``predicate(line, seen)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if predicate(line, self.seen):
                return
        self.process.kill()
        raise AssertionError(f"the child never got there: {self.process.stderr.read()[-3000:]}")

    def kill(self, *, may_have_failed: bool = False) -> list[str]:
        """SIGKILL, then every line the child printed (printed lines are promises kept).
        ``may_have_failed``: the child may have exited on an error before the kill."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        while True:
            line = self.lines.get(timeout=5)
            if line is None:
                break
            self.seen.append(line)
        self.process.stdout.close()
        self.process.stderr.close()
        assert self.process.returncode == -signal.SIGKILL or may_have_failed
        return self.seen


def integrity(db_path: Path) -> str:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def store_integrity(store: Store) -> str:
    """SQLite's integrity check; on PostgreSQL, that no event points at a missing one."""
    if store.backend == "sqlite":
        return integrity(store.db_path)
    dangling = sql(
        store,
        "SELECT count(*) FROM label_events e WHERE e.undoes IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM label_events u WHERE u.id = e.undoes)",
    )
    return "ok" if dangling == [(0,)] else f"{dangling} dangling undo events"


def acked_labels(lines: list[str]) -> list[tuple[int, str, str]]:
    """(event id, item, class) of every "ack" line of a label (bulk acks name a batch)."""
    words = [ln.split() for ln in lines]
    return [(int(w[1]), w[2], w[3]) for w in words if len(w) == 4 and w[0] == "ack"]


def assert_acked_labels_present(store: Store, lines: list[str]) -> None:
    acks = acked_labels(lines)
    rows = {
        e: (item, cls)
        for e, item, cls in sql(
            store,
            "SELECT e.id, e.item_id, c.name FROM label_events e "
            "JOIN classes c ON c.id = e.class_id",
        )
    }
    assert [e for e, item, cls in acks if rows.get(e) != (item, cls)] == []


def reopen_and_check(data_dir: Path, lines: list[str], database_url=None) -> None:
    store = Store(data_dir, database_url=database_url)  # opens (WAL recovered), writes again
    try:
        assert store_integrity(store) == "ok"
        assert_acked_labels_present(store, lines)
        project = store.open_project("crash")
        project.label("t0", "a", annotator="after")
        assert project.labels()["t0"] == "a"
        assert store_integrity(store) == "ok"
    finally:
        store.close()


# Labels, bulk accepts, exports ------------------------------------------------------


@pytest.mark.parametrize("kill_after", [1, 200])
def test_kill_during_a_labeling_burst(tmp_path, kill_after, database_url):
    store, _ = make_project(tmp_path, database_url)
    store.close()
    child = Child("labels", tmp_path, database_url=database_url)
    child.wait_for(lambda line, seen: len(acked_labels(seen)) >= kill_after)
    lines = child.kill()
    assert len(acked_labels(lines)) >= kill_after
    reopen_and_check(tmp_path, lines, database_url)


@pytest.mark.parametrize(
    "pause_batch, kill_at",
    [(0, "pause"), (2, "pause"), (-1, "start 1")],
    ids=["inside the first batch", "inside the third batch", "when the second starts"],
)
def test_kill_during_a_bulk_accept_keeps_all_or_nothing_of_it(
    tmp_path, pause_batch, kill_at, database_url
):
    store, _ = make_project(tmp_path, database_url)
    child = Child("bulk", tmp_path, pause_batch, database_url=database_url)
    child.wait_for(lambda line, seen: line == kill_at)
    lines = child.kill()
    acked = {ln.split()[1] for ln in lines if ln.startswith("ack ")}
    assert store_integrity(store) == "ok"
    sizes = dict(sql(store, "SELECT batch_id, count(*) FROM label_events GROUP BY batch_id"))
    store.close()
    assert set(sizes.values()) <= {3000}  # never part of a batch
    assert acked <= set(sizes)
    if kill_at == "pause":  # killed inside the transaction: that batch is not there
        assert len(sizes) == pause_batch
    reopen_and_check(tmp_path, lines, database_url)


@pytest.mark.parametrize("kill_at_export", [2])
def test_kill_during_an_export(tmp_path, kill_at_export, database_url):
    store, _ = make_project(tmp_path, database_url)
    store.close()
    child = Child("export", tmp_path, database_url=database_url)
    child.wait_for(lambda line, seen: line == f"exporting {kill_at_export}")
    lines = child.kill()
    reopen_and_check(tmp_path, lines, database_url)


# Graph building ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("digits")
    store = Store(data_dir)
    ensure_demo_projects(store, ["digits"])
    store.close()
    return data_dir


@pytest.mark.parametrize("mode", ["after_dump", "mid_write", "building 1"])
def test_kill_during_graph_building_leaves_no_loadable_garbage(digits_dir, mode):
    child = Child("graph", digits_dir, mode if mode != "building 1" else "none")
    child.wait_for(lambda line, seen: line == ("pause" if "_" in mode else mode))
    child.kill()
    store = Store(digits_dir)
    try:
        project = store.open_project(DEMO_PREFIX + "digits")
        cache = project.cache
        leftovers = [p.name for p in cache.root.iterdir() if p.name.startswith(".")]
        if mode != "building 1":
            assert leftovers, "the kill should have left a temporary file behind"
        features = featurize(project.dataset(), cache=cache)
        expected = featurize(project.dataset())
        assert features.shape == (1797, expected.shape[1])
        np.testing.assert_array_equal(features, expected)
        key = fingerprint(features, {"n_neighbors": 10})
        graph = cache.get_or_compute("graph", key, lambda: build_knn_graph(features))
        assert graph.shape == (1797, 1797) and (graph != graph.T).nnz == 0
        rebuilt = build_knn_graph(features, n_neighbors=10)
        # Same edges; weights equal up to float rounding (the child may sum in another order).
        assert abs(graph - rebuilt).max() < 1e-6
        for path in cache.root.glob("*.joblib"):
            assert not path.name.startswith(".")
    finally:
        store.close()


# The real server, driven by a browser ----------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def kill_server(process: subprocess.Popen) -> None:
    stop_studio(process, signal.SIGKILL)


def labeled_count(page) -> int:
    text = page.get_by_text(re.compile(r"[\d,]+ / 1,797 labeled")).first.inner_text()
    return int(text.split(" / ")[0].replace(",", ""))


def label_some(page, url: str, n: int) -> list[tuple[str, str]]:
    """Label ``n`` digits by key on the Label page; each counts once the page shows it."""
    acked = []
    for k in range(n):
        before = labeled_count(page)
        item = page.get_by_text("Item digit-").inner_text().removeprefix("Item ")
        digit = str(k % 10)
        page.keyboard.press(digit)
        page.get_by_text(f"{before + 1:,} / 1,797 labeled").first.wait_for(timeout=30_000)
        acked.append((item, digit))
        page.wait_for_function(  # the next item is on screen
            "(old) => !document.body.innerText.includes(old)", arg=f"Item {item}", timeout=30_000
        )
        # and the run has ended: its class buttons (which carry the keys) are drawn after
        # the item, so a key pressed before the end may find no button for it.
        wait_idle(page)
    return acked


def test_kill_the_studio_server_while_labeling_in_a_browser(tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("SSLABEL_REQUIRE_BROWSER"):
            pytest.fail("SSLABEL_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    store = Store(tmp_path)
    ensure_demo_projects(store, ["digits"])
    store.close()
    acked: list[tuple[str, str]] = []
    stored = 0  # labels in the store after the last kill
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for cycle, kill_after in enumerate((2, 3)):  # the second kill: restarted server
                process, url = start_studio(tmp_path)
                try:
                    page = browser.new_page(viewport={"width": 1300, "height": 900})
                    page.goto(url)  # the Label page is the studio's root
                    sign_in(page)
                    page.get_by_role("button", name="Skip").first.wait_for(timeout=90_000)
                    assert labeled_count(page) == stored  # what survived is shown
                    acked += label_some(page, url, kill_after)
                    page.keyboard.press("7")  # one more, in flight when the server dies
                finally:
                    kill_server(process)
                page.close()
                assert integrity(tmp_path / "sslabel.db") == "ok"
                labels = Store(tmp_path).open_project(DEMO_PREFIX + "digits").labels()
                assert {item: labels.get(item) for item, _ in acked} == dict(acked)
                # Each in-flight label may or may not have landed; nothing else may have.
                stored = len(labels)
                assert len(acked) <= stored <= len(acked) + cycle + 1
        finally:
            browser.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_kill_the_postgresql_server_during_a_labeling_burst(
    tmp_path, backend, database_url, postgres_server
):
    """SIGKILL the server (not the client) after 100 acknowledged labels; every one of them
    is there after the restart, and the same client labels again once it is back."""
    store, project = make_project(tmp_path, database_url)
    child = Child("labels", tmp_path, database_url=database_url)
    child.wait_for(lambda line, seen: len(acked_labels(seen)) >= 100)
    postgres_server.kill()
    postgres_server.start()
    lines = child.kill(may_have_failed=True)  # what it printed before was acknowledged
    assert len(acked_labels(lines)) >= 100
    assert_acked_labels_present(store, lines)  # a pooled connection died: a new one is made
    assert project.label("t1", "b", annotator="after") > max(e for e, _, _ in acked_labels(lines))
    store.close()
    reopen_and_check(tmp_path, lines, database_url)
