"""The ``sslabel`` command: start the studio, import data, simulate and benchmark."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .demos import ensure_demo_projects
from .errors import DataError, StoreError
from .store import DATA_DIR_ENV, Store, default_data_dir


def app_file() -> Path | None:
    """The studio's entry file (studio/app.py of the installed ``studio`` package)."""
    from importlib.util import find_spec

    spec = find_spec("studio")  # locates the package without importing Streamlit
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args) or 0
    except (DataError, StoreError) as exc:
        print(f"sslabel: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sslabel",
        description="Semi-supervised labeling studio: label a few items, let the model "
        "spread them, review its suggestions.",
    )
    parser.add_argument("--version", action="version", version=f"sslabel {__version__}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where projects are stored (default: ${DATA_DIR_ENV} or ./data)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Also accepted after the command (sslabel app --data-dir D); SUPPRESS keeps the
    # subcommand from resetting a value given before it.
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS, help="where projects are stored"
    )

    app = commands.add_parser(
        "app", parents=[data_dir], help="start the labeling studio in the browser"
    )
    app.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: "
        "127.0.0.1, this machine only; 0.0.0.0 exposes it to your network)",
    )
    app.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    app.add_argument("--max-upload-mb", type=int, default=500, help="upload size limit")
    app.add_argument("--no-demos", action="store_true", help="do not create the demo projects")
    app.set_defaults(run=_run_app)

    listing = commands.add_parser(
        "projects", parents=[data_dir], help="list the projects in the data directory"
    )
    listing.set_defaults(run=_run_projects)

    importer = commands.add_parser(
        "import", parents=[data_dir], help="create a project from a file or folder"
    )
    importer.add_argument(
        "path", type=Path, help="CSV/TSV/Parquet/JSONL file, image folder or .zip"
    )
    importer.add_argument("--name", help="project name (default: the file name)")
    importer.add_argument("--text-column")
    importer.add_argument("--feature-columns", help="comma-separated feature columns")
    importer.add_argument("--id-column")
    importer.add_argument("--label-column")
    importer.add_argument(
        "--classes", help="comma-separated classes to label (besides those of --label-column)"
    )
    importer.set_defaults(run=_run_import)

    simulate = commands.add_parser(
        "simulate", help="replay labeling with the true labels as the annotator"
    )
    simulate.add_argument("--dataset", required=True, help="demo name, data file, or .npz (X, y)")
    simulate.add_argument("--strategy", default="margin")
    simulate.add_argument("--budgets", default="10,30,50", help="comma-separated label counts")
    simulate.add_argument("--seeds", type=int, default=5)
    simulate.add_argument("--label-column", help="true labels, for a data file")
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate.set_defaults(run=_run_simulate)

    bench = commands.add_parser("bench", help="benchmarks (latency, label efficiency)")
    benches = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    latency = benches.add_parser("latency", help="label-to-suggestions latency on N items")
    latency.add_argument("--n", type=int, default=100_000)
    latency.add_argument("--rounds", type=int, default=20)
    latency.add_argument(
        "--no-baseline", action="store_true", help="skip refitting scikit-learn's LabelSpreading"
    )
    latency.add_argument("--json", action="store_true", help="print one JSON object")
    latency.set_defaults(run=_run_bench_latency)
    efficiency = benches.add_parser("efficiency", help="simulate every strategy on the demos")
    efficiency.add_argument("--seeds", type=int, default=5)
    efficiency.add_argument(
        "--write", action="store_true", help="update the table in docs/benchmarks.md"
    )
    efficiency.set_defaults(run=_run_bench_efficiency)
    return parser


def _store(args) -> Store:
    return Store(args.data_dir or default_data_dir())


def _run_app(args) -> int:
    entry = app_file()
    if entry is None or not entry.exists():
        print(
            "sslabel: cannot find the studio (the 'studio' package); reinstall sslabel "
            "(pip install sslabel, or pip install -e . in its source folder).",
            file=sys.stderr,
        )
        return 2
    store = _store(args)
    if not args.no_demos:
        ensure_demo_projects(store)
    env = {**os.environ, DATA_DIR_ENV: str(store.data_dir.resolve())}
    command = [
        sys.executable, "-m", "streamlit", "run", str(entry),
        "--server.address", args.host,
        "--server.port", str(args.port),
        "--server.maxUploadSize", str(args.max_upload_mb),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        # A key press during a run waits for the run to end instead of starting a second
        # one beside it: every run then draws its item, and two runs never handle presses
        # on one labeling session at once (see .streamlit/config.toml).
        "--runner.fastReruns", "false",
    ]  # fmt: skip
    print(
        f"sslabel: serving the studio on http://{args.host}:{args.port} "
        f"(projects in {store.data_dir})",
        flush=True,
    )
    # Become the server rather than wait on it: a signal sent to this process (Ctrl-C,
    # SIGTERM, SIGKILL from a supervisor) must reach the server, not orphan it.
    os.execve(sys.executable, command, env)


def _run_projects(args) -> int:
    table = _store(args).list_projects()
    if table.empty:
        print("no projects yet: run 'sslabel app' or 'sslabel import FILE'")
    else:
        print(table[["id", "name", "kind", "n_items", "n_labeled"]].to_string(index=False))
    return 0


def _run_import(args) -> int:
    from .loaders import load_file

    features = args.feature_columns.split(",") if args.feature_columns else None
    dataset = load_file(
        args.path,
        text_column=args.text_column,
        feature_columns=features,
        id_column=args.id_column,
        label_column=args.label_column,
    )
    classes = [c.strip() for c in (args.classes or "").split(",") if c.strip()]
    project = _store(args).create_project(args.name or args.path.stem, dataset, class_names=classes)
    print(
        f"imported {project.n_items} {project.kind} items into project {project.name!r} "
        f"({len(project.labels())} labeled)"
    )
    if len(project.class_names()) < 2:
        print("add the classes to label with --classes, or on the studio's Projects page")
    return 0


def _run_simulate(args) -> int:
    from .simulate import simulate

    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    result = simulate(
        args.dataset,
        strategy=args.strategy,
        budgets=budgets,
        seeds=args.seeds,
        label_column=args.label_column,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['dataset']} ({result['n_items']} items), strategy {result['strategy']}, "
            f"{result['seeds']} seeds"
        )
        for point in result["curve"]:
            print(
                f"  {point['labels']:>5} labels: accuracy {point['accuracy']:.3f} "
                f"± {point['std']:.3f}"
            )
    return 0


def _run_bench_latency(args) -> int:
    from .bench import latency

    result = latency(args.n, baseline=not args.no_baseline, rounds=args.rounds)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def _run_bench_efficiency(args) -> int:
    from .bench import efficiency

    print(efficiency(seeds=args.seeds, write=args.write))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
