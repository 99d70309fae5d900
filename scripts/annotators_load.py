"""Several annotators, each a process of its own, labeling one project at once,
on SQLite (the default) or on a PostgreSQL server (``--database-url``).

Each annotator loops until time is up: reserve the next unlabeled item (a shared
priority order) with ``Project.reserve_next``, then label it (mostly), label it
with two more in one ``label_many``, reject a class for it, or leave it; now and
then undo its last action, or wander off past the reservation's time to live.
Every value a call returned (event ids, batch ids, undone events, reserved items)
is recorded and, at the end, checked against the database:

* ``lost``: acknowledged events missing from the database, plus events in the
  database that no annotator was acknowledged (both must be 0);
* ``duplicate_reservations``: grants of one item to more annotators at the same
  time than the overlap allows (1 by default), counting each hold until it lapsed
  or was released (must be 0);
* ``handed_twice``: grants of an item to an annotator whose own label of it
  stood at that moment (must be 0);
* ``replay_equal``: ``Project.labels()`` equals ``derive_labels`` over the events
  read back by the plain driver (sqlite3 or psycopg), and a reference replay
  written here from scratch;
* ``integrity``: SQLite's ``PRAGMA integrity_check``; on PostgreSQL, that every
  undo points at an event and every class at one of the project's classes.

``labels_per_second`` counts acknowledged labels (a bulk accept counts its
items); ``handout_p50_ms``/``handout_p95_ms`` time ``reserve_next`` calls.
With ``kill_after`` (PostgreSQL, from the test suite) the server is killed
with SIGKILL that many seconds in and started again; annotators whose call
failed meanwhile retry, and ``extra`` counts events that landed although their
call failed (the commit reached the server, its answer did not).

Run::

    .venv/bin/python scripts/annotators_load.py --annotators 4 --seconds 30
    .venv/bin/python scripts/annotators_load.py --annotators 8 --seconds 30 \\
        --database-url postgresql+psycopg://USER@127.0.0.1:5432/DB

It prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.exc import DBAPIError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslcore.dataset import Dataset  # noqa: E402
from sslcore.store import LabelEvent, Store, derive_labels  # noqa: E402
from sslcore.store.events import VOTING_SOURCES  # noqa: E402

PROJECT = "load"
CLASSES = ["a", "b", "c"]
MAX_ACTIONS = 200_000  # per annotator: a bound on the loop besides the clock


def make_project(data_dir: Path, n_items: int, database_url=None, overlap=1) -> list[str]:
    """A text project of ``n_items`` items; returns the shared priority order."""
    ids = [f"item-{i:06d}" for i in range(n_items)]
    items = pd.DataFrame({"item_id": ids, "text": [f"text {i}" for i in range(n_items)]})
    items["label"] = None
    store = Store(data_dir, database_url=database_url)
    project = store.create_project(PROJECT, Dataset(PROJECT, "text", items), class_names=CLASSES)
    project.set_overlap(overlap)
    store.close()
    return random.Random(0).sample(ids, len(ids))


def _done(project, annotator: str, overlap: int) -> set[str]:
    """Items not worth offering to ``annotator``: labeled (overlap 1), or with enough votes
    or their own vote (overlap above 1). The store checks again; this keeps the list short."""
    state = project.state()
    if overlap == 1:
        return set(state.labels)
    return {
        item for item, votes in state.votes().items() if len(votes) >= overlap or annotator in votes
    }


def annotate(
    data_dir, database_url, overlap, annotator, order, seconds, ttl, seed, barrier, results
) -> None:
    """One annotator's session; puts what it was acknowledged on ``results``."""
    store = Store(data_dir, database_url=database_url)
    project = store.open_project(PROJECT)
    rng = random.Random(seed)
    acks = dict(labels=[], batches=[], rejects=[], undone=[], grants=[], errors=[], handout=[])
    barrier.wait(timeout=120)
    started = time.monotonic()
    deadline = started + seconds
    for _ in range(MAX_ACTIONS):
        if time.monotonic() >= deadline:
            break
        try:
            if not _act(project, annotator, order, overlap, ttl, rng, acks):
                break  # every item is labeled or held
        except DBAPIError as exc:  # the server went away: what failed was not acknowledged
            acks["errors"].append(type(exc.orig).__name__)
            time.sleep(0.2)
    try:
        project.release(annotator)
    except DBAPIError:
        pass
    acks["seconds"] = time.monotonic() - started
    store.close()
    results.put((annotator, acks))


