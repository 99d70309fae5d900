"""The durable project store through SQLAlchemy Core: SQLite (WAL) by default, or a shared
PostgreSQL server.

``schema`` holds the tables, migrations and connection setup; ``events`` the
append-only label events and their replay into current labels (votes and
consensus when several people label an item); ``reservations`` who holds which
item; ``locks`` what keeps concurrent writers apart on PostgreSQL; ``projects``
the projects, their classes, labels, resolutions and undo.
"""

from .events import LABELING_SOURCES, SOURCES, LabelEvent, LabelState, derive_labels
from .projects import DATA_DIR_ENV, PALETTE, ClassInfo, Project, Store, default_data_dir
from .schema import SCHEMA_VERSION

__all__ = [
    "DATA_DIR_ENV",
    "LABELING_SOURCES",
    "PALETTE",
    "SCHEMA_VERSION",
    "SOURCES",
    "ClassInfo",
    "LabelEvent",
    "LabelState",
    "Project",
    "Store",
    "default_data_dir",
    "derive_labels",
]
