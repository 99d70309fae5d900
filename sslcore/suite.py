"""The benchmark suite behind ``sslabel bench suite``: many datasets, no download.

Twelve datasets that install offline: the three demos, the SMS spam set
(when ``../shared/datasets`` has it), scikit-learn's bundled breast cancer,
wine and iris tables, and generated sets built to break the usual
assumptions: a linear boundary cutting through clusters, many small clusters
per class, a 1:9 imbalanced set with noise features, a high-dimensional sparse
bag-of-words set and a 25-class set.

Every dataset is run with 5 seeds and budgets of 10/30/50/100 labels in two
modes:

* ``active``: from zero labels with the default strategy
  (:data:`sslcore.active.DEFAULT_STRATEGY`, after a cold start), one label at a
  time with a refresh after each, as in the app; the engine re-chooses its model
  at each budget.
* ``random``: a random labeled set per seed and budget (redrawn until it holds
  two classes).

At every point, on the same labeled items and the same features, scikit-learn's
``LabelSpreading`` (knn and rbf kernels), ``LabelPropagation`` and
``SelfTrainingClassifier(LogisticRegression())`` are fitted with their
defaults. Measured on the items left unlabeled: accuracy, the engine's ECE (and
the ECE a perfectly calibrated model would show on that many items), and the
precision and coverage of a bulk accept at the default target precision.

Work units (dataset, mode, seed) are written to a JSON-lines file as they
finish, so an interrupted run resumes where it stopped, and two processes
can share the file (a unit is claimed with an exclusive lock file).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUDGETS = (10, 30, 50, 100)
SEEDS = 5
MODES = ("active", "random")
PEERS = ("label_spreading_knn", "label_spreading_rbf", "label_propagation_rbf",
         "self_training_logistic")  # fmt: skip
SMS_PATH = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sms_spam.tsv"
SUITE_START = "<!-- suite:start -->"
SUITE_END = "<!-- suite:end -->"


@dataclass(frozen=True)
class SuiteDataset:
    name: str
    description: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]


def _demo(name):
    def load():
        from .simulate import load_spec

        _, X, y = load_spec(name)
        return X, y

    return load


def _sms():
    from .simulate import load_spec

    _, X, y = load_spec(str(SMS_PATH), label_column="Label")
    return X, y


def _sklearn(name):
    def load():
        from sklearn import datasets
        from sklearn.preprocessing import StandardScaler

        bunch = getattr(datasets, f"load_{name}")()
        return StandardScaler().fit_transform(bunch.data), bunch.target

    return load


def linear_split(n: int = 1500, seed: int = 0):
    """Six Gaussian clusters in 10-d, labeled by a random hyperplane through their middle,
    so most clusters hold both classes (the cluster assumption fails)."""
    from sklearn.datasets import make_blobs
    from sklearn.preprocessing import StandardScaler

    X, _ = make_blobs(n, n_features=10, centers=6, cluster_std=1.0, random_state=seed)
    w = np.random.default_rng(seed).standard_normal(10)
    score = (X - X.mean(axis=0)) @ w
    return StandardScaler().fit_transform(X), (score > np.median(score)).astype(int)


def small_clusters(n: int = 1500, seed: int = 0):
    """Two classes of four small clusters each in 20-d (6 informative), 1% label noise."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n, n_features=20, n_informative=6, n_redundant=2,
                               n_clusters_per_class=4, class_sep=1.0, flip_y=0.01,
                               random_state=seed)  # fmt: skip
    return StandardScaler().fit_transform(X), y


