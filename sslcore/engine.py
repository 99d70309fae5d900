"""The fast incremental path the app uses: one engine per project, refreshed per label.

The engine owns the kNN graph (built once, or passed in from a cache) and the
spreading solution. Each :meth:`Engine.update` turns the current human labels
and rejections into target rows, patches only the rows that changed, and
re-solves starting from the previous round's solution, so recording one label
costs a local relaxation plus a few sweeps rather than a refit.
Class names are arbitrary user strings ("-1", "0" and "unlabeled" included);
they are mapped to integer columns here and nowhere else.

Which item to label next is :class:`sslcore.active.ActiveLearner`'s job; the
suggestions and doubted labels the Review page shows are functions in
:mod:`sslcore.review`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .graph import build_knn_graph, normalized_affinity
from .propagation import UNLABELED, SpreadingState, class_prior, distributions, targets_from_codes

SMALL_WORK = 500_000
"""Above this many (graph entries x classes), an update runs a bounded number of sweeps."""
FLOAT32_MIN_NNZ = SMALL_WORK
"""Graphs with at least this many entries always take the bounded-sweeps path; their
spreading runs in float32 (half the memory traffic per sweep, measured 2x faster at 100k)
on rows renumbered for locality (reverse Cuthill-McKee: ``S @ F`` 4x faster at 1M)."""


@dataclass(frozen=True)
class Predictions:
    """Per-item output of one round, rows in the engine's item order."""

    item_ids: np.ndarray
    classes: list[str]
    proba: np.ndarray
    human: np.ndarray
    self_training: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class name per item (``None`` before any label)."""
        if not self.classes:
            return np.full(len(self.item_ids), None, dtype=object)
        return np.asarray(self.classes, dtype=object)[self.proba.argmax(axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        if not self.classes:
            return np.zeros(len(self.item_ids))
        return self.proba.max(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """``item_id, human, predicted, confidence[, self_training], p:<class>...``.

        Examples
        --------
        >>> engine = Engine(["a", "b", "c"], np.array([[0.0], [0.1], [5.0]]))
        >>> engine.update({"a": "x", "c": "y"}).to_frame()["predicted"].tolist()
        ['x', 'x', 'y']
        """
        frame = pd.DataFrame(
            {
                "item_id": self.item_ids,
                "human": self.human,
                "predicted": self.predicted,
                "confidence": self.confidence,
            }
        )
        if self.self_training is not None:
            frame["self_training"] = self.self_training
        for column, name in enumerate(self.classes):
            frame[f"p:{name}"] = self.proba[:, column]
        return frame


class Engine:
    """Label spreading plus active learning over one fixed set of items.

    Parameters
    ----------
    item_ids : sequence of str
    features : ndarray of shape (n_items, n_features)
    graph : sparse matrix, optional
        A prebuilt symmetric affinity (e.g. from a cache); built from
        ``features`` with :func:`sslcore.graph.build_knn_graph` otherwise.
    n_neighbors : int, default=10
    alpha : float, default=0.99
    hard_clamp : bool, default=False
    class_mass_normalization : bool, default=True
    tol : float, default=1e-4
        Relative residual at which a small graph's solve stops.
    sweeps_per_update : int, default=3
        Global sweeps per update on large graphs, after the local relaxation.
    progress : callable, optional
        ``progress(fraction, message)`` while the graph is built.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> from sslcore.features import featurize
    >>> ds = load_demo("moons")
    >>> engine = Engine(ds.ids, featurize(ds))
    >>> engine.update({"point-0000": "upper", "point-0001": "lower"}).predicted.shape
    (1000,)
    """

    def __init__(
        self,
        item_ids,
        features: np.ndarray,
        *,
        graph: sp.spmatrix | None = None,
        n_neighbors: int = 10,
        alpha: float = 0.99,
        hard_clamp: bool = False,
        class_mass_normalization: bool = True,
        tol: float = 1e-4,
        sweeps_per_update: int = 3,
        progress: Callable[[float, str], None] | None = None,
    ):
        self.item_ids = np.asarray([str(i) for i in item_ids], dtype=object)
        if len(set(self.item_ids)) != len(self.item_ids):
            raise ValueError("item ids must be unique")
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        if len(self.features) != len(self.item_ids):
            raise ValueError(f"{len(self.item_ids)} item ids but {len(self.features)} feature rows")
        if graph is None:
            graph = build_knn_graph(self.features, n_neighbors=n_neighbors, progress=progress)
        self.graph = sp.csr_matrix(graph)
        self.class_mass_normalization = class_mass_normalization
        self.tol = tol
        self.sweeps_per_update = sweeps_per_update
        self._position = {item: p for p, item in enumerate(self.item_ids)}
        large = self.graph.nnz >= FLOAT32_MIN_NNZ
        self._state = SpreadingState(
            normalized_affinity(self.graph),
            alpha=alpha,
            hard_clamp=hard_clamp,
            dtype=np.float32 if large else np.float64,
            reorder=large,
        )
        self.classes: list[str] = []
        self._column: dict[str, int] = {}
        self._codes = np.full(self.n_items, UNLABELED)
        self._rejections: set[tuple[int, int]] = set()
        self._self_training: np.ndarray | None = None
        self._self_training_proba: np.ndarray | None = None
        self.predictions = self._predict()

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def labeled(self) -> np.ndarray:
        return self._codes != UNLABELED

    @property
    def codes(self) -> np.ndarray:
        """Each item's class column (``UNLABELED`` for none), read-only."""
        codes = self._codes.view()
        codes.flags.writeable = False
        return codes

    @property
    def n_classes_labeled(self) -> int:
        return len(set(self._codes[self.labeled].tolist()))

    @property
    def spreading(self) -> SpreadingState:
        """The spreading solution of the latest update (for diagnostics such as
        :func:`sslcore.review.likely_mistakes`)."""
        return self._state

    def position(self, item_id: str) -> int:
        try:
            return self._position[str(item_id)]
        except KeyError:
            raise KeyError(f"unknown item id {item_id!r}") from None

    def update(
        self,
        labels: Mapping[str, str],
        rejections: Iterable[tuple[str, str]] = (),
    ) -> Predictions:
        """Refresh predictions for the current human labels and rejections.

        Parameters
        ----------
        labels : mapping of item id to class name
            Every current human label (not only the new one).
        rejections : iterable of (item id, class name)
            Suggestions a human turned down. The item is never predicted that
            class again, and the rejection pushes that class down around it.

        Returns
        -------
        Predictions
        """
        rejections = [(item, str(name)) for item, name in rejections]
        self._add_classes([str(name) for name in labels.values()] + [n for _, n in rejections])
        codes = np.full(self.n_items, UNLABELED)
        for item, name in labels.items():
            codes[self.position(item)] = self._column[str(name)]
        rejected = {(self.position(item), self._column[name]) for item, name in rejections}
        self._apply_targets(codes, rejected)
        self._solve()
        self._self_training = self._self_training_proba = None
        self.predictions = self._predict()
        return self.predictions

    def _add_classes(self, names: list[str]) -> None:
        """Columns for the names not seen before, in order of first appearance, added in one
        step: one at a time, a project importing 1,000 classes copied its matrices 1,000
        times (92 s of a 97 s first refresh at 20,000 items)."""
        new = [name for name in dict.fromkeys(names) if name not in self._column]
        for name in new:
            self._column[name] = len(self.classes)
            self.classes.append(name)
        if new:
            self._state.add_classes(len(new))

    def _apply_targets(self, codes: np.ndarray, rejected: set[tuple[int, int]]) -> None:
        changed = set(np.flatnonzero(codes != self._codes).tolist())
        changed |= {p for p, _ in rejected ^ self._rejections}
        self._codes, self._rejections = codes, rejected
        if not changed:
            return
        rows = np.array(sorted(changed))
        values = targets_from_codes(codes, len(self.classes), sorted(rejected), rows=rows)
        self._state.change_targets(rows, values)

    def _solve(self) -> None:
        state = self._state
        if not self.classes:
            return
        scale = (1 - state.alpha) * self.tol
        if self.graph.nnz * len(self.classes) <= SMALL_WORK:
            state.solve(tol=self.tol, max_sweeps=5000)
            return
        # Per row, a local step costs ~50x a global sweep (row slicing, sorting indices;
        # measured at 1M), so it only pays while it stays small: at most ~1% of the rows
        # in all. The global sweeps do the rest.
        budget = max(1000, self.n_items // 100)
        state.relax_local(threshold=scale, max_steps=30, max_rows=budget, max_work=budget)
        state.sweep(self.sweeps_per_update)

    def _predict(self) -> Predictions:
        human = np.asarray(self.classes + [None], dtype=object)[self._codes]
        if not self.classes or not self.labeled.any():
            return Predictions(
                self.item_ids, list(self.classes), np.zeros((self.n_items, 0)), human
            )
        prior = class_prior(self._codes[self.labeled], len(self.classes))
        present = np.isin(np.arange(len(self.classes)), self._codes[self.labeled])
        forbidden = sorted(self._rejections)
        P = distributions(
            self._state.solution(),
            class_mass_normalization=self.class_mass_normalization,
            prior=prior,
            forbidden=forbidden,
        )
        # A class whose labels were all undone is not predicted. Rows of P already sum
        # to 1, so only that case, or a row with every class forbidden, needs a fix-up.
        if present.all():
            rows = np.unique(np.asarray([p for p, _ in forbidden], dtype=np.int64))
        else:
            P[:, ~present] = 0.0
            rows = np.arange(self.n_items)
        if rows.size:
            block = P[rows]
            totals = block.sum(axis=1, keepdims=True)
            fallback = np.tile(prior * present, (rows.size, 1))
            P[rows] = np.divide(block, totals, out=fallback, where=totals > 0)
        labeled = np.flatnonzero(self.labeled)
        P[labeled] = 0.0
        P[labeled, self._codes[labeled]] = 1.0
        return Predictions(self.item_ids, list(self.classes), P, human, self._self_training)

    def self_train(self, estimator=None, **params) -> Predictions:
        """Fit self-training on the features and the human labels; adds ``self_training``.

        ``params`` go to :class:`sslcore.selftraining.SelfTrainer`. This fits a
        classifier, so the app runs it on demand, not after every label.
        """
        from .selftraining import SelfTrainer

        if self.n_classes_labeled < 2:
            return self.predictions
        y = self._codes.copy()
        model = SelfTrainer(estimator, **params).fit(self.features, y)
        proba = np.zeros((self.n_items, len(self.classes)))
        proba[:, model.classes_] = model.predict_proba(self.features)
        self._self_training_proba = proba
        self._self_training = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
        self.predictions = self._predict()
        return self.predictions

    def self_training_proba(self) -> np.ndarray | None:
        """Self-training's class probabilities for this round (fitted on first call);
        None before two classes are labeled."""
        if self._self_training is None:
            self.self_train()
        return self._self_training_proba
