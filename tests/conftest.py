"""Shared fixtures: a store in a temp dir, the shared SMS file, tiny image and table writers."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from sslcore.dataset import Dataset
from sslcore.store import Store

SHARED_DATASETS = Path(__file__).parents[1].parent / "shared" / "datasets"


BACKENDS = ["sqlite", "postgresql"]
"""A test module that sets ``BACKENDS = BACKENDS`` runs its store tests on both."""
REQUIRE_POSTGRES = "SSLABEL_REQUIRE_POSTGRES"


def pytest_generate_tests(metafunc):
    backends = getattr(metafunc.module, "BACKENDS", None)
    chosen = any(
        "backend" in marker.args[0] for marker in metafunc.definition.iter_markers("parametrize")
    )  # a test that names its own backend keeps it
    if backends and "backend" in metafunc.fixturenames and not chosen:
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The store backend under test: "sqlite" unless the module asks for both."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the whole run (tests/pgserver.py), stopped after.

    Skipped when the server or psycopg is missing, unless $SSLABEL_REQUIRE_POSTGRES is set
    (as in CI): then the tests fail.
    """
    from pgserver import PostgresCluster, Unavailable

    try:
        cluster = PostgresCluster()
    except Unavailable as exc:
        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(f"{REQUIRE_POSTGRES} is set but PostgreSQL cannot run: {exc}")
        pytest.skip(f"PostgreSQL cannot run: {exc}")
    yield cluster
    cluster.close()


_schemas = iter(range(1, 1_000_000))


@pytest.fixture
def database_url(backend, request) -> str | None:
    """None for SQLite (the data dir's own file); for PostgreSQL, a URL on a fresh schema
    of the session's server, dropped after the test."""
    if backend == "sqlite":
        yield None
        return
    server = request.getfixturevalue("postgres_server")
    schema = f"test_{next(_schemas)}"
    server.execute(f"CREATE SCHEMA {schema}", database="sslabel")
    yield server.url(schema=schema)
    server.execute(f"DROP SCHEMA {schema} CASCADE", database="sslabel")


@pytest.fixture
def open_store(tmp_path, database_url):
    """``open_store(data_dir=None)``: a Store on the test's database (a second machine's
    view when ``data_dir`` differs); every store opened is closed after the test."""
    opened = []

    def make(data_dir=None) -> Store:
        opened.append(Store(data_dir or tmp_path / "data", database_url=database_url))
        return opened[-1]

    yield make
    for one in opened:
        one.close()


@pytest.fixture
def store(open_store):
    """A Store with its data dir in a fresh temp dir (and, for PostgreSQL, a fresh schema)."""
    return open_store()


def sql(store: Store, statement: str, **params) -> list[tuple]:
    """Rows of a plain SQL statement on the store's own database (either backend)."""
    from sqlalchemy import text

    with store.db.begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(row) for row in result] if result.returns_rows else []


@pytest.fixture
def sms_path() -> Path:
    """The SMS spam collection (tab-separated, header ``Label<TAB>SMS``) from ../shared."""
    path = SHARED_DATASETS / "sms_spam.tsv"
    if not path.exists():
        pytest.skip(f"{path} is absent (it lives outside the repository, in ../shared/datasets)")
    return path


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


@pytest.fixture
def project(store):
    """A five-item text project with classes 'a', 'b' and '-1' and no labels."""
    dataset = text_dataset(["one", "two", "three", "four", "five"])
    return store.create_project("toy", dataset, class_names=["a", "b", "-1"])


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


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest leaves a page script as ``__main__``; a later spawned process would re-run it."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
