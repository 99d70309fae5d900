"""Self-tuning: choose each project's model from its own labels.

Nothing here is tuned on a demo. Every choice is made per project by one
score, computed on cross-fitted predictions of the labels people gave
(:mod:`sslcore.crossfit`): for each held-out label, 1 if the model gets it
right plus 0.01 times the log-probability it gives the true class (a tie-break
that prefers honest probabilities). Held-out labels whose class has no other
label are left out of the score, since no model can predict a class it has
never seen.

The search starts from a default that did best on average over the benchmark suite
(docs/benchmarks.md; Euclidean kNN graph with 10 neighbours and self-tuning weights,
alpha = 0.9, class-mass normalization), on the features the model spreads on now (with
more neighbours if 10 leave the graph in pieces, :meth:`Tuner.holding_together`), and
moves one setting at a time (features, alpha, neighbours, metric, edge weights,
class-mass normalization) only when the move gets more held-out labels right, by more
than one standard error of the paired per-label differences; with a handful of labels,
noise alone would otherwise pick a different model every round. It then compares methods
the same way: the spreading it found, logistic regression, logistic regression with
self-training, any other representation, and blends of the spreading with each of those.

A candidate that gives some class far fewer of the items than the fairly picked labels
make plausible is never chosen (:func:`scarce_class`): labels picked for being uncertain
sit where the model hesitates, and there a model calling nearly everything the majority
class can get more of them right than a better one (SMS spam at 100 labels: 82% of the
held-out labels against 67%, while calling 0.6% of the messages spam: 87% of them right
against 96%).

Representations: where a candidate can come from
------------------------------------------------
A :class:`Tuner` takes a list of representations. Two kinds exist:

* :class:`FeatureRepresentation` ``(name, X)``: a feature matrix. It yields
  graph-spreading candidates (kNN graphs built from ``X``) and inductive
  candidates (logistic regression and self-training fitted on ``X``). Text
  embeddings (e.g. MiniLM) or deep image embeddings plug in here.
* :class:`ProbabilityRepresentation` ``(name, crossfit)``: a source of class
  probabilities, such as a deep model's predictions. ``crossfit`` is a
  callable taking a :class:`sslcore.crossfit.LabelSet` and returning a
  :class:`sslcore.crossfit.CrossFit`: probabilities for every item, and for
  each held-out label a prediction made without that label. A model that never
  saw the labels (zero-shot) may return its own rows as ``held_out``;
  :meth:`ProbabilityRepresentation.fixed` builds such a source from a matrix.
  Columns must follow ``LabelSet`` class codes.

Each candidate ends up as a ``CrossFit`` and is scored the same way, so a new
representation needs no change here. The first feature representation is the
one the engine spreads on.

Cost: spreading is cross-fitted exactly with one linear solve per held-out
label (block conjugate gradients); on the 1,797 digits with 50 labels a whole
search takes a few seconds. The engine runs it inline on small projects and
leaves it to a background thread on large ones (:meth:`sslcore.engine.Engine.tune`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.stats import beta

from .calibration import Calibrator, fit_temperature, temper
from .crossfit import (
    CrossFit,
    LabelSet,
    blend,
    logistic_crossfit,
    logistic_proba,
    spreading_crossfit,
)
from .graph import affinity_from_neighbours, knn_search, normalized_affinity, unit_rows
from .propagation import CLASS_PRIORS

SEARCH = (
    ("representation", ()),
    ("alpha", (0.5, 0.9, 0.99)),
    ("n_neighbors", (5, 10, 20, 40)),
    ("metric", ("euclidean", "cosine")),
    ("weighting", ("self_tuning", "gaussian", "binary")),
    ("class_mass_normalization", (True, False)),
    ("class_prior", CLASS_PRIORS),
)
"""The spreading settings searched, one at a time, in this order. ``representation``
comes first and its values are the tuner's feature representations: which distances
the graph is built on matters more than any setting of the graph."""
BLEND_WEIGHTS = (0.25, 0.5, 0.75)
"""Weights of the spreading model in a blend with another model."""
SE_MARGIN = 1.0
"""A move must win by this many standard errors of the paired differences."""
MIN_EVIDENCE = 4
"""Below this many informative held-out labels, keep the default."""
LOGISTIC_C = 1.0
SELF_TRAINING_GAP = 0.1
"""Self-training is tried only when plain logistic regression scores within this of the best."""
SHARE_LEVEL = 0.01
"""A candidate predicting some class on fewer items than this one-sided bound allows, given
the fairly picked labels, cannot be chosen (:func:`scarce_class`)."""
MIN_FAIR = 10
"""Fairly picked held-out labels needed before class shares are checked."""
HOLDS_TOGETHER = 0.99
"""A graph holds together when one connected part has this share of the items
(:meth:`Tuner.holding_together`)."""


@dataclass(frozen=True)
class SpreadingConfig:
    """One graph-spreading model: which graph, and how labels spread over it."""

    representation: str = "features"
    metric: str = "euclidean"
    n_neighbors: int = 10
    weighting: str = "self_tuning"
    alpha: float = 0.9
    class_mass_normalization: bool = True
    class_prior: str = "uniform"
    """What class-mass normalization aims at (:data:`sslcore.propagation.CLASS_PRIORS`).
    Equal shares to start: labels picked to cover the data or where the model was unsure
    say little about class sizes (suite, 2 seeds: 24 -> 15 of 88 points more than half a
    point below the best peer, 2.3 points more accurate on average; the selection moves
    to label frequencies when held-out labels favour them)."""

    @property
    def graph_key(self) -> tuple:
        return (self.representation, self.metric, self.n_neighbors, self.weighting)

    def describe(self) -> str:
        cmn = "no class-mass norm."
        if self.class_mass_normalization:
            aim = "equal shares" if self.class_prior == "uniform" else "label frequencies"
            cmn = f"class-mass normalized to {aim}"
        return (
            f"spreading on {self.representation}: {self.metric}, k={self.n_neighbors}, "
            f"{self.weighting} weights, alpha={self.alpha:g}, {cmn}"
        )


DEFAULT_SPREADING = SpreadingConfig()


@dataclass(frozen=True)
class ModelChoice:
    """The method the engine predicts with: spreading, another model, or a blend of both.

    ``other`` names the non-spreading model (``"logistic:<rep>"``,
    ``"self-training:<rep>"`` or ``"proba:<rep>"``); ``weight`` is the share of
    the spreading model (1 = spreading alone, 0 = the other model alone).
    ``temperatures`` put both on one scale before blending.
    """

    spreading: SpreadingConfig = DEFAULT_SPREADING
    other: str | None = None
    weight: float = 1.0
    temperatures: tuple[float, float] = (1.0, 1.0)

    @property
    def method(self) -> str:
        if self.other is None or self.weight >= 1.0:
            return "spreading"
        if self.weight <= 0.0:
            return self.other.split(":")[0]
        return "blend"

    def describe(self) -> str:
        if self.method == "spreading":
            return self.spreading.describe()
        if self.weight <= 0.0:
            return self.other
        return f"blend: {self.weight:.0%} {self.spreading.describe()} + {self.other}"


@dataclass
class FeatureRepresentation:
    """A feature matrix the selection may build graphs and classifiers on."""

    name: str
    features: np.ndarray


@dataclass
class ProbabilityRepresentation:
    """A source of class probabilities: ``crossfit(labels) -> CrossFit``."""

    name: str
    crossfit: Callable[[LabelSet], CrossFit]

    @classmethod
    def fixed(cls, name: str, proba: np.ndarray) -> ProbabilityRepresentation:
        """A model that never saw the labels: its rows are already held out.

        Examples
        --------
        >>> rep = ProbabilityRepresentation.fixed("zero-shot", np.eye(3))
        >>> rep.crossfit(LabelSet(np.array([0, 2]), np.array([0, 2]), 3)).correct().tolist()
        [True, True]
        """
        proba = np.asarray(proba, dtype=float)

        def crossfit(labels: LabelSet) -> CrossFit:
            P = np.zeros((len(proba), labels.n_classes))
            width = min(labels.n_classes, proba.shape[1])
            P[:, :width] = proba[:, :width]
            totals = P.sum(axis=1, keepdims=True)
            P = np.divide(P, totals, out=np.full_like(P, 1.0 / labels.n_classes),
                          where=totals > 0)  # fmt: skip
            held = labels.held_positions
            return CrossFit(P, P[held], held, labels.held_codes, {"scheme": "fixed"})

        return cls(name, crossfit)


@dataclass(frozen=True)
class CandidateScore:
    """One candidate the selection scored."""

    stage: str
    name: str
    score: float
    accuracy: float
    log_loss: float
    n_evidence: int
    seconds: float
    chosen: bool = False

    @classmethod
    def skipped(cls, stage: str, name: str) -> CandidateScore:
        """A candidate ruled out before scoring; ``name`` says why."""
        return cls(stage, name, np.nan, np.nan, np.nan, 0, 0.0)


@dataclass
class Tuning:
    """The outcome of a selection: the model, its calibrator and what was compared."""

    choice: ModelChoice
    calibrator: Calibrator
    crossfit: CrossFit
    """Cross-fitted predictions of the chosen method (uncalibrated), for likely mistakes."""
    spreading: CrossFit
    """The chosen spreading model's own cross-fit; ``spreading.info['F']`` warm-starts it."""
    candidates: list[CandidateScore] = field(default_factory=list)
    n_labels: int = 0
    n_held: int = 0
    n_evidence: int = 0
    seconds: float = 0.0

    def table(self) -> pd.DataFrame:
        """Every candidate scored: stage, name, score, held-out accuracy and log-loss.

        Examples
        --------
        >>> Tuning(ModelChoice(), Calibrator(), None, None).table().columns.tolist()[:3]
        ['stage', 'name', 'score']
        """
        columns = ["stage", "name", "score", "accuracy", "log_loss", "n_evidence", "seconds",
                   "chosen"]  # fmt: skip
        return pd.DataFrame([c.__dict__ for c in self.candidates], columns=columns)


