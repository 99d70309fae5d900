"""Look after a data directory: check it (``doctor``), copy what can still be read out of a
damaged one into a new one (``recover``), and take a consistent copy of a live one
(``backup``). None of them changes the data directory it reads.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import insert

from ..dataset import ID, IMAGE, LABEL, TEXT
from ..errors import StoreError
from .files import (
    DB_NAME,
    DELETED,
    INCOMING,
    PROJECTS,
    SQLITE_MAGIC,
    check_database_file,
    header_size,
    project_folders,
)
from .schema import accounts, classes, label_events, projects

ITEMS = "items.parquet"


@dataclass
class Finding:
    """One line of a doctor's report: ``problem`` is False for a check that passed."""

    text: str
    problem: bool = True


def doctor(data_dir: str | Path) -> list[Finding]:
    """Check a data directory without changing it: the database file, SQLite's integrity
    check, every project's folder and items, folders no project names, leftovers.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.store import Store
    >>> d = tempfile.mkdtemp(); _ = Store(d)
    >>> [f.problem for f in doctor(d)]
    [False, False]
    """
    data_dir = Path(data_dir)
    db = data_dir / DB_NAME
    if not data_dir.is_dir():
        return [Finding(f"{data_dir}: is not a folder (no store here).")]
    try:
        check_database_file(db, data_dir)
    except StoreError as error:
        return [Finding(str(error)), *_folder_findings(data_dir, known=None)]
    if not db.exists():
        return [Finding(f"{db}: no database yet (a new store starts here).", problem=False)]
    findings = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            conn = sqlite3.connect(_working_copy(db, Path(scratch)))
            try:
                findings += _integrity(conn, db)
                rows = conn.execute("SELECT id, name, folder, n_items FROM projects").fetchall()
            finally:
                conn.close()
    except sqlite3.DatabaseError as error:
        return [
            *findings,
            Finding(f"{db}: cannot be read ({error}); 'sslabel recover' salvages what it can."),
            *_folder_findings(data_dir, known=None),
        ]
    findings += _project_findings(data_dir, rows)
    findings += _folder_findings(data_dir, known={folder for _, _, folder, _ in rows})
    return findings


def _integrity(conn: sqlite3.Connection, db: Path) -> list[Finding]:
    result = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    if result == ["ok"]:
        return [Finding(f"{db}: SQLite's integrity check passed.", problem=False)]
    return [
        Finding(
            f"{db}: SQLite's integrity check failed ({'; '.join(result[:3])}"
            f"{' ...' if len(result) > 3 else ''}). Run 'sslabel recover' to copy what can "
            f"still be read into a new data directory."
        )
    ]


def _project_findings(data_dir: Path, rows) -> list[Finding]:
    findings = []
    for project_id, name, folder, n_items in rows:
        items = data_dir / PROJECTS / folder / ITEMS
        try:
            found = pq.read_metadata(items).num_rows
        except FileNotFoundError:
            findings.append(
                Finding(f"{items}: missing; project {name!r} (id {project_id}) cannot open.")
            )
            continue
        except Exception as error:  # pyarrow raises several types for a damaged file
            findings.append(Finding(f"{items}: unreadable ({error}); project {name!r}."))
            continue
        if found != n_items:
            findings.append(
                Finding(f"{items}: holds {found:,} items, project {name!r} expects {n_items:,}.")
            )
    if not findings:
        findings.append(Finding(f"{len(rows)} project(s), every items file readable.", False))
    return findings


def _folder_findings(data_dir: Path, known: set[str] | None) -> list[Finding]:
    """Folders no project names (``known`` is None when the database cannot say)."""
    root = data_dir / PROJECTS
    findings = []
    folders = project_folders(data_dir)
    if known is None and folders:
        findings.append(
            Finding(
                f"{root}: holds {len(folders)} project folder(s) (items as imported); "
                f"'sslabel recover' copies them with whatever labels can still be read.",
                problem=False,
            )
        )
    for path in folders if known is not None else []:
        if path.name not in known:
            findings.append(
                Finding(
                    f"{path}: no project in the database uses this folder (an orphan). "
                    f"'sslabel recover' adopts it as a project with its imported labels."
                )
            )
    for path in sorted(root.glob(f"{INCOMING}*")) + sorted(root.glob(f"{DELETED}*")):
        findings.append(
            Finding(
                f"{path}: left by an import or delete that was cut short; the next start "
                f"of sslabel finishes or removes it.",
                problem=False,
            )
        )
    return findings


# Recover --------------------------------------------------------------------------


