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

from .calibration import Calibrator
from .crossfit import CrossFit, LabelSet
from .graph import build_knn_graph, normalized_affinity
from .propagation import UNLABELED, SpreadingState, class_prior, distributions, targets_from_codes
from .selection import FeatureRepresentation, SpreadingConfig, Tuner, Tuning

SMALL_WORK = 500_000
"""Above this many (graph entries x classes), an update runs a bounded number of sweeps."""
FLOAT32_MIN_NNZ = SMALL_WORK
"""Graphs with at least this many entries always take the bounded-sweeps path; their
spreading runs in float32 (half the memory traffic per sweep, measured 2x faster at 100k)
on rows renumbered for locality (reverse Cuthill-McKee: ``S @ F`` 4x faster at 1M)."""
AUTO_TUNE_MAX_ITEMS = 20_000
"""With ``auto_tune``, up to this many items :meth:`Engine.update` re-chooses the model
itself as labels grow; above, only :meth:`Engine.tune` does (the app runs it in the
background, off the label path)."""
TUNE_GROWTH = 1.25
"""The model is re-chosen once the labels people gave grew by this factor (and by at least 2)."""
SOURCE_WEIGHTS = {"bulk": 0.5}
"""Weight of a label in the fit by where it came from (1 unless listed). Bulk accepts were
the model's own guesses: they count half, so they cannot outvote a person's label nearby."""
HELD_OUT_SOURCES = frozenset({"human", "imported", "resolved"})
"""Only labels a person gave are held out to calibrate and choose the model; accepted and
bulk-accepted suggestions were picked by the model and would flatter it."""


