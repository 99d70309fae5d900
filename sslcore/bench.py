"""Benchmarks behind ``sslabel bench``: label-to-suggestion latency and label efficiency.

Numbers are recorded in docs/benchmarks.md, never asserted in tests.
"""

from __future__ import annotations

import re
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

EFFICIENCY_START = "<!-- efficiency:start -->"
EFFICIENCY_END = "<!-- efficiency:end -->"
SMS_PATH = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sms_spam.tsv"


def synthetic(n: int, *, dim: int = 64, n_classes: int = 10, seed: int = 0):
    """``n`` points in ``dim`` dimensions from overlapping Gaussian classes, and their labels.

    Examples
    --------
    >>> X, y = synthetic(100)
    >>> X.shape, X.dtype.name
    ((100, 64), 'float32')
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)).astype(np.float32) * 1.5
    y = rng.integers(n_classes, size=n)
    X = centres[y] + rng.standard_normal((n, dim), dtype=np.float32)
    return X, y


def _stderr_progress(every: float = 0.05) -> Callable[[float, str], None]:
    """A progress callback: ``[ 40%   12.3 s] message`` lines on stderr, at most every ``every``."""
    import sys

    last, started = [-1.0], time.perf_counter()

    def report(fraction: float, message: str) -> None:
        if fraction >= 1.0 or fraction - last[0] >= every:
            last[0] = fraction
            elapsed = time.perf_counter() - started
            print(f"[{fraction:4.0%} {elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)

    return report


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(
    n: int,
    *,
    baseline: bool = True,
    rounds: int = 20,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Time from recording one label to refreshed suggestions, on synthetic 64-d data.

    The graph build reports progress to ``progress`` (by default, lines on
    stderr once n is above 50,000, so stdout stays one JSON object).
    Each round labels the top suggestion with its true class, then times
    ``Engine.update`` (warm-started spreading) plus ``ActiveLearner.query("margin", 10)``.
    The baseline refits scikit-learn's ``LabelSpreading(kernel="knn")`` once
    with the same labels, the naive way to refresh.

    Returns
    -------
    dict
        ``{"n", "p50_ms", "p95_ms", "graph_build_s", "peak_rss_mb",
        "sklearn_refit_s", "speedup"}`` (the last two ``None`` without baseline).

    Examples
    --------
    >>> result = latency(500, baseline=False, rounds=3)
    >>> sorted(result)[:3]
    ['graph_build_s', 'n', 'p50_ms']
    """
    from .active import ActiveLearner
    from .engine import Engine
    from .graph import build_knn_graph

    X, y = synthetic(n)
    if progress is None and n > 50_000:
        progress = _stderr_progress()
    started = time.perf_counter()
    graph = build_knn_graph(X, progress=progress)
    graph_build_s = time.perf_counter() - started
    ids = [f"item-{i}" for i in range(n)]
    truth = {item: str(label) for item, label in zip(ids, y, strict=True)}
    engine = Engine(ids, X, graph=graph)
    rng = np.random.default_rng(0)
    labels = {ids[int(p)]: truth[ids[int(p)]] for p in rng.choice(n, 10, replace=False)}
    engine.update(labels)
    learner = ActiveLearner(engine)
    suggestions = learner.query("margin", 10, seed=0)
    timings = []
    for round_ in range(rounds):
        item = suggestions[0].item_id
        labels[item] = truth[item]
        started = time.perf_counter()
        engine.update(labels)
        suggestions = learner.query("margin", 10, seed=round_)
        timings.append(time.perf_counter() - started)
    result = {
        "n": n,
        "p50_ms": round(float(np.percentile(timings, 50)) * 1000, 1),
        "p95_ms": round(float(np.percentile(timings, 95)) * 1000, 1),
        "graph_build_s": round(graph_build_s, 2),
        "peak_rss_mb": None,
        "sklearn_refit_s": None,
        "speedup": None,
    }
    if baseline:
        refit_s = _sklearn_refit_seconds(X, y, engine, labels)
        result["sklearn_refit_s"] = round(refit_s, 2)
        result["speedup"] = round(refit_s * 1000 / max(result["p50_ms"], 1e-3), 1)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _sklearn_refit_seconds(X, y, engine, labels) -> float:
    from sklearn.semi_supervised import LabelSpreading

    target = np.full(len(y), -1)
    for item in labels:
        position = engine.position(item)
        target[position] = y[position]
    started = time.perf_counter()
    LabelSpreading(kernel="knn", n_neighbors=10).fit(X, target)
    return time.perf_counter() - started


def efficiency(
    *,
    datasets: tuple[str, ...] = ("digits", "moons", "tickets", "sms"),
    strategies: tuple[str, ...] | None = None,
    budgets: tuple[int, ...] = (10, 30, 50),
    seeds: int = 5,
    write_to: str | Path | None = None,
    write: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> str:
    """Simulated accuracy (and macro-F1) per dataset, strategy and budget, as a markdown table.

    ``"sms"`` is the SMS spam set in ``../shared/datasets`` and is skipped when
    absent. With ``write_to`` (or ``write=True``, meaning this repository's
    docs/benchmarks.md), the table replaces the one between the
    efficiency markers in that markdown file (appended if there are none).

    Examples
    --------
    >>> print(efficiency(datasets=("moons",), strategies=("random",), budgets=(4,), seeds=1))
    ... # doctest: +ELLIPSIS
    | dataset | strategy | 4 labels |
    ...
    """
    from .simulate import STRATEGIES, simulate

    strategies = tuple(strategies or STRATEGIES)
    header = "| dataset | strategy | " + " | ".join(f"{b} labels" for b in budgets) + " |"
    lines = [header, "|" + "---|" * (2 + len(budgets))]
    jobs = [(d, s) for d in datasets for s in strategies]
    for done, (dataset, strategy) in enumerate(jobs):
        spec, label_column = dataset, None
        if dataset == "sms":
            if not SMS_PATH.exists():
                continue
            spec, label_column = str(SMS_PATH), "Label"
        if progress:
            progress(done / len(jobs), f"{dataset} / {strategy}")
        result = simulate(
            spec, strategy=strategy, budgets=list(budgets), seeds=seeds, label_column=label_column
        )
        cells = [
            f"{p['accuracy']:.1%} ± {p['std']:.1%} (F1 {p['macro_f1']:.2f})"
            for p in result["curve"]
        ]
        lines.append(f"| {dataset} | {strategy} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    if write and write_to is None:
        write_to = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
    if write_to is not None:
        _write_table(Path(write_to), table)
    return table


def _write_table(path: Path, table: str) -> None:
    block = f"{EFFICIENCY_START}\n{table}\n{EFFICIENCY_END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(EFFICIENCY_START) + ".*?" + re.escape(EFFICIENCY_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
