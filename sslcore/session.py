"""The labeling loop, without a UI: a project's live engine and one annotator's session on it.

:class:`ProjectEngine` is one project's :class:`~sslcore.engine.Engine`, built
from cached features and graph and kept in step with the project's label
events; every annotator on the project shares it. :class:`LabelingSession` is
one annotator's loop on it: the item on screen, items skipped, items queued
from the map, and what a key press, an accept, a reject or a bulk accept may
touch. The pages call these; tests call them directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .active import (
    DEFAULT_STRATEGY,
    EARLY_REASON,
    QUEUED_REASON,
    UNDONE_REASON,
    ActiveLearner,
    Suggestion,
)
from .bulk import DEFAULT_TARGET_PRECISION, BulkPlan
from .cache import fingerprint
from .engine import AUTO_TUNE_MAX_ITEMS, Engine, Predictions
from .errors import PoolExhaustedError
from .features import alternatives, featurize, project_method, resolve_method
from .graph import build_knn_graph
from .progress import BackgroundJob, Progress, stage
from .projection import UMAP_SETTINGS, project_2d
from .selection import FeatureRepresentation
from .store import LabelEvent, Project

N_NEIGHBORS = 10
OWN_LAYOUT = "the data's own two dimensions"


class ProjectEngine:
    """One project's engine, refreshed once per new label event.

    Features, the kNN graph and the 2-D layouts are cached on disk under a
    fingerprint (the project's :class:`~sslcore.cache.ArtifactCache`), so
    building it again after a restart only loads them. A refresh runs label
    spreading from the previous round, not from scratch.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import create_demo_project
    >>> from sslcore.store import Store
    >>> project = create_demo_project(Store(tempfile.mkdtemp()), "moons", "m")
    >>> live = ProjectEngine.build(project)
    >>> _ = project.label("point-0001", "upper", annotator="ann")
    >>> live.refresh().predicted[:2].tolist()
    ['upper', 'upper']
    """

    def __init__(self, project: Project, engine: Engine, features_key: str):
        self.project = project
        self.engine = engine
        self.features_key = features_key
        self.learner = ActiveLearner(engine)
        self.lock = threading.Lock()
        self.last_event_id = -1
        self.round = 0
        self.changed_last_round = 0
        self._pca: np.ndarray | None = None
        self._umap: np.ndarray | None = None
        self._umap_thread: threading.Thread | None = None
        self.tuning_job: BackgroundJob | None = None
        self.representations_job: BackgroundJob | None = None
        """Features the selection may also choose, computed after the engine is ready
        (:meth:`offer_alternatives`)."""
        self._alternatives_taken = False

    @classmethod
    def build(
        cls,
        project: Project,
        progress: Progress | None = None,
        *,
        prepare: str | None = None,
        offer_alternatives: bool = False,
    ) -> ProjectEngine:
        """Features and graph from the project's cache (computed and cached the first time).

        ``progress(fraction, message)`` is called while features and graph are
        computed, with one fraction for the whole build. With ``prepare`` (a
        strategy name) the build also brings the engine up to the project's labels
        and plans the first items that strategy asks about, so the first item
        shows at once. With ``offer_alternatives``, :meth:`offer_alternatives` starts
        once the engine is ready.
        """
        # Shares of the time measured on 5,574 SMS (TF-IDF features dominate); on a
        # project whose features are cached the bar runs faster than it says.
        features_end, graph_end = (0.8, 0.88) if prepare else (0.9, 1.0)
        dataset = project.dataset()
        features = featurize(
            dataset,
            method=project_method(project),
            cache=project.cache,
            progress=stage(progress, 0.0, features_end),
        )
        key = fingerprint(features, {"n_neighbors": N_NEIGHBORS})
        graph_progress = stage(progress, features_end, graph_end)
        graph = project.cache.get_or_compute(
            "graph",
            key,
            lambda: build_knn_graph(features, n_neighbors=N_NEIGHBORS, progress=graph_progress),
        )
        method = resolve_method(dataset, project_method(project))
        engine = Engine(dataset.ids, features, graph=graph, features_name=method)
        live = cls(project, engine, key)
        if prepare:
            stage(progress, graph_end, 1.0)(0.0, "Choosing the first items to label")
            live.refresh()
            with contextlib.suppress(PoolExhaustedError):
                live.next_items(prepare, 1)
        stage(progress, 0.0, 1.0)(1.0, "Ready")
        if offer_alternatives:
            live.offer_alternatives()
        return live

    def offer_alternatives(self) -> BackgroundJob | None:
        """Compute the project's other feature methods (:func:`sslcore.features.alternatives`,
        e.g. TF-IDF+MiniLM on a text project) in the background, at low priority, and let the model
        selection choose among them once they are ready: the project is labeled from the
        start on its cheap features, and nobody waits the minutes a CPU takes to embed a few
        thousand texts. Cached like the features, so a restart only loads them."""
        dataset = self.project.dataset()
        methods = alternatives(dataset, project_method(self.project))
        if not methods or self.representations_job is not None:
            return self.representations_job
        cache = self.project.cache

        def compute(progress):
            _lower_this_threads_priority()
            return [
                FeatureRepresentation(method, featurize(dataset, method=method, cache=cache,
                                      progress=stage(progress, i / len(methods),
                                                     (i + 1) / len(methods))))
                for i, method in enumerate(methods)
            ]  # fmt: skip

        self.representations_job = BackgroundJob(compute, name="alternative-features").start()
        return self.representations_job

    @property
    def predictions(self) -> Predictions:
        return self.engine.predictions

    def refresh(self, *, tune: bool | None = None) -> Predictions:
        """Bring the engine up to the project's latest label events (no work if none are new).

        Once the labels grew enough, the model selection and calibration start again in
        a background thread (``tune``; default: on projects of up to
        :data:`sslcore.engine.AUTO_TUNE_MAX_ITEMS` items). On larger ones the selection
        takes several seconds of both cores and slowed every label meanwhile (100k
        items: p50 per label 176-243 ms with it, 125 ms without), so there the pages
        that show its results (Review, Insights) ask for it, not the Label page.
        """
        with self.lock:
            state = self.project.state()
            self._take_alternatives()
            tuned = self._take_tuning()
            if state.last_event_id != self.last_event_id:
                before = self.engine.predictions
                events = self.project.current_events()
                self._restore_picks(events)
                self.engine.declared_classes = frozenset(self.project.class_names())
                after = self.engine.update(
                    self.project.labels(),
                    self.project.rejections(),
                    sources={item: event.source for item, event in events.items()},
                )
                if before.proba.shape[1] and after.proba.shape[1]:
                    self.changed_last_round = int((before.predicted != after.predicted).sum())
                self.last_event_id = state.last_event_id
                self.round += 1
            elif tuned:
                self.engine.predictions  # noqa: B018 (applied; rounds count label events only)
            if self.engine.n_items <= AUTO_TUNE_MAX_ITEMS if tune is None else tune:
                self._start_tuning()
            return self.engine.predictions

    def _restore_picks(self, events) -> None:
        """Mark each labeled item as it was picked when labeled (stored with its label), so
        that a restarted studio calibrates as the session that labeled it did: with margin
        picks read as a fair sample, digits at 100 labels was shown 85% sure, not 97%, for
        a model 99% right."""
        engine = self.engine
        positions = np.array([engine.position(item) for item in events], dtype=int)
        picked = np.array([event.picked for event in events.values()], dtype=object)
        engine.picked_as_uncertain[positions] = picked == "doubt"
        engine.picked_at_random[positions] = picked == "random"

    def picked(self, item_id: str) -> str | None:
        """Why the strategy handed out ``item_id`` (:data:`sslcore.store.events.PICKED`), or
        None: for the model's doubt, at random, or neither."""
        position = self.engine.position(item_id)
        if self.engine.picked_as_uncertain[position]:
            return "doubt"
        return "random" if self.engine.picked_at_random[position] else None

    def _start_tuning(self) -> None:
        """Re-choose the model and its calibration in the background once the labels grew
        (:meth:`sslcore.engine.Engine.tuning_due`): it takes seconds on large projects and
        must stay off the label path. The result is applied by a later refresh."""
        if self.tuning_job is not None or not self.engine.tuning_due():
            return
        tuner, inputs = self.engine.tuner, self.engine.tuning_inputs()

        def tune(progress):
            _lower_this_threads_priority()
            return tuner.tune(**inputs, decisions=self.decisions())

        self.tuning_job = BackgroundJob(tune, name="model-selection").start()

    def decisions(self) -> tuple[np.ndarray, np.ndarray]:
        """Suggestions people accepted or rejected one by one (not undone), as the confidence
        shown and whether it was accepted: the calibration's second source of evidence
        (:meth:`sslcore.calibration.Calibrator.with_decisions`). Bulk accepts are no
        decisions about single items and are left out.

        Examples
        --------
        >>> import tempfile
        >>> from sslcore.demos import create_demo_project
        >>> from sslcore.store import Store
        >>> project = create_demo_project(Store(tempfile.mkdtemp()), "moons", "m")
        >>> _ = project.label("point-0001", "upper", annotator="a", source="accepted",
        ...                   confidence=0.9)
        >>> _ = project.reject("point-0002", "upper", annotator="a", confidence=0.7)
        >>> shown, accepted = ProjectEngine.build(project).decisions()
        >>> shown.tolist(), accepted.tolist()
        ([0.9, 0.7], [True, False])
        """
        events = self.project.events()
        chosen = events[
            events["source"].isin(["accepted", "rejected"])
            & ~events["undone"].astype(bool)
            & events["confidence"].notna()
        ]
        return chosen["confidence"].to_numpy(float), (chosen["source"] == "accepted").to_numpy()

    def _take_alternatives(self) -> None:
        job = self.representations_job
        if job is None or not job.done or job.error is not None or self._alternatives_taken:
            return
        self._alternatives_taken = True
        for representation in job.result():
            self.engine.add_representation(representation)

    def _take_tuning(self) -> bool:
        job = self.tuning_job
        if job is None or not job.done:
            return False
        self.tuning_job = None
        if job.error is not None:
            return False  # the model in use stays; the next refresh tries again
        # Classes added meanwhile are fine: the calibrator gives them prior-only offsets.
        self.engine.apply_tuning(job.result())
        return True

    def wait_for_tuning(self, timeout: float = 60.0) -> Predictions:
        """Wait for a model selection under way and apply it (tests, the CLI)."""
        self.refresh(tune=True)
        job = self.tuning_job
        if job is not None:
            job.wait(timeout)
        return self.refresh(tune=False)

    @property
    def tuning(self):
        """The last model selection applied (:class:`sslcore.selection.Tuning`) or None."""
        return self.engine.tuning

    def next_items(self, strategy: str, n: int) -> list[Suggestion]:
        """The next ``n`` items the strategy would ask about, seeded by the round."""
        with self.lock:
            return self.learner.query(strategy, n, seed=self.round)

    def item(self, item_id: str) -> dict:
        """One item's row (id, content, feature columns) as a plain dict."""
        return self.project.dataset().items.iloc[self.engine.position(item_id)].to_dict()

    def prediction_table(self) -> pd.DataFrame:
        """``item_id, label, confidence``: the model's class for every item."""
        predictions = self.refresh()
        return pd.DataFrame(
            {
                "item_id": predictions.item_ids,
                "label": predictions.predicted,
                "confidence": predictions.confidence,
            }
        )

    def human_label_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and class codes of the current human labels, oldest label first:
        the input of :func:`sslcore.insights.learning_curve`."""
        events = self.project.events()
        given = events[(events["source"] == "human") & ~events["undone"]]
        current = self.project.labels()
        ordered = [i for i in dict.fromkeys(given["item_id"]) if i in current]
        classes = sorted({current[i] for i in ordered})
        codes = np.array([classes.index(current[i]) for i in ordered], dtype=np.int64)
        positions = np.array([self.engine.position(i) for i in ordered], dtype=np.int64)
        return positions, codes

    def layout(self, method: str | None = None) -> tuple[np.ndarray, str]:
        """2-D coordinates of every item and what made them.

        The data's own two dimensions when it has two. Else ``method="pca"`` gives
        PCA, and the default gives UMAP once it is ready (computed once, in a
        background thread, and cached on disk) and PCA meanwhile. A page that
        showed PCA can keep showing it, so the map does not jump under a selection.
        """
        features = self.engine.features
        if features.shape[1] == 2:
            return features, OWN_LAYOUT
        if not self.umap_ready():
            self._start_umap()
        elif method != "pca":
            return self._umap, "UMAP"
        if self._pca is None:
            self._pca = self.project.cache.get_or_compute(
                "pca", self.features_key, lambda: project_2d(features, method="pca")
            )
        return self._pca, "PCA" if method == "pca" else "PCA (UMAP is being computed)"

    def umap_ready(self) -> bool:
        """Whether the UMAP layout can be shown now (it is never computed for 2-D data)."""
        key = fingerprint(self.features_key, UMAP_SETTINGS)
        if self._umap is None and self.project.cache.has("umap", key):
            self._umap = self.project.cache.load("umap", key)
        return self._umap is not None

    def _start_umap(self) -> None:
        if self._umap_thread is not None or self.engine.features.shape[1] == 2:
            return
        features, cache = self.engine.features, self.project.cache
        key = fingerprint(self.features_key, UMAP_SETTINGS)

        def compute() -> None:
            self._umap = cache.get_or_compute(
                "umap", key, lambda: project_2d(features, method="umap")
            )

        self._umap_thread = threading.Thread(target=compute, daemon=True, name="umap")
        self._umap_thread.start()


def _lower_this_threads_priority(niceness: int = 10) -> None:
    """Let the label path win the cores: on Linux a thread has its own nice value."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


