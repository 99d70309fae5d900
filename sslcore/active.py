"""Active-learning strategies: which unlabeled items a human should label next.

Each strategy is a small object with a ``name`` and ``query(pool, n, seed)``
returning :class:`Suggestion` s (dataset-wide item ids, a score, a one-line
reason). Scores come from pure functions (:func:`least_confidence`,
:func:`margin`, :func:`entropy`). Uncertainty strategies fall back to the
cold start while fewer than two classes are labeled, since there is no
uncertainty to measure yet. A batch never holds two graph neighbours when
enough other candidates exist, so it has no near-duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import PoolExhaustedError

QUEUED_REASON = "You queued it from the map."
UNDONE_REASON = "You undid its label."
EARLY_REASON = "Picked at random while the model is being prepared."
PROBE_EVERY = 5
"""After the cold start, every this many labels one is asked about at random (a probe)."""
PROBE_REASON = (
    f"Picked at random (1 label in {PROBE_EVERY}): how often such items are predicted right "
    "keeps the confidence shown honest"
)
"""Why an item is on screen when no strategy chose it."""


@dataclass(frozen=True)
class Suggestion:
    """One item to label next, with why."""

    item_id: str
    score: float
    reason: str


@dataclass
class Pool:
    """What a strategy may look at: ids, which are labeled, and model outputs.

    ``proba`` is ``None`` until at least one label exists. ``embedding`` is
    where the cold start looks for representatives (the spectral embedding of
    the graph, or the features). ``graph`` marks near-duplicates for batches.
    """

    ids: np.ndarray
    labeled: np.ndarray
    features: np.ndarray
    proba: np.ndarray | None = None
    n_classes_labeled: int = 0
    graph: sp.csr_matrix | None = None
    density: np.ndarray | None = None
    embedding: np.ndarray | None = None
    other_proba: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)

    def unlabeled_positions(self) -> np.ndarray:
        return np.flatnonzero(~self.labeled)


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """``1 - max p``: high when the best class is weak.

    Examples
    --------
    >>> least_confidence(np.array([[0.9, 0.1], [0.5, 0.5]])).round(2).tolist()
    [0.1, 0.5]
    """
    return 1.0 - proba.max(axis=1)


def margin(proba: np.ndarray) -> np.ndarray:
    """Best minus second-best probability: *low* means uncertain.

    Examples
    --------
    >>> margin(np.array([[0.9, 0.1], [0.5, 0.5]])).round(2).tolist()
    [0.8, 0.0]
    """
    if proba.shape[1] < 2:
        return np.ones(len(proba))
    top2 = -np.partition(-proba, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats: high means uncertain.

    Examples
    --------
    >>> entropy(np.array([[1.0, 0.0], [0.5, 0.5]])).round(3).tolist()
    [0.0, 0.693]
    """
    p = np.clip(proba, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def disagreement(proba: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence between two models' distributions.

    Examples
    --------
    >>> float(disagreement(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))[0])
    0.0
    """
    mean = (proba + other) / 2
    return entropy(mean) - (entropy(proba) + entropy(other)) / 2


class Strategy:
    """Base class: subclasses define ``name`` and ``scores`` (higher = ask first)."""

    name = "strategy"
    title = "Strategy"
    """How the UI names the strategy: short enough for a sidebar (about 25 characters)."""
    description = ""
    """One line on what it asks first, for the UI's help text."""
    needs_classes = True
    """Whether it needs two labeled classes; until then it hands out the cold start."""

    def __str__(self) -> str:
        return self.name

    def scores(self, pool: Pool, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def reason(self, pool: Pool, position: int, score: float) -> str:
        return f"{self.name} score {score:.3f}"

    def query(self, pool: Pool, n: int, *, seed: int = 0) -> list[Suggestion]:
        """``n`` unlabeled items, best first; raises ``PoolExhaustedError`` if none are left."""
        positions = _check_pool(pool, n)
        n = min(n, positions.size)
        if self.needs_classes and (pool.proba is None or pool.n_classes_labeled < 2):
            return ColdStart().query(pool, n, seed=seed)
        rng = np.random.default_rng(seed)
        scores = self.scores(pool, positions, rng)
        # Ties (common early on) are broken at random, reproducibly for a seed.
        order = np.lexsort((rng.random(positions.size), -scores))
        chosen = _without_near_duplicates(pool, positions[order], n)
        by_position = np.zeros(len(pool.ids))
        by_position[positions] = scores
        return [
            Suggestion(
                str(pool.ids[p]), float(by_position[p]), self.reason(pool, p, by_position[p])
            )
            for p in chosen
        ]


class RandomSampling(Strategy):
    name = "random"
    title = "Random"
    description = "any unlabeled item, as a baseline"
    needs_classes = False

    def scores(self, pool, positions, rng):
        return rng.random(positions.size)

    def reason(self, pool, position, score):
        return "Picked at random (a baseline, unbiased)"


class LeastConfidence(Strategy):
    name = "least_confidence"
    title = "Least confidence"
    description = "items whose best class is weakest"

    def scores(self, pool, positions, rng):
        return least_confidence(pool.proba[positions])

    def reason(self, pool, position, score):
        best = pool.classes[int(pool.proba[position].argmax())]
        return f"The model's best guess, {best!r}, is among its weakest"


class Margin(Strategy):
    name = "margin"
    title = "Margin"
    description = "items with the smallest gap between the two likeliest classes"

    def scores(self, pool, positions, rng):
        return 1.0 - margin(pool.proba[positions])

    def reason(self, pool, position, score):
        return f"Torn between {_top_two_text(pool, position)}"


class Entropy(Strategy):
    name = "entropy"
    title = "Entropy"
    description = "items whose belief is spread over the most classes"

    def scores(self, pool, positions, rng):
        return entropy(pool.proba[positions])

    def reason(self, pool, position, score):
        order = np.argsort(pool.proba[position])[::-1][:3]
        spread = ", ".join(f"{pool.classes[int(c)]!r}" for c in order)
        return f"The model spreads its belief over several classes: {spread}"


class DensityWeightedMargin(Strategy):
    """Margin uncertainty times local density, so outliers are not asked first."""

    name = "density_margin"
    title = "Margin × density"
    description = "the smallest gaps among typical items, not outliers"

    def scores(self, pool, positions, rng):
        density = pool.density if pool.density is not None else np.ones(len(pool.ids))
        return (1.0 - margin(pool.proba[positions])) * density[positions]

    def reason(self, pool, position, score):
        return f"Typical item, yet torn between {_top_two_text(pool, position)}"


class Disagreement(Strategy):
    """Where label spreading and self-training disagree."""

    name = "disagreement"
    title = "Two models disagree"
    description = "items where label spreading and self-training disagree"

    def scores(self, pool, positions, rng):
        if pool.other_proba is None:
            return 1.0 - margin(pool.proba[positions])
        divergence = disagreement(pool.proba[positions], pool.other_proba[positions])
        differs = pool.proba[positions].argmax(1) != pool.other_proba[positions].argmax(1)
        return divergence + differs

    def reason(self, pool, position, score):
        spread = pool.classes[int(pool.proba[position].argmax())]
        if pool.other_proba is None:
            return f"Uncertain: spreading says {spread!r} (no self-training yet)"
        trained = pool.classes[int(pool.other_proba[position].argmax())]
        if spread != trained:
            return f"Spreading says {spread!r}, self-training says {trained!r}"
        return f"Both say {spread!r} but with different confidence"


class ColdStart(Strategy):
    """Representative, diverse picks with no model: medoids of k-means on the embedding.

    With zero labels it runs k-means with ``n`` clusters and returns the item
    nearest each centre; once some items are labeled it adds items farthest
    from everything labeled so far (greedy k-center).
    """

    name = "cold_start"
    title = "Diversity"
    description = "representative items far from everything labeled"
    needs_classes = False

    def query(self, pool: Pool, n: int, *, seed: int = 0) -> list[Suggestion]:
        positions = _check_pool(pool, n)
        n = min(n, positions.size)
        Z = _embedding_for(pool, n)
        if pool.labeled.any():
            chosen, scores = _k_center(Z, pool.labeled, n)
            reason = "Far from everything labeled so far: covers new ground"
        else:
            chosen, scores = _kmeans_medoids(Z, positions, n, seed)
            reason = "Typical of a group of similar items no one has labeled"
        return [
            Suggestion(str(pool.ids[p]), float(s), reason)
            for p, s in zip(chosen, scores, strict=True)
        ]


def _embedding_for(pool: Pool, n: int) -> np.ndarray:
    if pool.embedding is None:
        return pool.features
    # Spectral clustering into n groups wants about 2n eigenvectors (measured on digits).
    return _unit_rows(pool.embedding[:, : max(2, min(pool.embedding.shape[1], 2 * n))])


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(norms > 0, norms, 1.0)


def _kmeans_medoids(Z, positions, n, seed):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    candidates = Z[positions]
    if positions.size > 50_000:
        model = MiniBatchKMeans(n, random_state=seed, n_init=3, batch_size=4096)
    else:
        model = KMeans(n, random_state=seed, n_init=10)
    labels = model.fit_predict(candidates)
    chosen, sizes = [], []
    for cluster in range(n):
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            continue
        distance = ((candidates[members] - model.cluster_centers_[cluster]) ** 2).sum(axis=1)
        chosen.append(int(positions[members[np.argmin(distance)]]))
        sizes.append(members.size / positions.size)
    order = np.argsort(sizes)[::-1]  # biggest groups first
    chosen, sizes = [chosen[i] for i in order], [sizes[i] for i in order]
    leftover = np.setdiff1d(positions, chosen)
    rng = np.random.default_rng(seed)
    extra = rng.choice(leftover, n - len(chosen), replace=False) if len(chosen) < n else []
    return chosen + [int(p) for p in extra], sizes + [0.0] * len(extra)


def _k_center(Z, labeled, n):
    nearest = np.full(len(Z), np.inf)
    for start in range(0, int(labeled.sum()), 1024):
        block = Z[np.flatnonzero(labeled)[start : start + 1024]]
        nearest = np.minimum(nearest, _sq_distances(Z, block).min(axis=1))
    nearest[labeled] = -np.inf
    chosen, scores = [], []
    for _ in range(n):
        p = int(np.argmax(nearest))
        chosen.append(p)
        scores.append(float(np.sqrt(max(nearest[p], 0.0))))
        nearest = np.minimum(nearest, _sq_distances(Z, Z[p : p + 1])[:, 0])
        nearest[chosen] = -np.inf
        nearest[labeled] = -np.inf
    return chosen, scores


def _sq_distances(A, B):
    return np.maximum((A * A).sum(1)[:, None] - 2 * A @ B.T + (B * B).sum(1)[None, :], 0.0)


def _top_two_text(pool: Pool, position: int) -> str:
    """``'9' and '3'``: the two likeliest classes. The reasons name classes, not the model's
    raw scores: those are not probabilities, and the page shows the calibrated chance that
    the guess is right beside the reason (digits, 12 labels: a raw 23% beside 50%)."""
    proba = pool.proba[position]
    order = np.argsort(proba)[::-1]
    second = order[1] if order.size > 1 else order[0]
    return " and ".join(f"{pool.classes[int(c)]!r}" for c in (order[0], second))


def _check_pool(pool: Pool, n: int) -> np.ndarray:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    positions = pool.unlabeled_positions()
    if positions.size == 0:
        raise PoolExhaustedError(
            f"all {len(pool.ids)} items are labeled; there is nothing left to suggest"
        )
    return positions


def _without_near_duplicates(pool: Pool, ranked: np.ndarray, n: int) -> list[int]:
    if pool.graph is None or n == 1:
        return [int(p) for p in ranked[:n]]
    blocked = np.zeros(len(pool.ids), bool)
    chosen, skipped = [], []
    for p in ranked:
        if len(chosen) == n:
            break
        if blocked[p]:
            skipped.append(int(p))
            continue
        chosen.append(int(p))
        row = pool.graph.indices[pool.graph.indptr[p] : pool.graph.indptr[p + 1]]
        blocked[row] = True
    return chosen + skipped[: n - len(chosen)]


STRATEGY_CLASSES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        RandomSampling,
        LeastConfidence,
        Margin,
        Entropy,
        DensityWeightedMargin,
        Disagreement,
        ColdStart,
    )
}
STRATEGIES = tuple(STRATEGY_CLASSES)
"""Names accepted wherever a strategy is chosen by name."""
DEFAULT_STRATEGY = Margin.name


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``.

    Examples
    --------
    >>> str(get_strategy("margin"))
    'margin'
    """
    try:
        return STRATEGY_CLASSES[name]()
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None


QUERY_CANDIDATES_MIN_ITEMS = 50_000
"""From this size, a scored query ranks only its best-scored candidates (ties at the cut kept)."""
QUERY_CANDIDATES = 2_000
SPECTRAL_MAX_ITEMS = 50_000
"""Above this size the cold start clusters the features instead of the spectral embedding."""


class ActiveLearner:
    """Picks the next items to label from an :class:`~sslcore.engine.Engine`'s current round.

    Parameters
    ----------
    engine : Engine
        The items, the graph, and the predictions of the latest update.
    cold_start_batch : int, default=10
        Until two classes are labeled, strategies that need classes hand out
        the items of one cold-start batch of this size (k-means medoids),
        however few are asked for at a time.
    embedding : ndarray, optional
        A spectral embedding of ``engine.graph`` computed before (it depends
        only on the graph, so runs on the same graph can share it); computed
        on first need otherwise, and kept in ``self.embedding``.
    probe_every : int or None, default=PROBE_EVERY
        Strategies that pick by the model's doubt hand out a random item as every
        ``probe_every``-th label (0 or None: never). Their labels are a fair sample of
        the items, which the labels picked for doubt are not: without them the
        calibration sees only the model's hardest cases and shows confidences far
        below how often it is right (docs/benchmarks.md).

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> from sslcore.engine import Engine
    >>> from sslcore.features import featurize
    >>> ds = load_demo("moons")
    >>> learner = ActiveLearner(Engine(ds.ids, featurize(ds)))
    >>> [s.reason for s in learner.query("margin", 2, seed=0)][0]
    'Typical of a group of similar items no one has labeled'
    """

    def __init__(
        self,
        engine,
        *,
        cold_start_batch: int = 10,
        embedding: np.ndarray | None = None,
        probe_every: int | None = PROBE_EVERY,
    ):
        self.engine = engine
        self.probe_every = probe_every
        self.cold_start_batch = cold_start_batch
        self.embedding = embedding
        self._density: np.ndarray | None = None
        self._cold_plan: list[Suggestion] | None = None

    def query(
        self, strategy: str = DEFAULT_STRATEGY, n: int = 10, *, seed: int = 0
    ) -> list[Suggestion]:
        """The next ``n`` items to label, best first.

        Never returns a labeled item. Raises
        :class:`sslcore.errors.PoolExhaustedError` when every item is labeled.
        Strategies that need classes start with the planned cold start until
        two classes are labeled.
        """
        chosen = get_strategy(strategy)
        if chosen.needs_classes or chosen.name == ColdStart.name:
            planned = self._planned_cold_start(max(n, self.cold_start_batch), seed)
            if len(planned) >= n:
                return [self._planned_reason(s, len(planned)) for s in planned[:n]]
        return self._query(chosen, n, seed)

    def _planned_reason(self, suggestion: Suggestion, left: int) -> Suggestion:
        """Once labels exist, a planned item is no longer from a group 'no one has labeled':
        say what it is."""
        if not self.engine.labeled.any():
            return suggestion
        size = len(self._cold_plan or ())
        reason = (
            f"Typical of one of {size} groups picked at the start to cover the data; "
            f"{left} of them left before the model's doubts choose"
        )
        return replace(suggestion, reason=reason)

    def _query(self, chosen: Strategy, n: int, seed: int) -> list[Suggestion]:
        engine = self.engine
        cold = chosen.needs_classes or chosen.name == ColdStart.name
        pool = Pool(
            ids=engine.item_ids,
            labeled=engine.labeled,
            features=engine.features,
            proba=_ranking_proba(engine.predictions) if engine.classes else None,
            n_classes_labeled=engine.n_classes_labeled,
            graph=engine.graph,
            density=self._node_density(),
            embedding=self._cold_start_embedding(n) if cold else None,
            other_proba=self._other_proba(chosen.name),
            classes=list(engine.classes),
        )
        if engine.n_items >= QUERY_CANDIDATES_MIN_ITEMS and chosen.needs_classes:
            pool = _candidate_pool(chosen, pool, n, seed)
        picks = chosen.query(pool, n, seed=seed)
        probes = self._probes(picks, seed) if chosen.needs_classes else {}
        picks = [
            Suggestion(engine.item_ids[probes[i]], 0.0, PROBE_REASON) if i in probes else pick
            for i, pick in enumerate(picks)
        ]
        positions = np.array([engine.position(s.item_id) for s in picks], dtype=int)
        marks = getattr(engine, "picked_as_uncertain", None)
        if chosen.needs_classes and marks is not None:
            # Labels of items picked for the model's doubt are its hardest cases, not a fair
            # sample: the calibration must not read them as typical (sslcore.calibration).
            marks[positions] = [i not in probes for i in range(len(picks))]
        drawn = getattr(engine, "picked_at_random", None)
        if drawn is not None:
            drawn[positions] = [
                i in probes or chosen.name == RandomSampling.name for i in range(len(picks))
            ]
        return picks

    def _probes(self, picks: list[Suggestion], seed: int) -> dict[int, int]:
        """Which slots of a batch become random probes, and their item positions: the
        slots whose label would be a multiple of ``probe_every`` counting every label."""
        engine, every = self.engine, self.probe_every
        done = int(engine.labeled.sum())
        slots = [i for i in range(len(picks)) if every and (done + i + 1) % every == 0]
        if not slots:
            return {}
        taken = {engine.position(s.item_id) for s in picks}
        free = np.setdiff1d(np.flatnonzero(~engine.labeled), list(taken))
        rng = np.random.default_rng([seed, done])
        chosen = rng.choice(free, min(len(slots), free.size), replace=False)
        return dict(zip(slots, chosen.tolist(), strict=False))

    def _planned_cold_start(self, size: int, seed: int) -> list[Suggestion]:
        """The unlabeled items of the first cold start, planned as one batch.

        With fewer than two classes labeled, a batch of ``size`` k-means medoids
        is planned once; it is then handed out until every item of it is
        labeled, however few items are asked for at a time (the Label page asks
        for one). Asking for one item at a time from scratch would give the
        medoid of one cluster and then outliers.
        """
        engine = self.engine
        if self._cold_plan is None and engine.n_classes_labeled < 2:
            self._cold_plan = self._query(ColdStart(), size, seed)
        plan = self._cold_plan or []
        return [s for s in plan if not engine.labeled[engine.position(s.item_id)]]

    def _node_density(self) -> np.ndarray:
        if self._density is None:
            from .graph import node_density

            self._density = node_density(self.engine.graph)
        return self._density

    def _cold_start_embedding(self, n: int) -> np.ndarray | None:
        engine = self.engine
        labeled_enough = engine.labeled.sum() >= 2 and len(engine.classes) > 1
        if engine.n_items > SPECTRAL_MAX_ITEMS or labeled_enough:
            return None
        dim = max(2, min(64, 2 * n, engine.n_items - 2))
        if self.embedding is None or self.embedding.shape[1] < dim:
            from .graph import spectral_embedding

            self.embedding = spectral_embedding(engine.graph, dim)
        return self.embedding

    def _other_proba(self, name: str) -> np.ndarray | None:
        if name != Disagreement.name or not self.engine.classes:
            return None
        return self.engine.self_training_proba()


def _ranking_proba(predictions) -> np.ndarray:
    # Strategies rank by the model's own scores; calibration only rescales them.
    return predictions.proba if predictions.raw is None else predictions.raw


def _candidate_pool(chosen: Strategy, pool: Pool, n: int, seed: int) -> Pool:
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