@dataclass
class Recovery:
    """What :func:`recover` copied into the new data directory."""

    target: Path
    projects: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    events: int = 0
    events_unreadable: int | None = 0
    events_dropped: int = 0
    imported_restored: int = 0
    accounts: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"recovered into {self.target}:",
            f"  {len(self.projects)} project(s) from the database: {', '.join(self.projects)}"
            if self.projects
            else "  no project could be read from the database",
            f"  {self.events:,} label event(s) copied; "
            + (
                f"{self.events_unreadable:,} unreadable"
                if self.events_unreadable is not None
                else "how many were unreadable is unknown"
            )
            + f"; {self.events_dropped:,} left out (their project, class or undone event "
            f"is gone)",
        ]
        if self.accounts:
            lines.append(f"  {self.accounts} account(s) copied (sign-in works as before)")
        if self.imported_restored:
            lines.append(
                f"  {self.imported_restored:,} imported label(s) whose events were lost, "
                f"restored from the items files"
            )
        if self.adopted:
            lines.append(
                f"  {len(self.adopted)} project(s) rebuilt from folders the database did not "
                f"name, with their imported labels: {', '.join(self.adopted)}"
            )
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)


def recover(
    data_dir: str | Path,
    target: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> Recovery:
    """Copy what can still be read from ``data_dir`` into a new data directory ``target``.

    Rows are read from the damaged database a range of row ids at a time; a range that
    SQLite cannot read is split until the unreadable rows are isolated and counted.
    Project folders the database does not name (or no longer can) become projects again,
    with the labels their items file was imported with. ``data_dir`` is only read.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import load_demo
    >>> from sslcore.store import Store
    >>> d = tempfile.mkdtemp(); _ = Store(d).create_project("m", load_demo("moons"))
    >>> recover(d, Path(tempfile.mkdtemp()) / "new").projects
    ['m']
    """
    from .projects import Store

    data_dir, target = Path(data_dir), Path(target)
    say = progress or (lambda message: None)
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"{target}: is not empty; recover into a new folder.")
    if target.resolve() == data_dir.resolve():
        raise StoreError("Recover into another folder; the damaged one is kept as it is.")
    tables = _salvage(data_dir / DB_NAME, say)
    store = Store(target)
    result = Recovery(target)
    try:
        result.events_unreadable = tables["label_events"][1]
        if tables["accounts"][0]:  # who may sign in, with their roles and password hashes
            with store.db.begin() as conn:
                conn.execute(insert(accounts), tables["accounts"][0])
        result.accounts = len(tables["accounts"][0])
        kept = _copy_projects(data_dir, store, tables, result)
        _copy_classes_and_events(store, tables, kept, result)
        # New events (restored imports, new labels) must never take the id of a lost one.
        _reserve_ids(store, {name: tables.get(f"{name}:last", ([], 0))[1] for name in _COLUMNS})
        _restore_imported_labels(store, kept, result)
        _adopt_orphans(data_dir, store, kept, result)
    finally:
        store.close()
    return result


_COLUMNS = {
    "accounts": [c.name for c in accounts.columns],
    "projects": [c.name for c in projects.columns],
    "classes": [c.name for c in classes.columns],
    "label_events": [c.name for c in label_events.columns],
}


def _salvage(db: Path, say) -> dict[str, tuple[list[dict], int | None]]:
    """Every readable row of each table, and how many rows could not be read (``None``
    when that cannot be counted)."""
    found: dict[str, tuple[list[dict], int | None]] = {name: ([], 0) for name in _COLUMNS}
    if not db.exists() or db.stat().st_size == 0:
        return found
    with open(db, "rb") as file:
        if not file.read(16).startswith(SQLITE_MAGIC):
            return found
    with tempfile.TemporaryDirectory() as scratch:
        copy = _working_copy(db, Path(scratch), trim=True)
        try:
            conn = sqlite3.connect(copy)
        except sqlite3.DatabaseError:
            return found
        try:
            for name, columns in _COLUMNS.items():
                last, counted = _last_rowid(conn, name, copy)
                rows, lost = _salvage_table(conn, name, columns, last)
                shown = f"{lost:,}" if counted else "an unknown number of"
                say(f"{name}: {len(rows):,} row(s) read, {shown} unreadable")
                found[name] = (rows, lost if counted else None)
                if counted:
                    found[f"{name}:last"] = ([], last)
        finally:
            conn.close()
    return found