@dataclass(frozen=True)
class BulkAccept:
    """A bulk accept as recorded: the batch that undoes it and how many items it labeled."""

    batch_id: str
    count: int
    class_name: str


class LabelingSession:
    """One annotator's labeling loop on one project.

    Parameters
    ----------
    live : ProjectEngine
    annotator : str
        Stored on every event this session writes.
    strategy : str, default="margin"
        How the next item is chosen (a name from :data:`sslcore.active.STRATEGIES`).

    Attributes
    ----------
    current : Suggestion or None
        The item on screen. A label is recorded only for this item.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import create_demo_project
    >>> from sslcore.store import Store
    >>> project = create_demo_project(Store(tempfile.mkdtemp()), "moons", "m")
    >>> session = LabelingSession(ProjectEngine.build(project), "ann")
    >>> shown = session.next_item().item_id
    >>> session.label(shown, "upper") is not None
    True
    >>> session.label(shown, "upper") is None  # no longer on screen: refused
    True
    """

    def __init__(
        self,
        live: ProjectEngine | None,
        annotator: str,
        strategy: str = DEFAULT_STRATEGY,
        *,
        project: Project | None = None,
    ):
        if live is None and project is None:
            raise ValueError("a LabelingSession needs a ProjectEngine, or a Project until then")
        self.live = live
        self.project = live.project if live is not None else project
        self.annotator = annotator
        self.strategy = strategy
        self.current: Suggestion | None = None
        self.skipped: set[str] = set()
        self.queue: list[str] = []
        self.labeled_count = 0
        self.last_bulk: BulkAccept | None = None
        self._early_order: np.ndarray | None = None
        # A web UI may handle two key presses of one person at once (two reruns); the
        # check "is this the item on screen" and the move to the next item must not
        # interleave, or both presses pass the check and one item is labeled twice.
        self._lock = threading.RLock()

    def attach(self, live: ProjectEngine) -> None:
        """Use ``live`` from now on (the engine the session waited for, or one rebuilt);
        the item on screen stays."""
        with self._lock:
            self.live = live

    # The Label page ----------------------------------------------------------------

    def next_item(self) -> Suggestion | None:
        """Pick the next item (and why) and reserve it for this annotator.

        Items queued from the map come first; then, when the project asks for
        several annotators per item, items others started and that still need
        votes; then the strategy's picks, passing over items skipped this session
        and items other annotators hold. When only skipped items are left they are
        offered again. None when every item is labeled or held by someone else.
        """
        with self._lock:
            return self._next_item()

    def _next_item(self) -> Suggestion | None:
        if self.live is not None:
            self.live.refresh()
        while self.queue:
            item_id = self.queue.pop(0)
            if self.project.reserve_next([item_id], annotator=self.annotator) == item_id:
                self.current = Suggestion(item_id, 0.0, QUEUED_REASON)
                return self.current
        if self.live is None:
            return self._next_early_item()
        held_by_others = len(self.project.reservations())
        try:
            batch = self.live.next_items(self.strategy, len(self.skipped) + held_by_others + 1)
        except PoolExhaustedError:
            batch = []
        started = [
            Suggestion(item_id, 0.0, "Others labeled it; it needs more votes.")
            for item_id in self.project.awaiting_votes(self.annotator)
        ]
        batch = started + [s for s in batch if s.item_id not in {t.item_id for t in started}]
        fresh = [s for s in batch if s.item_id not in self.skipped]
        if not fresh:  # only skipped items are left: offer them again
            self.skipped.clear()
            fresh = batch
        if not fresh:
            self.current = None
            return None
        chosen = self.project.reserve_next([s.item_id for s in fresh], annotator=self.annotator)
        self.current = next((s for s in fresh if s.item_id == chosen), None)
        return self.current

    def _next_early_item(self) -> Suggestion | None:
        """Before the engine is ready: unlabeled items in a random order (fixed per project)."""
        if self._early_order is None:
            ids = self.project.dataset().ids
            self._early_order = ids[np.random.default_rng(0).permutation(len(ids))]
        for _ in range(2):
            candidates = (i for i in self._early_order if i not in self.skipped)
            chosen = self.project.reserve_next(candidates, annotator=self.annotator)
            if chosen is not None or not self.skipped:
                break
            self.skipped.clear()  # only skipped items are left: offer them again
        self.current = None if chosen is None else Suggestion(str(chosen), 0.0, EARLY_REASON)
        return self.current

    def label(self, item_id: str, class_name: str) -> int | None:
        """Label ``item_id`` if it is the item on screen, then move to the next item.

        Returns the event id, or None when ``item_id`` is no longer the current
        item (a second press for an item already labeled, or a press that left
        the browser before the screen changed): such a press is refused, never
        applied to another item.
        """
        with self._lock:
            if self.current is None or self.current.item_id != item_id:
                return None
            event_id = self.project.label(
                item_id, class_name, annotator=self.annotator, picked=self._picked(item_id)
            )
            self.labeled_count += 1
            self._next_item()
            return event_id

    def _picked(self, item_id: str) -> str | None:
        """Why the item on screen was picked, as stored with its label."""
        if self.current.reason == EARLY_REASON:
            return "random"  # the early items come in a random order
        if self.current.reason == QUEUED_REASON or self.live is None:
            return None
        return self.live.picked(item_id)

    def skip(self, item_id: str) -> None:
        """Pass over the item on screen for the rest of this session."""
        with self._lock:
            if self.current is not None and self.current.item_id == item_id:
                self.skipped.add(item_id)
                self._next_item()

    def last_action(self) -> list[LabelEvent]:
        """What :meth:`undo` would cancel now: this annotator's last action (all of a batch)."""
        return self.project.last_action(self.annotator)

    def undo(self) -> list[LabelEvent]:
        """Undo this annotator's last action (a bulk or map batch counts as one).

        A single label undone brings its item back on screen. Returns the events
        cancelled (see :func:`describe_events` for what to tell the person).
        """
        with self._lock:
            undone = self.project.undo_last(self.annotator)
            if len(undone) == 1 and undone[0].source == "human":
                self.labeled_count = max(0, self.labeled_count - 1)
                self.current = Suggestion(undone[0].item_id, 0.0, UNDONE_REASON)
            return undone

    def undo_event(self, event_id: int) -> list[LabelEvent]:
        """Undo one event this session wrote (e.g. an accept on the Review page)."""
        return self.project.undo(event_id, annotator=self.annotator)

    def enqueue(self, item_ids: Iterable[str]) -> None:
        """Show these items first on the Label page (e.g. a selection on the map)."""
        self.queue.extend(i for i in item_ids if i not in self.queue)

    def label_selection(self, item_ids: list[str], class_name: str) -> str:
        """Label a selection (e.g. a lasso on the map) as one undoable batch; returns its id."""
        return self.project.label_many(
            ((i, class_name) for i in item_ids), annotator=self.annotator, source="human"
        )

    def label_grid(
        self, shown: Iterable[str], left_out: Iterable[str], class_name: str
    ) -> tuple[str | None, int]:
        """Label the items of a grid the person did not leave out, as one undoable batch.

        Items someone labeled since the grid was shown keep their label. Returns the
        batch id (None if nothing was left to label) and how many items it labeled.
        """
        odd, labeled = set(left_out), self.project.labels()
        rest = [i for i in dict.fromkeys(shown) if i not in odd and i not in labeled]
        if not rest:
            return None, 0
        batch = self.project.label_many(
            ((i, class_name) for i in rest), annotator=self.annotator, source="human"
        )
        return batch, len(rest)

    # The Review page ---------------------------------------------------------------

    def correct(self, item_id: str, class_name: str) -> int:
        """Relabel an item a person labeled before (e.g. a likely mistake fixed); why it was
        picked then still holds."""
        picked = self.live.picked(item_id) if self.live is not None else None
        return self.project.label(item_id, class_name, annotator=self.annotator, picked=picked)

    def accept(self, item_id: str, class_name: str, confidence: float) -> int | None:
        """Accept a suggestion, unless someone labeled the item since it was shown."""
        if item_id in self.project.labels():
            return None
        return self.project.label(
            item_id, class_name, annotator=self.annotator, source="accepted",
            model_round=self.live.round, confidence=confidence,
        )  # fmt: skip

    def reject(self, item_id: str, class_name: str, confidence: float) -> int:
        """Record that the suggestion ``class_name`` is wrong for ``item_id``."""
        return self.project.reject(
            item_id, class_name, annotator=self.annotator, model_round=self.live.round,
            confidence=confidence,
        )  # fmt: skip

    def bulk_accept(self, rows: pd.DataFrame, *, digest: str | None = None) -> BulkAccept | None:
        """Accept the previewed rows (``item_id, class, confidence``) as one undoable batch.

        Items someone labeled since the preview keep their label. With ``digest``
        (:func:`candidates_digest` of the rows the person saw), rows that no longer
        match it are refused (None): a stale click never accepts another set.
        """
        if digest is not None and candidates_digest(rows) != digest:
            return None
        rows = rows[~rows["item_id"].isin(self.project.labels())]
        batch = self.project.label_many(
            zip(rows["item_id"], rows["class"], strict=True),
            annotator=self.annotator,
            source="bulk",
            model_round=self.live.round,
            confidences=rows["confidence"],
        )
        classes = rows["class"].unique()
        self.last_bulk = BulkAccept(batch, len(rows), str(classes[0]) if len(classes) else "")
        return self.last_bulk

    def undo_bulk(self) -> list[LabelEvent]:
        """Undo this session's last bulk accept."""
        if self.last_bulk is None:
            return []
        batch, self.last_bulk = self.last_bulk, None
        return self.project.undo_batch(batch.batch_id, annotator=self.annotator)


