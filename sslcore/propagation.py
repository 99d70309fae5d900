"""Label spreading (Zhou et al. 2004) on a fixed graph, warm-startable and incremental.

Spreading solves ``(I - alpha S) F = (1 - alpha) Y`` where ``S`` is the
symmetrically normalized affinity and ``Y`` holds one row per item: a one-hot
row for a human label, ``-1`` in the column of a class a human rejected for
that item, zeros elsewhere. Because the solution is linear in ``Y``, a new
label only changes the *residual* near one item; :class:`SpreadingState`
relaxes that residual where it is large (a local, Gauss-Southwell style
sweep) and then runs a few global sweeps, starting from the previous
solution rather than from zero.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .graph import build_knn_graph, normalized_affinity

UNLABELED = -1
"""The engine's one marker for "no label", used only for internal integer codes."""


class SpreadingState:
    """The spreading solution for one graph, updated in place round after round.

    Parameters
    ----------
    S : sparse matrix of shape (n_items, n_items)
        Normalized affinity, see :func:`sslcore.graph.normalized_affinity`.
    alpha : float
        How much of an item's score comes from its neighbours (0 < alpha < 1).
    hard_clamp : bool
        Keep labeled rows fixed at their label (label propagation) instead of
        letting neighbours pull on them.
    dtype : numpy dtype, default=float64
        Precision of ``S`` and of the solution. ``float32`` halves the memory
        traffic of a sweep, for large graphs that run a bounded number of
        sweeps per update rather than solving to a tight tolerance.
    reorder : bool, default=False
        Renumber the rows internally in reverse Cuthill-McKee order, so that
        neighbours sit close in memory: on a 1M-item kNN graph this makes
        ``S @ F`` about 4x faster. ``S``, ``F``, ``Y`` and ``R`` are then in
        the internal order ``order`` (row ``i`` is item ``order[i]``);
        :meth:`solution` and :meth:`solve` return item order, and
        :meth:`set_targets` and :meth:`change_targets` take item order.

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float))
    >>> state = SpreadingState(normalized_affinity(W), alpha=0.5)
    >>> state.set_targets(np.array([[1.0], [0.0], [0.0]]))
    >>> state.solve(tol=1e-9).round(3).ravel().tolist()
    [0.583, 0.236, 0.083]
    """

    def __init__(
        self,
        S: sp.spmatrix,
        *,
        alpha: float = 0.99,
        hard_clamp: bool = False,
        dtype=np.float64,
        reorder: bool = False,
    ):
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
        self.dtype = np.dtype(dtype)
        self.S = sp.csr_matrix(S, dtype=self.dtype)
        self.order: np.ndarray | None = None
        self._rank: np.ndarray | None = None
        if reorder:
            from scipy.sparse.csgraph import reverse_cuthill_mckee

            self.order = reverse_cuthill_mckee(self.S, symmetric_mode=True).astype(np.int64)
            self._rank = np.empty_like(self.order)
            self._rank[self.order] = np.arange(len(self.order))
            self.S = self.S[self.order][:, self.order].tocsr()
            self.S.sort_indices()
        self.alpha = alpha
        self.hard_clamp = hard_clamp
        n = self.S.shape[0]
        self.Y = np.zeros((n, 0), self.dtype)
        self.F = np.zeros((n, 0), self.dtype)
        self.R = np.zeros((n, 0), self.dtype)
        self.clamped = np.zeros(n, bool)
        self.n_sweeps_ = 0

    @property
    def n_items(self) -> int:
        return self.S.shape[0]

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """Internal row numbers of the items at ``positions`` (the same unless ``reorder``)."""
        positions = np.asarray(positions, dtype=np.int64)
        return positions if self._rank is None else self._rank[positions]

    def solution(self) -> np.ndarray:
        """``F`` in item order (``F`` itself unless ``reorder``)."""
        return self.F if self._rank is None else np.take(self.F, self._rank, axis=0)

    def set_targets(self, Y: np.ndarray, clamped: np.ndarray | None = None) -> None:
        """Replace the targets, keeping the current solution as the warm start.

        ``Y`` may have more columns than before (new classes start at zero).
        ``clamped`` marks rows held fixed under ``hard_clamp``.
        """
        Y = np.array(Y, dtype=self.dtype)
        if clamped is not None:
            clamped = np.asarray(clamped, bool)
        if self.order is not None:
            Y = Y[self.order]
            clamped = None if clamped is None else clamped[self.order]
        self._set_internal(Y, clamped)

    def _set_internal(self, Y: np.ndarray, clamped: np.ndarray | None) -> None:
        extra = Y.shape[1] - self.F.shape[1]
        if extra < 0:
            raise ValueError("classes can be added but not removed; keep empty columns")
        if extra:
            self.F = np.hstack([self.F, np.zeros((self.n_items, extra), self.dtype)])
        self.Y = Y
        self.clamped = (
            np.zeros(self.n_items, bool) if clamped is None else np.asarray(clamped, bool)
        )
        if self.hard_clamp:
            self.F[self.clamped] = Y[self.clamped]
        self.R = self._residual()

    def warm_start(self, F: np.ndarray) -> None:
        """Continue from ``F`` (item order), e.g. a solution found for these targets elsewhere."""
        F = np.array(F, dtype=self.dtype)
        if F.shape[1] < self.F.shape[1]:
            F = np.hstack([F, np.zeros((self.n_items, self.F.shape[1] - F.shape[1]), self.dtype)])
        self.F = F if self.order is None else F[self.order]
        if self.hard_clamp:
            self.F[self.clamped] = self.Y[self.clamped]
        self.R = self._residual()

    def offer(self, F: np.ndarray) -> bool:
        """Continue from ``F`` (item order) if it is closer to the solution than the current
        one (a smaller total residual), e.g. one solved to a tighter tolerance in the
        background for nearly the same targets; returns whether it was taken."""
        F_now, R_now = self.F, self.R
        before = float(np.abs(R_now).sum())
        self.warm_start(F)
        if float(np.abs(self.R).sum()) < before:
            return True
        self.F, self.R = F_now, R_now
        return False

    def change_targets(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Set the targets of the items at ``rows`` to ``values``; patch the residual locally."""
        rows = self.rows(rows)
        if self.hard_clamp:
            Y = self.Y.copy()
            Y[rows] = values
            clamped = self.clamped.copy()
            clamped[rows] = np.abs(values).max(axis=1, initial=0) > 0
            self._set_internal(Y, clamped)
            return
        self.R[rows] += (1 - self.alpha) * (values - self.Y[rows])
        self.Y[rows] = values

    def add_classes(self, n_new: int) -> None:
        """Append empty class columns."""
        zeros = np.zeros((self.n_items, n_new), self.dtype)
        self.Y, self.F, self.R = (np.hstack([m, zeros]) for m in (self.Y, self.F, self.R))

    def _residual(self) -> np.ndarray:
        # (1 - alpha) Y - F + alpha S F, with one temporary instead of four.
        R = self.S @ self.F
        R *= self.alpha
        R -= self.F
        R += (1 - self.alpha) * self.Y
        if self.hard_clamp:
            R[self.clamped] = 0.0
        return R

    def _relax(self, rows: np.ndarray) -> np.ndarray:
        """One Jacobi step restricted to ``rows``; updates F and R exactly.

        Returns the rows whose residual changed (``rows`` and their neighbours).
        """
        delta = self.R[rows]
        self.F[rows] += delta
        self.R[rows] = 0.0
        block = self.S[rows]  # S is symmetric: its column block is this row block, transposed
        touched, compact_columns = _unique_inverse(block.indices)
        compact = sp.csr_matrix(
            (block.data, compact_columns, block.indptr), shape=(len(rows), len(touched))
        )
        self.R[touched] += self.alpha * (compact.T @ delta)
        if self.hard_clamp:
            self.R[touched[self.clamped[touched]]] = 0.0
        return _unique_inverse(np.concatenate([rows, touched]))[0]

    def relax_local(
        self,
        *,
        threshold: float,
        max_steps: int = 200,
        max_rows: int | None = None,
        max_work: int | None = None,
    ) -> int:
        """Relax only rows whose residual exceeds ``threshold``; returns steps taken.

        Only rows touched by the previous step are rescanned, so the cost
        follows the size of the change, not of the graph. Stops early once
        more than ``max_rows`` rows are active (global sweeps are cheaper then),
        or once ``max_work`` rows in total have been relaxed.
        """
        max_rows = self.n_items // 4 if max_rows is None else max_rows
        work = 0
        candidates = np.flatnonzero(np.abs(self.R).max(axis=1, initial=0) > threshold)
        for step in range(max_steps):
            rows = candidates[np.abs(self.R[candidates]).max(axis=1, initial=0) > threshold]
            if rows.size == 0 or rows.size > max_rows:
                return step
            if max_work is not None and work + rows.size > max_work:
                return step
            work += rows.size
            candidates = self._relax(rows)
        return max_steps

    def sweep(self, n_sweeps: int = 1) -> None:
        """Full Jacobi sweeps ``F <- alpha S F + (1 - alpha) Y`` (with clamping)."""
        for _ in range(n_sweeps):
            self.F += self.R
            self.R = self._residual()
            self.n_sweeps_ += 1

    def residual_norm(self) -> float:
        return float(np.abs(self.R).max(initial=0.0))

    def solve(self, *, tol: float = 1e-6, max_sweeps: int = 2000) -> np.ndarray:
        """Sweep until the largest residual is below ``tol`` times the largest target.

        A local relaxation first makes a warm start after a small change cheap.
        Warns with ``ConvergenceWarning`` if ``max_sweeps`` is reached.
        """
        scale = max(1e-12, (1 - self.alpha) * float(np.abs(self.Y).max(initial=0.0)))
        threshold = tol * scale
        self.relax_local(threshold=threshold * 100, max_steps=50)
        for _ in range(max_sweeps):
            if self.residual_norm() <= threshold:
                return self.solution()
            self.sweep()
        if self.residual_norm() > threshold:
            warnings.warn(
                f"label spreading did not converge in {max_sweeps} sweeps; "
                "raise max_iter or lower alpha",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self.solution()


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ``values`` and each value's index among them, by one stable sort.

    Cheaper than ``np.unique`` + ``np.searchsorted`` on the small index arrays of a local step.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(ordered.size, bool)
    first[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(values.size, np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def targets_from_codes(
    codes: np.ndarray,
    n_classes: int,
    rejections: list[tuple[int, int]] | None = None,
    *,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """The ``Y`` matrix: one-hot rows for labels, ``-1`` for rejected (item, class) pairs.

    ``rows`` limits it to those items' rows (in that order), so a round that
    changed a few labels builds only their rows. A rejection counts only on an
    unlabeled item.

    Examples
    --------
    >>> targets_from_codes(np.array([1, -1, -1]), 2, [(2, 0)]).tolist()
    [[0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]]
    >>> targets_from_codes(np.array([1, -1, -1]), 2, [(2, 0)], rows=np.array([2])).tolist()
    [[-1.0, 0.0]]
    """
    rows = np.arange(len(codes)) if rows is None else np.asarray(rows, dtype=np.int64)
    picked = codes[rows]
    Y = np.zeros((len(rows), n_classes))
    labeled = np.flatnonzero(picked != UNLABELED)
    Y[labeled, picked[labeled]] = 1.0
    if rejections:
        row_of = {int(r): i for i, r in enumerate(rows)} if len(rows) < len(codes) else None
        for item, column in rejections:
            if codes[item] != UNLABELED:
                continue
            row = item if row_of is None else row_of.get(int(item))
            if row is not None:
                Y[row, column] = -1.0
    return Y


CLASS_PRIORS = ("labels", "uniform")
"""What class-mass normalization aims the class shares at: the label frequencies, or
equal shares (the model selection chooses; see :mod:`sslcore.selection`)."""


def class_prior(codes: np.ndarray, n_classes: int, kind: str = "labels") -> np.ndarray:
    """The class-mass target of spreading.

    ``"labels"``: label frequencies with one pseudo-count per class (add-one
    smoothing), so a class with no label yet still gets a little mass and a
    class with many labels does not take all of it. ``"uniform"``: equal shares,
    for when the labels say little about class sizes (ten labels picked to cover
    the data, or picked where the model was unsure).

    Examples
    --------
    >>> class_prior(np.array([0, 0, 1]), 3).round(2).tolist()
    [0.5, 0.33, 0.17]
    >>> class_prior(np.array([0, 0, 1]), 2, "uniform").tolist()
    [0.5, 0.5]
    """
    if kind not in CLASS_PRIORS:
        raise ValueError(f"class prior must be one of {CLASS_PRIORS}, not {kind!r}")
    if kind == "uniform":
        return np.full(n_classes, 1.0 / n_classes)
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=n_classes) + 1.0
    return counts / counts.sum()


def distributions(
    F: np.ndarray,
    *,
    class_mass_normalization: bool = True,
    prior: np.ndarray | None = None,
    forbidden: list[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Row-stochastic class distributions from raw spreading scores.

    Negative scores (pushed by rejections) count as zero. With class-mass
    normalization (Zhu, Ghahramani & Lafferty 2003) each column is rescaled so
    its total mass matches ``prior`` (default: uniform), which stops a class
    with many labels in a dense region from swallowing the rest. ``forbidden``
    (row, class) pairs get probability zero. Rows no label reaches are uniform
    over the allowed classes.

    Examples
    --------
    >>> distributions(np.array([[2.0, 0.0], [1.0, 1.0]]), class_mass_normalization=False).tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    # One float64 copy, then in-place work: this runs on every update, on n x C arrays.
    P = np.maximum(F, 0.0, dtype=np.float64)
    n, n_classes = P.shape
    if n_classes == 0:
        return P
    if class_mass_normalization and n_classes > 1:
        mass = P.sum(axis=0)
        target = np.full(n_classes, 1.0 / n_classes) if prior is None else np.asarray(prior)
        P *= np.divide(target, mass, out=np.zeros(n_classes), where=mass > 0)
    pairs = np.asarray(list(forbidden or ()), dtype=np.int64).reshape(-1, 2)
    P[pairs[:, 0], pairs[:, 1]] = 0.0
    totals = P @ np.ones(n_classes)
    reached = totals > 0
    np.divide(P, totals[:, None], out=P, where=reached[:, None])
    unreached = np.flatnonzero(~reached)
    if unreached.size:
        allowed = np.ones((unreached.size, n_classes))
        hit = np.isin(pairs[:, 0], unreached)
        allowed[np.searchsorted(unreached, pairs[hit, 0]), pairs[hit, 1]] = 0.0
        P[unreached] = allowed / np.maximum(allowed.sum(axis=1, keepdims=True), 1)
    return P


class LabelSpreader(ClassifierMixin, BaseEstimator):
    """Label spreading on a self-tuning kNN graph, scikit-learn style.

    Unlabeled samples are marked ``-1`` in ``y`` (for string targets, ``None``
    or the integer ``-1``; the *string* ``"-1"`` is an ordinary class).
    Settings left at ``None`` are chosen per fit from the labels given, by the
    same cross-fitted selection the studio uses (:mod:`sslcore.selection`);
    with all of them ``None`` (the default) it may also blend in a logistic
    regression or self-training when that predicts the held-out labels better.

    Parameters
    ----------
    n_neighbors : int, optional
        Neighbours per item in the kNN graph (chosen among 5, 10, 20, 40; 10 to start).
    alpha : float, optional
        Weight of the neighbours against an item's own label (0 < alpha < 1;
        chosen among 0.5, 0.9, 0.99; 0.99 to start).
    hard_clamp : bool, default=False
        Keep labeled items at their label (label propagation).
    class_mass_normalization : bool, optional
        Rescale class scores so each class gets its share of the total mass
        (chosen, with the share: on with equal shares to start, label frequencies
        the alternative; given, the share is the class frequency among the labels).
    max_iter : int, default=1000
    tol : float, default=1e-4

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    label_distributions_ : ndarray of shape (n_samples, n_classes)
    transduction_ : ndarray of shape (n_samples,)
    n_iter_ : int
    X_ : ndarray, the training features (kept to place new samples).
    tuning_ : sslcore.selection.Tuning or None
        What the selection compared and chose (None when every setting was given).

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> X, y = make_moons(200, noise=0.05, random_state=0)
    >>> y_partial = np.full(200, -1); y_partial[:4] = y[:4]
    >>> model = LabelSpreader().fit(X, y_partial)
    >>> float((model.transduction_ == y).mean()) > 0.95
    True
    """

    def __init__(
        self,
        *,
        n_neighbors: int | None = None,
        alpha: float | None = None,
        hard_clamp: bool = False,
        class_mass_normalization: bool | None = None,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ):
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.hard_clamp = hard_clamp
        self.class_mass_normalization = class_mass_normalization
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        """Spread the labels of ``y`` over the graph of ``X``; returns ``self``."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        unlabeled = _unlabeled_mask(y)
        if unlabeled.all():
            raise ValueError("y has no labeled sample; mark unlabeled samples with -1")
        check_classification_targets(y[~unlabeled])
        self.classes_, codes_labeled = np.unique(y[~unlabeled], return_inverse=True)
        codes = np.full(len(y), UNLABELED)
        codes[~unlabeled] = codes_labeled
        n_classes = len(self.classes_)
        self.X_ = X
        config, W, other = self._choose(X, codes, n_classes)
        own, _ = _neighbours_in(X, X, min(config.n_neighbors + 1, len(X)))
        self.neighbour_scale_ = float(np.median(own[:, -1])) if own.size else 1.0
        state = SpreadingState(
            normalized_affinity(W), alpha=config.alpha, hard_clamp=self.hard_clamp
        )
        state.set_targets(targets_from_codes(codes, n_classes), clamped=~unlabeled)
        F = state.solve(tol=self.tol, max_sweeps=self.max_iter)
        self.n_iter_ = state.n_sweeps_
        self.label_distributions_ = distributions(
            F,
            class_mass_normalization=config.class_mass_normalization,
            prior=class_prior(codes[~unlabeled], n_classes, config.class_prior),
        )
        # Samples no label reaches fall back to the most frequent label, not to class 0.
        unreached = np.abs(F).sum(axis=1) == 0
        self.label_distributions_[unreached] = class_prior(codes[~unlabeled], n_classes)
        if other is not None:
            self.label_distributions_ = other(self.label_distributions_)
        self.transduction_ = self.classes_[self.label_distributions_.argmax(axis=1)]
        return self

    def _choose(self, X, codes, n_classes):
        """The spreading settings (given, or chosen by :class:`sslcore.selection.Tuner`),
        their graph, and the blend with another model the selection chose, if any."""
        from .crossfit import LabelSet
        from .selection import SEARCH, SpreadingConfig, Tuner

        given = {
            "n_neighbors": self.n_neighbors,
            "alpha": self.alpha,
            "class_mass_normalization": self.class_mass_normalization,
        }
        start = SpreadingConfig(
            n_neighbors=10 if self.n_neighbors is None else self.n_neighbors,
            alpha=0.99 if self.alpha is None else self.alpha,
            class_mass_normalization=(
                True if self.class_mass_normalization is None else self.class_mass_normalization
            ),
            class_prior="uniform" if self.class_mass_normalization is None else "labels",
        )
        self.tuning_ = None
        if all(v is not None for v in given.values()):
            return start, build_knn_graph(X, n_neighbors=start.n_neighbors), None
        fixed = {k for k, v in given.items() if v is not None}
        if fixed:  # a setting given fixes the graph's metric and weights too
            fixed |= {"metric", "weighting"}
        if "class_mass_normalization" in fixed:  # documented as aiming at label frequencies
            fixed.add("class_prior")
        search = [(k, v) for k, v in SEARCH if k not in fixed]
        tuner = Tuner([_features(X)], default=start, search=search)
        labeled = np.flatnonzero(codes != UNLABELED)
        names = tuple(str(c) for c in self.classes_)
        labels = LabelSet(labeled, codes[labeled], n_classes, names=names)
        self.tuning_ = tuning = tuner.tune(labels)
        config = tuning.choice.spreading
        other = None
        if not fixed and tuning.choice.method != "spreading":
            extra = tuner.other_proba(tuning.choice.other, labels)
            choice = tuning.choice

            def other(spread):
                P = tuner.combine(choice, spread, extra)
                return P / P.sum(axis=1, keepdims=True)

        return config, tuner.graph(config), other

    def predict_proba(self, X):
        """Class distributions for new samples: affinity-weighted mean over their neighbours."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        k = min(10 if self.n_neighbors is None else self.n_neighbors, len(self.X_))
        distances, indices = _neighbours_in(self.X_, X, k)
        scale = self.neighbour_scale_
        weights = np.exp(-((distances / max(scale, 1e-12)) ** 2))
        weights[weights.sum(axis=1) == 0] = 1.0
        proba = np.einsum("nk,nkc->nc", weights, self.label_distributions_[indices])
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each sample in ``X``."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _features(X):
    from .selection import FeatureRepresentation

    return FeatureRepresentation("features", np.asarray(X, dtype=np.float32))


def _unlabeled_mask(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "iuf":
        return y == UNLABELED
    return np.array([v is None or (isinstance(v, int | np.integer) and v == -1) for v in y])


def _neighbours_in(reference: np.ndarray, queries: np.ndarray, k: int):
    if len(reference) <= 1 or k == len(reference):
        d = np.sqrt(((queries[:, None, :] - reference[None, :, :]) ** 2).sum(-1))
        order = np.argsort(d, axis=1)[:, :k]
        return np.take_along_axis(d, order, axis=1), order
    import faiss

    index = faiss.IndexFlatL2(reference.shape[1])
    index.add(np.ascontiguousarray(reference, dtype=np.float32))
    d, i = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.sqrt(np.maximum(d, 0)).astype(np.float64), i


__all__ = [
    "UNLABELED",
    "LabelSpreader",
    "class_prior",
    "SpreadingState",
    "distributions",
    "targets_from_codes",
]