def _working_copy(db: Path, scratch: Path, *, trim: bool = False) -> Path:
    """A copy of ``db`` and its write-ahead log to read from, so that SQLite's reading
    (which creates ``-shm`` files and may replay the log) never touches the original.

    With ``trim``, a truncated copy is cut to whole pages and its header made to say so:
    SQLite refuses every query on a file shorter than its header claims, but reads the
    pages that are there once the two agree."""
    copy = scratch / DB_NAME
    shutil.copy2(db, copy)
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        shutil.copy2(wal, copy.with_name(copy.name + "-wal"))
    if trim:
        with open(copy, "r+b") as file:
            header = bytearray(file.read(100))
            expected, size = header_size(bytes(header)), copy.stat().st_size
            if expected is not None and size < expected:
                page_size = expected // struct.unpack(">I", header[28:32])[0]
                file.truncate(size - size % page_size)
                file.seek(28)
                file.write(struct.pack(">I", size // page_size))
    return copy


def _last_rowid(conn: sqlite3.Connection, table: str, db: Path) -> tuple[int, bool]:
    """The highest row id to look for, and whether it is known (else a guess)."""
    queries = [f"SELECT max(rowid) FROM {table}"]
    queries.append(f"SELECT seq FROM sqlite_sequence WHERE name = '{table}'")
    for query in queries:
        try:
            value = conn.execute(query).fetchone()
            if value is not None and value[0] is not None:
                return int(value[0]), True
        except sqlite3.DatabaseError:
            continue
    # No index readable: guess from the file's size (a row takes more than 16 bytes).
    return db.stat().st_size // 16, False


def _salvage_table(conn, table: str, columns: list[str], last: int) -> tuple[list[dict], int]:
    """Rows of ``table`` with row ids 1..``last`` that SQLite can read, sorted by row id.
    Columns an older schema lacks (``label_events.picked`` before version 4) read as None."""
    rows: list[tuple] = []
    lost = 0
    try:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        present = set()  # the schema is unreadable: ask for every column, row by row
    if present:
        columns_read = [c if c in present else "NULL" for c in columns]
    else:
        columns_read = columns
    query = f"SELECT rowid, {', '.join(columns_read)} FROM {table} WHERE rowid BETWEEN ? AND ?"
    pending = [(1, last)]
    while pending:
        low, high = pending.pop()
        try:
            rows += conn.execute(query, (low, high)).fetchall()
        except sqlite3.DatabaseError:
            if low == high:
                lost += 1
            else:
                middle = (low + high) // 2
                pending += [(middle + 1, high), (low, middle)]
    rows.sort(key=lambda row: row[0])
    return [dict(zip(columns, row[1:], strict=True)) for row in rows], lost


def _copy_projects(data_dir: Path, store, tables, result: Recovery) -> dict[int, dict]:
    kept = {}
    for row in tables["projects"][0]:
        source = data_dir / PROJECTS / str(row["folder"]) / ITEMS
        try:
            pq.read_metadata(source)
        except Exception as error:
            result.skipped.append(f"project {row['name']!r}: its items cannot be read ({error})")
            continue
        (store.data_dir / PROJECTS / row["folder"]).mkdir(parents=True)
        shutil.copy2(source, store.data_dir / PROJECTS / row["folder"] / ITEMS)
        with store.db.begin() as conn:
            conn.execute(insert(projects).values(**row))
        kept[row["id"]] = row
        result.projects.append(row["name"])
    return kept


def _copy_classes_and_events(store, tables, kept: dict[int, dict], result: Recovery) -> None:
    class_rows = [r for r in tables["classes"][0] if r["project_id"] in kept]
    class_ids = {r["id"] for r in class_rows}
    events = [e for e in tables["label_events"][0] if e["project_id"] in kept]
    # A class row lost to the damage still has its labels: keep them under a stand-in name.
    positions = {}
    for event in events:
        class_id = event["class_id"]
        if class_id is not None and class_id not in class_ids:
            class_ids.add(class_id)
            project_id = event["project_id"]
            positions[project_id] = positions.get(project_id, 900) + 1
            class_rows.append(
                dict(id=class_id, project_id=project_id, name=f"recovered class {class_id}",
                     color="#BAB0AC", position=positions[project_id], merged_into=None)
            )  # fmt: skip
    for row in class_rows:
        if row["merged_into"] not in class_ids:
            row["merged_into"] = None
    event_ids, copied = set(), []
    for event in events:  # in id order: an undo always follows the event it undoes
        if event["undoes"] is not None and event["undoes"] not in event_ids:
            result.events_dropped += 1
            continue
        event_ids.add(event["id"])
        copied.append(event)
    with store.db.begin() as conn:
        if class_rows:
            conn.execute(insert(classes), [{**r, "merged_into": None} for r in class_rows])
            for r in class_rows:
                if r["merged_into"] is not None:
                    conn.execute(
                        classes.update()
                        .where(classes.c.id == r["id"])
                        .values(merged_into=r["merged_into"])
                    )
        if copied:
            conn.execute(insert(label_events), copied)
    result.events = len(copied)
    result.events_dropped += len(tables["label_events"][0]) - len(events)


def _reserve_ids(store, last: dict[str, int | None]) -> None:
    with store.db.begin() as conn:
        for table, highest in last.items():
            if not highest:
                continue
            updated = conn.exec_driver_sql(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (highest, table)
            ).rowcount
            if not updated:
                conn.exec_driver_sql(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest)
                )


def _restore_imported_labels(store, kept: dict[int, dict], result: Recovery) -> None:
    """An items file keeps the labels it was imported with: give them back to items that
    have no surviving event at all (an item with one keeps what it says)."""
    for project_id in kept:
        project = store.open_project(project_id)
        items = pd.read_parquet(project.folder / ITEMS, columns=[ID, LABEL])
        touched = set(project.events()["item_id"])
        missing = [
            (item, str(label))
            for item, label in zip(items[ID], items[LABEL], strict=True)
            if item not in touched and label is not None and not pd.isna(label)
        ]
        if not missing:
            continue
        for name in sorted({label for _, label in missing} - set(project.class_names())):
            project.add_class(name)
        project.label_many(missing, annotator="import", source="imported")
        result.imported_restored += len(missing)


def _adopt_orphans(data_dir: Path, store, kept: dict[int, dict], result: Recovery) -> None:
    from ..dataset import Dataset

    used = {row["folder"] for row in kept.values()}
    for folder in project_folders(data_dir):
        if folder.name in used:
            continue
        try:
            items = pd.read_parquet(folder / ITEMS)
        except Exception as error:
            result.skipped.append(f"folder {folder.name}: no readable items ({error})")
            continue
        if ID not in items.columns:
            result.skipped.append(f"folder {folder.name}: its items have no '{ID}' column")
            continue
        if LABEL not in items.columns:
            items[LABEL] = None
        kind = "text" if TEXT in items.columns else "image" if IMAGE in items.columns else "tabular"
        features = () if kind != "tabular" else tuple(c for c in items if c not in (ID, LABEL))
        name = _free_name(store, re.sub(r"-[0-9a-f]{8}$", "", folder.name) + " (recovered)")
        store.create_project(name, Dataset(name, kind, items, features), annotator="recover")
        result.adopted.append(name)


def _free_name(store, name: str) -> str:
    taken = set(store.project_names())
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} {n}", n + 1
    return candidate


