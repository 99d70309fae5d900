"""The store's tables, their versioned migrations, and the SQLite connection setup."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from ..errors import StoreError

SCHEMA_VERSION = 2  # 2: reservations

metadata = MetaData()

schema_info = Table("schema_info", metadata, Column("version", Integer, nullable=False))

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("kind", String, nullable=False),
    Column("n_items", Integer, nullable=False),
    Column("feature_columns", Text, nullable=False, default="[]"),
    Column("settings", Text, nullable=False, default="{}"),
    Column("folder", String, nullable=False),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,  # a deleted project's id is never handed out again
)

classes = Table(
    "classes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String, nullable=False),
    Column("color", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("merged_into", Integer, ForeignKey("classes.id"), nullable=True),
    UniqueConstraint("project_id", "name"),
)

label_events = Table(
    "label_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", String, nullable=False),
    Column("class_id", Integer, ForeignKey("classes.id"), nullable=True),
    Column("source", String, nullable=False),
    Column("annotator", String, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("model_round", Integer, nullable=True),
    Column("confidence", Float, nullable=True),
    Column("batch_id", String, nullable=True),
    Column("undoes", Integer, ForeignKey("label_events.id"), nullable=True),
    Index("ix_events_project_item", "project_id", "item_id"),
    sqlite_autoincrement=True,  # undo events point at event ids: never reuse one
)

# One row per grant, kept after release as a record of who held which item when.
# A hold ends at ``released_at`` or at ``expires_at``, whichever comes first.
reservations = Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", String, nullable=False),
    Column("annotator", String, nullable=False),
    Column("reserved_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("released_at", Float, nullable=True),
    Index("ix_reservations_open", "project_id", "released_at"),
    Index("ix_reservations_item", "project_id", "item_id"),
)


def _add_reservations(conn) -> None:
    metadata.create_all(conn, tables=[reservations])


MIGRATIONS = {2: _add_reservations}
"""Schema version -> the step that brings the version before it up to it."""


def connect_sqlite(path: Path) -> Engine:
    """A SQLAlchemy engine on the SQLite file at ``path``: WAL, fully synced commits, and every
    transaction ``BEGIN IMMEDIATE`` so writers queue instead of failing half-way."""
    db = create_engine(f"sqlite:///{path}", connect_args={"timeout": 60})

    @event.listens_for(db, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take over transaction control so that every transaction is BEGIN IMMEDIATE:
        # writers queue on the lock instead of failing half-way with "database is locked".
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(db, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return db


def migrate(db: Engine, where: object) -> None:
    """Create the tables of a new store, or bring an older one up to :data:`SCHEMA_VERSION`.

    ``where`` names the store in the message refusing a store written by a newer sslabel.
    """
    with db.begin() as conn:
        metadata.create_all(conn, tables=[schema_info])
        version = conn.execute(select(func.max(schema_info.c.version))).scalar()
        if version is None:
            metadata.create_all(conn)
            conn.execute(insert(schema_info).values(version=SCHEMA_VERSION))
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"{where}: was written by a newer sslabel (schema {version}, this "
                f"one knows {SCHEMA_VERSION}); upgrade sslabel to open it."
            )
        elif version < SCHEMA_VERSION:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](conn)
                conn.execute(insert(schema_info).values(version=step))