@dataclass(frozen=True)
class Predictions:
    """Per-item output of one round, rows in the engine's item order."""

    item_ids: np.ndarray
    classes: list[str]
    proba: np.ndarray
    """Calibrated class distributions: an unlabeled item's top value is the probability
    that the suggestion is right (see :mod:`sslcore.calibration`); 1 on its label for a
    labeled item."""
    human: np.ndarray
    self_training: np.ndarray | None = None
    raw: np.ndarray | None = None
    """The model's own distributions before calibration (what strategies rank by)."""
    shown_confidence: np.ndarray | None = None
    """Overrides the top value of ``proba`` as :attr:`confidence` (one class labeled:
    every item gets it, and nothing says how often rightly)."""

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class name per item (``None`` before any label)."""
        if not self.classes:
            return np.full(len(self.item_ids), None, dtype=object)
        return np.asarray(self.classes, dtype=object)[self.proba.argmax(axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        """Calibrated probability that the predicted class is right (1 for labeled items)."""
        if not self.classes or self.proba.shape[1] == 0:
            return np.zeros(len(self.item_ids))
        if self.shown_confidence is not None:
            return self.shown_confidence
        return self.proba.max(axis=1)

    @property
    def raw_confidence(self) -> np.ndarray:
        """The model's uncalibrated top score, for diagnostics."""
        source = self.proba if self.raw is None else self.raw
        if source.shape[1] == 0:
            return np.zeros(len(self.item_ids))
        return source.max(axis=1)

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
        Aimed at equal class shares until the selection finds the label frequencies
        better (:data:`sslcore.propagation.CLASS_PRIORS`).
    tol : float, default=1e-4
        Relative residual at which a small graph's solve stops.
    sweeps_per_update : int, default=3
        Global sweeps per update on large graphs, after the local relaxation.
    auto_tune : bool, default=False
        Re-choose the model and its calibration (:meth:`tune`) inside
        :meth:`update` whenever the labels people gave grew by
        :data:`TUNE_GROWTH`, on up to :data:`AUTO_TUNE_MAX_ITEMS` items. Off, the
        caller decides when (the app: in the background, see
        :class:`sslcore.session.ProjectEngine`).
    representations : sequence, optional
        More representations the selection may choose among (see
        :mod:`sslcore.selection`); ``features`` always comes first.
    features_name : str, default="features"
        What the selection calls ``features`` (the feature method, e.g. ``"tfidf"``).
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
        auto_tune: bool = False,
        representations=(),
        features_name: str = "features",
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
        self.hard_clamp = hard_clamp
        self.tol = tol
        self.sweeps_per_update = sweeps_per_update
        self.auto_tune = auto_tune
        self._representations = tuple(representations)
        self._default = SpreadingConfig(
            representation=features_name,
            n_neighbors=n_neighbors,
            alpha=alpha,
            class_mass_normalization=class_mass_normalization,
        )
        self._tuner: Tuner | None = None
        self._new_representation = False
        self.tuning: Tuning | None = None
        self._config = self._default
        self.calibrator = Calibrator().fit(np.zeros((0, 2)), np.zeros(0, int))
        self._position = {item: p for p, item in enumerate(self.item_ids)}
        self._state = self._new_state(self.graph, alpha)
        self.classes: list[str] = []
        self._column: dict[str, int] = {}
        self._codes = np.full(self.n_items, UNLABELED)
        self._weights = np.ones(self.n_items)
        self._held = np.zeros(self.n_items, bool)
        self.picked_as_uncertain = np.zeros(self.n_items, bool)
        """Items handed out because the model was unsure of them (set by
        :class:`sslcore.active.ActiveLearner`); their labels are not a fair sample."""
        self.picked_at_random = np.zeros(self.n_items, bool)
        """Items handed out at random (probes, the random strategy; also set by whoever
        labels a random sample): their labels say how often an item's class is one nobody
        has labeled (:attr:`sslcore.crossfit.LabelSet.at_random`)."""
        self.declared_classes: frozenset[str] | None = None
        """Every class the project has, when known (the studio's class list): once each has
        a label, no item is of a class nobody labeled."""
        self._blend_proba: np.ndarray | None = None
        self._crossfit: tuple[bytes, CrossFit | None] | None = None
        self._rejections: set[tuple[int, int]] = set()
        self._self_training: np.ndarray | None = None
        self._self_training_proba: np.ndarray | None = None
        self.predictions = self._predict()

    def _new_state(self, graph: sp.spmatrix, alpha: float) -> SpreadingState:
        large = graph.nnz >= FLOAT32_MIN_NNZ
        return SpreadingState(
            normalized_affinity(graph),
            alpha=alpha,
            hard_clamp=self.hard_clamp,
            dtype=np.float32 if large else np.float64,
            reorder=large,
        )

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
        """The spreading solution of the latest update (for diagnostics)."""
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
        *,
        sources: Mapping[str, str] | None = None,
    ) -> Predictions:
        """Refresh predictions for the current labels and rejections.

        Parameters
        ----------
        labels : mapping of item id to class name
            Every current label (not only the new one).
        rejections : iterable of (item id, class name)
            Suggestions a human turned down. The item is never predicted that
            class again, and the rejection pushes that class down around it.
        sources : mapping of item id to source, optional
            Where each label came from (a :data:`sslcore.store.SOURCES` name;
            missing means ``"human"``). Bulk accepts weigh less
            (:data:`SOURCE_WEIGHTS`); only a person's own labels are held out to
            choose and calibrate the model (:data:`HELD_OUT_SOURCES`).

        Returns
        -------
        Predictions
        """
        rejections = [(item, str(name)) for item, name in rejections]
        self._add_classes([str(name) for name in labels.values()] + [n for _, n in rejections])
        codes = np.full(self.n_items, UNLABELED)
        weights = np.ones(self.n_items)
        held = np.zeros(self.n_items, bool)
        sources = sources or {}
        for item, name in labels.items():
            position = self.position(item)
            codes[position] = self._column[str(name)]
            source = sources.get(item, "human")
            weights[position] = SOURCE_WEIGHTS.get(source, 1.0)
            held[position] = source in HELD_OUT_SOURCES
        rejected = {(self.position(item), self._column[name]) for item, name in rejections}
        self._apply_targets(codes, rejected, weights)
        self._held = held
        self._solve()
        self._self_training = self._self_training_proba = None
        if self.auto_tune and self.n_items <= AUTO_TUNE_MAX_ITEMS and self.tuning_due():
            self.apply_tuning(self.tune(), predict=False)
        self._refresh_other()
        self.predictions = self._predict()
        return self.predictions

    # model selection and calibration ------------------------------------------------

    @property
    def tuner(self) -> Tuner:
        """The model selection for these items (:class:`sslcore.selection.Tuner`)."""
        if self._tuner is None:
            self._tuner = Tuner(
                [
                    FeatureRepresentation(self._default.representation, self.features),
                    *self._representations,
                ],
                default=self._default,
                graphs={self._default.graph_key: self.graph},
            )
        return self._tuner

    @property
    def spreading_config(self) -> SpreadingConfig:
        """How the model spreads labels now: the graph's settings, alpha, class masses."""
        return self._config

    @property
    def features_in_use(self) -> str:
        """The name of the representation the model spreads on now (``features_name`` or
        one added with :meth:`add_representation` that the selection chose)."""
        return self._config.representation

    def add_representation(self, representation) -> None:
        """Let the model selection also choose ``representation`` (a
        :class:`sslcore.selection.FeatureRepresentation` or
        :class:`~sslcore.selection.ProbabilityRepresentation`) from the next :meth:`tune`
        on, which becomes due at once."""
        self._representations = (*self._representations, representation)
        if self._tuner is not None:
            self._tuner.add(representation)
        self._new_representation = True

    def label_set(self) -> LabelSet:
        """The current labels as the selection sees them: weights by source, which ones
        are held out (a person's), which were a fair sample (not picked as uncertain),
        which were drawn at random."""
        positions = np.flatnonzero(self.labeled)
        codes = self._codes[positions]
        seen = {self.classes[code] for code in np.unique(codes)}
        return LabelSet(
            positions,
            codes,
            len(self.classes),
            weights=self._weights[positions],
            held=self._held[positions],
            representative=~self.picked_as_uncertain[positions],
            at_random=self.picked_at_random[positions],
            every_class_labeled=self.declared_classes is not None and self.declared_classes <= seen,
            names=tuple(self.classes),
        )

    def tuning_due(self) -> bool:
        """Whether the labels people gave grew enough since the last :meth:`tune`."""
        held = int(self._held.sum())
        if self.n_classes_labeled < 2 or held < 2:
            return False
        if self.tuning is None or self._new_representation:
            return True
        before = self.tuning.n_held
        return held < before or held >= max(before * TUNE_GROWTH, before + 2)

    def tune(self, *, seed: int = 0) -> Tuning:
        """Choose the model and fit its calibrator for the current labels.

        Takes a second or more on large projects, so the app calls it off the
        label path and passes the result to :meth:`apply_tuning`; it reads a
        snapshot of the labels taken when it starts.
        """
        return self.tuner.tune(**self.tuning_inputs(), seed=seed)

    def tuning_inputs(self) -> dict:
        """What :meth:`Tuner.tune <sslcore.selection.Tuner.tune>` needs to choose for the
        current labels, taken now (a selection in the background works on this snapshot
        while labels keep coming), with the features in use as the search's start. From
        here on a representation added earlier no longer makes a selection due."""
        self._new_representation = False
        return {
            "labels": self.label_set(),
            "rejections": sorted(self._rejections),
            "in_use": self._config.representation,
        }

    def apply_tuning(self, tuning: Tuning, *, predict: bool = True) -> None:
        """Use a model chosen by :meth:`tune` from now on: rebuild the spreading state if
        its graph or alpha changed (warm-started from the solution the tuning found), and
        continue from that solution anyway when it is the closer one.

        The label path stops after a few sweeps on large graphs, so after many labels at
        once its solution can be far from the one the tuning solved and calibrated: on
        3,000 items in 25 classes, 100 labels imported at once, the median log-ratio of
        the top two classes was 1.02 against the tuning's 0.23 and the confidence shown
        87% for 61% right."""
        config = tuning.choice.spreading
        F = tuning.spreading.info.get("F") if tuning.spreading is not None else None
        solved = F is not None and F.shape == (self.n_items, len(self.classes))
        offered = False
        if config.graph_key != self._config.graph_key or config.alpha != self._state.alpha:
            graph = self.tuner.graph(config)
            state = self._new_state(graph, config.alpha)
            state.add_classes(len(self.classes))
            state.set_targets(self._targets(), clamped=self.labeled)
            if solved:
                state.warm_start(F)
            self._state = state
            self.graph = sp.csr_matrix(graph)
        elif solved and not self._solves_fully():
            offered = self._state.offer(F)
        if config != self._config or offered:
            self._config = config
            self._solve()
        self.tuning = tuning
        self.calibrator = tuning.calibrator
        self._crossfit = None
        self._blend_proba = None
        self._refresh_other()
        if predict:
            self.predictions = self._predict()

    def _targets(self) -> np.ndarray:
        Y = targets_from_codes(self._codes, len(self.classes), sorted(self._rejections))
        return Y * self._weights[:, None]

    def _refresh_other(self) -> None:
        """Refit the non-spreading part of a blended model on the current labels."""
        choice = self.tuning.choice if self.tuning is not None else None
        if choice is None or choice.method == "spreading":
            self._blend_proba = None
            return
        labels = self.label_set()
        if len(np.unique(labels.codes)) < 2:
            return
        if choice.other.startswith("logistic:") or self._blend_proba is None:
            self._blend_proba = self.tuner.other_proba(choice.other, labels)
        if self._blend_proba.shape[1] < len(self.classes):
            pad = len(self.classes) - self._blend_proba.shape[1]
            self._blend_proba = np.hstack([self._blend_proba, np.zeros((self.n_items, pad))])

    def crossfit(self) -> CrossFit | None:
        """Cross-fitted predictions of the current model for the labels people gave.

        From the last tuning when the labels have not changed since; otherwise
        recomputed (on large projects only by :meth:`tune`).
        """
        labels = self.label_set()
        key = labels.positions.tobytes() + labels.codes.tobytes() + labels.held.tobytes()
        if self._crossfit is not None and self._crossfit[0] == key:
            return self._crossfit[1]
        tuning = self.tuning
        fit = None
        if (
            tuning is not None
            and tuning.crossfit is not None
            and np.array_equal(tuning.crossfit.positions, labels.held_positions)
            and np.array_equal(tuning.crossfit.codes, labels.held_codes)
        ):
            fit = tuning.crossfit
        elif self.n_items <= AUTO_TUNE_MAX_ITEMS and labels.held.any() and len(self.classes) > 1:
            fit = self.tuner.spreading(self._config, labels, sorted(self._rejections))
        elif tuning is not None:
            fit = tuning.crossfit
        self._crossfit = (key, fit)
        return fit

    def bulk_plan(self, *, target_precision: float = 0.98, level: float = 0.95):
        """Per class, the unlabeled suggestions a bulk accept at ``target_precision`` may
        take; see :func:`sslcore.bulk.plan_bulk_accept`."""
        from .bulk import plan_bulk_accept

        P = self.predictions
        if P.raw is None or P.raw.shape[1] == 0 or self.n_classes_labeled < 2:
            return []
        rest = np.flatnonzero(~self.labeled)
        return plan_bulk_accept(
            self.item_ids[rest], P.raw[rest], list(P.classes), self.calibrator,
            target_precision=target_precision, level=level,
        )  # fmt: skip

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

    def _apply_targets(
        self, codes: np.ndarray, rejected: set[tuple[int, int]], weights: np.ndarray
    ) -> None:
        changed = set(np.flatnonzero((codes != self._codes) | (weights != self._weights)).tolist())
        changed |= {p for p, _ in rejected ^ self._rejections}
        self._codes, self._rejections, self._weights = codes, rejected, weights
        if not changed:
            return
        rows = np.array(sorted(changed))
        values = targets_from_codes(codes, len(self.classes), sorted(rejected), rows=rows)
        self._state.change_targets(rows, values * weights[rows, None])

    def _solves_fully(self) -> bool:
        """Whether an update solves the spreading to ``tol`` (small graphs) rather than
        stopping after a few sweeps."""
        return self.graph.nnz * len(self.classes) <= SMALL_WORK

    def _solve(self) -> None:
        state = self._state
        if not self.classes:
            return
        scale = (1 - state.alpha) * self.tol
        if self._solves_fully():
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
        labeled_codes = self._codes[self.labeled]
        prior = class_prior(labeled_codes, len(self.classes))
        present = np.isin(np.arange(len(self.classes)), labeled_codes)
        forbidden = sorted(self._rejections)
        P = distributions(
            self._state.solution(),
            class_mass_normalization=self._config.class_mass_normalization,
            prior=class_prior(labeled_codes, len(self.classes), self._config.class_prior),
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
        if self.tuning is not None and self._blend_proba is not None:
            P = self.tuner.combine(self.tuning.choice, P, self._blend_proba)
            if forbidden:
                pairs = np.asarray(forbidden)
                P[pairs[:, 0], pairs[:, 1]] = 0.0
                P /= np.maximum(P.sum(axis=1, keepdims=True), 1e-300)
        labeled = np.flatnonzero(self.labeled)
        P[labeled] = 0.0
        P[labeled, self._codes[labeled]] = 1.0
        calibrated, shown = P, None
        if present.sum() < 2:
            # One class labeled: every item gets it, and nothing says how often rightly.
            shown = np.where(self.labeled, 1.0, 0.5)
        else:  # whole rows at once (no gather/scatter of the unlabeled ones), then labels back
            calibrated = self.calibrator.calibrate(P)
            calibrated[labeled] = P[labeled]
        return Predictions(
            self.item_ids, list(self.classes), calibrated, human, self._self_training,
            raw=P, shown_confidence=shown,
        )  # fmt: skip

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