def imbalanced(n: int = 2000, seed: int = 0):
    """1:9: the minority is one Gaussian cluster, the majority three, in 20 informative and
    100 noise dimensions (alpha = 0.99 spreading predicts everything as the majority)."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    centres = rng.standard_normal((4, 20)) * 2.0 / np.sqrt(2)
    cluster = np.where(y == 1, 3, rng.integers(0, 3, n))
    X = np.hstack([centres[cluster] + rng.standard_normal((n, 20)),
                   rng.standard_normal((n, 100))])  # fmt: skip
    return StandardScaler().fit_transform(X), y


def topics(n: int = 2000, vocabulary: int = 3000, n_topics: int = 6, seed: int = 0):
    """Short bag-of-words documents from 6 topics over a Zipf background (15-40% topic
    words), as raw sublinear TF-IDF: high-dimensional (~2,700 terms) and sparse."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    background = 1.0 / np.arange(1, vocabulary + 1)
    background /= background.sum()
    topic_words = np.zeros((n_topics, vocabulary))
    for t in range(n_topics):
        words = rng.choice(vocabulary, 60, replace=False)
        topic_words[t, words] = rng.dirichlet(np.full(60, 0.5))
    y = rng.integers(n_topics, size=n)
    rows, cols, vals = [], [], []
    for i in range(n):
        share = rng.uniform(0.15, 0.4)
        counts = rng.multinomial(rng.integers(8, 40), share * topic_words[y[i]]
                                 + (1 - share) * background)  # fmt: skip
        words = np.flatnonzero(counts)
        rows += [i] * words.size
        cols += words.tolist()
        vals += counts[words].tolist()
    M = sp.csr_matrix((vals, (rows, cols)), shape=(n, vocabulary))
    M = M[:, np.flatnonzero(np.asarray((M > 0).sum(axis=0)).ravel())]
    return TfidfTransformer(sublinear_tf=True).fit_transform(M).toarray(), y


def many_classes(n: int = 3000, seed: int = 0):
    """25 classes, one Gaussian cluster each, 30-d (15 informative)."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n, n_features=30, n_informative=15, n_redundant=5,
                               n_classes=25, n_clusters_per_class=1, class_sep=2.0,
                               random_state=seed)  # fmt: skip
    return StandardScaler().fit_transform(X), y


DATASETS = {
    d.name: d
    for d in (
        SuiteDataset("digits", "demo: 1,797 8x8 digit images, 10 classes", _demo("digits")),
        SuiteDataset("moons", "demo: 1,000 points, two moons", _demo("moons")),
        SuiteDataset(
            "tickets", "demo: 480 support messages, 4 intents (TF-IDF)", _demo("tickets")
        ),  # fmt: skip
        SuiteDataset("sms", "SMS spam: 5,574 messages, 13% spam (TF-IDF)", _sms),
        SuiteDataset(
            "breast_cancer", "scikit-learn: 569 x 30, 2 classes", _sklearn("breast_cancer")
        ),  # fmt: skip
        SuiteDataset("wine", "scikit-learn: 178 x 13, 3 classes", _sklearn("wine")),
        SuiteDataset("iris", "scikit-learn: 150 x 4, 3 classes", _sklearn("iris")),
        SuiteDataset(
            "linear_split", "generated: hyperplane through 6 clusters, 1,500 x 10", linear_split
        ),  # fmt: skip
        SuiteDataset(
            "small_clusters", "generated: 4 small clusters per class, 1,500 x 20", small_clusters
        ),  # fmt: skip
        SuiteDataset("imbalanced", "generated: 1:9, 2,000 x 120 (100 noise)", imbalanced),
        SuiteDataset("topics", "generated: sparse TF-IDF, 2,000 x ~2,700, 6 topics", topics),
        SuiteDataset("classes25", "generated: 25 classes, 3,000 x 30", many_classes),
    )
}


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32) and true labels (str) of a suite dataset.

    Examples
    --------
    >>> X, y = load("iris")
    >>> X.shape, sorted(set(y))
    ((150, 4), ['0', '1', '2'])
    """
    X, y = DATASETS[name].load()
    return np.ascontiguousarray(X, dtype=np.float32), np.array([str(v) for v in y], dtype=object)


def available() -> list[str]:
    """Suite datasets present on this machine (SMS needs ../shared/datasets)."""
    return [name for name in DATASETS if name != "sms" or SMS_PATH.exists()]


