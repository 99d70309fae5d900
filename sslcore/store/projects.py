"""Projects: items on disk, classes, label events and undo, in SQLite or PostgreSQL.

Every write is committed (and synced to disk) before the call returns.

Layout under the data directory::

    data/
      sslabel.db            projects, classes, label events, reservations (SQLite)
      projects/<folder>/    items.parquet and the artefact cache of one project

With a PostgreSQL store (``database_url``), the database lives on the server and
the items file is kept in it too; each machine's data directory holds a copy of
it, fetched the first time the project is opened there, and its own cache.
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
from sqlalchemy import insert, inspect, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from ..cache import ArtifactCache
from ..dataset import ID, LABEL, MAX_CLASSES, TOO_MANY_CLASSES_ADVICE, Dataset
from ..errors import StoreError
from .events import PICKED, SOURCES, LabelEvent, LabelState, read_events
from .files import (
    check_data_dir,
    check_database_file,
    database_error,
    deleted_folder,
    incoming_folder,
    project_folders,
    recovery_hint,
    settle_folders,
    sqlite_path,
    write_error,
)
from .locks import lock_item, lock_project_events, retrying
from .reservations import Reservations
from .schema import (
    classes,
    connect,
    label_events,
    migrate,
    project_files,
    projects,
    reservations,
    resolve_database_url,
)

DATA_DIR_ENV = "SSLABEL_DATA_DIR"

PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2",
    "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#17BECF",
)  # fmt: skip
"""Colours given to new classes in turn. None is grey: the map draws unlabeled points in
grey (and nothing where the model is unsure)."""


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


ITEMS_FILE = "items.parquet"


class Store:
    """All projects of one database: a SQLite file in ``data_dir`` (the default) or a
    PostgreSQL server named by ``database_url`` (or ``$SSLABEL_DATABASE_URL``), e.g.
    ``postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE``.

    ``data_dir`` holds each project's items file and artefact cache either way.

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

    def __init__(
        self, data_dir: str | os.PathLike | None = None, *, database_url: str | None = None
    ):
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        check_data_dir(self.data_dir)
        url = resolve_database_url(self.data_dir, database_url)
        sqlite_file = sqlite_path(url)
        if sqlite_file is not None:
            check_database_file(sqlite_file, self.data_dir)
        self.db = connect(url)
        self.backend = self.db.dialect.name
        """``"sqlite"`` or ``"postgresql"``."""
        self.db_path = Path(self.db.url.database) if self.backend == "sqlite" else None
        """The SQLite file, or None for a server."""
        self.location = self.db_path or self.db.url.render_as_string(hide_password=True)
        """Where the database is, for messages (a URL never shows its password)."""
        try:
            if (
                self.backend == "sqlite"
                and project_folders(self.data_dir)
                and not inspect(self.db).has_table("schema_info")
            ):
                raise StoreError(
                    f"{self.db_path}: holds no sslabel tables, yet {self.data_dir / 'projects'} "
                    f"holds project folders: a new store here would orphan them. "
                    + recovery_hint(self.data_dir)
                )
            migrate(self.db, self.location)
            self.settled = settle_folders(self.data_dir, self._folders())
        except DatabaseError as error:
            self.db.dispose()
            raise database_error(self.location, error, self.data_dir) from None
        except StoreError:
            self.db.dispose()
            raise

    def _folders(self) -> set[str]:
        with self.db.begin() as conn:
            return set(conn.execute(select(projects.c.folder)).scalars())

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
        labels = dataset.labels if import_labels else [None] * dataset.n_items
        imported = sorted({c for c in labels if c is not None} - set(class_names))
        class_names = [*dict.fromkeys(class_names), *imported]
        _check_class_count(len(class_names))
        folder = f"{_slug(name)}-{uuid.uuid4().hex[:8]}"
        # Written under a hidden name and renamed once the project row is committed, so a
        # kill at any point leaves no folder the database does not know (files.py).
        target = incoming_folder(self.data_dir, folder)
        try:
            target.mkdir(parents=True)
            dataset.items.to_parquet(target / ITEMS_FILE, index=False)
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
                if self.backend != "sqlite":  # other machines fetch the items from here
                    conn.execute(
                        insert(project_files).values(
                            project_id=project_id,
                            name=ITEMS_FILE,
                            data=(target / ITEMS_FILE).read_bytes(),
                        )
                    )
        except IntegrityError:
            shutil.rmtree(target, ignore_errors=True)
            raise StoreError(
                f"A project named {name!r} exists already; pick another name."
            ) from None
        except OSError as error:
            shutil.rmtree(target, ignore_errors=True)
            raise write_error(Path(error.filename or target), error) from None
        except DatabaseError as error:
            shutil.rmtree(target, ignore_errors=True)
            raise database_error(self.location, error, self.data_dir) from None
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        target.rename(self.data_dir / "projects" / folder)
        return self.open_project(project_id)

    def open_project(self, key: int | str) -> Project:
        column = projects.c.id if isinstance(key, int) else projects.c.name
        with self.db.begin() as conn:
            row = conn.execute(select(projects).where(column == key)).mappings().first()
        if row is None:
            raise StoreError(f"There is no project {key!r} in {self.location}.")
        return Project(self, dict(row))

    def delete_project(self, key: int | str) -> None:
        project = self.open_project(key)
        # Renamed first so that a kill half-way is finished or undone at the next start.
        parked = deleted_folder(self.data_dir, project.folder.name)
        if project.folder.exists():
            project.folder.rename(parked)
        with self.db.begin() as conn:
            conn.execute(label_events.delete().where(label_events.c.project_id == project.id))
            conn.execute(reservations.delete().where(reservations.c.project_id == project.id))
            conn.execute(project_files.delete().where(project_files.c.project_id == project.id))
            conn.execute(
                update(classes).where(classes.c.project_id == project.id).values(merged_into=None)
            )
            conn.execute(classes.delete().where(classes.c.project_id == project.id))
            conn.execute(projects.delete().where(projects.c.id == project.id))
        shutil.rmtree(parked, ignore_errors=True)


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
            path = self._items_file()
            try:
                items = pd.read_parquet(path)
            except Exception as error:  # pyarrow raises several types for a damaged file
                raise StoreError(
                    f"{path}: the items of project {self.name!r} cannot be read ({error}); "
                    f"the file is damaged. Restore it from a backup ('sslabel backup'), or "
                    f"delete the project."
                ) from None
            items[LABEL] = None
            self._dataset = Dataset(self.name, self.kind, items, self.feature_columns)
        return self._dataset

    def _items_file(self) -> Path:
        """The items file on this machine, fetched from the database the first time."""
        path = self.folder / ITEMS_FILE
        if path.exists():
            return path
        with self.db.begin() as conn:
            data = conn.execute(
                select(project_files.c.data)
                .where(project_files.c.project_id == self.id)
                .where(project_files.c.name == ITEMS_FILE)
            ).scalar()
        if data is None:
            raise StoreError(
                f"{path}: the items of project {self.name!r} are missing and the database "
                f"holds no copy. Restore the file from a backup ('sslabel backup'), or import "
                f"the data again as a new project; its labels stay in {self.store.location}."
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{ITEMS_FILE}.{uuid.uuid4().hex}")
        partial.write_bytes(data)
        os.replace(partial, path)  # never a half-written items file under the real name
        return path

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
        _check_class_count(sum(c.merged_into is None for c in existing) + 1)
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
        picked: str | None = None,
    ) -> int:
        """Record one label (``class_name=None`` clears it); returns the event id.

        ``picked`` says why the item was on screen, if a strategy chose it for the model's
        doubt or at random (:data:`sslcore.store.events.PICKED`). The event is committed to
        disk when this returns.
        """
        rows = [(item_id, class_name, confidence)]
        return self._write(rows, source, annotator, model_round, picked=picked)[0]

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

    def resolve(self, item_id: str, class_name: str, *, annotator: str) -> int:
        """Settle a disputed item's label as a reviewer; returns the event id.

        The votes stay as they were: a resolution is an event of its own, and
        undoing it brings the dispute back.

        Examples
        --------
        >>> import tempfile
        >>> from sslcore.demos import load_demo
        >>> p = Store(tempfile.mkdtemp()).create_project(
        ...     "m", load_demo("moons"), import_labels=False, class_names=["upper", "lower"])
        >>> p.set_overlap(2)
        >>> _ = p.label("point-0001", "upper", annotator="ann")
        >>> _ = p.label("point-0001", "lower", annotator="bob")
        >>> p.conflicts()
        ['point-0001']
        >>> _ = p.resolve("point-0001", "lower", annotator="rev")
        >>> p.labels(), p.conflicts()
        ({'point-0001': 'lower'}, [])
        """
        if class_name is None:
            raise StoreError("A resolution names the class the item has.")
        (event_id,) = self._write([(item_id, class_name, None)], "resolved", annotator, None)
        return event_id

    def _write(
        self, rows, source, annotator, model_round, *, batch_id=None, picked=None
    ) -> list[int]:
        if source not in SOURCES or source == "undo":
            raise StoreError(f"Unknown label source {source!r}; use one of {SOURCES[:-1]}.")
        if picked is not None and picked not in PICKED:
            raise StoreError(f"Unknown reason an item was picked {picked!r}; use one of {PICKED}.")
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
                    picked=picked,
                )
            )
        if not values:
            return []

        def write(conn) -> list[int]:
            lock_project_events(conn, self.id)
            ids = [
                conn.execute(insert(label_events).values(**v)).inserted_primary_key[0]
                for v in values
            ]
            if source != "rejected":
                self._reservations.release_items(conn, [v["item_id"] for v in values], now)
            return ids

        return retrying(self.db, write)

    def undo(self, event_id: int, *, annotator: str) -> list[LabelEvent]:
        """Cancel one event, or its whole batch if it was part of one.

        Returns the events cancelled (none if they were already).
        """
        annotator = _annotator_name(annotator)
        # Read and write in one transaction, so two people undoing the same event at
        # once cannot both be told they did it.
        with self._state_lock, self.db.begin() as conn:
            lock_project_events(conn, self.id)
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
        """Current label (class name) of every labeled item.

        With an overlap of 1 the last label given wins; with more, an item is
        labeled when its votes agree or a reviewer resolved it, and a disputed
        item is left out (see :mod:`sslcore.store.events`).
        """
        names = self.class_names_by_id()
        return {item: names[ev.class_id] for item, ev in self.current_events().items()}

    def current_events(self) -> dict[str, LabelEvent]:
        """The event that gives each labeled item its label (see :meth:`labels`)."""
        names = self.class_names_by_id()
        return self.state().current(consensus=self.overlap() > 1, reads_as=names.get)

    def overlap(self) -> int:
        """How many annotators label each item (the project setting ``overlap``, default 1),
        read from the database so that a change made elsewhere counts at once."""
        with self.db.begin() as conn:
            return self._overlap(conn)

    def _overlap(self, conn) -> int:
        raw = conn.execute(select(projects.c.settings).where(projects.c.id == self.id)).scalar()
        self.settings = json.loads(raw) if raw is not None else self.settings
        return int(self.settings.get("overlap", 1))

    def set_overlap(self, n: int) -> None:
        """Have each item labeled by ``n`` annotators (1 to 20)."""
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 20:
            raise StoreError(
                f"The overlap is a whole number of annotators from 1 to 20, not {n!r}."
            )
        self.update_settings(overlap=n)

    def votes(self) -> pd.DataFrame:
        """Every annotator's current label of every item they labeled:
        ``item_id, annotator, class_name, event_id``, ordered by item and event."""
        names = self.class_names_by_id()
        rows = [
            (item, who, names[ev.class_id], ev.id)
            for item, votes in self.state().votes().items()
            for who, ev in votes.items()
        ]
        columns = ["item_id", "annotator", "class_name", "event_id"]
        return pd.DataFrame(rows, columns=columns).sort_values(
            ["item_id", "event_id"], ignore_index=True
        )

    def awaiting_votes(self, annotator: str) -> list[str]:
        """Items that have some votes but fewer than the overlap asks for, that ``annotator``
        has not labeled and no reviewer resolved, oldest first (none with an overlap of 1).

        Examples
        --------
        >>> import tempfile
        >>> from sslcore.demos import load_demo
        >>> p = Store(tempfile.mkdtemp()).create_project(
        ...     "m", load_demo("moons"), import_labels=False, class_names=["upper", "lower"])
        >>> p.set_overlap(2)
        >>> _ = p.label("point-0007", "upper", annotator="ann")
        >>> p.awaiting_votes("bob"), p.awaiting_votes("ann")
        (['point-0007'], [])
        """
        overlap = self.overlap()
        if overlap == 1:
            return []
        state = self.state()
        started = [
            (min(ev.id for ev in votes.values()), item)
            for item, votes in state.votes().items()
            if len(votes) < overlap and annotator not in votes and state.resolution(item) is None
        ]
        return [item for _, item in sorted(started)]

    def conflicts(self) -> list[str]:
        """Items whose annotators disagree and that no reviewer resolved yet, sorted
        (always none with an overlap of 1, where a later label replaces an earlier one).

        Votes are compared by the class each reads as now, so a merge of two classes
        ends the disputes between them.
        """
        if self.overlap() == 1:
            return []
        return sorted(self.state().disputed(self.class_names_by_id().get))

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
        candidates = iter(candidates)
        seen: list[str] = []  # a retried transaction reads the same candidates again

        def again():
            yield from seen
            for c in candidates:
                seen.append(c)
                yield c

        # The state lock is taken before the database lock, as in state().
        with self._state_lock:
            return retrying(self.db, lambda conn: self._grant(conn, again(), annotator, ttl))

    def _grant(self, conn, candidates, annotator: str, ttl: float) -> str | None:
        overlap = self._overlap(conn)
        state = self._catch_up(conn)

        def open_to(item: str, others: set[str], fresh: bool) -> bool:
            if fresh:
                self._catch_up(conn)
            if state.resolution(item) is not None:
                return False
            if overlap == 1:  # labeled by anyone (the last label wins), or held: taken
                return not state.is_labeled(item) and not others
            # Never the same item twice to one person; at most `overlap` people per item.
            voters = set(state.votes(item).get(item, {}))
            return annotator not in voters and len(voters | others) < overlap

        return self._reservations.grant(
            conn, candidates, annotator=annotator, ttl=ttl, clock=time.time, open_to=open_to,
            lock=lambda item, wait: lock_item(conn, self.id, item, wait),
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
        """Item id to (annotator, expires_at) for every reservation still running (the
        earliest hold of an item several people hold: see :meth:`holds`).

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

    def holds(self) -> list[tuple[str, str, float]]:
        """(item id, annotator, expires_at) of every reservation still running, oldest first;
        with an overlap above 1 an item may appear once per annotator holding it."""
        with self.db.begin() as conn:
            return self._reservations.holds(conn, time.time())

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


def _check_class_count(n_classes: int) -> None:
    if n_classes > MAX_CLASSES:
        raise StoreError(
            f"{n_classes:,} classes is more than the {MAX_CLASSES:,} a project can have: every "
            f"label would take seconds to spread over all of them. " + TOO_MANY_CLASSES_ADVICE
        )
