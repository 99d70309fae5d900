"""The fast incremental path the app uses: one engine per project, refreshed per label.

The engine owns the kNN graph (built once, or passed in from a cache) and the
spreading solution. Each :meth:`Engine.update` turns the current human labels
and rejections into target rows, patches only the rows that changed, and
re-solves starting from the previous round's solution, so recording one label
costs a local relaxation plus a few sweeps rather than a refit.
Class names are arbitrary user strings ("-1", "0" and "unlabeled" included);
they are mapped to integer columns here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .active import Pool, Suggestion, get_strategy
from .graph import build_knn_graph, node_density, normalized_affinity, spectral_embedding
from .propagation import SpreadingState, distributions

DEFAULT_STRATEGY = "margin"
SMALL_WORK = 500_000
"""Above this many (graph entries x classes), an update runs a bounded number of sweeps."""
FLOAT32_MIN_NNZ = SMALL_WORK
"""Graphs with at least this many entries always take the bounded-sweeps path; their
spreading runs in float32 (half the memory traffic per sweep, measured 2x faster at 100k)
on rows renumbered for locality (reverse Cuthill-McKee: ``S @ F`` 4x faster at 1M)."""
QUERY_CANDIDATES_MIN_ITEMS = 50_000
"""From this size, a scored query ranks only its best-scored candidates (ties at the cut kept)."""
QUERY_CANDIDATES = 2_000
SPECTRAL_MAX_ITEMS = 50_000
"""Above this size the cold start clusters the features instead of the spectral embedding."""


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


@dataclass(frozen=True)
class PseudoLabel:
    """A suggested label for an unlabeled item and the human labels behind it."""

    item_id: str
    class_name: str
    confidence: float
    support_ids: tuple[str, ...]


@dataclass(frozen=True)
class LikelyMistake:
    """A human label the model's view of the neighbourhood strongly disagrees with."""

    item_id: str
    given: str
    predicted: str
    confidence: float


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
    cold_start_batch : int, default=10
        Until two classes are labeled, uncertainty strategies hand out the
        items of one cold-start batch of this size (k-means medoids), however
        few are asked for at a time.
    progress : callable, optional
        ``progress(fraction, message)`` while the graph is built.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> from sslcore.features import featurize
    >>> ds = load_demo("moons")
    >>> engine = Engine(ds.ids, featurize(ds))
    >>> first = engine.query("margin", 2, seed=0)
    >>> labels = {s.item_id: ds.content_of(s.item_id)["label"] for s in first}
    >>> engine.update(labels).predicted.shape
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
        cold_start_batch: int = 10,
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
        self.cold_start_batch = cold_start_batch
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
        self._codes = np.full(self.n_items, -1)
        self._rejections: set[tuple[int, int]] = set()
        self._density: np.ndarray | None = None
        self._embedding: np.ndarray | None = None
        self._self_training: np.ndarray | None = None
        self._self_training_proba: np.ndarray | None = None
        self._cold_plan: list[Suggestion] | None = None
        self.predictions = self._predict()

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def labeled(self) -> np.ndarray:
        return self._codes >= 0

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
        codes = np.full(self.n_items, -1)
        for item, name in labels.items():
            codes[self.position(item)] = self._column_of(str(name))
        rejected = {(self.position(item), self._column_of(str(name))) for item, name in rejections}
        self._apply_targets(codes, rejected)
        self._solve()
        self._self_training = self._self_training_proba = None
        self.predictions = self._predict()
        return self.predictions

    def _column_of(self, name: str) -> int:
        if name not in self._column:
            self._column[name] = len(self.classes)
            self.classes.append(name)
            self._state.add_classes(1)
        return self._column[name]

    def _target_row(self, position: int, codes: np.ndarray, rejected) -> np.ndarray:
        row = np.zeros(len(self.classes))
        if codes[position] >= 0:
            row[codes[position]] = 1.0
        else:
            for p, column in rejected:
                if p == position:
                    row[column] = -1.0
        return row

    def _apply_targets(self, codes: np.ndarray, rejected: set[tuple[int, int]]) -> None:
        changed = set(np.flatnonzero(codes != self._codes).tolist())
        changed |= {p for p, _ in rejected ^ self._rejections}
        self._codes, self._rejections = codes, rejected
        if not changed:
            return
        rows = np.array(sorted(changed))
        values = np.stack([self._target_row(p, codes, rejected) for p in rows])
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
        counts = np.bincount(self._codes[self.labeled], minlength=len(self.classes))
        prior = (counts + 1.0) / (counts + 1.0).sum()
        present = counts > 0
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

        if len(set(self._codes[self.labeled])) < 2:
            return self.predictions
        y = np.where(self.labeled, self._codes, -1)
        model = SelfTrainer(estimator, **params).fit(self.features, y)
        proba = np.zeros((self.n_items, len(self.classes)))
        proba[:, model.classes_] = model.predict_proba(self.features)
        self._self_training_proba = proba
        self._self_training = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
        self.predictions = self._predict()
        return self.predictions

    def query(self, strategy: str = DEFAULT_STRATEGY, n: int = 10, *, seed: int = 0):
        """The next ``n`` items to label, as :class:`sslcore.active.Suggestion` s.

        Never returns a labeled item. Raises
        :class:`sslcore.errors.PoolExhaustedError` when every item is labeled.
        Uncertainty strategies start with a cold start (representative picks)
        until two classes are labeled.
        """
        chosen = get_strategy(strategy)
        if chosen.name in _COLD:
            planned = self._planned_cold_start(max(n, self.cold_start_batch), seed)
            if len(planned) >= n:
                return planned[:n]
        return self._query(chosen, n, seed)

    suggest = query

    def _query(self, chosen, n: int, seed: int) -> list[Suggestion]:
        pool = Pool(
            ids=self.item_ids,
            labeled=self.labeled,
            features=self.features,
            proba=self.predictions.proba if self.classes else None,
            n_classes_labeled=self._n_classes_labeled(),
            graph=self.graph,
            density=self._node_density(),
            embedding=self._cold_start_embedding(n) if chosen.name in _COLD else None,
            other_proba=self._other_proba(chosen.name),
            classes=list(self.classes),
        )
        if self.n_items >= QUERY_CANDIDATES_MIN_ITEMS and chosen.name in _SCORED:
            pool = _candidate_pool(chosen, pool, n, seed)
        return chosen.query(pool, n, seed=seed)

    def _n_classes_labeled(self) -> int:
        return len(set(self._codes[self.labeled].tolist()))

    def _planned_cold_start(self, size: int, seed: int) -> list[Suggestion]:
        """The unlabeled items of the first cold start, planned as one batch.

        With fewer than two classes labeled, a batch of ``size`` k-means medoids
        is planned once; it is then handed out until every item of it is
        labeled, however few items are asked for at a time (the Label page asks
        for one). Asking for one item at a time from scratch would give the
        medoid of one cluster and then outliers.
        """
        if self._cold_plan is None and self._n_classes_labeled() < 2:
            self._cold_plan = self._query(get_strategy("cold_start"), size, seed)
        plan = self._cold_plan or []
        return [s for s in plan if not self.labeled[self.position(s.item_id)]]

    def _node_density(self) -> np.ndarray:
        if self._density is None:
            self._density = node_density(self.graph)
        return self._density

    def _cold_start_embedding(self, n: int) -> np.ndarray | None:
        if self.n_items > SPECTRAL_MAX_ITEMS or self.labeled.sum() >= 2 and len(self.classes) > 1:
            return None
        dim = max(2, min(64, 2 * n, self.n_items - 2))
        if self._embedding is None or self._embedding.shape[1] < dim:
            self._embedding = spectral_embedding(self.graph, dim)
        return self._embedding

    def _other_proba(self, name: str) -> np.ndarray | None:
        if name != "disagreement" or not self.classes:
            return None
        if self._self_training is None:
            self.self_train()
        return self._self_training_proba

    def pseudo_labels(
        self, *, per_class: int = 20, min_confidence: float = 0.0, n_support: int = 3
    ) -> list[PseudoLabel]:
        """The most confident predictions for unlabeled items, per class, with their support.

        ``support_ids`` are the human-labeled items of the same class nearest
        the item in feature space: what the Review page shows as "why".
        """
        P = self.predictions
        if not P.classes:
            return []
        unlabeled = ~self.labeled
        predicted = P.proba.argmax(axis=1)
        out = []
        for column, name in enumerate(P.classes):
            candidates = np.flatnonzero(unlabeled & (predicted == column))
            candidates = candidates[P.confidence[candidates] >= min_confidence]
            top = candidates[np.argsort(-P.confidence[candidates], kind="stable")[:per_class]]
            support_pool = np.flatnonzero(self._codes == column)
            for position in top:
                out.append(
                    PseudoLabel(
                        str(self.item_ids[position]),
                        name,
                        float(P.confidence[position]),
                        self._nearest(position, support_pool, n_support),
                    )
                )
        return out

    def _nearest(self, position: int, among: np.ndarray, k: int) -> tuple[str, ...]:
        if among.size == 0:
            return ()
        distance = ((self.features[among] - self.features[position]) ** 2).sum(axis=1)
        return tuple(str(i) for i in self.item_ids[among[np.argsort(distance)[:k]]])

    def likely_mistakes(self, *, min_confidence: float = 0.7) -> list[LikelyMistake]:
        """Human labels that spreading, with the label itself left out, puts in another class.

        a label counts as a likely mistake when another class gets at least
        ``min_confidence`` of it.
        """
        P = self.predictions
        labeled = np.flatnonzero(self.labeled)
        if labeled.size == 0 or len(P.classes) < 2:
            return []
        given = self._codes[labeled]
        # Leave-one-out by linearity: remove each label's own echo from its row of F.
        F = self._state.solution()[labeled].copy()
        F[np.arange(labeled.size), given] -= self._self_influence(labeled)
        counts = np.bincount(given, minlength=len(self.classes))
        prior = (counts + 1.0) / (counts + 1.0).sum()
        votes = distributions(
            F, class_mass_normalization=self.class_mass_normalization, prior=prior
        )
        winner = votes.argmax(axis=1)
        strength = votes.max(axis=1)
        given = self._codes[labeled]
        flagged = np.flatnonzero((winner != given) & (strength >= min_confidence))
        flagged = flagged[np.argsort(-strength[flagged], kind="stable")]
        return [
            LikelyMistake(
                str(self.item_ids[labeled[i]]),
                P.classes[given[i]],
                P.classes[winner[i]],
                float(strength[i]),
            )
            for i in flagged
        ]

    def _self_influence(self, positions: np.ndarray, n_terms: int = 12) -> np.ndarray:
        """``(1 - alpha) [(I - alpha S)^-1]_ii`` for each position, by a truncated series."""
        S, alpha = self._state.S, self._state.alpha
        rows = self._state.rows(positions)  # S may be in the state's internal order
        out = np.empty(len(positions))
        for start in range(0, len(positions), 64):
            chunk = rows[start : start + 64]
            v = np.zeros((self.n_items, len(chunk)))
            v[chunk, np.arange(len(chunk))] = 1.0
            total = np.ones(len(chunk))
            for _ in range(n_terms):
                v = alpha * (S @ v)
                total += v[chunk, np.arange(len(chunk))]
            out[start : start + len(chunk)] = (1 - alpha) * total
        return out


