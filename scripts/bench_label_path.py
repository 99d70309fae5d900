"""Server time per label on the Label page's code path, without the browser.

One round is LabelingSession.label, what a class key on the Label page runs: write the
label event (committed to disk), bring the engine up to date with every label
and rejection in the store, ask the strategy for the next item and reserve it.
The true label is given each time, so ``accuracy_after`` is what an annotator
gets on the unlabeled items after ``--rounds`` labels given one at a time.

    python scripts/bench_label_path.py --dataset digits --rounds 40
    python scripts/bench_label_path.py --synthetic 100000 --rounds 30
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import pandas as pd

from sslcore.dataset import Dataset
from sslcore.demos import load_demo
from sslcore.session import LabelingSession, ProjectEngine
from sslcore.store import Store


def synthetic(n: int, seed: int = 0) -> Dataset:
    """n items in 64-d around 10 centres, as a tabular dataset with true labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, 64)) * 3
    y = rng.integers(0, 10, n)
    X = centres[y] + rng.normal(size=(n, 64))
    items = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)])
    items.insert(0, "item_id", [f"s{i}" for i in range(n)])
    items["label"] = [str(v) for v in y]
    return Dataset("synthetic", "tabular", items, tuple(f"f{i}" for i in range(64)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--synthetic", type=int, default=0, help="n items instead of a demo")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    dataset = synthetic(args.synthetic) if args.synthetic else load_demo(args.dataset)
    truth = dict(zip(dataset.ids, dataset.labels, strict=True))
    store = Store(tempfile.mkdtemp())
    project = store.create_project(
        "bench", dataset, import_labels=False, class_names=dataset.classes
    )
    started = time.perf_counter()
    session = LabelingSession(ProjectEngine.build(project), "bench")
    setup = time.perf_counter() - started
    current = session.next_item().item_id
    times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        session.label(current, truth[current])  # writes, refreshes, picks and reserves
        current = session.current.item_id
        times.append(time.perf_counter() - t0)
    engine = session.live.engine
    predictions = engine.update(project.labels(), project.rejections())
    rest = ~engine.labeled
    accuracy = float((predictions.predicted[rest] == dataset.labels[rest]).mean())
    print(
        json.dumps(
            {
                "dataset": f"synthetic-{args.synthetic}" if args.synthetic else args.dataset,
                "n": dataset.n_items,
                "rounds": args.rounds,
                "setup_s": round(setup, 2),
                "p50_ms": round(float(np.median(times)) * 1e3, 1),
                "p95_ms": round(float(np.percentile(times, 95)) * 1e3, 1),
                "accuracy_after": round(accuracy, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
