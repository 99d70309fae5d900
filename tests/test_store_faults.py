"""Faults in the data directory (issue 12, items 12-14): a lost, emptied or damaged
database, unwritable or misplaced paths, a failed write, missing items, and kills during
an import. Each ends in one message naming the path and the fix, nothing is overwritten,
and ``sslabel doctor``, ``recover`` and ``backup`` find, salvage and copy what is there.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from helpers import text_dataset
from streamlit.testing.v1 import AppTest

from sslcore.demos import load_demo
from sslcore.errors import StoreError
from sslcore.store import Store
from sslcore.store.files import DELETED, INCOMING

ROOT = Path(__file__).parents[1]
PYTHON = [sys.executable, "-m", "sslcore.cli"]


def make_store(data_dir: Path, n_labels: int = 600) -> dict[int, tuple]:
    """Two projects, ``n_labels`` human labels on one; returns every event by id."""
    store = Store(data_dir)
    texts = store.create_project(
        "texts", text_dataset([f"item {i}" for i in range(300)]), class_names=["a", "b", "c"]
    )
    for i in range(n_labels):
        texts.label(f"t{i % 300}", "abc"[i % 3], annotator="ann")
    store.create_project("moons", load_demo("moons"))
    store.close()
    return events_by_id(data_dir / "sslabel.db")


def events_by_id(db: Path) -> dict[int, tuple]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT id, project_id, item_id, class_id, source, annotator, created_at "
            "FROM label_events"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def cli(*args, data_dir: Path, **run) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PYTHON, "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, cwd=ROOT, **run,
    )  # fmt: skip


def refused(done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def folders(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "projects").iterdir())


# 12. A lost, emptied or damaged database ------------------------------------------


@pytest.mark.parametrize("damage", ["empty", "missing", "blank sqlite"])
def test_a_lost_database_beside_projects_is_refused_and_left_alone(tmp_path, damage):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    db = data_dir / "sslabel.db"
    before = folders(data_dir)
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "missing":
        db.unlink()
    else:
        db.unlink()
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("CREATE TABLE other (x)")
    size = db.stat().st_size if db.exists() else None
    with pytest.raises(
        StoreError, match=r"sslabel\.db: (is empty \(0 bytes\)|is missing|holds no)"
    ):
        Store(data_dir)
    refused(cli("projects", data_dir=data_dir), "sslabel recover --data-dir")
    assert folders(data_dir) == before
    assert (db.stat().st_size if db.exists() else None) == size  # nothing written over it


def test_an_empty_database_without_projects_is_a_new_store(tmp_path):
    (tmp_path / "sslabel.db").write_bytes(b"")
    assert Store(tmp_path).project_names() == []


def test_a_database_that_is_not_sqlite_is_refused(tmp_path):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    with open(data_dir / "sslabel.db", "r+b") as db:
        db.write(b"x" * 100)
    refused(cli("projects", data_dir=data_dir), "sslabel.db: is not an SQLite database")


def test_truncated_database_is_refused_then_recovered(tmp_path):
    data_dir = tmp_path / "data"
    original = make_store(data_dir, n_labels=3000)
    db = data_dir / "sslabel.db"
    os.truncate(db, db.stat().st_size // 2)
    damaged = db.read_bytes()
    refused(cli("projects", data_dir=data_dir), "sslabel.db: is truncated")
    doctor = cli("doctor", data_dir=data_dir)
    assert doctor.returncode == 1 and "is truncated" in doctor.stdout
    target = tmp_path / "recovered"
    done = cli("recover", "--to", str(target), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    recovered = events_by_id(target / "sslabel.db")
    copied = {i: row for i, row in recovered.items() if i <= max(original)}
    assert 0 < len(copied) < len(original)
    assert all(original[i] == row for i, row in copied.items())  # copied exactly
    # Labels restored from the items files are new events, after every id ever used.
    assert all(recovered[i][3] == "imported" for i in set(recovered) - set(copied))
    store = Store(target)
    assert store.project_names() == ["texts", "moons"]
    # The moons project's imported labels lived past the cut; its items file still had them.
    assert len(store.open_project("moons").labels()) == 1000
    assert db.read_bytes() == damaged  # recover and doctor only read it
    assert not (data_dir / "sslabel.db-wal").exists()


def test_damaged_pages_are_skipped_and_the_rest_recovered(tmp_path):
    data_dir = tmp_path / "data"
    original = make_store(data_dir, n_labels=3000)
    db = data_dir / "sslabel.db"
    pages = db.stat().st_size // 4096
    with open(db, "r+b") as file:  # garbage over a run of pages in the middle
        file.seek(4096 * (pages // 2))
        file.write(os.urandom(4096 * 4))
    done = cli("projects", data_dir=data_dir)
    assert done.returncode == 2 and "the database is damaged" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    target = tmp_path / "recovered"
    assert cli("recover", "--to", str(target), data_dir=data_dir).returncode == 0
    recovered = events_by_id(target / "sslabel.db")
    assert len(original) * 0.5 < len(recovered) < len(original)
    assert all(original[i] == row for i, row in recovered.items())
    assert cli("doctor", data_dir=target).returncode == 0


def test_a_database_of_an_older_schema_is_recovered_whole(tmp_path):
    # Version 3 had no column saying why an item was picked; salvage reads it as empty.
    data_dir = tmp_path / "data"
    original = make_store(data_dir, n_labels=50)
    with closing(sqlite3.connect(data_dir / "sslabel.db")) as conn:
        conn.execute("ALTER TABLE label_events DROP COLUMN picked")
        conn.execute("UPDATE schema_info SET version = 3")
        conn.commit()
    target = tmp_path / "recovered"
    assert cli("recover", "--to", str(target), data_dir=data_dir).returncode == 0
    assert events_by_id(target / "sslabel.db") == original
    assert Store(target).open_project("texts").current_events()["t0"].picked is None


def test_recover_adopts_project_folders_of_a_lost_database(tmp_path):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    (data_dir / "sslabel.db").unlink()
    target = tmp_path / "recovered"
    done = cli("recover", "--to", str(target), data_dir=data_dir)
    assert done.returncode == 0 and "rebuilt from folders" in done.stdout, done.stdout
    store = Store(target)
    assert sorted(store.project_names()) == ["moons (recovered)", "texts (recovered)"]
    moons = store.open_project("moons (recovered)")
    assert moons.kind == "tabular" and moons.feature_columns == ("x", "y")
    assert len(moons.labels()) == 1000


def test_recover_refuses_a_folder_in_use(tmp_path):
    make_store(tmp_path / "data")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    refused(cli("recover", "--to", str(tmp_path / "busy"), data_dir=tmp_path / "data"),
            "busy: is not empty")  # fmt: skip


KILLED_LABELER = """
import os, signal, sys
from sslcore.store import Store
project = Store(sys.argv[1]).open_project("texts")
for i in range(60):
    project.label(f"t{i}", "b", annotator="late")