def informative(labels: LabelSet) -> np.ndarray:
    """Held-out labels whose class has at least one other label (fitted without them,
    a model can still predict their class).

    Examples
    --------
    >>> informative(LabelSet(np.arange(3), np.array([0, 0, 1]), 2)).tolist()
    [True, True, False]
    """
    counts = np.bincount(labels.codes, minlength=labels.n_classes)
    return counts[labels.held_codes] >= 2


def row_scores(held_out: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per held-out label: 1 if right, plus 0.01 x log-probability of the true class.

    Examples
    --------
    >>> row_scores(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1])).round(3).tolist()
    [0.999, -0.023]
    """
    p_true = np.clip(held_out[np.arange(len(codes)), codes], 1e-3, 1.0)
    return (held_out.argmax(axis=1) == codes) + 0.01 * np.log(p_true)


def hits(held_out: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per held-out label, 1.0 if the model gets it right. Moves are decided on these
    alone: once every held-out label is right, the log-loss tie-break of
    :func:`row_scores` keeps preferring the sharpest model, a move no held-out label
    supports (on moons with 30 random labels it chose alpha = 0.5 without class-mass
    normalization: 97.0% on the rest, against 97.4% for the default).

    Examples
    --------
    >>> hits(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1])).tolist()
    [1.0, 0.0]
    """
    return (held_out.argmax(axis=1) == codes).astype(float)


