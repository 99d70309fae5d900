"""2-D maps of the embedding (PCA at once, UMAP when it is ready) and the decision field."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

METHODS = ("pca", "umap")
UMAP_SETTINGS = {"n_neighbors": 15, "min_dist": 0.8, "spread": 1.5}
"""Spread out enough that items stay apart on the map: with min_dist=0.1 the 480 support
tickets showed as ~50 dots (135 distinct positions at 1/300 of the width; 448 with these)."""


UMAP_FIT_ROWS = 50_000
"""Above this many rows UMAP learns the map from a random sample of this size and places
the other rows with ``transform``, a block at a time. Fitted on every row, UMAP's memory
grows with the rows (+0.9 GB at 100,000 rows of 52 features; docs/benchmarks.md)."""
UMAP_BLOCK = 50_000


def project_2d(
    X: np.ndarray,
    *,
    method: str = "umap",
    random_state: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """Coordinates in 2-D for every row of ``X`` (float32, n x 2).

    PCA takes well under a second; UMAP shows clusters far better but takes
    seconds to minutes (and compiles on first use), so the app shows PCA while
    UMAP runs in the background. Above ``UMAP_FIT_ROWS`` rows UMAP is fitted on
    a sample and the rest are placed into that map, which keeps its memory and
    time bounded at a million rows.

    Examples
    --------
    >>> project_2d(np.eye(5), method="pca").shape
    (5, 2)
    """
    X = np.asarray(X, dtype=np.float32)
    if X.shape[1] == 2:
        return X.copy()
    if method == "pca" or len(X) < 10:
        return PCA(n_components=2, random_state=random_state).fit_transform(X).astype(np.float32)
    if method != "umap":
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    progress = progress or (lambda fraction, message: None)
    if len(X) <= UMAP_FIT_ROWS:
        return _umap(X, random_state).fit_transform(X).astype(np.float32)
    sample = np.sort(
        np.random.default_rng(random_state).choice(len(X), UMAP_FIT_ROWS, replace=False)
    )
    progress(0.0, f"Learning the map from {UMAP_FIT_ROWS:,} sampled items")
    reducer = _umap(X, random_state).fit(X[sample])
    coords = np.empty((len(X), 2), np.float32)
    for start in range(0, len(X), UMAP_BLOCK):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords[start : start + UMAP_BLOCK] = reducer.transform(X[start : start + UMAP_BLOCK])
        progress(min(1.0, (start + UMAP_BLOCK) / len(X)), "Placing every item on the map")
    coords[sample] = reducer.embedding_  # the sampled rows keep the places they were fitted at
    return coords


def _umap(X: np.ndarray, random_state: int):
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that random_state disables parallelism
        return umap.UMAP(
            n_components=2,
            n_neighbors=min(UMAP_SETTINGS["n_neighbors"], len(X) - 1),
            min_dist=UMAP_SETTINGS["min_dist"],
            spread=UMAP_SETTINGS["spread"],
            random_state=random_state,
            low_memory=True,
        )


@dataclass(frozen=True)
class DecisionField:
    """The model's class and confidence over a grid covering the map."""

    x: np.ndarray  # grid column centres, shape (nx,)
    y: np.ndarray  # grid row centres, shape (ny,)
    winner: np.ndarray  # class index per cell, shape (ny, nx)
    confidence: np.ndarray  # probability of the winner per cell, shape (ny, nx)


def decision_field(
    coords: np.ndarray, proba: np.ndarray, *, resolution: int = 80, n_neighbors: int = 15
) -> DecisionField:
    """Spread the per-item class distributions over a grid of the 2-D map.

    Each cell takes the distance-weighted mean distribution of the items
    nearest to it on the map, so the boundary runs through the gaps between
    clusters and the band where no class wins clearly shows as low confidence.

    Examples
    --------
    >>> coords = np.array([[0, 0], [0, 1], [5, 0], [5, 1]], dtype=float)
    >>> proba = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    >>> field = decision_field(coords, proba, resolution=10, n_neighbors=2)
    >>> int(field.winner[0, 0]), int(field.winner[0, -1])
    (0, 1)
    """
    coords = np.asarray(coords, dtype=np.float64)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    pad = (hi - lo) * 0.05 + 1e-9
    x = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    y = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    grid = np.stack(np.meshgrid(x, y), axis=-1).reshape(-1, 2)
    k = min(n_neighbors, len(coords))
    distances, neighbours = NearestNeighbors(n_neighbors=k).fit(coords).kneighbors(grid)
    weights = 1.0 / (distances + 1e-6 * (hi - lo).max() + 1e-12)
    mean = np.einsum("gk,gkc->gc", weights, proba[neighbours]) / weights.sum(1, keepdims=True)
    winner = mean.argmax(1).reshape(resolution, resolution)
    confidence = mean.max(1).reshape(resolution, resolution)
    return DecisionField(x, y, winner, confidence)
