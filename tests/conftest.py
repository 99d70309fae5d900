"""Shared fixtures: a store in a temp dir, the shared SMS file, tiny image and table writers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from helpers import SHARED_DATASETS, text_dataset

from sslcore.store import Store

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


@pytest.fixture
def sms_path() -> Path:
    """The SMS spam collection (tab-separated, header ``Label<TAB>SMS``) from ../shared."""
    path = SHARED_DATASETS / "sms_spam.tsv"
    if not path.exists():
        pytest.skip(f"{path} is absent (it lives outside the repository, in ../shared/datasets)")
    return path


@pytest.fixture
def project(store):
    """A five-item text project with classes 'a', 'b' and '-1' and no labels."""
    dataset = text_dataset(["one", "two", "three", "four", "five"])
    return store.create_project("toy", dataset, class_names=["a", "b", "-1"])


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest leaves a page script as ``__main__``; a later spawned process would re-run it."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