def beats(challenger: np.ndarray, incumbent: np.ndarray, margin: float = SE_MARGIN) -> float:
    """How far ``challenger``'s per-row scores beat ``incumbent``'s: the mean paired
    difference minus ``margin`` standard errors (positive means switch).

    Examples
    --------
    >>> beats(np.ones(10), np.zeros(10)) > 0, beats(np.ones(10), np.ones(10)) > 0
    (True, False)
    """
    diff = challenger - incumbent
    if diff.size < 2:
        return -np.inf
    return float(diff.mean() - margin * diff.std(ddof=1) / np.sqrt(diff.size))


class Tuner:
    """Chooses and refits the model for one set of items; caches kNN searches.

    Parameters
    ----------
    representations : list of FeatureRepresentation or ProbabilityRepresentation
        The first one must be a feature representation: the engine spreads on it.
    default : SpreadingConfig
    graphs : dict, optional
        Prebuilt affinity graphs by :attr:`SpreadingConfig.graph_key` (e.g. the
        engine's cached graph for the default), to avoid building them again.
    search : sequence of (setting, values), default=SEARCH

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(300, centers=3, random_state=0)
    >>> tuner = Tuner([FeatureRepresentation("features", X)])
    >>> labels = LabelSet(np.arange(0, 300, 10), y[::10], 3)
    >>> tuning = tuner.tune(labels)
    >>> tuning.choice.method in {"spreading", "logistic", "self-training", "blend"}
    True
    """

    def __init__(self, representations: Sequence, *, default=DEFAULT_SPREADING, graphs=None,
                 search=SEARCH):  # fmt: skip
        if not representations or not isinstance(representations[0], FeatureRepresentation):
            raise ValueError("the first representation must be a FeatureRepresentation")
        self.representations = {r.name: r for r in representations}
        self.primary = representations[0].name
        self.default = replace(default, representation=self.primary)
        self.search = search
        self._graphs: dict[tuple, sp.csr_matrix] = dict(graphs or {})
        self._neighbours: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._parts: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def n_items(self) -> int:
        return len(self.representations[self.primary].features)

    @property
    def feature_names(self) -> list[str]:
        """The feature representations' names, the one the engine spreads on first."""
        return [n for n, r in self.representations.items() if isinstance(r, FeatureRepresentation)]

    def add(self, representation) -> None:
        """Offer one more representation to the next :meth:`tune` (e.g. embeddings that
        were computed in the background after the engine started)."""
        if isinstance(representation, FeatureRepresentation):
            if len(representation.features) != self.n_items:
                raise ValueError(f"{representation.name}: needs one row per item")
        # A new dict, not an update: a tune running in another thread keeps iterating
        # the one it started with.
        self.representations = {**self.representations, representation.name: representation}

    # graphs ---------------------------------------------------------------

    def graph(self, config: SpreadingConfig) -> sp.csr_matrix:
        """The symmetric affinity (not normalized) for ``config``, built once."""
        key = config.graph_key
        with self._lock:
            if key in self._graphs:
                return self._graphs[key]
        distances, indices = self._search(config)
        W = affinity_from_neighbours(
            distances, indices, n_neighbors=config.n_neighbors, weighting=config.weighting
        )
        with self._lock:
            self._graphs[key] = W
        return W

    def _search(self, config: SpreadingConfig):
        key = (config.representation, config.metric)
        wanted = max(config.n_neighbors, max(dict(self.search).get("n_neighbors", (10,))))
        with self._lock:
            found = self._neighbours.get(key)
        if found is None or found[0].shape[1] < min(wanted, self.n_items - 1):
            X = self.representations[config.representation].features
            points = unit_rows(X) if config.metric == "cosine" else X
            found = knn_search(points, wanted)
            with self._lock:
                self._neighbours[key] = found
        return found

    def unreached(self, config: SpreadingConfig, positions: np.ndarray) -> float:
        """Share of the items in parts of ``config``'s graph that hold no label: spreading
        cannot predict them, and no held-out label can show it (on the tickets demo a
        5-neighbour TF-IDF graph falls into 48 parts; 10 labels reached 19% of the items).

        Examples
        --------
        >>> X = np.r_[np.zeros((5, 2)), np.full((5, 2), 10.0)]
        >>> tuner = Tuner([FeatureRepresentation("features", X)])
        >>> tuner.unreached(SpreadingConfig(n_neighbors=3), np.array([0]))
        0.5
        """
        parts = self.parts(config)
        return float(1.0 - np.isin(parts, parts[positions]).mean())

    def parts(self, config: SpreadingConfig) -> np.ndarray:
        """The connected part of ``config``'s graph each item is in, found once."""
        key = config.graph_key
        with self._lock:
            parts = self._parts.get(key)
        if parts is None:
            parts = connected_components(self.graph(config), directed=False)[1]
            with self._lock:
                self._parts[key] = parts
        return parts

    def holding_together(self, config: SpreadingConfig) -> SpreadingConfig:
        """``config`` with the fewest neighbours, its own or a larger searched number, whose
        graph keeps :data:`HOLDS_TOGETHER` of the items in one part; ``config`` itself if
        none does.

        The search starts on such a graph and tries each representation on one: a graph in
        pieces leaves each piece to the labels that fell in it, which no held-out label can
        show. On every suite dataset the 10-neighbour graph holds together already, or no
        searched number joins it (six separate clusters). On the tickets demo
        TF-IDF+MiniLM with 10 neighbours falls into two parts (100 of the 480 tickets
        alone), with 20 into one: from zero labels 86.0% right at 10 labels, against 90.2%
        when the selection tries it with 20 (docs/benchmarks.md).

        Examples
        --------
        >>> X = np.r_[np.zeros((5, 2)), np.full((5, 2), 10.0)]
        >>> tuner = Tuner([FeatureRepresentation("features", X)])
        >>> tuner.holding_together(SpreadingConfig(n_neighbors=3)).n_neighbors
        5
        """
        larger = [k for k in dict(self.search).get("n_neighbors", ()) if k > config.n_neighbors]
        for k in (config.n_neighbors, *larger):
            if k >= self.n_items:
                break
            option = replace(config, n_neighbors=k)
            if np.bincount(self.parts(option)).max() >= HOLDS_TOGETHER * self.n_items:
                return option
        return config

    def affinity(self, config: SpreadingConfig) -> sp.csr_matrix:
        return normalized_affinity(self.graph(config)).astype(np.float64)

    # fitting --------------------------------------------------------------

    def spreading(self, config, labels, rejections=()) -> CrossFit:
        fit = spreading_crossfit(
            self.affinity(config), config.alpha, labels,
            class_mass_normalization=config.class_mass_normalization,
            class_prior=config.class_prior, rejections=rejections,
        )  # fmt: skip
        fit.info["config"] = config
        return fit

    def other(self, name: str, labels: LabelSet, seed: int = 0) -> CrossFit:
        """The cross-fit of a non-spreading model named like ``ModelChoice.other``."""
        kind, rep = name.split(":", 1)
        source = self.representations[rep]
        if kind == "proba":
            return source.crossfit(labels)
        return logistic_crossfit(
            source.features, labels, C=LOGISTIC_C, self_training=kind == "self-training",
            seed=seed,
        )  # fmt: skip

    def other_proba(self, name: str, labels: LabelSet) -> np.ndarray:
        """A non-spreading model's probabilities for every item, fitted on every label."""
        kind, rep = name.split(":", 1)
        source = self.representations[rep]
        if kind == "proba":
            return source.crossfit(labels).proba
        return logistic_proba(
            source.features, labels, C=LOGISTIC_C, self_training=kind == "self-training"
        )

    def combine(self, choice: ModelChoice, spread_proba, other_proba=None) -> np.ndarray:
        """The chosen method's distribution from its parts."""
        if choice.method == "spreading" or other_proba is None:
            return spread_proba
        t_spread, t_other = choice.temperatures
        return choice.weight * temper(spread_proba, t_spread) + (1 - choice.weight) * temper(
            other_proba, t_other
        )

    # selection ------------------------------------------------------------

    def tune(
        self,
        labels: LabelSet,
        rejections: Sequence[tuple[int, int]] = (),
        *,
        decisions: tuple[Sequence[float], Sequence[bool]] | None = None,
        seed: int = 0,
        in_use: str | None = None,
    ) -> Tuning:
        """Choose the model for ``labels``, fit its calibrator; returns a :class:`Tuning`.

        ``in_use`` names the feature representation the model spreads on now: the search
        starts from it, so going back to the first one takes the same evidence as leaving
        it did.

        Runs only on arrays it is given and on this tuner's caches, so it may
        run in a background thread while the engine keeps serving rounds.
        """
        started = time.perf_counter()
        evidence = informative(labels)
        # Every informative held-out label scores the candidates, those uncertainty sampling
        # picked included: scoring on the fair sample alone (the cold start's ten on digits)
        # let noise move the model, measured 1.4 points worse on digits at 30 labels.
        useful = evidence
        candidates: list[CandidateScore] = []
        best = self.default
        if in_use in self.feature_names:
            best = replace(best, representation=in_use)
        best = self.holding_together(best)
        best_fit = self._scored(candidates, "default", best, labels, rejections, useful)
        if useful.sum() >= MIN_EVIDENCE:
            best, best_fit = self._search_spreading(
                best, best_fit, labels, rejections, useful, candidates
            )
        choice = ModelChoice(best)
        chosen_fit = best_fit
        if useful.sum() >= MIN_EVIDENCE and len(np.unique(labels.codes)) >= 2:
            choice, chosen_fit = self._choose_method(
                choice, best_fit, labels, useful, candidates, seed
            )
        # Labels drawn at random whose class has no other label calibrate too: they are how
        # often an item's class is one nobody labeled (random 10 labels of 25 classes: 24%
        # right, 50% shown without them; sslcore.crossfit.LabelSet.at_random), unless every
        # class the project has is labeled.
        unseen = labels.held_at_random & (not labels.every_class_labeled)
        calibrator = fit_calibrator(chosen_fit, evidence | unseen, labels.held_representative)
        if decisions is not None and len(decisions[0]):
            calibrator.with_decisions(*decisions)
        chosen_name = _name(choice)
        candidates = [replace(c, chosen=c.name == chosen_name) for c in candidates]
        return Tuning(
            choice, calibrator, chosen_fit, best_fit, candidates,
            n_labels=len(labels.positions), n_held=int(labels.held.sum()),
            n_evidence=int(useful.sum()),
            seconds=time.perf_counter() - started,
        )  # fmt: skip

    def _scored(self, candidates, stage, config, labels, rejections, useful):
        started = time.perf_counter()
        fit = self.spreading(config, labels, rejections)
        candidates.append(_score(stage, config.describe(), fit, useful, started))
        return fit

    def _search_spreading(self, best, best_fit, labels, rejections, useful, candidates):
        seen = {best: best_fit}
        for setting, values in self.search:
            if setting == "representation":
                values = self.feature_names
            incumbent = hits(best_fit.held_out, best_fit.codes)[useful]
            winner, winner_fit, margin = best, best_fit, 0.0
            for value in values:
                config = replace(best, **{setting: value})
                if setting == "representation" and value != best.representation:
                    config = self.holding_together(config)
                n_features = self.representations[config.representation].features.shape[1]
                if config == best or (config.metric == "cosine" and n_features < 3):
                    continue
                if setting == "class_prior" and not config.class_mass_normalization:
                    continue  # no normalization, nothing to aim at
                if config.n_neighbors >= self.n_items:
                    continue
                stage = f"spreading: {setting}"
                if config.graph_key != best.graph_key and config not in seen:
                    out = self.unreached(config, labels.positions)
                    if out > self.unreached(best, labels.positions) + 1e-9:
                        seen[config] = None
                        name = f"{out:.0%} of the items out of reach: {config.describe()}"
                        candidates.append(CandidateScore.skipped(stage, name))
                if config not in seen:
                    fit = self._scored(candidates, stage, config, labels, rejections, useful)
                    if _too_few_predicted(candidates, stage, config.describe(), fit, labels):
                        fit = None
                    seen[config] = fit
                fit = seen[config]
                if fit is None:  # leaves items no label can reach, or a class too few
                    continue
                gain = beats(hits(fit.held_out, fit.codes)[useful], incumbent)
                if gain > margin:
                    winner, winner_fit, margin = config, fit, gain
            best, best_fit = winner, winner_fit
        return best, best_fit

    def _choose_method(self, choice, spread_fit, labels, useful, candidates, seed):
        codes = spread_fit.codes
        t_spread = fit_temperature(spread_fit.held_out[useful], codes[useful])
        spread_cal = temper(spread_fit.held_out, t_spread)
        incumbent = hits(spread_cal, codes)[useful]
        best, best_fit, margin = choice, spread_fit, 0.0
        for name in self._other_names(labels, spread_fit, useful, candidates, seed):
            started = time.perf_counter()
            other = self.other(name, labels, seed)
            t_other = fit_temperature(other.held_out[useful], codes[useful])
            candidates.append(_score("method", name, other, useful, started))
            for weight in (0.0, *BLEND_WEIGHTS):
                option = ModelChoice(choice.spreading, name, weight, (t_spread, t_other))
                mixed = blend(_tempered(spread_fit, t_spread), _tempered(other, t_other), weight)
                if weight > 0:
                    candidates.append(_score("method", _name(option), mixed, useful, started))
                if _too_few_predicted(candidates, "method", _name(option), mixed, labels):
                    continue
                gain = beats(hits(mixed.held_out, codes)[useful], incumbent)
                if gain > margin:
                    best, best_fit, margin = option, mixed, gain
        if best is choice:
            return choice, spread_fit
        return best, best_fit

    def _other_names(self, labels, spread_fit, useful, candidates, seed):
        """Non-spreading models to compare; self-training only if plain logistic is close."""
        names = []
        for rep in self.representations.values():
            if isinstance(rep, ProbabilityRepresentation):
                names.append(f"proba:{rep.name}")
                continue
            names.append(f"logistic:{rep.name}")
        yield from names
        best_score = np.nanmax([c.score for c in candidates])
        for rep in self.representations.values():
            if not isinstance(rep, FeatureRepresentation):
                continue
            logistic = next((c for c in candidates if c.name == f"logistic:{rep.name}"), None)
            if logistic is not None and logistic.score >= best_score - SELF_TRAINING_GAP:
                yield f"self-training:{rep.name}"