# peers ---------------------------------------------------------------------------------


def peer_accuracy(peer: str, X: np.ndarray, y: np.ndarray, labeled: np.ndarray) -> float:
    """Accuracy on the unlabeled items of a scikit-learn peer fitted with its defaults."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import (
        LabelPropagation,
        LabelSpreading,
        SelfTrainingClassifier,
    )

    models = {
        "label_spreading_knn": lambda: LabelSpreading(kernel="knn"),
        "label_spreading_rbf": lambda: LabelSpreading(),
        "label_propagation_rbf": lambda: LabelPropagation(),
        "self_training_logistic": lambda: SelfTrainingClassifier(LogisticRegression()),
    }
    classes, codes = np.unique(y, return_inverse=True)
    target = np.full(len(y), -1)
    target[labeled] = codes[labeled]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            model = models[peer]().fit(X, target)
            predicted = model.predict(X)
    rest = np.ones(len(y), bool)
    rest[labeled] = False
    return float((predicted[rest] == codes[rest]).mean())


def random_labeled(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` random item positions holding at least two classes (redrawn until they do)."""
    rng = np.random.default_rng([seed, n])
    while True:
        chosen = rng.choice(len(y), n, replace=False)
        if len(set(y[chosen])) >= 2:
            return chosen


# one unit of work ----------------------------------------------------------------------


def run_unit(name: str, mode: str, seed: int, *, budgets=BUDGETS, peers=PEERS) -> dict:
    """One dataset, mode and seed: ``{"dataset", "mode", "seed", "points": [...]}``."""
    from .active import DEFAULT_STRATEGY, ActiveLearner
    from .engine import Engine
    from .graph import build_knn_graph
    from .simulate import catch_up, replay

    X, y = load(name)
    ids = [f"item-{i}" for i in range(len(y))]
    graph = build_knn_graph(X)
    budgets = [b for b in budgets if b < len(y)]
    points = []
    started = time.perf_counter()
    if mode == "active":
        # The model is re-chosen at each budget only (catch_up), as a background selection
        # lagging the labels would; inline at every 25% growth, one digits seed took 270 s.
        engine = Engine(ids, X, graph=graph)
        learner = ActiveLearner(engine)
        for labels in replay(learner, y, strategy=DEFAULT_STRATEGY, budgets=budgets, seed=seed):
            labeled = np.flatnonzero(engine.labeled)
            points.append(_point(engine, y, X, labeled, len(labels), peers, started))
    else:
        for budget in budgets:
            labeled = random_labeled(y, budget, seed)
            engine = Engine(ids, X, graph=graph)
            engine.picked_at_random[labeled] = True  # as the random strategy would mark them
            engine.update({ids[p]: y[p] for p in labeled})
            catch_up(engine)
            points.append(_point(engine, y, X, labeled, budget, peers, started))
    return {"dataset": name, "mode": mode, "seed": seed, "points": points}


def _point(engine, y, X, labeled, budget, peers, started) -> dict:
    from .simulate import measure

    point = {"labels": budget, **measure(engine, y)}
    for peer in peers:
        point[peer] = peer_accuracy(peer, X, y, labeled)
    point["seconds"] = round(time.perf_counter() - started, 1)
    return point


# the whole suite ------------------------------------------------------------------------


