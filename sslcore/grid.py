"""Grid labeling: many similar items at once; the person leaves out the odd ones and labels
the rest in one action.

A grid is chosen three ways: the unlabeled items the model is most sure belong to a
class (:func:`confident_grid`), a group of similar unlabeled items
(:func:`cluster_grid`), or an item's nearest unlabeled neighbours
(:func:`neighbour_grid`). Items already shown this session can be passed as
``exclude``, so the next grid shows new ones. :func:`tile_keys` gives each tile a key
that toggles it, never one the class buttons or the page's own actions use.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from .keys import RESERVED_KEYS
from .session import most_predicted

GRID_SIZES = (12, 24, 36, 48)
DEFAULT_GRID_SIZE = 24


@dataclass(frozen=True)
class Grid:
    """Items to judge together and the class proposed for them."""

    item_ids: tuple[str, ...]
    proposed: str | None
    """The class to give the items not left out (None: the person picks)."""
    title: str
    """What the grid is, in a sentence."""


def confident_grid(predictions, class_name: str, n: int, exclude: Collection[str] = ()) -> Grid:
    """The ``n`` unlabeled items the model is most sure are ``class_name``.

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> engine = Engine(list("abcd"), np.array([[0.0], [0.1], [0.2], [5.0]]))
    >>> grid = confident_grid(engine.update({"a": "x", "d": "y"}), "x", 5)
    >>> grid.item_ids, grid.proposed
    (('b', 'c'), 'x')
    """
    if class_name not in predictions.classes:
        return Grid((), class_name, f"The model predicts no item {class_name!r} yet.")
    unlabeled = np.array([h is None for h in predictions.human])
    candidates = np.flatnonzero(unlabeled & (predictions.predicted == class_name))
    candidates = candidates[~np.isin(predictions.item_ids[candidates], list(exclude))]
    order = np.argsort(-predictions.confidence[candidates], kind="stable")[:n]
    ids = tuple(str(i) for i in predictions.item_ids[candidates[order]])
    return Grid(ids, class_name, f"{len(ids)} items the model is most sure are {class_name!r}")


def neighbour_grid(engine, item_id: str, n: int, exclude: Collection[str] = ()) -> Grid:
    """``item_id`` (if unlabeled) and its nearest unlabeled items, nearest first.

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> engine = Engine(list("abcd"), np.array([[0.0], [0.1], [5.0], [0.3]]))
    >>> neighbour_grid(engine, "a", 3).item_ids
    ('a', 'b', 'd')
    """
    seed = engine.position(item_id)
    members = _nearest_unlabeled(engine, seed, n, exclude)
    ids = tuple(str(engine.item_ids[p]) for p in members)
    proposed, _ = most_predicted(engine.predictions, ids)
    return Grid(ids, proposed, f"{item_id} and the {len(ids) - 1} unlabeled items most like it")


def cluster_grid(engine, n: int, exclude: Collection[str] = ()) -> Grid:
    """A group of similar unlabeled items: the most typical unlabeled item not excluded
    (the densest in the kNN graph) and the unlabeled items nearest it.

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> X = np.array([[0.0], [0.1], [0.2], [9.0], [9.5]])
    >>> sorted(cluster_grid(Engine(list("abcde"), X, n_neighbors=2), 3).item_ids)
    ['a', 'b', 'c']
    """
    from .graph import node_density

    free = _free(engine, exclude)
    if not free.any():
        return Grid((), None, "Every item is labeled or was shown already.")
    density = np.where(free, node_density(engine.graph), -np.inf)
    seed = int(np.argmax(density))
    members = _nearest_unlabeled(engine, seed, n, exclude)
    ids = tuple(str(engine.item_ids[p]) for p in members)
    proposed, _ = most_predicted(engine.predictions, ids)
    return Grid(ids, proposed, f"A group of {len(ids)} similar unlabeled items")


def tile_keys(n: int, taken: Iterable[str | None] = ()) -> list[str | None]:
    """A key per tile: free letters, then free digits, then Shift and a letter or digit.

    ``taken`` are keys the page uses otherwise (class keys, N, U, ...); Streamlit's
    own and the studio's reserved keys are never given. Tiles beyond the keys
    available get None (they are clicked).

    Examples
    --------
    >>> tile_keys(4, taken=["A", "1"])
    ['B', 'D', 'E', 'F']
    >>> tile_keys(34)[-2:]  # 22 letters and 10 digits, then Shift
    ['Shift+A', 'Shift+B']
    """
    blocked = {k.upper() for k in taken if k} | set(RESERVED_KEYS)
    letters = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in blocked]
    digits = [c for c in "1234567890" if c not in blocked]
    shifted = [f"Shift+{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890"
               if c not in RESERVED_KEYS]  # fmt: skip
    keys = [*letters, *digits, *shifted]
    return [keys[i] if i < len(keys) else None for i in range(n)]


def _free(engine, exclude: Collection[str]) -> np.ndarray:
    free = ~engine.labeled
    if exclude:
        free &= ~np.isin(engine.item_ids, list(exclude))
    return free


def _nearest_unlabeled(engine, seed: int, n: int, exclude: Collection[str]) -> list[int]:
    free = _free(engine, exclude)
    X = engine.features
    distance = ((X - X[seed]) ** 2).sum(axis=1)
    distance[~free] = np.inf
    distance[seed] = -1.0 if free[seed] else np.inf  # the item itself first, when it is free
    count = min(n, int(np.isfinite(distance).sum()))
    if count == 0:
        return []
    nearest = np.argpartition(distance, count - 1)[:count]
    return [int(p) for p in nearest[np.argsort(distance[nearest], kind="stable")]]
