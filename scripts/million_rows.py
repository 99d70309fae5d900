"""One million tabular rows through the studio's path: import, features, graph.

Each step runs in its own process (so its peak RSS is its own) the way the studio runs it:
``sslabel import`` for the import, then ``ui/model.py``'s first-time build (``featurize`` with
the project's cache, then ``build_knn_graph`` cached under the features' fingerprint) without
Streamlit. Run it niced, once per variant; it prints one JSON line per step::

    nice -n 10 .venv/bin/python scripts/million_rows.py --rows 1000000 --work /tmp/m1

``--trace`` adds tracemalloc's top allocation sites of the step (slow; use fewer rows).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_NEIGHBORS = 10  # ui/model.py


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """id, eight numeric columns, two category columns and a label (0.1% labeled)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    classes = rng.integers(3, size=rows)
    centres = rng.standard_normal((3, 8)) * 2
    numbers = centres[classes] + rng.standard_normal((rows, 8))
    table = pd.DataFrame(numbers.round(4), columns=[f"x{i}" for i in range(8)])
    table.insert(0, "id", [f"r{i}" for i in range(rows)])
    table["colour"] = np.array(["red", "green", "blue", "grey", "pink", "teal"])[
        (classes + rng.integers(2, size=rows)) % 6
    ]
    table["region"] = [f"region-{v}" for v in rng.integers(40, size=rows)]
    labels = np.array(["a", "b", "c"], dtype=object)[classes]
    labels[rng.random(rows) > 0.001] = ""
    table["label"] = labels
    table.to_csv(path, index=False)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _progress():
    from sslcore.bench import _stderr_progress

    return _stderr_progress(0.1)


def step_features(data_dir: Path) -> dict:
    from sslcore.features import featurize
    from sslcore.store import Store

    project = Store(data_dir).open_project("million")
    dataset = project.dataset()
    loaded_mb = _peak_mb()
    started = time.perf_counter()
    X = featurize(dataset, cache=project.cache, progress=_progress())
    return {
        "seconds": time.perf_counter() - started,
        "shape": list(X.shape),
        "loaded_mb": loaded_mb,
    }


def step_graph(data_dir: Path) -> dict:
    from sslcore.cache import fingerprint
    from sslcore.features import featurize
    from sslcore.graph import build_knn_graph
    from sslcore.store import Store

    project = Store(data_dir).open_project("million")
    dataset = project.dataset()
    X = featurize(dataset, cache=project.cache)  # cached by the features step
    loaded_mb = _peak_mb()
    key = fingerprint(X, {"n_neighbors": N_NEIGHBORS})
    started = time.perf_counter()
    graph = project.cache.get_or_compute(
        "graph", key, lambda: build_knn_graph(X, n_neighbors=N_NEIGHBORS, progress=_progress())
    )
    return {"seconds": time.perf_counter() - started, "nnz": int(graph.nnz), "loaded_mb": loaded_mb}


def step_engine(data_dir: Path) -> dict:
    """What the Label page does next: the engine on the cached graph, the imported labels
    spread, the next suggestions."""
    from sslcore.cache import fingerprint
    from sslcore.engine import Engine
    from sslcore.features import featurize
    from sslcore.store import Store

    project = Store(data_dir).open_project("million")
    dataset = project.dataset()
    X = featurize(dataset, cache=project.cache)
    graph = project.cache.load("graph", fingerprint(X, {"n_neighbors": N_NEIGHBORS}))
    loaded_mb = _peak_mb()
    started = time.perf_counter()
    engine = Engine(dataset.ids, X, graph=graph)
    built = time.perf_counter() - started
    engine.update(project.labels(), project.rejections())
    suggestions = engine.query("margin", 10)
    return {
        "seconds": time.perf_counter() - started,
        "engine_s": built,
        "suggestions": len(suggestions),
        "loaded_mb": loaded_mb,
    }