def bulk_plans(
    engine: Engine, target_precision: float = DEFAULT_TARGET_PRECISION
) -> list[BulkPlan]:
    """Per class, what a bulk accept at ``target_precision`` would take (empty before two
    classes are labeled); see :func:`sslcore.bulk.plan_bulk_accept`."""
    return engine.bulk_plan(target_precision=target_precision)


def bulk_candidates(
    engine: Engine, class_name: str, target_precision: float = DEFAULT_TARGET_PRECISION
) -> pd.DataFrame:
    """The unlabeled items predicted ``class_name`` that a bulk accept at
    ``target_precision`` takes, most confident first: ``item_id, class, confidence``
    (the calibrated probability that each is right)."""
    plan = next((p for p in bulk_plans(engine, target_precision) if p.class_name == class_name),
                None)  # fmt: skip
    return plan_rows(engine, plan)


def plan_rows(engine: Engine, plan: BulkPlan | None) -> pd.DataFrame:
    """The items ``plan`` takes as :func:`bulk_candidates` lists them, for a plan already
    made (planning draws hundreds of calibrations per class)."""
    columns = ["item_id", "class", "confidence"]
    if plan is None or not plan.count:
        return pd.DataFrame(columns=columns)
    positions = np.array([engine.position(i) for i in plan.item_ids], dtype=np.int64)
    return pd.DataFrame(
        {
            "item_id": list(plan.item_ids),
            "class": plan.class_name,
            "confidence": engine.predictions.confidence[positions],
        },
        columns=columns,
    )