def scarce_class(proba: np.ndarray, labels: LabelSet, level: float = SHARE_LEVEL):
    """A class the model gives fewer items than the fairly picked labels make plausible:
    ``(code, share of the items, lower bound)``, or None. Labeled items count with their
    labels.

    The bound is the one-sided Clopper-Pearson lower bound, at ``level``, on the class's
    share among the held-out labels not picked for being uncertain (at least
    :data:`MIN_FAIR` of them; fewer say too little).

    Examples
    --------
    >>> labels = LabelSet(np.arange(10), np.r_[np.zeros(8, int), 1, 1], 2)
    >>> collapsed = np.tile([0.9, 0.1], (1000, 1))
    >>> code, share, bound = scarce_class(collapsed, labels)
    >>> code, share, round(bound, 3)
    (1, 0.002, 0.016)
    >>> some = np.r_[np.tile([0.9, 0.1], (850, 1)), np.tile([0.1, 0.9], (150, 1))]
    >>> scarce_class(some, labels) is None
    True
    """
    fair = labels.representative & labels.held
    if fair.sum() < MIN_FAIR:
        return None
    k = np.bincount(labels.codes[fair], minlength=labels.n_classes)
    lower = np.zeros(labels.n_classes)
    seen = k > 0
    lower[seen] = beta.ppf(level, k[seen], fair.sum() - k[seen] + 1)
    # Over every item, the labeled ones by their labels: the unlabeled items alone are what
    # the labels left, and with most items labeled their mix is far from the fair labels'
    # (iris, 100 random labels of 150: a model 98% right was ruled out).
    called = proba.argmax(axis=1)
    called[labels.positions] = labels.codes
    share = np.bincount(called, minlength=labels.n_classes) / len(called)
    below = np.flatnonzero(share < lower)
    if not below.size:
        return None
    code = int(below[np.argmax((lower - share)[below])])
    return code, float(share[code]), float(lower[code])


