"""Projects under one data directory: items on disk, classes, label events and undo.

Every write is committed (and synced to disk) before the call returns.

Layout under the data directory::

    data/
      sslabel.db            projects, classes, label events, reservations
      projects/<folder>/    items.parquet and the artefact cache of one project
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..cache import ArtifactCache
from ..dataset import ID, LABEL, Dataset
from ..errors import StoreError
from .events import SOURCES, LabelEvent, LabelState, read_events
from .reservations import Reservations
from .schema import classes, connect_sqlite, label_events, migrate, projects, reservations

DATA_DIR_ENV = "SSLABEL_DATA_DIR"

PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2",
    "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#17BECF",
)  # fmt: skip
"""Colours given to new classes in turn. None is grey: the map draws where the model is
unsure in grey."""


def default_data_dir() -> Path:
    """``$SSLABEL_DATA_DIR`` if set, else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.cwd() / "data")


def _annotator_name(annotator: str) -> str:
    annotator = (annotator or "").strip()
    if not annotator:
        raise StoreError("Every label needs an annotator name.")
    return annotator


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or "project"


class Store:
    """All projects under one data directory.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import load_demo
    >>> store = Store(tempfile.mkdtemp())
    >>> project = store.create_project("moons", load_demo("moons"), import_labels=False)
    >>> _ = project.add_class("upper")
    >>> _ = project.label("point-0001", "upper", annotator="ann")
    >>> project.labels()
    {'point-0001': 'upper'}
    """

    def __init__(self, data_dir: str | os.PathLike | None = None):
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "projects").mkdir(exist_ok=True)
        self.db_path = self.data_dir / "sslabel.db"
        self.db = connect_sqlite(self.db_path)
        migrate(self.db, self.db_path)

    def close(self) -> None:
        self.db.dispose()

    def list_projects(self) -> pd.DataFrame:
        """One row per project: id, name, kind, n_items, created_at, n_labeled."""
        with self.db.begin() as conn:
            rows = conn.execute(
                select(
                    projects.c.id,
                    projects.c.name,
                    projects.c.kind,
                    projects.c.n_items,
                    projects.c.created_at,
                ).order_by(projects.c.id)
            ).all()
        table = pd.DataFrame(rows, columns=["id", "name", "kind", "n_items", "created_at"])
        table["n_labeled"] = [len(self.open_project(int(i)).labels()) for i in table["id"]]
        return table

    def project_names(self) -> list[str]:
        with self.db.begin() as conn:
            return list(conn.execute(select(projects.c.name).order_by(projects.c.id)).scalars())

    def create_project(
        self,
        name: str,
        dataset: Dataset,
        *,
        import_labels: bool = True,
        settings: dict | None = None,
        class_names: Iterable[str] = (),
        annotator: str = "import",
    ) -> Project:
        """Store a dataset as a new project; existing labels become "imported" events.

        The project's classes are ``class_names`` plus those of the imported labels.

        The items are written first, then the project, its classes and its
        imported labels in one transaction, so a failure leaves nothing behind.
        """
        name = name.strip()
        if not name:
            raise StoreError("A project needs a name.")
        class_names = list(class_names)  # read twice below; a generator would be empty
        if name in self.project_names():
            raise StoreError(f"A project named {name!r} exists already; pick another name.")
        folder = f"{_slug(name)}-{uuid.uuid4().hex[:8]}"
        target = self.data_dir / "projects" / folder
        target.mkdir(parents=True)
        try:
            dataset.items.to_parquet(target / "items.parquet", index=False)
            labels = dataset.labels if import_labels else [None] * dataset.n_items
            imported = sorted({c for c in labels if c is not None} - set(class_names))
            class_names = [*dict.fromkeys(class_names), *imported]
            now = time.time()
            with self.db.begin() as conn:
                project_id = conn.execute(
                    insert(projects).values(
                        name=name,
                        kind=dataset.kind,
                        n_items=dataset.n_items,
                        feature_columns=json.dumps(list(dataset.feature_columns)),
                        settings=json.dumps(settings or {}),
                        folder=folder,
                        created_at=now,
                    )
                ).inserted_primary_key[0]
                class_ids = {}
                for position, class_name in enumerate(class_names):
                    class_ids[class_name] = conn.execute(
                        insert(classes).values(
                            project_id=project_id,
                            name=class_name,
                            color=PALETTE[position % len(PALETTE)],
                            position=position,
                        )
                    ).inserted_primary_key[0]
                rows = [
                    dict(
                        project_id=project_id,
                        item_id=item_id,
                        class_id=class_ids[label],
                        source="imported",
                        annotator=annotator,
                        created_at=now,
                    )
                    for item_id, label in zip(dataset.ids, labels, strict=True)
                    if label is not None
                ]
                if rows:
                    conn.execute(insert(label_events), rows)
        except IntegrityError:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(
                f"A project named {name!r} exists already; pick another name."
            ) from None
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return self.open_project(project_id)

    def open_project(self, key: int | str) -> Project:
        column = projects.c.id if isinstance(key, int) else projects.c.name
        with self.db.begin() as conn:
            row = conn.execute(select(projects).where(column == key)).mappings().first()
        if row is None:
            raise StoreError(f"There is no project {key!r} in {self.data_dir}.")
        return Project(self, dict(row))

    def delete_project(self, key: int | str) -> None:
        project = self.open_project(key)
        with self.db.begin() as conn:
            conn.execute(label_events.delete().where(label_events.c.project_id == project.id))
            conn.execute(reservations.delete().where(reservations.c.project_id == project.id))
            conn.execute(
                update(classes).where(classes.c.project_id == project.id).values(merged_into=None)
            )
            conn.execute(classes.delete().where(classes.c.project_id == project.id))
            conn.execute(projects.delete().where(projects.c.id == project.id))
        shutil.rmtree(project.folder, ignore_errors=True)


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    color: str
    position: int
    merged_into: int | None


