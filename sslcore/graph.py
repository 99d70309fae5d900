"""The symmetric k-nearest-neighbour affinity graph, built once per featurization.

Every labeling round reuses the same graph, so it is worth building well:
neighbours are found exactly (faiss flat index) up to ``EXACT_MAX_ITEMS``
items and with faiss HNSW above that; edge weights use the self-tuning
local scale of Zelnik-Manor & Perona (2004), which adapts to the local
density instead of one global bandwidth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

Progress = Callable[[float, str], None]

EXACT_MAX_ITEMS = 50_000
_CHUNK = 4096
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 32
HNSW_LARGE_ITEMS = 500_000
HNSW_EF_CONSTRUCTION_LARGE = 40
"""From this many rows the index is built with efConstruction 40: at 1M x 64 (synthetic) the
build + search took 117 s against 209 s with 80, for recall@10 0.39 against 0.51 on those
random Gaussian clusters, which keeps the build under the 3-minute target (docs/benchmarks.md)."""
"""HNSW settings, chosen by measurement on 100k x 64 synthetic points (docs/benchmarks.md):
M=16, efConstruction=80, efSearch=32 has recall@10 0.84 against exact search for ~2/3 of the
CPU time of M=32, efConstruction=40, efSearch=48 (recall 0.82)."""


def _noop(fraction: float, message: str) -> None:
    pass


def knn_search(
    X: np.ndarray,
    n_neighbors: int,
    *,
    method: str = "auto",
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_neighbors`` nearest other rows of every row of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_items, n_features)
    n_neighbors : int
        Neighbours per row, not counting the row itself. Clipped to ``n_items - 1``.
    method : {"auto", "exact", "hnsw"}
        ``"auto"`` is exact up to ``EXACT_MAX_ITEMS`` rows, HNSW above.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    distances, indices : ndarray of shape (n_items, k)
        Euclidean distances (ascending) and row indices.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> knn_search(X, 1)[1].ravel().tolist()
    [1, 0, 1]
    """
    import faiss

    progress = progress or _noop
    X = np.ascontiguousarray(X, dtype=np.float32)
    n, d = X.shape
    k = min(n_neighbors, n - 1)
    if k < 1:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
    if method == "auto":
        method = "exact" if n <= EXACT_MAX_ITEMS else "hnsw"
    if method == "exact":
        index = faiss.IndexFlatL2(d)
        index.add(X)
        share_build = 0.0
    elif method == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M)
        index.hnsw.efConstruction = (
            HNSW_EF_CONSTRUCTION_LARGE if n >= HNSW_LARGE_ITEMS else HNSW_EF_CONSTRUCTION
        )
        step = max(_CHUNK, n // 50)
        for start in range(0, n, step):
            index.add(X[start : start + step])
            progress(0.6 * min(1.0, (start + step) / n), "Indexing neighbours (HNSW)")
        index.hnsw.efSearch = max(HNSW_EF_SEARCH, 2 * k)
        share_build = 0.6
    else:
        raise ValueError(f"method must be 'auto', 'exact' or 'hnsw', got {method!r}")
    distances = np.empty((n, k), np.float32)
    indices = np.empty((n, k), np.int64)
    step = max(_CHUNK, n // 50)
    for start in range(0, n, step):
        stop = min(n, start + step)
        dist, ind = index.search(X[start:stop], k + 1)
        distances[start:stop], indices[start:stop] = _drop_self(dist, ind, start)
        progress(share_build + (1 - share_build) * stop / n, "Finding nearest neighbours")
    np.sqrt(np.maximum(distances, 0, out=distances), out=distances)
    return distances, indices


def _drop_self(dist: np.ndarray, ind: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (or, for duplicates or a miss, the last column)."""
    rows = np.arange(len(ind)) + offset
    is_self = ind == rows[:, None]
    # Keep the k first non-self columns; when self is absent, drop the farthest.
    is_self[~is_self.any(axis=1), -1] = True
    # Missing results from HNSW come back as -1: point them at the row itself with weight 0.
    keep = ~is_self
    k = ind.shape[1] - 1
    ind_out = ind[keep].reshape(-1, k)
    dist_out = dist[keep].reshape(-1, k)
    missing = ind_out < 0
    if missing.any():
        ind_out = np.where(missing, rows[:, None], ind_out)
        dist_out = np.where(missing, np.inf, dist_out)
    return dist_out, ind_out


METRICS = ("euclidean", "cosine")
WEIGHTINGS = ("self_tuning", "gaussian", "binary")


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): Euclidean distance on these ranks
    neighbours as cosine similarity does.

    Examples
    --------
    >>> np.linalg.norm(unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])), axis=1).tolist()
    [1.0, 0.0]
    """
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def build_knn_graph(
    X: np.ndarray,
    *,
    n_neighbors: int = 10,
    local_scale_neighbor: int = 7,
    metric: str = "euclidean",
    weighting: str = "self_tuning",
    method: str = "auto",
    progress: Progress | None = None,
) -> sp.csr_matrix:
    """A symmetric kNN affinity graph.

    With the default ``weighting="self_tuning"`` the weight of an edge between
    items i and j is ``exp(-d(i, j)**2 / (sigma_i * sigma_j))`` with ``sigma_i``
    the distance from i to its ``local_scale_neighbor``-th neighbour; the graph
    keeps an edge when either end has the other among its ``n_neighbors``
    nearest (the larger weight wins), and has no self-loops.

    Parameters
    ----------
    X : ndarray of shape (n_items, n_features)
    n_neighbors : int, default=10
    local_scale_neighbor : int, default=7
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` finds neighbours among rows scaled to unit length.
    weighting : {"self_tuning", "gaussian", "binary"}, default="self_tuning"
        See :func:`affinity_from_neighbours`.
    method : {"auto", "exact", "hnsw"}
        Nearest-neighbour search; see :func:`knn_search`.
    progress : callable, optional
        ``progress(fraction, message)``, called as the build advances.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_items, n_items), float32

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    >>> W = build_knn_graph(X, n_neighbors=1)
    >>> bool((W != W.T).nnz == 0), W.nnz
    (True, 4)
    """
    progress = progress or _noop
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    points = unit_rows(X) if metric == "cosine" else X
    distances, indices = knn_search(points, n_neighbors, method=method, progress=progress)
    W = affinity_from_neighbours(
        distances, indices, weighting=weighting, local_scale_neighbor=local_scale_neighbor
    )
    progress(1.0, "Graph ready")
    return W


def affinity_from_neighbours(
    distances: np.ndarray,
    indices: np.ndarray,
    *,
    n_neighbors: int | None = None,
    weighting: str = "self_tuning",
    local_scale_neighbor: int = 7,
) -> sp.csr_matrix:
    """The symmetric affinity graph from a kNN search (:func:`knn_search`'s output).

    One search with many neighbours serves every smaller ``n_neighbors`` (the
    first columns), which is how the model selection compares graphs cheaply.

    Parameters
    ----------
    distances, indices : ndarray of shape (n_items, k)
    n_neighbors : int, optional
        Use only the first ``n_neighbors`` columns (default: all).
    weighting : {"self_tuning", "gaussian", "binary"}
        ``"self_tuning"``: ``exp(-d**2 / (sigma_i sigma_j))``, sigma the distance
        to the ``local_scale_neighbor``-th neighbour (Zelnik-Manor & Perona 2004).
        ``"gaussian"``: one global scale, ``exp(-d**2 / s**2)`` with ``s`` the
        median distance to the farthest kept neighbour. ``"binary"``: weight 1.
    local_scale_neighbor : int, default=7

    Examples
    --------
    >>> d, i = knn_search(np.array([[0.0], [1.0], [3.0]]), 2)
    >>> affinity_from_neighbours(d, i, n_neighbors=1, weighting="binary").toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    n = len(indices)
    k = distances.shape[1] if n_neighbors is None else min(n_neighbors, distances.shape[1])
    if k == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    distances = distances[:, :k].astype(np.float64)
    indices = indices[:, :k]
    finite = np.isfinite(distances)
    known = np.where(finite, distances, 0.0)
    if weighting == "self_tuning":
        sigma = known[:, min(local_scale_neighbor, k) - 1]
        positive = sigma[sigma > 0]
        floor = positive.min() if positive.size else 1.0
        sigma = np.maximum(sigma, floor * 1e-3)
        weights = np.exp(-(known**2) / (sigma[:, None] * sigma[indices]))
    elif weighting == "gaussian":
        scale = float(np.median(known[:, -1]))
        weights = np.exp(-(known**2) / max(scale**2, 1e-12))
    else:
        weights = np.ones_like(known)
    # A tiny floor keeps every kNN edge connected even for far-off outliers.
    weights = np.where(finite, np.maximum(weights, 1e-6), 0.0)
    rows = np.repeat(np.arange(n), k)
    W = sp.csr_matrix((weights.ravel().astype(np.float32), (rows, indices.ravel())), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.setdiag(0)
    W.eliminate_zeros()
    return W


def normalized_affinity(W: sp.spmatrix) -> sp.csr_matrix:
    """``D^-1/2 W D^-1/2``, the operator label spreading iterates (isolated rows stay zero).

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> normalized_affinity(W).toarray().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    W = sp.csr_matrix(W, dtype=np.float32)
    degree = np.asarray(W.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    inv_sqrt[degree > 0] = 1.0 / np.sqrt(degree[degree > 0])
    D = sp.diags(inv_sqrt.astype(np.float32))
    return (D @ W @ D).tocsr().astype(np.float32)


def spectral_embedding(W: sp.spmatrix, n_components: int, *, random_state: int = 0) -> np.ndarray:
    """The leading non-trivial eigenvectors of the normalized graph, rows scaled to unit length.

    This is the embedding in which spectral clustering (Ng, Jordan & Weiss 2001)
    runs k-means; the cold start picks representatives in it.

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2))] + np.arange(10)[:, None] * 0.01
    >>> spectral_embedding(build_knn_graph(X, n_neighbors=3), 2).shape
    (10, 2)
    """
    from scipy.sparse.linalg import eigsh

    S = normalized_affinity(W).astype(np.float64)
    n = S.shape[0]
    dim = min(n_components + 1, n - 1)
    if dim < 2:
        return np.ones((n, max(1, n_components)))
    rng = np.random.default_rng(random_state)
    # Shifting by I makes the wanted eigenvalues the largest in magnitude, which ARPACK finds fast.
    shifted = S + sp.identity(n, format="csr")
    _, vectors = eigsh(shifted, k=dim, which="LA", v0=rng.random(n), tol=1e-4, maxiter=5000)
    embedding = vectors[:, ::-1][:, 1:]
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.where(norms > 0, norms, 1.0)


def node_density(W: sp.spmatrix) -> np.ndarray:
    """Mean edge weight of each item, in [0, 1]: high where the data is dense.

    Examples
    --------
    >>> node_density(sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))).tolist()
    [1.0, 1.0]
    """
    W = sp.csr_matrix(W)
    counts = np.diff(W.indptr)
    sums = np.asarray(W.sum(axis=1)).ravel()
    return np.divide(sums, counts, out=np.zeros_like(sums, dtype=np.float64), where=counts > 0)
