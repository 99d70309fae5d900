"""A process for tests/test_crash_safety.py to SIGKILL: it works on a store and prints, flushed,
one line per call that returned (an acknowledgement), so the parent knows what was promised.

    python tests/crash_child.py labels DATA_DIR
    python tests/crash_child.py bulk DATA_DIR PAUSE_BATCH      (-1: never pause)
    python tests/crash_child.py export DATA_DIR
    python tests/crash_child.py graph DATA_DIR PAUSE           (none, after_dump, mid_write)

A pause sleeps at a chosen point (inside a transaction, before a rename) after
printing "pause", so that the parent's kill lands exactly there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslcore.demos import DEMO_PREFIX  # noqa: E402
from sslcore.store import Store  # noqa: E402

PROJECT = "crash"
CLASSES = ["a", "b", "c"]
BULK = 3000
MAX_STEPS = 100_000
MAX_SECONDS = 120  # if the parent never kills us


def steps():
    """0, 1, 2, ... for at most MAX_STEPS steps and MAX_SECONDS seconds."""
    deadline = time.monotonic() + MAX_SECONDS
    for step in range(MAX_STEPS):
        if time.monotonic() > deadline:
            return
        yield step


def say(*words) -> None:
    print(*words, flush=True)


def pause() -> None:
    say("pause")
    time.sleep(MAX_SECONDS)  # the parent kills us long before this ends


def labels(project) -> None:
    items = sorted(project.item_ids())
    for step in steps():
        item, cls = items[step % len(items)], CLASSES[step % 3]
        event_id = project.label(item, cls, annotator="crash")
        say("ack", event_id, item, cls)


def bulk(project, pause_batch: int) -> None:
    from sqlalchemy import event

    items = sorted(project.item_ids())[:BULK]
    inserts = {"batch": -1, "rows": 0}

    @event.listens_for(project.db, "before_cursor_execute")
    def _count(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO label_events"):
            inserts["rows"] += 1
            if inserts["batch"] == pause_batch and inserts["rows"] == BULK // 2:
                pause()

    for step in steps():
        inserts.update(batch=step, rows=0)
        say("start", step)
        batch = project.label_many([(i, CLASSES[step % 3]) for i in items], annotator="crash")
        say("ack", batch)


def export(project) -> None:
    from sslcore.export import FORMATS, export_table, to_bytes

    items = sorted(project.item_ids())
    for step in steps():
        item, cls = items[step % len(items)], CLASSES[step % 3]
        say("ack", project.label(item, cls, annotator="crash"), item, cls)
        say("exporting", step)
        data = to_bytes(export_table(project), FORMATS[step % len(FORMATS)])
        say("exported", step, len(data))


def graph(store, mode: str) -> None:
    import joblib

    from sslcore.cache import fingerprint
    from sslcore.features import featurize
    from sslcore.graph import build_knn_graph

    project = store.open_project(DEMO_PREFIX + "digits")
    real_dump = joblib.dump
    dumps = {"n": 0}

    def dump(value, filename, *args, **kwargs):
        result = real_dump(value, filename, *args, **kwargs)
        dumps["n"] += 1
        if dumps["n"] == 2 and mode == "after_dump":  # the graph, written but not renamed
            pause()
        if dumps["n"] == 2 and mode == "mid_write":  # the graph, half written
            with open(filename, "r+b") as f:
                f.truncate(Path(filename).stat().st_size // 2)
            pause()
        return result

    joblib.dump = dump
    for step in steps():
        for path in project.cache.root.glob("*.joblib"):
            path.unlink()  # every round writes the cache again
        say("building", step)
        features = featurize(project.dataset(), cache=project.cache)
        key = fingerprint(features, {"n_neighbors": 10})
        project.cache.get_or_compute(
            "graph", key, lambda features=features: build_knn_graph(features, n_neighbors=10)
        )
        say("built", step)


def main(mode: str, data_dir: str, *args: str) -> None:
    store = Store(data_dir)
    if mode == "graph":
        graph(store, args[0])
        return
    project = store.open_project(PROJECT)
    if mode == "labels":
        labels(project)
    elif mode == "bulk":
        bulk(project, int(args[0]))
    elif mode == "export":
        export(project)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