def step_studio(data_dir: Path) -> dict:
    """Everything in one process, as the studio's server does it: the upload read and
    imported (Projects page), then the first-time model build and the first suggestions
    (Label page). Peak RSS after each phase."""
    import gc

    from sslcore.cache import ArtifactCache
    from sslcore.engine import Engine
    from sslcore.features import featurize
    from sslcore.graph import build_knn_graph
    from sslcore.loaders import dataset_from_table, read_table
    from sslcore.store import Store

    csv_path = next(data_dir.parent.glob("rows-*.csv"))
    phases, started = {}, time.perf_counter()

    def mark(phase: str) -> None:
        phases[phase] = {"peak_mb": round(_peak_mb()), "at_s": round(time.perf_counter() - started)}

    upload = csv_path.read_bytes()
    table = read_table(upload, name=csv_path.name)
    dataset = dataset_from_table(
        table, name=csv_path.name, id_column="id", label_column="label",
        feature_columns=[f"x{i}" for i in range(8)] + ["colour", "region"],
    )  # fmt: skip
    store = Store(data_dir.parent / "studio-data")
    project = store.create_project(f"studio-{time.time_ns()}", dataset)
    del upload, table, dataset
    gc.collect()
    mark("import")
    dataset = project.dataset()
    cache = ArtifactCache(data_dir.parent / "studio-cache" / str(time.time_ns()))
    X = featurize(dataset, cache=cache, progress=_progress())
    mark("features")
    graph = build_knn_graph(X, n_neighbors=N_NEIGHBORS, progress=_progress())
    cache.save("graph", "k", graph)
    mark("graph")
    engine = Engine(dataset.ids, X, graph=graph)
    engine.update(project.labels(), project.rejections())
    engine.query("margin", 10)
    mark("engine")
    return {"phases": phases}


STEPS = {
    "features": step_features,
    "graph": step_graph,
    "engine": step_engine,
    "studio": step_studio,
}


def run_step(name: str, data_dir: Path, trace: bool) -> None:
    if trace:
        import tracemalloc

        tracemalloc.start(25)
    result = STEPS[name](data_dir)
    result.update(step=name, peak_rss_mb=round(_peak_mb(), 1))
    if trace:
        snapshot = tracemalloc.take_snapshot()
        _, traced_peak = tracemalloc.get_traced_memory()
        result["traced_peak_mb"] = round(traced_peak / 1024**2, 1)
        result["top"] = [
            f"{stat.size / 1024**2:.0f} MB {stat.traceback.format()[-1].strip()}"
            for stat in snapshot.statistics("lineno")[:8]
        ]
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--steps", default="import,features,graph,engine")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one step in-process
    args = parser.parse_args()
    data_dir = args.work / "data"
    if args.step:
        run_step(args.step, data_dir, args.trace)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    csv_path = args.work / f"rows-{args.rows}.csv"
    if not csv_path.exists():
        make_csv(csv_path, args.rows)
    for step in args.steps.split(","):
        if step == "import":
            command = [
                sys.executable, "-m", "sslcore.cli", "--data-dir", str(data_dir), "import",
                str(csv_path), "--name", "million", "--id-column", "id", "--label-column",
                "label", "--feature-columns", "x0,x1,x2,x3,x4,x5,x6,x7,colour,region",
            ]  # fmt: skip
        else:
            command = [sys.executable, __file__, "--work", str(args.work), "--step", step]
            command += ["--trace"] if args.trace else []
        started = time.perf_counter()
        timed = subprocess.run(
            ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        peak_kb = next(
            int(line.split(":")[1])
            for line in timed.stderr.splitlines()
            if "Maximum resident set size" in line
        )
        if timed.returncode:
            print(timed.stdout, timed.stderr, file=sys.stderr)
            raise SystemExit(f"step {step} failed")
        progress = [line for line in timed.stderr.splitlines() if line.startswith("[")]
        print(
            json.dumps(
                {
                    "step": step,
                    "wall_s": round(wall, 1),
                    "time_v_peak_mb": round(peak_kb / 1024, 1),
                    "stdout": timed.stdout.strip().splitlines()[-1:],
                    "progress_tail": progress[-3:],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
