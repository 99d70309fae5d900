"""The store's files on disk: what must hold before the database is opened, and the folder
moves that keep an import or a delete whole when the process is killed half-way.

A data directory holds ``sslabel.db`` (with its ``-wal`` and ``-shm`` companions) and one
folder per project under ``projects/``. Opening a store must never quietly start a new
database beside the folders of an old one: a lost, emptied or damaged ``sslabel.db`` is
refused with the way out (``sslabel doctor``, ``sslabel recover``, a backup).

Project folders are written under a hidden name and renamed when the database agrees:

* import: items go to ``projects/.incoming-<pid>-<folder>``; the project row is committed;
  the folder is renamed to ``<folder>``. A kill before the commit leaves a hidden folder
  that the next start removes; a kill between commit and rename is rolled forward.
* delete: ``<folder>`` is renamed to ``.deleted-<folder>``; the rows are deleted; the
  folder is removed. A kill in between is rolled back (rows still there) or finished.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
import time
from pathlib import Path

from ..errors import StoreError

DB_NAME = "sslabel.db"
PROJECTS = "projects"
INCOMING = ".incoming-"
DELETED = ".deleted-"
SQLITE_MAGIC = b"SQLite format 3\x00"
STALE_SECONDS = 24 * 3600
"""An unfinished import older than this is abandoned even if its process id is reused."""


def recovery_hint(data_dir: Path) -> str:
    return (
        f"Nothing was changed. 'sslabel doctor --data-dir {data_dir}' lists what is wrong; "
        f"'sslabel recover --data-dir {data_dir}' copies what can still be read into a new "
        f"data directory; or restore a copy made with 'sslabel backup'."
    )


def project_folders(data_dir: Path) -> list[Path]:
    """The project folders under ``data_dir/projects`` (not the hidden ones in transit)."""
    root = data_dir / PROJECTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///PATH`` database URL, else None (a server)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # connect() names the bad URL
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def check_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` if needed and refuse, with the path and the fix, a data directory
    that is a file or that this user cannot write."""
    if data_dir.exists() and not data_dir.is_dir():
        raise StoreError(
            f"{data_dir}: is a file, not a folder. Give --data-dir a folder (it is created "
            f"if missing)."
        )
    try:
        (data_dir / PROJECTS).mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(
            f"{data_dir / PROJECTS}: is a file; the store keeps a folder per project there. "
            f"Move the file away."
        ) from None
    except OSError as error:
        raise StoreError(
            f"{data_dir}: cannot be created ({error.strerror}). {_access_fix()}"
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK) or not os.access(
        data_dir / PROJECTS, os.W_OK | os.X_OK
    ):
        raise StoreError(
            f"{data_dir}: is read-only for this user; the store writes its database, journal "
            f"and project folders there. {_access_fix()}"
        )


def _access_fix() -> str:
    return (
        "Make the folder writable for the user running sslabel, or copy it somewhere "
        "writable and pass that as --data-dir."
    )


def check_database_file(db: Path, data_dir: Path) -> None:
    """Refuse an SQLite database file that is a folder, not SQLite, or shorter than its own
    header says; or missing or empty when project folders show there was a store here."""
    folders = project_folders(data_dir)
    if db.is_dir():
        raise StoreError(
            f"{db}: is a folder, but the store's database must be a file there. Move the "
            f"folder away; nothing was changed."
        )
    size = db.stat().st_size if db.exists() else None
    if not size:
        if folders:
            state = "is missing" if size is None else "is empty (0 bytes)"
            raise StoreError(
                f"{db}: {state}, yet {data_dir / PROJECTS} holds {len(folders)} project "
                f"folder(s): the database was lost or emptied, and a new one would orphan "
                f"every project and label. " + recovery_hint(data_dir)
            )
        return
    with open(db, "rb") as file:
        header = file.read(100)
    if not header.startswith(SQLITE_MAGIC):
        raise StoreError(
            f"{db}: is not an SQLite database (its first bytes are not SQLite's); it was "
            f"overwritten or damaged. " + recovery_hint(data_dir)
        )
    expected = header_size(header)
    if expected is not None and size < expected:
        raise StoreError(
            f"{db}: is truncated ({size:,} bytes, its header says {expected:,}). "
            + recovery_hint(data_dir)
        )


def header_size(header: bytes) -> int | None:
    """The database size in bytes that an SQLite header records, or ``None`` if the header
    does not vouch for it (https://sqlite.org/fileformat.html, section 1.3)."""
    if len(header) < 100:
        return None
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, n_pages = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    if n_pages == 0 or valid_for != change_counter:
        return None
    return page_size * n_pages


# Folder moves ---------------------------------------------------------------------


def incoming_folder(data_dir: Path, folder: str) -> Path:
    """Where an import writes its items before the database knows the project."""
    return data_dir / PROJECTS / f"{INCOMING}{os.getpid()}-{folder}"


def deleted_folder(data_dir: Path, folder: str) -> Path:
    return data_dir / PROJECTS / f"{DELETED}{folder}"


def settle_folders(data_dir: Path, known: set[str]) -> list[str]:
    """Finish or undo what a killed import or delete left under ``projects/``; ``known``
    is the set of folders the database names. Returns one line per action taken."""
    root = data_dir / PROJECTS
    done = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.name.startswith(INCOMING):
            pid, _, folder = path.name[len(INCOMING) :].partition("-")
            if folder in known and not (root / folder).exists():
                path.rename(root / folder)  # committed, then killed before the rename
                done.append(f"finished the import of {folder}")
            elif folder not in known and _abandoned(pid, path):
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"removed the unfinished import {path.name}")
        elif path.name.startswith(DELETED):
            folder = path.name[len(DELETED) :]
            if folder in known and not (root / folder).exists():
                path.rename(root / folder)  # the rows were never deleted
                done.append(f"kept {folder}: its delete did not go through")
            elif folder not in known:
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"finished deleting {folder}")
    return done


def _abandoned(pid: str, path: Path) -> bool:
    """Whether the process that started an import is gone (or the import is very old)."""
    try:
        if time.time() - path.stat().st_mtime > STALE_SECONDS:
            return True
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError, OSError):
        return False  # alive (another user's process) or unreadable: leave it
    return False


def write_error(path: Path, error: OSError) -> StoreError:
    """A failed write (full disk, file size limit, permissions) as one message with the fix."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "Free some space on that disk (or pick another --data-dir) and try again."
    elif error.errno == errno.EFBIG:
        fix = "The file size limit for this process was hit (ulimit -f); raise it and try again."
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = _access_fix()
    else:
        fix = "Check the disk and try again."
    return StoreError(f"{path}: cannot be written ({error.strerror}). Nothing was saved. {fix}")


def database_error(db, error: Exception, data_dir: Path | None = None) -> StoreError:
    """An error the database raised (damaged page, full disk, read-only file, a server
    that went away) as one message naming the database and the way out. ``db`` is the
    SQLite file or the server's URL (without its password)."""
    reason = str(getattr(error, "orig", None) or error).strip()
    lowered = reason.lower()
    if "full" in lowered:
        return StoreError(
            f"{db}: the disk is full ({reason}). Nothing was saved. Free some space and try again."
        )
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return StoreError(f"{db}: cannot be opened for writing ({reason}). {_access_fix()}")
    if not isinstance(db, Path):
        return StoreError(f"{db}: the database server failed ({reason}). Check the server.")
    return StoreError(
        f"{db}: cannot be read ({reason}); the database is damaged. "
        + recovery_hint(data_dir or db.parent)
    )