def _act(project, annotator, order, overlap, ttl, rng, acks) -> bool:
    """One step of an annotator's loop; False when nothing is left to hand out."""
    done = _done(project, annotator, overlap)
    started = time.perf_counter()
    item = project.reserve_next((i for i in order if i not in done), annotator=annotator, ttl=ttl)
    acks["handout"].append(time.perf_counter() - started)
    if item is None:
        return False
    acks["grants"].append(item)
    roll = rng.random()
    if roll < 0.004:  # wanders off: the reservation lapses, then labels anyway
        time.sleep(ttl * 1.2)
    if roll < 0.10:
        extra = _two_more(project, order, item)
        pairs = [(i, rng.choice(CLASSES)) for i in [item, *extra]]
        batch = project.label_many(pairs, annotator=annotator, source="accepted")
        acks["batches"].append((batch, [i for i, _ in pairs]))
    elif roll < 0.17:
        event_id = project.reject(item, rng.choice(CLASSES), annotator=annotator)
        acks["rejects"].append((event_id, item))
    elif roll < 0.20:
        pass  # skips it: the next reserve_next replaces the reservation
    else:
        event_id = project.label(item, rng.choice(CLASSES), annotator=annotator)
        acks["labels"].append((event_id, item))
    if rng.random() < 0.08:
        acks["undone"].extend(e.id for e in project.undo_last(annotator))
    return True


def _two_more(project, order, item) -> list[str]:
    """Two unlabeled items nobody holds, to bulk-label with ``item``."""
    state, held = project.state(), project.reservations()
    free = (i for i in order if i != item and not state.votes(i) and i not in held)
    return [i for i, _ in zip(free, range(2), strict=False)]


def run(
    annotators: int,
    seconds: float,
    *,
    data_dir=None,
    n_items=20_000,
    ttl=1.0,
    database_url=None,
    overlap=1,
    kill_after=None,
    server=None,
) -> dict:
    """Run the load; returns the figures (and, under ``"acks"``, what each was acknowledged).

    ``server`` (with ``kill()`` and ``start()``, e.g. tests/pgserver.py's cluster) is
    killed ``kill_after`` seconds into the run and started again.
    """
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(data_dir or tmp)
        order = make_project(data_dir, n_items, database_url, overlap)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(annotators + 1)
        results = context.Queue()
        workers = [
            context.Process(
                target=annotate,
                args=(
                    data_dir,
                    database_url,
                    overlap,
                    f"annotator-{k}",
                    order,
                    seconds,
                    ttl,
                    k,
                    barrier,
                    results,
                ),
            )  # fmt: skip
            for k in range(annotators)
        ]
        for w in workers:
            w.start()
        barrier.wait(timeout=180)
        killer = None
        if kill_after is not None:
            killer = threading.Timer(kill_after, _crash_and_restart, args=(server,))
            killer.start()
        acks = {}
        try:
            for _ in workers:
                name, got = results.get(timeout=seconds + 180)
                acks[name] = got
        finally:
            if killer is not None:
                killer.join()
            for w in workers:
                w.join(timeout=30)
                if w.is_alive():
                    w.kill()
        return {
            **check(data_dir, acks, database_url, overlap),
            "annotators": annotators,
            "seconds": seconds,
            "overlap": overlap,
            "backend": "postgresql" if database_url else "sqlite",
            "acks": acks,
        }