def run(
    *,
    datasets=None,
    modes=MODES,
    seeds: int = SEEDS,
    budgets=BUDGETS,
    results: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run (or resume) the suite; returns every finished unit.

    With ``results`` (a JSON-lines file), finished units are read from it and
    skipped, new ones appended as they finish, and each unit is claimed with a
    lock file first so that several processes can share the work.
    """
    datasets = list(datasets or available())
    done = read_results(results) if results else []
    finished = {_unit(r) for r in done}
    units = [(d, m, s) for d in datasets for m in modes for s in range(seeds)]
    for unit in units:
        if unit in finished:
            continue
        lock = _claim(results, unit) if results else None
        if results and lock is None:
            continue
        try:
            # Another process may have finished the unit, and let go of it, since we read.
            record = _finished(results, unit) if results else None
            if record is None:
                if progress:
                    progress(f"{unit[0]} / {unit[1]} / seed {unit[2]}")
                record = run_unit(*unit, budgets=budgets)
                if results:
                    with open(results, "a") as handle:
                        handle.write(json.dumps(record) + "\n")
            done.append(record)
        finally:
            if lock is not None:
                os.unlink(lock)
    wanted = set(units)
    return [r for r in done if _unit(r) in wanted]


def read_results(path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _unit(record: dict) -> tuple:
    """The unit of work a record is the result of: ``(dataset, mode, seed)``."""
    return record["dataset"], record["mode"], record["seed"]


def _finished(results, unit) -> dict | None:
    return next((r for r in read_results(results) if _unit(r) == unit), None)


def _claim(results, unit) -> str | None:
    lock = f"{results}.{unit[0]}.{unit[1]}.{unit[2]}.lock"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return None
    return lock


def summarize(records: list[dict]) -> list[dict]:
    """Mean over seeds per (dataset, mode, budget), with the best peer and the gap to it.

    Bulk precision is pooled: items right over items accepted, across seeds.
    """
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        for point in record["points"]:
            groups.setdefault((record["dataset"], record["mode"], point["labels"]), []).append(
                point
            )
    rows = []
    for (dataset, mode, budget), points in sorted(groups.items()):
        row = {"dataset": dataset, "mode": mode, "labels": budget, "seeds": len(points)}
        for key in ("accuracy", "ece", "ece_floor", "mean_confidence", "bulk_coverage", *PEERS):
            values = [p[key] for p in points if key in p]
            row[key] = float(np.mean(values)) if values else None
        row["accuracy_std"] = float(np.std([p["accuracy"] for p in points]))
        accepted = sum(p["bulk_accepted"] for p in points)
        row["bulk_precision"] = (
            sum(p["bulk_right"] for p in points) / accepted if accepted else None
        )
        peer_means = {k: row[k] for k in PEERS if row.get(k) is not None}
        row["best_peer"] = max(peer_means, key=peer_means.get) if peer_means else None
        row["gap"] = row["accuracy"] - peer_means[row["best_peer"]] if peer_means else None
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    """The summary as a markdown table (percentages; gap in points)."""

    def pct(v, digits=1):
        return "–" if v is None else f"{100 * v:.{digits}f}"

    short = {"label_spreading_knn": "LS knn", "label_spreading_rbf": "LS rbf",
             "label_propagation_rbf": "LP rbf", "self_training_logistic": "ST LR"}  # fmt: skip
    lines = [
        "| dataset | mode | labels | ours | LS knn | LS rbf | LP rbf | ST LR | gap to best peer "
        "| ECE (floor) | bulk precision | bulk coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = "–" if r["gap"] is None else f"{100 * r['gap']:+.1f}"
        mark = " ✗" if r["gap"] is not None and r["gap"] < -0.005 else ""
        lines.append(
            f"| {r['dataset']} | {r['mode']} | {r['labels']} | {pct(r['accuracy'])} | "
            + " | ".join(pct(r[k]) for k in short)
            + f" | {gap}{mark} | {r['ece']:.3f} ({r['ece_floor']:.3f}) "
            f"| {pct(r['bulk_precision'])} | {pct(r['bulk_coverage'], 0)} |"
        )
    return "\n".join(lines)


def write_table(table: str, path: str | Path) -> None:
    """Replace the table between the suite markers in ``path`` (appended if absent)."""
    import re

    path = Path(path)
    block = f"{SUITE_START}\n{table}\n{SUITE_END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(SUITE_START) + ".*?" + re.escape(SUITE_END), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + block + "\n")
    )
    path.write_text(text)