def candidates_digest(rows: pd.DataFrame) -> str:
    """A short hash of a candidate set (items and classes, in any order): part of the bulk
    button's key, so a click made on one set can never accept another.

    Examples
    --------
    >>> a = pd.DataFrame({"item_id": ["x", "y"], "class": ["c", "c"]})
    >>> candidates_digest(a) == candidates_digest(a.iloc[::-1])
    True
    >>> candidates_digest(a) == candidates_digest(a.iloc[:1])
    False
    """
    pairs = sorted(zip(rows["item_id"].astype(str), rows["class"].astype(str), strict=True))
    return hashlib.sha256(repr(pairs).encode()).hexdigest()[:12]


def describe_events(events: list[LabelEvent], class_names: dict[int, str]) -> str:
    """What some events did, in a few words, e.g. for "Undid …" or "U undoes …".

    ``class_names`` maps class ids to names (:meth:`Project.class_names_by_id`).

    Examples
    --------
    >>> ev = LabelEvent(1, "digit-0007", 3, "human", "ann", 0.0)
    >>> describe_events([ev], {3: "1"})
    'digit-0007 → 1'
    >>> batch = [LabelEvent(i, f"d{i}", 6, "human", "ann", 0.0, batch_id="b") for i in range(182)]
    >>> describe_events(batch, {6: "6"})
    'a batch of 182 labels as 6'
    """
    if not events:
        return "nothing"
    first = events[0]

    def name(class_id) -> str:
        return "no label" if class_id is None else class_names.get(class_id, f"class {class_id}")

    if len(events) == 1:
        if first.source == "rejected":
            return f"the rejection of {name(first.class_id)} for {first.item_id}"
        what = f"{first.item_id} → {name(first.class_id)}"
        return f"the accepted suggestion {what}" if first.source == "accepted" else what
    kind = "a bulk accept" if first.source == "bulk" else "a batch"
    classes = {e.class_id for e in events}
    spread = f"as {name(first.class_id)}" if len(classes) == 1 else f"in {len(classes)} classes"
    return f"{kind} of {len(events):,} labels {spread}"


def most_predicted(predictions: Predictions, item_ids: Iterable[str]) -> tuple[str | None, int]:
    """The class most of ``item_ids`` have (their human label, else the model's), and how many.

    What a selection on the map is most likely to be: the class to offer first.

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> engine = Engine(["a", "b", "c"], np.array([[0.0], [0.1], [5.0]]))
    >>> most_predicted(engine.update({"a": "x", "c": "y"}), ["a", "b", "c"])
    ('x', 2)
    """
    if not predictions.classes:
        return None, 0
    position = {item: p for p, item in enumerate(predictions.item_ids)}
    rows = [position[i] for i in item_ids if i in position]
    if not rows:
        return None, 0
    human = np.asarray(predictions.human, dtype=object)[rows]
    current = np.where(human == None, predictions.predicted[rows], human)  # noqa: E711
    names, counts = np.unique(current.astype(str), return_counts=True)
    return str(names[counts.argmax()]), int(counts.max())