def _crash_and_restart(server) -> None:
    server.kill()
    time.sleep(1.0)
    server.start()


EVENTS_SQL = (
    "SELECT e.id, e.item_id, e.class_id, e.source, e.annotator, e.created_at, "
    "e.model_round, e.confidence, e.batch_id, e.undoes FROM label_events e "
    "JOIN projects p ON p.id = e.project_id WHERE p.name = {} ORDER BY e.id"
)


def read_events(store: Store) -> list[LabelEvent]:
    """Every label event of the load project, read by the plain driver (not through Store)."""
    if store.backend == "sqlite":
        with sqlite3.connect(store.db_path) as conn:
            rows = conn.execute(EVENTS_SQL.format("?"), (PROJECT,)).fetchall()
    else:
        import psycopg

        url = store.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url) as conn:
            rows = conn.execute(EVENTS_SQL.format("%s"), (PROJECT,)).fetchall()
    return [LabelEvent(*row) for row in rows]


def integrity(store: Store) -> str:
    if store.backend == "sqlite":
        with sqlite3.connect(store.db_path) as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]
    from sqlalchemy import text

    with store.db.begin() as conn:
        dangling = conn.execute(
            text(
                "SELECT count(*) FROM label_events e WHERE (e.undoes IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM label_events u WHERE u.id = e.undoes)) OR (e.class_id IS NOT "
                "NULL AND NOT EXISTS (SELECT 1 FROM classes c WHERE c.id = e.class_id AND "
                "c.project_id = e.project_id))"
            )
        ).scalar()
    return "ok" if dangling == 0 else f"{dangling} dangling references"


def reference_labels(events: list[LabelEvent], consensus: bool = False) -> dict[str, int]:
    """An item's label is that of its latest labeling event not undone (None clears); with
    ``consensus``, the class all annotators' latest labels agree on. Resolutions win."""
    undone = {e.undoes for e in events if e.source == "undo"}
    latest, votes, resolved = {}, defaultdict(dict), {}
    for e in sorted(events, key=lambda e: e.id):
        if e.id in undone:
            continue
        if e.source in VOTING_SOURCES:
            latest[e.item_id] = e.class_id
            votes[e.item_id][e.annotator] = e.class_id
        elif e.source == "resolved":
            resolved[e.item_id] = e.class_id
    if consensus:
        latest = {}
        for item, by in votes.items():
            given = {c for c in by.values() if c is not None}
            if len(given) == 1:
                latest[item] = given.pop()
    return {item: c for item, c in {**latest, **resolved}.items() if c is not None}


def overlapping_reservations(log: pd.DataFrame, overlap: int = 1) -> list[tuple]:
    """Grants of one item that made more than ``overlap`` annotators hold it at once:
    (item, an annotator holding it already, the one granted, how long they overlapped)."""
    end = log["released_at"].fillna(float("inf")).clip(upper=log["expires_at"])
    log = log.assign(end=end)
    clashes = []
    for item, grants in log.groupby("item_id"):
        rows = list(grants.sort_values("reserved_at").itertuples())
        for k, b in enumerate(rows):
            running = [a for a in rows[:k] if a.annotator != b.annotator and b.reserved_at < a.end]
            if len({a.annotator for a in running}) + 1 > overlap:
                clashes.append((item, running[0].annotator, b.annotator,
                                running[0].end - b.reserved_at))  # fmt: skip
    return clashes


def handed_twice(log: pd.DataFrame, events: list[LabelEvent]) -> int:
    """Grants of an item to an annotator whose own label of it stood at that moment."""
    undone_at = {e.undoes: e.created_at for e in events if e.source == "undo"}
    standing = defaultdict(list)
    for e in events:
        if e.source in VOTING_SOURCES and e.class_id is not None:
            standing[(e.annotator, e.item_id)].append(
                (e.created_at, undone_at.get(e.id, float("inf")))
            )
    return sum(
        any(
            start < row.reserved_at < stop for start, stop in standing[(row.annotator, row.item_id)]
        )
        for row in log.itertuples()
    )


