"""What keeps concurrent writers apart on each backend.

SQLite needs nothing here: every transaction is ``BEGIN IMMEDIATE``, so writers to
one file take turns. PostgreSQL lets transactions run side by side, so:

* Every transaction that appends label events to a project first locks the
  project's row (``FOR NO KEY UPDATE``). Event ids are then handed out in commit
  order within a project, which is what lets a reader catch up with "events
  after the last id I saw" without ever skipping one committed late; and an undo
  reads and writes under that lock, so two processes cannot both undo one event.
* Handing out an item takes a transaction-level advisory lock on (project,
  item) with ``pg_try_advisory_xact_lock``, and passes over an item whose lock
  another hand-out holds, as ``SELECT … FOR UPDATE SKIP LOCKED`` would over a
  row. Items are not rows of this schema (they live in the project's items file),
  and an advisory key needs no row, so no table of a million items has to exist
  just to be locked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

RETRIED_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_postgresql(conn) -> bool:
    return conn.dialect.name == "postgresql"


def lock_project_events(conn, project_id: int) -> None:
    """Take the project's event-writing lock until the transaction ends (PostgreSQL)."""
    if is_postgresql(conn):
        conn.execute(
            text("SELECT id FROM projects WHERE id = :id FOR NO KEY UPDATE"), {"id": project_id}
        )


def lock_item(conn, project_id: int, item_id: str, wait: bool = False) -> bool:
    """Lock (project, item) for a hand-out until the transaction ends. Without ``wait``,
    False at once when another transaction holds it. Always True on SQLite."""
    if not is_postgresql(conn):
        return True
    if wait:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:project, hashtext(:item))"),
            {"project": project_id, "item": item_id},
        )
        return True
    return bool(
        conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:project, hashtext(:item))"),
            {"project": project_id, "item": item_id},
        ).scalar()
    )


def retrying(db, work: Callable[..., T], attempts: int = 5) -> T:
    """``work(conn)`` in a transaction, run again when PostgreSQL aborted it as a deadlock
    victim or a serialization failure (nothing of an aborted try was committed)."""
    for attempt in range(attempts):
        try:
            with db.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in RETRIED_SQLSTATES or attempt == attempts - 1:
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")