# Backup ---------------------------------------------------------------------------


def backup(data_dir: str | Path, target: str | Path) -> dict:
    """A consistent copy of a data directory, safe while the studio is running.

    The database is copied with SQLite's online backup API, so the events still in the
    write-ahead log (``sslabel.db-wal``) are in the copy; copying ``sslabel.db`` alone
    loses them. Each project's items file is copied beside it; cached features, graphs
    and maps are not (they are recomputed). ``target`` is a data directory of its own.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import load_demo
    >>> from sslcore.store import Store
    >>> d = tempfile.mkdtemp(); _ = Store(d).create_project("m", load_demo("moons"))
    >>> backup(d, Path(tempfile.mkdtemp()) / "copy")["projects"]
    1
    """
    data_dir, target = Path(data_dir), Path(target)
    source_db = data_dir / DB_NAME
    check_database_file(source_db, data_dir)
    if not source_db.exists():
        raise StoreError(f"{source_db}: no database to back up.")
    if target.exists() and any(target.iterdir()):
        raise StoreError(f"{target}: is not empty; back up into a new folder.")
    (target / PROJECTS).mkdir(parents=True, exist_ok=True)
    started = time.time()
    source = sqlite3.connect(source_db, timeout=60)
    copy = sqlite3.connect(target / DB_NAME)
    try:
        with copy:
            source.backup(copy)
        folders = [row[0] for row in copy.execute("SELECT folder FROM projects")]
        events = copy.execute("SELECT count(*) FROM label_events").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{source_db}: cannot be backed up ({error}).") from None
    finally:
        source.close()
        copy.close()
    missing = []
    for folder in folders:
        items = data_dir / PROJECTS / folder / ITEMS
        if not items.exists():
            missing.append(str(items))
            continue
        (target / PROJECTS / folder).mkdir()
        shutil.copy2(items, target / PROJECTS / folder / ITEMS)
    return {
        "target": str(target),
        "projects": len(folders),
        "events": events,
        "missing_items": missing,
        "seconds": round(time.time() - started, 2),
    }
