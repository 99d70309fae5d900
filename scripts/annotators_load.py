"""Several annotators, each a process of its own, labeling one project at once.

Each annotator loops until time is up: reserve the next unlabeled item (a shared
priority order) with ``Project.reserve_next``, then label it (mostly), label it
with two more in one ``label_many``, reject a class for it, or leave it; now and
then undo its last action, or wander off past the reservation's time to live.
Every value a call returned (event ids, batch ids, undone events, reserved items)
is recorded and, at the end, checked against the database:

* ``lost``: acknowledged events missing from the database, plus events in the
  database that no annotator was acknowledged (both must be 0);
* ``duplicate_reservations``: pairs of reservations of one item held by two
  annotators at the same time, before either lapsed or was released (must be 0);
* ``replay_equal``: ``Project.labels()`` equals ``derive_labels`` over the events
  read back by plain sqlite3, and a reference replay written here from scratch;
* ``integrity``: SQLite's ``PRAGMA integrity_check``.

Run::

    .venv/bin/python scripts/annotators_load.py --annotators 4 --seconds 30

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
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslcore.dataset import Dataset  # noqa: E402
from sslcore.store import LABELING_SOURCES, LabelEvent, Store, derive_labels  # noqa: E402

PROJECT = "load"
CLASSES = ["a", "b", "c"]
MAX_ACTIONS = 200_000  # per annotator: a bound on the loop besides the clock


def make_project(data_dir: Path, n_items: int) -> list[str]:
    """A text project of ``n_items`` items; returns the shared priority order."""
    ids = [f"item-{i:06d}" for i in range(n_items)]
    items = pd.DataFrame({"item_id": ids, "text": [f"text {i}" for i in range(n_items)]})
    items["label"] = None
    store = Store(data_dir)
    store.create_project(PROJECT, Dataset(PROJECT, "text", items), class_names=CLASSES)
    store.close()
    return random.Random(0).sample(ids, len(ids))


def annotate(data_dir, annotator, order, seconds, ttl, seed, barrier, results) -> None:
    """One annotator's session; puts what it was acknowledged on ``results``."""
    store = Store(data_dir)
    project = store.open_project(PROJECT)
    rng = random.Random(seed)
    acks = dict(labels=[], batches=[], rejects=[], undone=[], grants=[], errors=[])
    barrier.wait(timeout=120)
    started = time.monotonic()
    deadline = started + seconds
    for _ in range(MAX_ACTIONS):
        if time.monotonic() >= deadline:
            break
        labeled = project.state().labels
        item = project.reserve_next(
            (i for i in order if i not in labeled), annotator=annotator, ttl=ttl
        )
        if item is None:
            break  # every item is labeled or held
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
    project.release(annotator)
    acks["seconds"] = time.monotonic() - started
    store.close()
    results.put((annotator, acks))


def _two_more(project, order, item) -> list[str]:
    """Two unlabeled items nobody holds, to bulk-label with ``item``."""
    labeled, held = project.state().labels, project.reservations()
    free = (i for i in order if i != item and i not in labeled and i not in held)
    return [i for i, _ in zip(free, range(2), strict=False)]


def run(annotators: int, seconds: float, *, data_dir=None, n_items=20_000, ttl=1.0) -> dict:
    """Run the load; returns the figures (and, under ``"acks"``, what each was acknowledged)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(data_dir or tmp)
        order = make_project(data_dir, n_items)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(annotators)
        results = context.Queue()
        workers = [
            context.Process(
                target=annotate,
                args=(data_dir, f"annotator-{k}", order, seconds, ttl, k, barrier, results),
            )
            for k in range(annotators)
        ]
        for w in workers:
            w.start()
        acks = {}
        try:
            for _ in workers:
                name, got = results.get(timeout=seconds + 180)
                acks[name] = got
        finally:
            for w in workers:
                w.join(timeout=30)
                if w.is_alive():
                    w.kill()
        return {
            **check(data_dir, acks),
            "annotators": annotators,
            "seconds": seconds,
            "acks": acks,
        }


def read_events(db_path: Path) -> list[LabelEvent]:
    """Every label event of the load project, read by plain sqlite3 (not through Store)."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT e.id, e.item_id, e.class_id, e.source, e.annotator, e.created_at, "
            "e.model_round, e.confidence, e.batch_id, e.undoes FROM label_events e "
            "JOIN projects p ON p.id = e.project_id WHERE p.name = ? ORDER BY e.id",
            (PROJECT,),
        ).fetchall()
    return [LabelEvent(*row) for row in rows]


def reference_labels(events: list[LabelEvent]) -> dict[str, int]:
    """An item's label is that of its latest labeling event not undone (None clears)."""
    undone = {e.undoes for e in events if e.source == "undo"}
    latest = {}
    for e in sorted(events, key=lambda e: e.id):
        if e.source in LABELING_SOURCES and e.id not in undone:
            latest[e.item_id] = e.class_id
    return {item: c for item, c in latest.items() if c is not None}


def overlapping_reservations(log: pd.DataFrame) -> list[tuple]:
    """Pairs of grants of one item to two annotators whose holds overlap in time."""
    end = log["released_at"].fillna(float("inf")).clip(upper=log["expires_at"])
    log = log.assign(end=end)
    clashes = []
    for item, grants in log.groupby("item_id"):
        rows = list(grants.sort_values("reserved_at").itertuples())
        for a, b in zip(rows, rows[1:], strict=False):
            if a.annotator != b.annotator and b.reserved_at < a.end:
                clashes.append((item, a.annotator, b.annotator, a.end - b.reserved_at))
    return clashes


def check(data_dir: Path, acks: dict) -> dict:
    store = Store(data_dir)
    try:
        project = store.open_project(PROJECT)
        events = read_events(store.db_path)
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
        log = project.reservation_log()
        granted = defaultdict(int)
        for row in log.itertuples():
            granted[(row.annotator, row.item_id)] += 1
        ungranted = sum(
            1 for who, got in acks.items() for item in got["grants"] if not granted[(who, item)]
        )
        names = project.class_names_by_id()
        labels = {i: names[c] for i, c in derive_labels(events).labels.items()}
        reference = {i: names[c] for i, c in reference_labels(events).items()}
        with sqlite3.connect(store.db_path) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        seconds = max((got["seconds"] for got in acks.values()), default=0.0)
        return {
            "events": len(events),
            "events_per_second": round(len(events) / seconds, 1) if seconds else 0.0,
            "reservations": len(log),
            "lost": missing + abs(unacknowledged),
            "duplicate_reservations": len(overlapping_reservations(log)) + ungranted,
            "replay_equal": project.labels() == labels == reference,
            "labeled": len(reference),
            "integrity": integrity,
        }
    finally:
        store.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--ttl", type=float, default=1.0, help="reservation time to live (s)")
    args = parser.parse_args(argv)
    result = run(args.annotators, args.seconds, n_items=args.items, ttl=args.ttl)
    result.pop("acks")
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["duplicate_reservations"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