def fit_calibrator(fit: CrossFit, evidence: np.ndarray, representative: np.ndarray) -> Calibrator:
    """The calibrator for a cross-fit: its leave-one-out rows where ``evidence`` (the labels
    whose class has another label, and those drawn at random; rows picked by uncertainty
    sampling marked as biased) plus, for fairly picked labels, their predictions from
    half-label models, weighing about one row each.

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    >>> fit = CrossFit(p, p, np.arange(3), np.array([0, 1, 0]))
    >>> round(fit_calibrator(fit, np.ones(3, bool), np.ones(3, bool)).n_evidence_)
    3
    """
    held_out, codes = fit.held_out, fit.codes
    weights, biased = evidence.astype(float), ~representative
    if fit.split_rows is not None and fit.split_rows.size:
        rows = fit.split_rows
        present = fit.split_proba[np.arange(rows.size), codes[rows]] > 0
        keep = representative[rows] & present
        repeats = max(1, np.bincount(rows, minlength=len(codes)).max())
        held_out = np.vstack([held_out, fit.split_proba[keep]])
        codes = np.r_[codes, codes[rows[keep]]]
        weights = np.r_[weights, np.full(keep.sum(), 1.0 / repeats)]
        biased = np.r_[biased, np.zeros(keep.sum(), bool)]
    calibrator = Calibrator().fit(held_out, codes, reference=fit.proba, weights=weights,
                                  biased=biased)  # fmt: skip
    calibrator.n_evidence_ = int(evidence.sum())
    return calibrator


