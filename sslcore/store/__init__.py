"""The durable project store: SQLite (WAL) through SQLAlchemy Core.

``schema`` holds the tables, migrations and connection setup; ``events`` the
append-only label events and their replay into current labels;
``reservations`` who holds which item; ``projects`` the projects, their
classes, labels and undo.
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