print("labeled", flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # a crash: the write-ahead log is not checkpointed
"""


def test_backup_keeps_the_events_still_in_the_write_ahead_log(tmp_path):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    done = subprocess.run([sys.executable, "-c", KILLED_LABELER, str(data_dir)], cwd=ROOT,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == -signal.SIGKILL and "labeled" in done.stdout
    assert (data_dir / "sslabel.db-wal").stat().st_size > 0
    naive = tmp_path / "naive"
    naive.mkdir()
    shutil.copy2(data_dir / "sslabel.db", naive / "sslabel.db")
    late = "SELECT count(*) FROM label_events WHERE annotator = 'late'"
    with closing(sqlite3.connect(naive / "sslabel.db")) as conn:
        assert conn.execute(late).fetchone()[0] < 60  # the database file alone misses them
    copy = tmp_path / "copy"
    backed = cli("backup", "--to", str(copy), data_dir=data_dir)
    assert backed.returncode == 0 and "backed up 2 project(s)" in backed.stdout, backed.stderr
    with closing(sqlite3.connect(copy / "sslabel.db")) as conn:
        assert conn.execute(late).fetchone()[0] == 60
    assert Store(copy).open_project("texts").labels()["t5"] == "b"
    assert cli("doctor", data_dir=copy).returncode == 0


def test_doctor_reports_a_healthy_store_and_a_missing_items_file(tmp_path):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    healthy = cli("doctor", data_dir=data_dir)
    assert healthy.returncode == 0 and "no problems found" in healthy.stdout
    items = next((data_dir / "projects").glob("moons-*")) / "items.parquet"
    items.unlink()
    sick = cli("doctor", data_dir=data_dir)
    assert sick.returncode == 1 and f"{items}: missing" in sick.stdout


# 13. Paths that cannot be used, writes that fail, missing items --------------------


def test_a_file_as_data_dir_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    refused(cli("projects", data_dir=path), "notes.txt: is a file, not a folder")


def test_a_folder_at_the_database_path_is_refused(tmp_path):
    (tmp_path / "sslabel.db").mkdir()
    refused(cli("projects", data_dir=tmp_path), "sslabel.db: is a folder")


def test_a_read_only_data_dir_is_refused(tmp_path):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    # Root may write whatever the mode bits say; the immutable attribute stops root too.
    lock, unlock = (["chattr", "+i"], ["chattr", "-i"]) if os.geteuid() == 0 else (None, None)
    if lock:
        if shutil.which("chattr") is None or subprocess.run([*lock, str(data_dir)]).returncode:
            pytest.skip("running as root where the immutable attribute is not available")
    else:
        data_dir.chmod(0o555)
    try:
        done = cli("projects", data_dir=data_dir)
    finally:
        subprocess.run([*unlock, str(data_dir)]) if unlock else data_dir.chmod(0o755)
    refused(done, "data: is read-only for this user")


def _small_file_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_a_failed_write_during_import_leaves_nothing(tmp_path, sms_path):
    data_dir = tmp_path / "data"
    Store(data_dir).close()
    done = cli("import", str(sms_path), "--text-column", "SMS", "--label-column", "Label",
               data_dir=data_dir, preexec_fn=_small_file_limit)  # fmt: skip
    refused(done, "File too large")
    assert "Nothing was saved" in done.stderr and "ulimit -f" in done.stderr
    assert folders(data_dir) == []
    assert Store(data_dir).project_names() == []


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_missing_or_damaged_items_name_the_file(tmp_path, damage):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    items = next((data_dir / "projects").glob("texts-*")) / "items.parquet"
    if damage == "deleted":
        items.unlink()
    else:
        os.truncate(items, items.stat().st_size // 2)
    expected = "are missing" if damage == "deleted" else "cannot be read"
    with pytest.raises(
        StoreError, match=rf"items\.parquet: the items of project 'texts' {expected}"
    ):
        Store(data_dir).open_project("texts").dataset()
    os.environ["SSLABEL_DATA_DIR"] = str(data_dir)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["project_name"] = "texts"
        at.session_state["annotator"] = "tester"
        at = at.switch_page("studio/app_pages/label.py").run()
    finally:
        del os.environ["SSLABEL_DATA_DIR"]
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]  # markdown escapes removed
    assert any(expected in text and "items.parquet" in text for text in shown), shown


def test_the_studio_shows_a_lost_database_instead_of_a_traceback(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    make_store(data_dir)
    (data_dir / "sslabel.db").write_bytes(b"")
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "is empty \\(0 bytes\\)" in at.error[0].value  # escaped for markdown
    assert (data_dir / "sslabel.db").stat().st_size == 0


# 14. Kills during an import, and folders a kill left ------------------------------


@pytest.mark.slow
def test_kills_during_an_import_leave_no_orphan_folder(tmp_path, sms_path):
    data_dir = tmp_path / "data"
    Store(data_dir).close()
    for attempt, delay in enumerate([0.8, 1.6, 2.4, 3.2]):
        process = subprocess.Popen(
            [*PYTHON, "--data-dir", str(data_dir), "import", str(sms_path), "--name",
             f"sms {attempt}", "--text-column", "SMS", "--label-column", "Label"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        store = Store(data_dir)  # settles what the kill left
        rows = {store.open_project(name).folder.name for name in store.project_names()}
        assert set(folders(data_dir)) == rows, (delay, folders(data_dir))
        for name in store.project_names():
            assert store.open_project(name).dataset().n_items == 5574
        store.close()


PAUSED_IMPORT = """
import pathlib, sys, time
from sqlalchemy import event
from sslcore.loaders import load_file
from sslcore.store import Store

where, data_dir, path = sys.argv[1:4]
store = Store(data_dir)
dataset = load_file(path, text_column="SMS", label_column="Label")


def pause(message):
    print(message, flush=True)
    time.sleep(60)  # the parent kills the process here


def before_commit(conn, cursor, statement, *args):
    if where == "commit" and statement.startswith("INSERT INTO label_events"):
        pause("paused before the commit")


rename = pathlib.Path.rename


def paused_rename(self, target):
    if where == "rename" and self.name.startswith(".incoming-"):
        pause("paused before the rename")
    return rename(self, target)


event.listen(store.db, "after_cursor_execute", before_commit)
pathlib.Path.rename = paused_rename
store.create_project("sms", dataset)
print("done", flush=True)
"""


@pytest.mark.parametrize("where", ["commit", "rename"])
def test_an_import_killed_at_each_step_is_finished_or_undone(tmp_path, sms_path, where):
    data_dir = tmp_path / "data"
    Store(data_dir).close()
    command = [sys.executable, "-c", PAUSED_IMPORT, where, str(data_dir), str(sms_path)]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    child.kill()
    child.wait()
    assert line.startswith("paused"), line
    store = Store(data_dir)
    rows = {store.open_project(name).folder.name for name in store.project_names()}
    assert set(folders(data_dir)) == rows  # no folder the database does not know
    if where == "rename":  # committed: the import is finished at the next start
        assert store.project_names() == ["sms"]
        assert store.open_project("sms").dataset().n_items == 5574
    else:
        assert store.project_names() == []


def test_leftovers_of_killed_imports_and_deletes_are_settled(tmp_path):
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    kept = store.create_project("kept", text_dataset(["a", "b"]))
    gone = store.create_project("gone", text_dataset(["c"]))
    root = data_dir / "projects"
    store.close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # a process id no longer alive
    dead.wait()
    (root / f"{INCOMING}{dead.pid}-never-committed-1234abcd").mkdir()  # killed before commit
    (root / f"{INCOMING}{os.getpid()}-still-running-1234abcd").mkdir()  # a live importer
    kept.folder.rename(root / f"{INCOMING}{dead.pid}-{kept.folder.name}")  # killed after commit
    gone.folder.rename(root / f"{DELETED}{gone.folder.name}")  # a delete killed before its commit
    store = Store(data_dir)
    assert sorted(folders(data_dir)) == sorted(
        [kept.folder.name, gone.folder.name, f"{INCOMING}{os.getpid()}-still-running-1234abcd"]
    )
    assert store.open_project("kept").dataset().n_items == 2
    with closing(sqlite3.connect(data_dir / "sslabel.db")) as conn, conn:
        conn.execute("DELETE FROM projects WHERE name = 'gone'")  # a delete killed after commit
    store.close()
    (root / gone.folder.name).rename(root / f"{DELETED}{gone.folder.name}")
    Store(data_dir).close()
    assert not (root / f"{DELETED}{gone.folder.name}").exists()
    assert not (root / gone.folder.name).exists()


def test_deleting_a_project_removes_its_folder(tmp_path):
    store = Store(tmp_path)
    project = store.create_project("p", text_dataset(["a"]))
    store.delete_project("p")
    assert folders(tmp_path) == [] and not project.folder.exists()
