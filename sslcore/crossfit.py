"""Cross-fitted predictions: what each labeled item is predicted without its own label.

Calibration, model selection and the likely-mistakes check all need predictions
on labeled items from a model that did not see those items' labels.

Label spreading is linear in its targets, ``F = (1 - alpha) G Y`` with
``G = (I - alpha S)^-1``, so taking labels out subtracts a known term instead of
refitting:

* leave-one-out: ``F_-i[i] = F[i] - (1 - alpha) w_i G_ii y_i``, one column of
  ``G`` per held-out item;
* k-fold, when there are many labels: ``F_-k = F - (1 - alpha) G Y_k``, one
  solve of ``n_classes`` columns per fold.

Both are exact up to the solver's tolerance. The columns are found together by
block conjugate gradients (``I - alpha S`` is symmetric positive definite because
the eigenvalues of the normalized affinity ``S`` lie in [-1, 1]), about
``sqrt((1 + alpha) / (1 - alpha))`` sparse products per digit of accuracy.

Inductive classifiers (logistic regression, optionally with self-training) are
cross-fitted the ordinary way, by refitting on k - 1 folds.

Both also predict each held-out label from models fitted on random halves of
the labels (:func:`half_splits`). Those weaker models get more items wrong, so
their predictions show how the score relates to being right over the whole
range of scores; with uncertainty sampling, the leave-one-out predictions alone
are nearly all right or all on the boundary. The calibration uses both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

LOO_MAX_HELD = 150
"""Up to this many held-out items, spreading is cross-fitted leave-one-out; above, k-fold."""
FOLDS = 10
SPLITS = 10
"""Random halves of the labels each held-out label is also predicted from."""
CHUNK = 64
"""Columns solved at once: bounds memory to ``n_items x CHUNK`` floats."""
SELF_TRAINING_POOL = 2000
"""Self-training pseudo-labels at most this many unlabeled items (a fixed random sample)."""


@dataclass(frozen=True)
class LabelSet:
    """The labels a model is fitted on, in item positions.

    Parameters
    ----------
    positions : ndarray of int, shape (n_labels,)
    codes : ndarray of int, shape (n_labels,)
        Class column of each label.
    n_classes : int
    weights : ndarray of float, optional
        Weight of each label in the fit (1 for a person's label; less for
        labels taken over from the model in bulk). Default: all 1.
    held : ndarray of bool, optional
        Labels whose cross-fitted prediction is wanted: the ones a person gave.
        Labels accepted in bulk are fitted on but never held out, so they are
        never evidence for calibration. Default: all.
    representative : ndarray of bool, optional
        Labels on items that were not picked for being uncertain (cold-start
        picks, random probes, imported or random labels). Only these measure
        how often the model is right on a typical item. Default: all.
    at_random : ndarray of bool, optional
        Labels on items drawn at random (random probes, the random strategy). A held-out
        one whose class has no other label is an item of a class nobody had labeled, which
        no model gets right: these say how often that happens to a typical item. Cold-start
        picks are not drawn at random (they cover the data, one class each by design), nor
        are imported labels (often one example per class). Default: none.
    every_class_labeled : bool, default=False
        The project's classes are known and each has a label: then no item is of a class
        nobody labeled, and a random label whose class has no other says nothing about such
        items.
    names : tuple of str, optional
        Each class code's name, for messages.

    Examples
    --------
    >>> labels = LabelSet(np.array([0, 5]), np.array([1, 0]), 2)
    >>> labels.held_positions.tolist(), labels.counts().tolist()
    ([0, 5], [1.0, 1.0])
    """

    positions: np.ndarray
    codes: np.ndarray
    n_classes: int
    weights: np.ndarray | None = None
    held: np.ndarray | None = None
    representative: np.ndarray | None = None
    at_random: np.ndarray | None = None
    every_class_labeled: bool = False
    names: tuple[str, ...] | None = None

    def __post_init__(self):
        positions = np.asarray(self.positions, dtype=np.int64)
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "codes", np.asarray(self.codes, dtype=np.int64))
        weights = np.ones(len(positions)) if self.weights is None else self.weights
        object.__setattr__(self, "weights", np.asarray(weights, dtype=np.float64))
        held = np.ones(len(positions), bool) if self.held is None else self.held
        object.__setattr__(self, "held", np.asarray(held, dtype=bool))
        fair = np.ones(len(positions), bool) if self.representative is None else self.representative
        object.__setattr__(self, "representative", np.asarray(fair, dtype=bool))
        drawn = np.zeros(len(positions), bool) if self.at_random is None else self.at_random
        object.__setattr__(self, "at_random", np.asarray(drawn, dtype=bool))

    @property
    def held_positions(self) -> np.ndarray:
        return self.positions[self.held]

    @property
    def held_codes(self) -> np.ndarray:
        return self.codes[self.held]

    @property
    def held_representative(self) -> np.ndarray:
        return self.representative[self.held]

    @property
    def held_at_random(self) -> np.ndarray:
        return self.at_random[self.held]

    def counts(self) -> np.ndarray:
        """Weighted number of labels per class."""
        return np.bincount(self.codes, weights=self.weights, minlength=self.n_classes)

    def targets(self, n_items: int) -> np.ndarray:
        """The weighted one-hot target matrix ``Y`` of shape (n_items, n_classes)."""
        Y = np.zeros((n_items, self.n_classes))
        np.add.at(Y, (self.positions, self.codes), self.weights)
        return Y


@dataclass(frozen=True)
class CrossFit:
    """One model's predictions for every item, and cross-fitted ones for held-out labels.

    ``held_out[j]`` is the prediction for the item at ``positions[j]`` (true
    class ``codes[j]``) from the same model fitted without that item's label.
    """

    proba: np.ndarray
    held_out: np.ndarray
    positions: np.ndarray
    codes: np.ndarray
    info: dict = field(default_factory=dict)
    split_rows: np.ndarray | None = None
    """Rows of ``held_out`` predicted again by the half-label models (may repeat)."""
    split_proba: np.ndarray | None = None
    """Those predictions, one per entry of ``split_rows``."""

    def correct(self) -> np.ndarray:
        """Whether each held-out prediction is right."""
        return self.held_out.argmax(axis=1) == self.codes


def solve_spreading(
    S: sp.spmatrix,
    alpha: float,
    B: np.ndarray,
    *,
    x0: np.ndarray | None = None,
    tol: float = 1e-6,
    max_iter: int = 2000,
) -> np.ndarray:
    """Solve ``(I - alpha S) X = B`` for every column of ``B`` by block conjugate gradients.

    Each column has its own step sizes; all share the sparse products. ``tol``
    is the residual relative to each column's right-hand side.

    Examples
    --------
    >>> S = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> solve_spreading(S, 0.5, np.eye(2)).round(4).tolist()
    [[1.3333, 0.6667], [0.6667, 1.3333]]
    """
    B = np.asarray(B, dtype=np.float64)
    X = np.zeros_like(B) if x0 is None else np.array(x0, dtype=np.float64)

    def apply(V):
        return V - alpha * (S @ V)

    R = B - apply(X)
    P = R.copy()
    rs = np.einsum("ij,ij->j", R, R)
    goal = (tol * np.linalg.norm(B, axis=0)) ** 2
    for _ in range(max_iter):
        if np.all(rs <= goal):
            break
        AP = apply(P)
        curvature = np.einsum("ij,ij->j", P, AP)
        step = np.divide(rs, curvature, out=np.zeros_like(rs), where=curvature > 0)
        X += P * step
        R -= AP * step
        rs_next = np.einsum("ij,ij->j", R, R)
        P = R + P * np.divide(rs_next, rs, out=np.zeros_like(rs), where=rs > 0)
        rs = rs_next
    return X


def spreading_crossfit(
    S: sp.spmatrix,
    alpha: float,
    labels: LabelSet,
    *,
    class_mass_normalization: bool = True,
    class_prior: str = "labels",
    rejections: Sequence[tuple[int, int]] = (),
    loo_max_held: int = LOO_MAX_HELD,
    folds: int = FOLDS,
    splits: int = SPLITS,
    seed: int = 0,
    tol: float = 1e-6,
) -> CrossFit:
    """Label spreading on ``S`` for every item, cross-fitted for the held-out labels.

    Parameters
    ----------
    S : sparse matrix, the normalized affinity (:func:`sslcore.graph.normalized_affinity`)
    alpha : float
    labels : LabelSet
    class_mass_normalization : bool, default=True
        As in :func:`sslcore.propagation.distributions`, with the prior
        recomputed without the held-out labels.
    class_prior : {"labels", "uniform"}, default="labels"
        What the normalization aims at (:func:`sslcore.propagation.class_prior`).
    rejections : sequence of (position, class) pairs
        Rejected suggestions: a ``-1`` target, and probability zero for that class.
    loo_max_held : int
        Leave-one-out up to this many held-out labels, ``folds``-fold above.

    Returns
    -------
    CrossFit

    Examples
    --------
    >>> from sslcore.graph import build_knn_graph, normalized_affinity
    >>> X = np.r_[np.zeros((5, 1)), np.ones((5, 1))] + np.arange(10)[:, None] * 0.01
    >>> S = normalized_affinity(build_knn_graph(X, n_neighbors=3))
    >>> fit = spreading_crossfit(S, 0.9, LabelSet(np.array([0, 1, 8, 9]), [0, 0, 1, 1], 2))
    >>> fit.proba.argmax(1).tolist(), fit.correct().tolist()
    ([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [True, True, True, True])
    """
    S = sp.csr_matrix(S, dtype=np.float64)
    n, C = S.shape[0], labels.n_classes
    Y = labels.targets(n)
    for position, code in rejections:
        if Y[position].sum() == 0:
            Y[position, code] = -1.0
    F = (1 - alpha) * solve_spreading(S, alpha, Y, tol=tol)
    mass = np.maximum(F, 0.0).sum(axis=0)
    counts = labels.counts()
    forbidden = np.zeros((n, C), bool)
    for position, code in rejections:
        forbidden[position, code] = True
    uniform = class_prior == "uniform"
    proba = _normalize(F, mass, counts, class_mass_normalization, forbidden, uniform)

    held = np.flatnonzero(labels.held)
    positions, codes = labels.positions[held], labels.codes[held]
    w = labels.weights[held]
    if held.size <= loo_max_held:
        diag, colsum = _own_influence(S, alpha, positions, tol)
        removed_rows = np.zeros((held.size, C))
        removed_rows[np.arange(held.size), codes] = (1 - alpha) * w * diag
        removed_mass = np.zeros((held.size, C))
        removed_mass[np.arange(held.size), codes] = (1 - alpha) * w * colsum
        scheme = "leave-one-out"
    else:
        removed_rows, removed_mass = _fold_influence(
            S, alpha, positions, codes, w, C, folds, seed, tol
        )
        scheme = f"{folds}-fold"
    F_held = F[positions] - removed_rows
    mass_held = mass[None, :] - removed_mass
    removed_counts = np.zeros((held.size, C))
    removed_counts[np.arange(held.size), codes] = w
    if scheme != "leave-one-out":
        removed_counts = _fold_counts(codes, w, C, folds, seed)
    counts_held = np.maximum(counts[None, :] - removed_counts, 0.0)
    held_out = _normalize_rows(
        F_held, mass_held, counts_held, class_mass_normalization, forbidden[positions], uniform
    )
    rows, split_proba = [], []
    for out in half_splits(held.size, splits, seed):
        B = np.zeros((n, C))
        np.add.at(B, (positions[out], codes[out]), w[out])
        Z = (1 - alpha) * solve_spreading(S, alpha, B, tol=tol)
        removed = np.bincount(codes[out], weights=w[out], minlength=C)
        m = out.size
        rows.append(out)
        split_proba.append(
            _normalize_rows(
                F[positions[out]] - Z[positions[out]],
                np.tile(mass - Z.sum(axis=0), (m, 1)),
                np.tile(np.maximum(counts - removed, 0.0), (m, 1)),
                class_mass_normalization,
                forbidden[positions[out]],
                uniform,
            )
        )
    return CrossFit(
        proba, held_out, positions, codes, {"scheme": scheme, "F": F}, *_stack(rows, split_proba, C)
    )


def half_splits(n_held: int, splits: int, seed: int) -> list[np.ndarray]:
    """``splits`` random halves of ``range(n_held)`` (the rows left out of each fit).

    Examples
    --------
    >>> [len(h) for h in half_splits(7, 3, 0)]
    [3, 3, 3]
    """
    if n_held < 4 or splits < 1:
        return []
    rng = np.random.default_rng([seed, n_held])
    return [np.sort(rng.permutation(n_held)[: n_held // 2]) for _ in range(splits)]


def _stack(rows, probas, n_classes):
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, n_classes))
    return np.concatenate(rows), np.vstack(probas)


def _own_influence(S, alpha, positions, tol):
    """``G_ii`` and the column sums of ``G[:, i]`` for each position i."""
    n = S.shape[0]
    diag = np.empty(len(positions))
    colsum = np.empty(len(positions))
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start : start + CHUNK]
        B = np.zeros((n, len(chunk)))
        B[chunk, np.arange(len(chunk))] = 1.0
        G = solve_spreading(S, alpha, B, tol=tol)
        diag[start : start + len(chunk)] = G[chunk, np.arange(len(chunk))]
        colsum[start : start + len(chunk)] = G.sum(axis=0)
    return diag, colsum


def fold_of(n_held: int, folds: int, seed: int) -> np.ndarray:
    """The fold of each of ``n_held`` rows: a seeded shuffle dealt round-robin."""
    order = np.random.default_rng(seed).permutation(n_held)
    fold = np.empty(n_held, np.int64)
    fold[order] = np.arange(n_held) % max(1, min(folds, n_held))
    return fold


def _fold_influence(S, alpha, positions, codes, w, C, folds, seed, tol):
    n = S.shape[0]
    fold = fold_of(len(positions), folds, seed)
    removed_rows = np.zeros((len(positions), C))
    removed_mass = np.zeros((len(positions), C))
    for k in np.unique(fold):
        rows = np.flatnonzero(fold == k)
        B = np.zeros((n, C))
        np.add.at(B, (positions[rows], codes[rows]), w[rows])
        Z = (1 - alpha) * solve_spreading(S, alpha, B, tol=tol)
        removed_rows[rows] = Z[positions[rows]]
        removed_mass[rows] = Z.sum(axis=0)
    return removed_rows, removed_mass


def _fold_counts(codes, w, C, folds, seed):
    fold = fold_of(len(codes), folds, seed)
    out = np.zeros((len(codes), C))
    for k in np.unique(fold):
        rows = fold == k
        out[rows] = np.bincount(codes[rows], weights=w[rows], minlength=C)
    return out


def _normalize(F, mass, counts, cmn, forbidden, uniform=False):
    n = len(F)
    return _normalize_rows(
        F, np.tile(mass, (n, 1)), np.tile(counts, (n, 1)), cmn, forbidden, uniform
    )


def _normalize_rows(F, mass, counts, cmn, forbidden, uniform=False):
    """Row-wise version of :func:`sslcore.propagation.distributions`, where every row may
    have its own class masses and label counts (those of its own held-out fit); the
    prior as :func:`sslcore.propagation.class_prior`, equal shares if ``uniform``."""
    P = np.maximum(F, 0.0)
    present = counts > 0
    if cmn and F.shape[1] > 1:
        prior = np.ones_like(counts) if uniform else counts + 1.0
        prior = prior / prior.sum(axis=1, keepdims=True)
        P = P * np.divide(prior, mass, out=np.zeros_like(mass), where=mass > 0)
    P[~present | forbidden] = 0.0
    totals = P.sum(axis=1, keepdims=True)
    fallback = (present & ~forbidden).astype(float)
    fallback /= np.maximum(fallback.sum(axis=1, keepdims=True), 1.0)
    return np.divide(P, totals, out=fallback, where=totals > 0)


def logistic_proba(
    X: np.ndarray, labels: LabelSet, *, C: float = 1.0, self_training: bool = False, seed: int = 0
) -> np.ndarray:
    """Logistic regression (optionally with self-training) fitted on every label: class
    probabilities for every row of ``X``, columns in ``LabelSet`` class codes.

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 1)), np.ones((5, 1))]
    >>> logistic_proba(X, LabelSet(np.array([0, 9]), [0, 1], 2)).argmax(1).tolist()
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """
    X = np.asarray(X)
    pool = _unlabeled_sample(len(X), labels.positions, seed) if self_training else None
    return _fit_predict(X, labels, np.ones(len(labels.positions), bool), C, pool, X)


def logistic_crossfit(
    X: np.ndarray,
    labels: LabelSet,
    *,
    C: float = 1.0,
    self_training: bool = False,
    folds: int = FOLDS,
    splits: int = SPLITS,
    seed: int = 0,
) -> CrossFit:
    """Logistic regression (optionally with self-training), k-fold cross-fitted.

    With ``self_training``, each fit adds pseudo-labels as scikit-learn's
    ``SelfTrainingClassifier`` does (threshold 0.75, at most 10 rounds) over a
    fixed random sample of at most ``SELF_TRAINING_POOL`` unlabeled items.

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 1)), np.ones((5, 1))]
    >>> fit = logistic_crossfit(X, LabelSet(np.array([0, 1, 8, 9]), [0, 0, 1, 1], 2), folds=2)
    >>> fit.proba.argmax(1).tolist()
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """
    X = np.asarray(X)
    n, n_classes = len(X), labels.n_classes
    pool = _unlabeled_sample(n, labels.positions, seed) if self_training else None
    proba = logistic_proba(X, labels, C=C, self_training=self_training, seed=seed)
    held = np.flatnonzero(labels.held)
    fold = fold_of(held.size, folds, seed)
    held_out = np.zeros((held.size, n_classes))
    for k in np.unique(fold):
        out = held[fold == k]
        train = np.ones(len(labels.positions), bool)
        train[out] = False
        held_out[fold == k] = _fit_predict(X, labels, train, C, pool, X[labels.positions[out]])
    rows, split_proba = [], []
    for out in half_splits(held.size, splits, seed):
        train = np.ones(len(labels.positions), bool)
        train[held[out]] = False
        rows.append(out)
        split_proba.append(_fit_predict(X, labels, train, C, pool, X[labels.positions[held[out]]]))
    name = "self-training" if self_training else "logistic"
    return CrossFit(
        proba, held_out, labels.positions[held], labels.codes[held],
        {"scheme": f"{min(folds, max(held.size, 1))}-fold", "model": name},
        *_stack(rows, split_proba, n_classes),
    )  # fmt: skip


def _unlabeled_sample(n, labeled, seed):
    rest = np.setdiff1d(np.arange(n), labeled)
    if rest.size > SELF_TRAINING_POOL:
        rest = np.sort(np.random.default_rng(seed).choice(rest, SELF_TRAINING_POOL, replace=False))
    return rest


def _fit_predict(X, labels, train, C, pool, X_out):
    from sklearn.linear_model import LogisticRegression

    from .selftraining import SelfTrainer

    n_classes = labels.n_classes
    codes, weights = labels.codes[train], labels.weights[train]
    present = np.unique(codes)
    out = np.zeros((len(X_out), n_classes))
    if present.size == 0:
        return out + 1.0 / n_classes
    if present.size == 1:
        out[:, present[0]] = 1.0
        return out
    base = LogisticRegression(C=C, max_iter=300)
    if pool is None:
        model = base.fit(X[labels.positions[train]], codes, sample_weight=weights)
        out[:, model.classes_] = model.predict_proba(X_out)
        return out
    rows = np.r_[labels.positions[train], pool]
    y = np.r_[codes, np.full(pool.size, -1)]
    model = SelfTrainer(base, threshold=0.75, max_iter=10).fit(X[rows], y)
    out[:, model.classes_] = model.predict_proba(X_out)
    return out


def blend(first: CrossFit, second: CrossFit, weight: float) -> CrossFit:
    """``weight * first + (1 - weight) * second``, row by row, held-out rows included.

    Both must hold out the same labels in the same order.

    Examples
    --------
    >>> a = CrossFit(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([0]), np.array([0]))
    >>> blend(a, a, 0.5).proba.tolist()
    [[1.0, 0.0]]
    """
    if not np.array_equal(first.positions, second.positions):
        raise ValueError("blended cross-fits must hold out the same labels")
    split_proba = None
    if first.split_proba is not None and second.split_proba is not None:
        if not np.array_equal(first.split_rows, second.split_rows):
            raise ValueError("blended cross-fits must use the same half splits")
        split_proba = weight * first.split_proba + (1 - weight) * second.split_proba
    return CrossFit(
        weight * first.proba + (1 - weight) * second.proba,
        weight * first.held_out + (1 - weight) * second.held_out,
        first.positions,
        first.codes,
        {"scheme": first.info.get("scheme"), "model": "blend"},
        first.split_rows if split_proba is not None else None,
        split_proba,
    )