def check(data_dir: Path, acks: dict, database_url=None, overlap=1) -> dict:
    store = Store(data_dir, database_url=database_url)
    try:
        project = store.open_project(PROJECT)
        events = read_events(store)
        by_id = {e.id: e for e in events}
        batches = defaultdict(set)
        for e in events:
            if e.batch_id is not None and e.source != "undo":
                batches[e.batch_id].add(e.item_id)
        undo_targets = {e.undoes for e in events if e.source == "undo"}
        expected = 0
        missing = 0
        for who, got in acks.items():
            for event_id, item in got["labels"] + got["rejects"]:
                e = by_id.get(event_id)
                missing += e is None or (e.item_id, e.annotator) != (item, who)
                expected += 1
            for batch, items in got["batches"]:
                missing += len(set(items) - batches[batch])
                expected += len(items)
            missing += sum(1 for event_id in got["undone"] if event_id not in undo_targets)
            expected += len(got["undone"])
        unacknowledged = len(events) - expected
        errors = sum(len(got["errors"]) for got in acks.values())
        log = project.reservation_log()
        granted = defaultdict(int)
        for row in log.itertuples():
            granted[(row.annotator, row.item_id)] += 1
        ungranted = sum(
            1 for who, got in acks.items() for item in got["grants"] if not granted[(who, item)]
        )
        names = project.class_names_by_id()
        consensus = overlap > 1
        replayed = derive_labels(events).current(consensus=consensus, reads_as=names.get)
        labels = {i: names[e.class_id] for i, e in replayed.items()}
        reference = {i: names[c] for i, c in reference_labels(events, consensus).items()}
        seconds = max((got["seconds"] for got in acks.values()), default=0.0)
        given = sum(
            len(got["labels"]) + sum(len(items) for _, items in got["batches"])
            for got in acks.values()
        )
        handout = np.array([t for got in acks.values() for t in got["handout"]]) * 1000
        # With no fault every event must have been acknowledged; after a server crash an
        # event may have landed although its caller saw the connection drop (extra).
        extra = max(unacknowledged, 0)
        return {
            "events": len(events),
            "events_per_second": round(len(events) / seconds, 1) if seconds else 0.0,
            "labels_per_second": round(given / seconds, 1) if seconds else 0.0,
            "handout_p50_ms": round(float(np.percentile(handout, 50)), 2) if len(handout) else None,
            "handout_p95_ms": round(float(np.percentile(handout, 95)), 2) if len(handout) else None,
            "reservations": len(log),
            "lost": missing + max(-unacknowledged, 0) + (extra if errors == 0 else 0),
            "extra": extra if errors else 0,
            "errors": errors,
            "duplicate_reservations": len(overlapping_reservations(log, overlap)) + ungranted,
            "handed_twice": handed_twice(log, events),
            "replay_equal": project.labels() == labels == reference,
            "labeled": len(reference),
            "integrity": integrity(store),
        }
    finally:
        store.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--ttl", type=float, default=1.0, help="reservation time to live (s)")
    parser.add_argument("--overlap", type=int, default=1, help="annotators per item")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument(
        "--throwaway-postgres",
        action="store_true",
        help="start a PostgreSQL cluster in a temp dir for the run (tests/pgserver.py)",
    )
    args = parser.parse_args(argv)
    server = None
    if args.throwaway_postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pgserver import PostgresCluster

        server = PostgresCluster()
        args.database_url = server.url()
    try:
        result = run(
            args.annotators, args.seconds, n_items=args.items, ttl=args.ttl,
            database_url=args.database_url, overlap=args.overlap,
        )  # fmt: skip
    finally:
        if server is not None:
            server.close()
    result.pop("acks")
    print(json.dumps(result))
    failed = result["lost"] or result["duplicate_reservations"] or result["handed_twice"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
