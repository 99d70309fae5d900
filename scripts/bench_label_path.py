"""Server time per label on the Label page's code path, without the browser.

One round is LabelingSession.label, what a class key on the Label page runs: write the
label event (committed to disk), bring the engine up to date with every label
and rejection in the store, ask the strategy for the next item and reserve it.
The true label is given each time, so ``accuracy_after`` is what an annotator
gets on the unlabeled items after ``--rounds`` labels given one at a time.

    python scripts/bench_label_path.py --dataset digits --rounds 40
    python scripts/bench_label_path.py --synthetic 100000 --rounds 30
    python scripts/bench_label_path.py --file ../shared/datasets/sms_spam.tsv \
        --text-column SMS --label-column Label --rounds 40

With ``--page`` each round is instead the Label page's whole rerun after a class button
(the studio's frame and the page, driven by Streamlit's AppTest in this process): the
server time a key press costs before the browser draws anything.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sslcore.active import DEFAULT_STRATEGY
from sslcore.dataset import Dataset
from sslcore.demos import load_demo
from sslcore.loaders import load_file
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


def page_rounds(data_dir: str, project, truth: dict, rounds: int) -> list[float]:
    """Seconds per Label page rerun after a class button, in Streamlit's AppTest."""
    import os

    from streamlit.testing.v1 import AppTest

    import studio.live

    os.environ["SSLABEL_DATA_DIR"] = data_dir
    studio.live.BUILD_WAIT_SECONDS = 3600.0  # AppTest has no timer to rerun when it is built
    root = Path(__file__).parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=600)
    at.session_state["project_name"] = project.name
    at.session_state["annotator"] = "bench"
    at.switch_page("studio/app_pages/label.py").run()
    times = []
    for _ in range(rounds):
        shown = at.session_state[f"labeling-session-{project.id}"].current.item_id
        button = at.button(key=f"label-{project.id}-{shown}-{_class_id(project, truth[shown])}")
        t0 = time.perf_counter()
        button.click().run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(at.exception)
    return times


def _class_id(project, name: str) -> int:
    return next(c.id for c in project.classes() if c.name == name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--synthetic", type=int, default=0, help="n items instead of a demo")
    parser.add_argument("--file", help="a data file instead of a demo")
    parser.add_argument("--text-column")
    parser.add_argument("--label-column")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--page", action="store_true", help="time the Label page's rerun")
    args = parser.parse_args()
    if args.file:
        dataset = load_file(args.file, text_column=args.text_column,
                            label_column=args.label_column)  # fmt: skip
        name = Path(args.file).stem
    elif args.synthetic:
        dataset, name = synthetic(args.synthetic), f"synthetic-{args.synthetic}"
    else:
        dataset, name = load_demo(args.dataset), args.dataset
    truth = dict(zip(dataset.ids, dataset.labels, strict=True))
    data_dir = tempfile.mkdtemp()
    project = Store(data_dir).create_project(
        "bench", dataset, import_labels=False, class_names=dataset.classes
    )
    started = time.perf_counter()
    live = ProjectEngine.build(project, prepare=DEFAULT_STRATEGY)
    setup = time.perf_counter() - started
    result = {"dataset": name, "n": dataset.n_items, "rounds": args.rounds,
              "setup_s": round(setup, 2)}  # fmt: skip
    if args.page:
        times = page_rounds(data_dir, project, truth, args.rounds)
    else:
        session = LabelingSession(live, "bench")
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
        result["accuracy_after"] = round(accuracy, 4)
    result.update(
        what="label page rerun" if args.page else "LabelingSession.label",
        p50_ms=round(float(np.median(times)) * 1e3, 1),
        p95_ms=round(float(np.percentile(times, 95)) * 1e3, 1),
        max_ms=round(float(np.max(times)) * 1e3, 1),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