_COLD = {"cold_start", "margin", "least_confidence", "entropy", "density_margin", "disagreement"}
_SCORED = _COLD - {"cold_start"}


def _candidate_pool(chosen, pool: Pool, n: int, seed: int) -> Pool:
    """``pool`` cut down to its best-scored unlabeled items, for a cheap ranking on large pools.

    The strategy then ranks and de-duplicates only these, instead of sorting every
    unlabeled item (a 100k-row lexsort per round). Every item tied with the last
    candidate is kept, so the top-scored set, ties included, is the same as on the
    whole pool; near-duplicate filtering only needs neighbours among candidates.
    Returns ``pool`` unchanged when it would be a cold start or the cut saves nothing.
    """
    if pool.proba is None or pool.n_classes_labeled < 2:
        return pool
    positions = pool.unlabeled_positions()
    wanted = max(QUERY_CANDIDATES, 50 * n)
    if positions.size <= 2 * wanted:
        return pool
    scores = chosen.scores(pool, positions, np.random.default_rng(seed))
    cut = np.partition(scores, positions.size - wanted)[positions.size - wanted]
    keep = positions[scores >= cut]
    if keep.size < n or keep.size > positions.size // 2:
        return pool

    def rows(a):
        return None if a is None else a[keep]

    return Pool(
        ids=pool.ids[keep],
        labeled=np.zeros(keep.size, bool),
        features=pool.features[keep],
        proba=pool.proba[keep],
        n_classes_labeled=pool.n_classes_labeled,
        graph=None if pool.graph is None else pool.graph[keep][:, keep],
        density=rows(pool.density),
        embedding=rows(pool.embedding),
        other_proba=rows(pool.other_proba),
        classes=pool.classes,
    )


def suggestions_frame(suggestions: list[Suggestion]) -> pd.DataFrame:
    """Suggestions as a table with ``item_id, score, reason``.

    Examples
    --------
    >>> suggestions_frame([Suggestion("a", 0.5, "why")]).columns.tolist()
    ['item_id', 'score', 'reason']
    """
    return pd.DataFrame(
        [(s.item_id, s.score, s.reason) for s in suggestions],
        columns=["item_id", "score", "reason"],
    )