class Project:
    """One project: its items, classes and label events."""

    def __init__(self, store: Store, row: dict):
        self.store = store
        self.id = row["id"]
        self.name = row["name"]
        self.kind = row["kind"]
        self.n_items = row["n_items"]
        self.feature_columns = tuple(json.loads(row["feature_columns"]))
        self.settings = json.loads(row["settings"])
        self.folder = store.data_dir / "projects" / row["folder"]
        self.cache = ArtifactCache(self.folder / "cache")
        self._dataset: Dataset | None = None
        self._item_ids: frozenset[str] | None = None
        self._state = LabelState()
        self._state_lock = threading.Lock()  # one Project may serve several UI sessions
        self._reservations = Reservations(self.id)

    def __repr__(self) -> str:
        return f"Project({self.id}, {self.name!r}, {self.kind}, {self.n_items} items)"

    @property
    def db(self):
        return self.store.db

    def dataset(self) -> Dataset:
        """The items as imported (without labels: those live in the events)."""
        if self._dataset is None:
            items = pd.read_parquet(self.folder / "items.parquet")
            items[LABEL] = None
            self._dataset = Dataset(self.name, self.kind, items, self.feature_columns)
        return self._dataset

    def item_ids(self) -> frozenset[str]:
        """Every item id of the project (items never change after the import)."""
        if self._item_ids is None:
            self._item_ids = frozenset(self.dataset().items[ID].tolist())
        return self._item_ids

    # Classes ------------------------------------------------------------------

    def classes(self, *, include_merged: bool = False) -> list[ClassInfo]:
        with self.db.begin() as conn:
            rows = conn.execute(
                select(classes)
                .where(classes.c.project_id == self.id)
                .order_by(classes.c.position, classes.c.id)
            ).mappings()
            infos = [
                ClassInfo(r["id"], r["name"], r["color"], r["position"], r["merged_into"])
                for r in rows
            ]
        return [c for c in infos if include_merged or c.merged_into is None]

    def class_names(self) -> list[str]:
        return [c.name for c in self.classes()]

    def add_class(self, name: str, *, color: str | None = None) -> ClassInfo:
        name = name.strip()
        if not name:
            raise StoreError("A class needs a name.")
        existing = self.classes(include_merged=True)
        if any(c.name == name for c in existing):
            raise StoreError(f"The class {name!r} exists already in {self.name!r}.")
        position = max((c.position for c in existing), default=-1) + 1
        color = color or PALETTE[position % len(PALETTE)]
        with self.db.begin() as conn:
            class_id = conn.execute(
                insert(classes).values(
                    project_id=self.id, name=name, color=color, position=position
                )
            ).inserted_primary_key[0]
        return ClassInfo(class_id, name, color, position, None)

    def rename_class(self, old: str, new: str) -> None:
        new = new.strip()
        if not new:
            raise StoreError("A class needs a name.")
        if new in [c.name for c in self.classes(include_merged=True)]:
            raise StoreError(f"The class {new!r} exists already; merge the classes instead.")
        self._update_class(old, name=new)

    def set_class_color(self, name: str, color: str) -> None:
        self._update_class(name, color=color)

    def merge_classes(self, source: str, target: str) -> None:
        """Every label of class ``source`` now reads as ``target``; events stay as they were."""
        if source == target:
            raise StoreError("Pick two different classes to merge.")
        target_id = self._class_id(target)
        self._update_class(source, merged_into=target_id)

    def _update_class(self, class_name: str, /, **values) -> None:
        class_id = self._class_id(class_name)
        with self.db.begin() as conn:
            conn.execute(update(classes).where(classes.c.id == class_id).values(**values))

    def _class_id(self, name: str) -> int:
        for c in self.classes():
            if c.name == name:
                return c.id
        raise StoreError(f"There is no class {name!r} in {self.name!r}; add it first.")

    def class_names_by_id(self) -> dict[int, str]:
        """Class id to the name it reads as now (after renames and merges)."""
        infos = {c.id: c for c in self.classes(include_merged=True)}

        def resolve(class_id: int) -> str:
            seen = set()
            while infos[class_id].merged_into is not None and class_id not in seen:
                seen.add(class_id)
                class_id = infos[class_id].merged_into
            return infos[class_id].name

        return {class_id: resolve(class_id) for class_id in infos}

    # Events -------------------------------------------------------------------

    def label(
        self,
        item_id: str,
        class_name: str | None,
        *,
        annotator: str,
        source: str = "human",
        model_round: int | None = None,
        confidence: float | None = None,
    ) -> int:
        """Record one label (``class_name=None`` clears it); returns the event id.

        The event is committed to disk when this returns.
        """
        return self._write([(item_id, class_name, confidence)], source, annotator, model_round)[0]

    def reject(
        self,
        item_id: str,
        class_name: str,
        *,
        annotator: str,
        model_round: int | None = None,
        confidence: float | None = None,
    ) -> int:
        """Record that a person rejected the suggestion ``class_name`` for an item."""
        (event_id,) = self._write(
            [(item_id, class_name, confidence)], "rejected", annotator, model_round
        )
        return event_id

    def label_many(
        self,
        labels: Iterable[tuple[str, str]],
        *,
        annotator: str,
        source: str = "bulk",
        model_round: int | None = None,
        confidences: Iterable[float] | None = None,
    ) -> str:
        """Record many labels in one transaction; returns the batch id that undoes them all."""
        labels = list(labels)
        confidences = list(confidences) if confidences is not None else [None] * len(labels)
        batch_id = uuid.uuid4().hex
        rows = [(i, c, p) for (i, c), p in zip(labels, confidences, strict=True)]
        self._write(rows, source, annotator, model_round, batch_id=batch_id)
        return batch_id

    def _write(self, rows, source, annotator, model_round, *, batch_id=None) -> list[int]:
        if source not in SOURCES or source == "undo":
            raise StoreError(f"Unknown label source {source!r}; use one of {SOURCES[:-1]}.")
        annotator = _annotator_name(annotator)
        known_items = self.item_ids()
        class_ids = {c.name: c.id for c in self.classes()}
        values = []
        now = time.time()
        for item_id, class_name, confidence in rows:
            if item_id not in known_items:
                raise StoreError(f"There is no item {item_id!r} in {self.name!r}.")
            if class_name is not None and class_name not in class_ids:
                raise StoreError(f"There is no class {class_name!r} in {self.name!r}; add it.")
            if class_name is None and source == "rejected":
                raise StoreError("A rejection names the class that was rejected.")
            values.append(
                dict(
                    project_id=self.id,
                    item_id=item_id,
                    class_id=None if class_name is None else class_ids[class_name],
                    source=source,
                    annotator=annotator,
                    created_at=now,
                    model_round=model_round,
                    confidence=None if confidence is None else float(confidence),
                    batch_id=batch_id,
                )
            )
        if not values:
            return []
        with self.db.begin() as conn:
            ids = [
                conn.execute(insert(label_events).values(**v)).inserted_primary_key[0]
                for v in values
            ]
            if source != "rejected":
                self._reservations.release_items(conn, [v["item_id"] for v in values], now)
        return ids

    def undo(self, event_id: int, *, annotator: str) -> list[LabelEvent]:
        """Cancel one event, or its whole batch if it was part of one.

        Returns the events cancelled (none if they were already).
        """
        annotator = _annotator_name(annotator)
        # Read and write in one transaction, so two people undoing the same event at
        # once cannot both be told they did it.
        with self._state_lock, self.db.begin() as conn:
            state = self._catch_up(conn)
            target = state.event(event_id)
            if target is None or target.source == "undo":
                raise StoreError(f"There is no label event {event_id} to undo in {self.name!r}.")
            if target.batch_id is not None:
                targets = [
                    e
                    for e in state.events()
                    if e.batch_id == target.batch_id and e.source != "undo"
                ]
            else:
                targets = [target]
            targets = [e for e in targets if not state.is_undone(e.id)]
            now = time.time()
            for e in targets:
                conn.execute(
                    insert(label_events).values(
                        project_id=self.id,
                        item_id=e.item_id,
                        class_id=e.class_id,
                        source="undo",
                        annotator=annotator,
                        created_at=now,
                        undoes=e.id,
                        batch_id=e.batch_id,
                    )
                )
        return targets

    def undo_batch(self, batch_id: str, *, annotator: str) -> list[LabelEvent]:
        """Cancel every event of a bulk action (the id :meth:`label_many` returned)."""
        first = next((e for e in self.state().events() if e.batch_id == batch_id), None)
        if first is None:
            raise StoreError(f"There is no bulk action {batch_id!r} to undo in {self.name!r}.")
        return self.undo(first.id, annotator=annotator)

    def last_action(self, annotator: str) -> list[LabelEvent]:
        """The events :meth:`undo_last` would cancel now (all of a batch), oldest first."""
        state = self.state()
        for ev in reversed(state.events()):
            if ev.annotator == annotator and ev.source != "undo" and not state.is_undone(ev.id):
                if ev.batch_id is None:
                    return [ev]
                batch = [e for e in state.events() if e.batch_id == ev.batch_id]
                return [e for e in batch if e.source != "undo" and not state.is_undone(e.id)]
        return []

    def undo_last(self, annotator: str) -> list[LabelEvent]:
        """Undo this annotator's latest action (a bulk accept counts as one action)."""
        last = self.last_action(annotator)
        return self.undo(last[-1].id, annotator=annotator) if last else []

    def state(self) -> LabelState:
        """Labels derived from every event so far (new events are fetched and applied)."""
        with self._state_lock, self.db.begin() as conn:
            return self._catch_up(conn)

    def _catch_up(self, conn) -> LabelState:
        """Apply the events committed since the last call; the caller holds ``_state_lock``."""
        for ev in read_events(conn, self.id, after=self._state.last_event_id):
            self._state.apply(ev)
        return self._state

    def labels(self) -> dict[str, str]:
        """Current label (class name) of every labeled item."""
        names = self.class_names_by_id()
        return {item: names[class_id] for item, class_id in self.state().labels.items()}

    def rejections(self) -> set[tuple[str, str]]:
        """(item id, class name) pairs a person rejected and has not undone."""
        names = self.class_names_by_id()
        return {(item, names[class_id]) for item, class_id in self.state().rejected}

    def events(self) -> pd.DataFrame:
        """Every event, oldest first, with class names resolved."""
        names = self.class_names_by_id()
        state = self.state()
        rows = [
            {**ev.__dict__, "class_name": names.get(ev.class_id), "undone": state.is_undone(ev.id)}
            for ev in state.events()
        ]
        columns = [*LabelEvent.__dataclass_fields__, "class_name", "undone"]
        return pd.DataFrame(rows, columns=columns)

    # Reservations -------------------------------------------------------------

    def reserve_next(
        self, candidates: Iterable[str], *, annotator: str, ttl: float = 300.0
    ) -> str | None:
        """Reserve for ``annotator`` the first candidate nobody else holds; return its id.

        In one write transaction: the first item of ``candidates`` that is not
        labeled and not reserved by another annotator (with a reservation that
        has not expired) is reserved for ``annotator`` for ``ttl`` seconds, and
        the reservation this annotator held before is released. Asking again
        for the item one holds extends its reservation. Labeling an item
        releases its reservation, in the transaction that writes the label.

        Parameters
        ----------
        candidates : iterable of str
            Item ids, most wanted first (e.g. the next items the model would ask
            about). Read lazily, only until one is free.
        annotator : str
            Who will label it.
        ttl : float, default=300.0
            Seconds after which the reservation lapses if the item is not labeled.

        Returns
        -------
        str or None
            The reserved item id, or None when every candidate is taken or labeled
            (the annotator then holds nothing).

        Examples
        --------
        >>> import tempfile
        >>> from sslcore.demos import load_demo
        >>> moons = load_demo("moons")
        >>> p = Store(tempfile.mkdtemp()).create_project("m", moons, import_labels=False)
        >>> p.reserve_next(["point-0001", "point-0002"], annotator="ann")
        'point-0001'
        >>> p.reserve_next(["point-0001", "point-0002"], annotator="bob")
        'point-0002'
        >>> sorted(p.reservations())
        ['point-0001', 'point-0002']
        """
        annotator = _annotator_name(annotator)
        if not ttl > 0:
            raise StoreError(f"A reservation needs a positive time to live, not {ttl!r}.")
        # The state lock is taken before the database lock, as in state().
        with self._state_lock, self.db.begin() as conn:
            labeled = self._catch_up(conn).labels
            return self._reservations.grant(
                conn, candidates, annotator=annotator, ttl=ttl, now=time.time(),
                unavailable=labeled.keys(),
            )  # fmt: skip

    def release(self, annotator: str) -> None:
        """Release every reservation ``annotator`` holds in this project.

        Examples
        --------
        >>> import tempfile
        >>> from sslcore.demos import load_demo
        >>> moons = load_demo("moons")
        >>> p = Store(tempfile.mkdtemp()).create_project("m", moons, import_labels=False)
        >>> p.reserve_next(["point-0001"], annotator="ann")
        'point-0001'
        >>> p.release("ann")
        >>> p.reservations()
        {}
        """
        annotator = _annotator_name(annotator)
        with self.db.begin() as conn:
            self._reservations.release(conn, annotator, time.time())

    def reservations(self) -> dict[str, tuple[str, float]]:
        """Item id to (annotator, expires_at) for every reservation still running.

        ``expires_at`` is a Unix time in seconds.

        Examples
        --------
        >>> import tempfile
        >>> from sslcore.demos import load_demo
        >>> moons = load_demo("moons")
        >>> p = Store(tempfile.mkdtemp()).create_project("m", moons, import_labels=False)
        >>> p.reserve_next(["point-0001"], annotator="ann", ttl=60)
        'point-0001'
        >>> p.reservations()["point-0001"][0]
        'ann'
        """
        with self.db.begin() as conn:
            return self._reservations.held(conn, time.time())

    def reservation_log(self) -> pd.DataFrame:
        """Every reservation ever granted, oldest first: item_id, annotator,
        reserved_at, expires_at, released_at (empty while it runs or if it lapsed)."""
        with self.db.begin() as conn:
            return self._reservations.log(conn)

    def update_settings(self, **values) -> None:
        self.settings = {**self.settings, **values}
        with self.db.begin() as conn:
            conn.execute(
                update(projects)
                .where(projects.c.id == self.id)
                .values(settings=json.dumps(self.settings))
            )
