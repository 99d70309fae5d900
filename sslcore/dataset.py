"""The in-memory dataset: a table of items of one kind, with optional existing labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

KINDS = ("text", "image", "tabular")

ID = "item_id"
LABEL = "label"
TEXT = "text"
IMAGE = "image"

MAX_CLASSES = 1000
"""Most classes a project may have. The model keeps a score per item and class, and every
label spreads over all of them: at 20,000 items one label took 0.4 s with 100 classes,
4 s with 1,000 and 13 s (5 GB) with 5,000 (docs/benchmarks.md, "Many classes")."""
TOO_MANY_CLASSES_ADVICE = (
    "Label in stages instead: a project for the top-level groups first, then one project "
    "per group for its classes."
)


@dataclass(frozen=True)
class Dataset:
    """Items of one kind with a stable id each, and optional existing labels.

    Parameters
    ----------
    name : str
        Human-readable name, e.g. the file it came from.
    kind : {"text", "image", "tabular"}
        What every item holds.
    items : pandas.DataFrame
        One row per item, in a stable order. Always has the columns ``item_id``
        (unique strings) and ``label`` (a class name string, or ``None`` for
        unlabeled). Text items have ``text``; image items have ``image``
        (encoded image bytes); tabular items have the ``feature_columns``.
    feature_columns : tuple of str
        The numeric columns used as features for tabular items (and for
        user-supplied embeddings). Empty for text and images.
    warnings : tuple of str
        What the importer noticed but did not refuse (a column read as
        categories because of a few non-numbers, label cells like "nan" read as
        class names, ...), one sentence each, for the CLI and the app to show.
        Not stored with the project.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = Dataset("toy", "text", pd.DataFrame(
    ...     {"item_id": ["a", "b"], "text": ["hi", "yo"], "label": ["0", None]}))
    >>> ds.n_items, ds.classes
    (2, ['0'])
    """

    name: str
    kind: str
    items: pd.DataFrame
    feature_columns: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        missing = {ID, LABEL} - set(self.items.columns)
        if missing:
            raise ValueError(f"items lack the columns {sorted(missing)}")
        # The importers say which file and row; this guards every other way in, since the
        # engine and the store both key items by id.
        if not self.items[ID].is_unique:
            repeated = self.items[ID][self.items[ID].duplicated()].iloc[0]
            raise ValueError(f"item ids must be unique; {repeated!r} appears more than once")

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> np.ndarray:
        return self.items[ID].to_numpy(dtype=object)

    @property
    def labels(self) -> np.ndarray:
        """Existing class names, ``None`` where unlabeled."""
        return np.array([None if pd.isna(v) else v for v in self.items[LABEL]], dtype=object)

    @property
    def classes(self) -> list[str]:
        """Sorted distinct existing class names."""
        return sorted({v for v in self.labels if v is not None})

    def without_labels(self) -> Dataset:
        """The same items with every existing label removed."""
        items = self.items.copy()
        items[LABEL] = None
        return Dataset(self.name, self.kind, items, self.feature_columns)

    def content_of(self, item_id: str) -> dict:
        """The row of one item as a plain dict."""
        row = self.items.loc[self.items[ID] == item_id]
        if row.empty:
            raise KeyError(item_id)
        return row.iloc[0].to_dict()
