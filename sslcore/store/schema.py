"""The store's tables, their versioned migrations, and the connection setup.

One schema and one list of migrations serve both backends: SQLite (a file in the
data directory, the default) and PostgreSQL (a server a team shares). Every
migration so far creates tables or adds a column that may be empty, which either emits
the same way, so the versioned steps below stay simple and Alembic is not needed.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from ..errors import StoreError

SCHEMA_VERSION = 4  # 2: reservations; 3: project files in the database, accounts; 4: picked

DATABASE_URL_ENV = "SSLABEL_DATABASE_URL"

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
    # Why the item was on screen when a person labeled it (sslcore.store.events.PICKED), so
    # that a restart calibrates on the same footing as the session that labeled it.
    Column("picked", String, nullable=True),
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


# A shared server's projects must open on every machine that reaches it, so there the
# items file travels inside the database (a local SQLite store keeps it on disk only).
project_files = Table(
    "project_files",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String, nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# Who may sign in to the studio, and to do what (see sslcore.accounts).
accounts = Table(
    "accounts",
    metadata,
    Column("name", String, primary_key=True),
    Column("role", String, nullable=False),
    Column("password_hash", String, nullable=False),
    Column("created_at", Float, nullable=False),
)


def _add_reservations(conn) -> None:
    metadata.create_all(conn, tables=[reservations])


def _add_project_files_and_accounts(conn) -> None:
    metadata.create_all(conn, tables=[project_files, accounts])


def _add_picked(conn) -> None:
    conn.execute(text("ALTER TABLE label_events ADD COLUMN picked VARCHAR"))


MIGRATIONS = {2: _add_reservations, 3: _add_project_files_and_accounts, 4: _add_picked}
"""Schema version -> the step that brings the version before it up to it."""

MIGRATION_LOCK = 0x55_4C_41_42  # any fixed key: one migrating process at a time per server


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


def resolve_database_url(data_dir: Path, url: str | None = None) -> str:
    """The store's database: ``url``, else ``$SSLABEL_DATABASE_URL``, else the SQLite file
    ``sslabel.db`` in ``data_dir``."""
    return url or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{data_dir / 'sslabel.db'}"


def connect(url: str) -> Engine:
    """A SQLAlchemy engine on ``url``: ``sqlite:///PATH`` or ``postgresql+psycopg://…``.

    Examples
    --------
    >>> import tempfile
    >>> connect(f"sqlite:///{tempfile.mkdtemp()}/x.db").dialect.name
    'sqlite'
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"Cannot read the database URL {url!r}; write sqlite:///PATH or "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE."
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return connect_sqlite(Path(parsed.database))
    if parsed.get_backend_name() == "postgresql":
        return connect_postgresql(url)
    raise StoreError(
        f"sslabel stores projects in SQLite or PostgreSQL, not in {parsed.drivername!r} "
        f"({parsed.render_as_string(hide_password=True)})."
    )


def connect_postgresql(url: str) -> Engine:
    """A SQLAlchemy engine on a PostgreSQL server (psycopg 3), in READ COMMITTED.

    Commits wait for the server's WAL flush (``synchronous_commit`` is forced on), so a
    write acknowledged to the caller survives a crash of the server.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError(
            "A PostgreSQL store needs psycopg: pip install 'sslabel[postgres]'."
        ) from None
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    # Options given in the URL (e.g. a search_path) are kept; the commit setting is added.
    options = f"{parsed.query.get('options', '')} -c synchronous_commit=on".strip()
    return create_engine(
        parsed,
        pool_pre_ping=True,  # a restarted server leaves dead connections in the pool
        connect_args={"options": options},
    )


def migrate(db: Engine, where: object) -> None:
    """Create the tables of a new store, or bring an older one up to :data:`SCHEMA_VERSION`.

    ``where`` names the store in the message refusing a store written by a newer sslabel.
    On PostgreSQL several processes may open a new store at once: an advisory lock lets
    one migrate while the others wait, and the whole migration is one transaction.
    """
    with db.begin() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
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