def _tempered(fit: CrossFit, t: float) -> CrossFit:
    split = None if fit.split_proba is None else temper(fit.split_proba, t)
    return CrossFit(temper(fit.proba, t), temper(fit.held_out, t), fit.positions, fit.codes,
                    fit.info, fit.split_rows, split)  # fmt: skip


def _too_few_predicted(candidates, stage, name, fit: CrossFit, labels: LabelSet) -> bool:
    """Whether ``fit`` predicts a class on implausibly few items (:func:`scarce_class`);
    if so, says so in the candidates' table."""
    scarce = scarce_class(fit.proba, labels)
    if scarce is None:
        return False
    code, share, bound = scarce
    label = labels.names[code] if labels.names else f"class {code}"
    name = f"calls {share:.1%} of the items {label!r}, fair labels say >= {bound:.1%}: {name}"
    candidates.append(CandidateScore.skipped(stage, name))
    return True


def _score(stage, name, fit: CrossFit, useful, started) -> CandidateScore:
    rows = row_scores(fit.held_out, fit.codes)[useful]
    p_true = np.clip(fit.held_out[np.arange(len(fit.codes)), fit.codes], 1e-3, 1.0)[useful]
    right = fit.correct()[useful]
    return CandidateScore(
        stage, name,
        float(rows.mean()) if rows.size else float("nan"),
        float(right.mean()) if right.size else float("nan"),
        float(-np.log(p_true).mean()) if p_true.size else float("nan"),
        int(useful.sum()), round(time.perf_counter() - started, 3),
    )  # fmt: skip


def _name(choice: ModelChoice) -> str:
    if choice.method == "spreading":
        return choice.spreading.describe()
    if choice.weight <= 0.0:
        return choice.other
    return f"blend {choice.weight:g} spreading + {choice.other}"
