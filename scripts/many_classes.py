"""What a model refresh costs as the number of classes grows (issue 12, item 15).

    python scripts/many_classes.py --classes 100 1000 5000 --items 20000

For each class count: a tabular project of ``--items`` synthetic rows (16 features, the
classes' centres drawn at random, so every class is a small cluster) with one imported
label per class, built as the studio builds it; then the first refresh (all imported
labels at once) and ``--rounds`` labels given one at a time as a person would on the
Label page (label, refresh, next item, the item's probabilities). Prints one JSON line
per class count: seconds, medians over the rounds, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from statistics import median

import numpy as np
import pandas as pd

from sslcore.active import DEFAULT_STRATEGY
from sslcore.dataset import Dataset
from sslcore.session import LabelingSession, ProjectEngine
from sslcore.store import Store


def dataset(n_items: int, n_classes: int, seed: int = 0) -> tuple[Dataset, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, 16)) * 3.0
    y = np.concatenate([np.arange(n_classes), rng.integers(n_classes, size=n_items - n_classes)])
    X = centres[y] + rng.standard_normal((n_items, 16))
    items = pd.DataFrame(X, columns=[f"f{i}" for i in range(16)])
    items.insert(0, "item_id", [f"r{i}" for i in range(n_items)])
    names = np.array([f"class-{c:05d}" for c in y], dtype=object)
    labels = np.full(n_items, None, dtype=object)
    labels[:n_classes] = names[:n_classes]  # one imported label per class
    items["label"] = labels
    return Dataset("many", "tabular", items, tuple(items.columns[1:17])), names


def measure(n_items: int, n_classes: int, rounds: int) -> dict:
    data, truth = dataset(n_items, n_classes)
    store = Store(tempfile.mkdtemp())
    project = store.create_project("many", data)
    t0 = time.perf_counter()
    live = ProjectEngine.build(project)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    live.refresh()
    first = time.perf_counter() - t0
    session = LabelingSession(live, "bench")
    session.strategy = DEFAULT_STRATEGY
    times = []
    for _ in range(rounds):
        shown = session.next_item() if session.current is None else session.current
        item = shown.item_id
        t0 = time.perf_counter()
        session.label(item, truth[int(item[1:])])
        live.prediction_table()
        times.append(time.perf_counter() - t0)
    return {
        "classes": n_classes,
        "items": n_items,
        "build_s": round(build, 2),
        "first_refresh_s": round(first, 2),
        "label_median_s": round(median(times), 3),
        "label_max_s": round(max(times), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    for n_classes in args.classes:
        print(json.dumps(measure(args.items, n_classes, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
