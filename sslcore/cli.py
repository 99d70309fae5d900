"""The ``sslabel`` command: start the studio, import data, simulate and benchmark."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sqlalchemy.exc import DatabaseError

from . import __version__
from .accounts import ROLES, Accounts, exposure_refusal
from .demos import ensure_demo_projects
from .errors import DataError, StoreError
from .hosts import allowed_hosts, exposure_warning
from .store import DATA_DIR_ENV, Store, default_data_dir
from .store.files import DB_NAME, database_error
from .store.schema import DATABASE_URL_ENV

FEATURES_HELP = (
    "how items are represented: auto (default: TF-IDF for text, pixels for images), tfidf, "
    "minilm (the bundled all-MiniLM-L6-v2; needs the 'embeddings' extra), pixels, tabular, "
    "columns, a local model folder (or model:FOLDER, or model:ORG/NAME from the local "
    "Hugging Face cache), or several joined by '+', e.g. tfidf+minilm"
)


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
    except DatabaseError as exc:  # a page the database could not read, found after opening
        data_dir = args.data_dir or default_data_dir()
        where = _database_url(args) or data_dir / DB_NAME
        print(f"sslabel: {database_error(where, exc, data_dir)}", file=sys.stderr)
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
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"a shared PostgreSQL store, postgresql+psycopg://USER:PASSWORD@HOST/DB "
        f"(default: ${DATABASE_URL_ENV}, else SQLite in the data directory)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Also accepted after the command (sslabel app --data-dir D); SUPPRESS keeps the
    # subcommand from resetting a value given before it.
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS, help="where projects are stored"
    )
    data_dir.add_argument(
        "--database-url", default=argparse.SUPPRESS, help="a shared PostgreSQL store"
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
    app.add_argument(
        "--allowed-hosts",
        default="",
        help="comma-separated host names the server answers to besides this machine's own "
        "(e.g. the name of a proxy in front); others are refused, which blocks DNS rebinding",
    )
    app.add_argument("--max-upload-mb", type=int, default=500, help="upload size limit")
    app.add_argument("--no-demos", action="store_true", help="do not create the demo projects")
    app.add_argument(
        "--no-sign-in",
        action="store_true",
        help="listen beyond this machine although no account exists: anyone who reaches "
        "the studio may label (add accounts with 'sslabel users add' instead)",
    )
    app.set_defaults(run=_run_app)

    users = commands.add_parser(
        "users", parents=[data_dir], help="accounts that sign in to the studio, and their roles"
    )
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = user_commands.add_parser(
        "add", parents=[data_dir], help="add an account (asks for its password)"
    )
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="annotator")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(run=_run_users_add)
    password = user_commands.add_parser(
        "password", parents=[data_dir], help="set an account's password"
    )
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(run=_run_users_password)
    remove = user_commands.add_parser("remove", parents=[data_dir], help="remove an account")
    remove.add_argument("name")
    remove.set_defaults(run=_run_users_remove)
    listing_users = user_commands.add_parser("list", parents=[data_dir], help="list the accounts")
    listing_users.set_defaults(run=_run_users_list)

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
    importer.add_argument("--features", default="auto", help=FEATURES_HELP)
    importer.add_argument(
        "--classes", help="comma-separated classes to label (besides those of --label-column)"
    )
    importer.set_defaults(run=_run_import)

    doctor = commands.add_parser(
        "doctor", parents=[data_dir], help="check the data directory (changes nothing)"
    )
    doctor.set_defaults(run=_run_doctor)
    recover = commands.add_parser(
        "recover",
        parents=[data_dir],
        help="copy what can still be read from a damaged data directory into a new one",
    )
    recover.add_argument(
        "--to", type=Path, help="the new data directory (default: DATA_DIR-recovered)"
    )
    recover.set_defaults(run=_run_recover)
    backup = commands.add_parser(
        "backup", parents=[data_dir], help="copy the data directory safely, even while in use"
    )
    backup.add_argument("--to", type=Path, required=True, help="a new, empty folder")
    backup.set_defaults(run=_run_backup)

    simulate = commands.add_parser(
        "simulate", help="replay labeling with the true labels as the annotator"
    )
    simulate.add_argument("--dataset", required=True, help="demo name, data file, or .npz (X, y)")
    simulate.add_argument("--strategy", default="margin")
    simulate.add_argument("--budgets", default="10,30,50", help="comma-separated label counts")
    simulate.add_argument("--seeds", type=int, default=5)
    simulate.add_argument("--label-column", help="true labels, for a data file")
    simulate.add_argument(
        "--features",
        default="auto",
        help=FEATURES_HELP + "; several separated by commas (tfidf,minilm,tfidf+minilm): the "
        "model starts on the first and the per-project selection may choose any of them",
    )
    simulate.add_argument(
        "--cache-dir", type=Path, help="keep computed features here and reuse them next time"
    )
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate.add_argument(
        "--deep-features",
        help="a deep embedding trained first on the images, replacing the features: vae, simclr",
    )
    simulate.add_argument(
        "--method",
        default="graph",
        help="graph (label spreading) or a deep classifier trained at each budget on the "
        "labels the strategy picked: fixmatch, pi, mean_teacher",
    )
    simulate.add_argument("--steps", type=int, help="training steps of a deep method")
    simulate.add_argument(
        "--teacher",
        choices=["graph"],
        help="give the deep classifier the engine's label spreading as a teacher",
    )
    simulate.set_defaults(run=_run_simulate)

    trainer = commands.add_parser(
        "train",
        parents=[data_dir],
        help="train a deep model on an image project (needs the 'deep' extra)",
    )
    trainer.add_argument("--project", required=True, help="project name or id")
    trainer.add_argument(
        "--method", required=True, help="fixmatch, pi, mean_teacher (classifiers), vae, simclr"
    )
    trainer.add_argument("--steps", type=int, help="optimiser steps (default: the method's)")
    trainer.add_argument("--flip", action="store_true", help="mirror images in augmentations")
    trainer.add_argument("--threads", type=int, help="CPU threads for torch (default: all)")
    trainer.add_argument("--seed", type=int, default=0)
    trainer.set_defaults(run=_run_train)

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
    suite = benches.add_parser(
        "suite", help="every suite dataset, both modes, against scikit-learn's peers"
    )
    suite.add_argument("--datasets", help="comma-separated suite datasets (default: all)")
    suite.add_argument(
        "--modes", default="active,random", help="comma-separated: active, random (default: both)"
    )
    suite.add_argument("--seeds", type=int, default=5)
    suite.add_argument("--budgets", default="10,30,50,100", help="comma-separated label counts")
    suite.add_argument(
        "--results",
        type=Path,
        help="JSON-lines file of finished units: resume from it, append to it "
        "(several processes may share one)",
    )
    suite.add_argument("--json", action="store_true", help="print the summary as JSON")
    suite.add_argument(
        "--write", action="store_true", help="update the table in docs/benchmarks.md"
    )
    suite.set_defaults(run=_run_bench_suite)
    return parser


def _store(args) -> Store:
    return Store(args.data_dir or default_data_dir(), database_url=args.database_url)


def _listen_refusal(args, store: Store) -> str | None:
    """Why ``sslabel app`` must not listen where it was asked to, or None. The one place
    that judges a listening address."""
    return exposure_refusal(args.host, sign_in=Accounts(store).exist(), open_ok=args.no_sign_in)


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
    if refusal := _listen_refusal(args, store):
        print(f"sslabel: {refusal}", file=sys.stderr)
        return 2
    if not args.no_demos:
        ensure_demo_projects(store)
    env = {**os.environ, DATA_DIR_ENV: str(store.data_dir.resolve())}
    if args.database_url:
        env[DATABASE_URL_ENV] = args.database_url
    if args.no_sign_in and not Accounts(store).exist():
        if warning := exposure_warning(args.host, args.port):
            print(f"sslabel: WARNING: {warning}", file=sys.stderr, flush=True)
    command = [
        sys.executable, "-m", "streamlit", "run", str(entry),
        "--server.address", args.host,
        "--server.port", str(args.port),
        "--server.maxUploadSize", str(args.max_upload_mb),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        *_host_check_options(args),
        # A key press during a run waits for the run to end instead of starting a second
        # one beside it: every run then draws its item, and two runs never handle presses
        # on one labeling session at once (see .streamlit/config.toml).
        "--runner.fastReruns", "false",
    ]  # fmt: skip
    print(
        f"sslabel: serving the studio on http://{args.host}:{args.port} "
        f"(projects in {store.location})",
        flush=True,
    )
    # Become the server rather than wait on it: a signal sent to this process (Ctrl-C,
    # SIGTERM, SIGKILL from a supervisor) must reach the server, not orphan it.
    os.execve(sys.executable, command, env)


def _host_check_options(args) -> list[str]:
    """Streamlit's own Host check (``server.allowedHosts``, Streamlit 1.61+), which refuses
    the websocket of a page whose Host is not this machine's: DNS rebinding."""
    hosts = allowed_hosts(args.host, args.allowed_hosts.split(","))
    return [option for host in hosts for option in ("--server.allowedHosts", host)]


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != first:
        raise StoreError("The two passwords differ; nothing was changed.")
    return first


def _run_users_add(args) -> int:
    Accounts(_store(args)).add(args.name, args.role, _password(args))
    print(f"added {args.name!r} as {args.role}; the studio now asks everyone to sign in")
    return 0


def _run_users_password(args) -> int:
    Accounts(_store(args)).set_password(args.name, _password(args))
    print(f"changed the password of {args.name!r}")
    return 0


def _run_users_remove(args) -> int:
    Accounts(_store(args)).remove(args.name)
    print(f"removed {args.name!r}")
    return 0


def _run_users_list(args) -> int:
    table = Accounts(_store(args)).table()
    if table.empty:
        print("no accounts: the studio is open to whoever reaches it (this machine only)")
    else:
        print(table[["name", "role"]].to_string(index=False))
    return 0


def _run_projects(args) -> int:
    table = _store(args).list_projects()
    if table.empty:
        print("no projects yet: run 'sslabel app' or 'sslabel import FILE'")
    else:
        print(table[["id", "name", "kind", "n_items", "n_labeled"]].to_string(index=False))
    return 0


def _database_url(args) -> str | None:
    return getattr(args, "database_url", None) or os.environ.get(DATABASE_URL_ENV)


def _data_dir(args) -> Path:
    """The data directory of a command that reads the SQLite store's files directly."""
    if _database_url(args):
        raise StoreError(
            "doctor, recover and backup work on the SQLite store in a data directory; for a "
            "PostgreSQL store use the server's own tools (pg_dump, pg_restore)."
        )
    return args.data_dir or default_data_dir()


def _run_doctor(args) -> int:
    from .store.repair import doctor

    findings = doctor(_data_dir(args))
    for finding in findings:
        print(f"{'PROBLEM' if finding.problem else 'ok'}: {finding.text}")
    problems = sum(f.problem for f in findings)
    print(f"{problems} problem(s) found in {_data_dir(args)}" if problems else "no problems found")
    return 1 if problems else 0


def _run_recover(args) -> int:
    from .store.repair import recover

    source = _data_dir(args)
    target = args.to or source.with_name(source.name + "-recovered")
    result = recover(source, target, progress=lambda message: print(message, flush=True))
    print(result.summary())
    print(f"open it with: sslabel app --data-dir {target}")
    return 0


def _run_backup(args) -> int:
    from .store.repair import backup

    result = backup(_data_dir(args), args.to)
    print(
        f"backed up {result['projects']} project(s) and {result['events']:,} label event(s) "
        f"to {result['target']} in {result['seconds']} s"
    )
    for path in result["missing_items"]:
        print(f"sslabel: warning: {path} is missing; that project is backed up without items.")
    return 0


def _run_import(args) -> int:
    from .bench import _stderr_progress
    from .features import SETTING, check_method, featurize, method_from_user, resolve_method
    from .loaders import load_file

    columns = args.feature_columns.split(",") if args.feature_columns else None
    dataset = load_file(
        args.path,
        text_column=args.text_column,
        feature_columns=columns,
        id_column=args.id_column,
        label_column=args.label_column,
    )
    for warning in dataset.warnings:
        print(f"sslabel: warning: {warning}", file=sys.stderr)
    # A missing extra or model, or one for other items, fails before anything is written.
    method = check_method(dataset, method_from_user(args.features), load=True)
    settings = {} if method == "auto" else {SETTING: method}
    classes = [c.strip() for c in (args.classes or "").split(",") if c.strip()]
    project = _store(args).create_project(
        args.name or args.path.stem, dataset, settings=settings, class_names=classes
    )
    print(
        f"imported {project.n_items} {project.kind} items into project {project.name!r} "
        f"({len(project.labels())} labeled)",
        flush=True,
    )
    if method != "auto":
        # Computed now, with progress, so the studio opens the project without the wait.
        featurize(project.dataset(), method=method, cache=project.cache,
                  progress=_stderr_progress())  # fmt: skip
        print(f"features ({resolve_method(dataset, method)}) computed and cached")
    if len(project.class_names()) < 2:
        print("add the classes to label with --classes, or on the studio's Projects page")
    return 0


def _run_simulate(args) -> int:
    from .features import method_from_user
    from .simulate import simulate

    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    deep = {"steps": args.steps} if args.steps else {}
    if args.teacher:
        deep["teacher"] = args.teacher
    result = simulate(
        args.dataset,
        strategy=args.strategy,
        budgets=budgets,
        seeds=args.seeds,
        label_column=args.label_column,
        features=",".join(method_from_user(m) for m in args.features.split(",")),
        cache_dir=args.cache_dir,
        deep_features=args.deep_features,
        method=args.method,
        deep_params=deep,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['dataset']} ({result['n_items']} items), features {result['features']}, "
            f"strategy {result['strategy']}, method {result['method']}, {result['seeds']} seeds"
        )
        for point in result["curve"]:
            bulk = point["bulk_precision"]
            print(
                f"  {point['labels']:>5} labels: accuracy {point['accuracy']:.3f} "
                f"± {point['std']:.3f}, ECE {point['ece']:.3f}, bulk accept at 98%: "
                f"{point['bulk_coverage']:.0%} of the rest"
                + ("" if bulk is None else f" at {bulk:.1%} precision")
            )
    return 0


def _run_train(args) -> int:
    from .deep.cli import run_train

    return run_train(_store(args), args)


def _run_bench_latency(args) -> int:
    from .bench import latency

    result = latency(args.n, baseline=not args.no_baseline, rounds=args.rounds)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def _run_bench_efficiency(args) -> int:
    from .bench import efficiency

    print(efficiency(seeds=args.seeds, write=args.write))
    return 0


def _run_bench_suite(args) -> int:
    from . import suite
    from .bench import _stderr_progress

    datasets = args.datasets.split(",") if args.datasets else None
    unknown = sorted(set(datasets or ()) - set(suite.DATASETS))
    modes = tuple(m for m in args.modes.split(",") if m)
    if unknown or not set(modes) <= set(suite.MODES):
        wrong = ", ".join(unknown) if unknown else args.modes
        print(f"sslabel: unknown suite dataset(s) or mode(s): {wrong}; datasets are "
              f"{', '.join(suite.DATASETS)}; modes are {', '.join(suite.MODES)}",
              file=sys.stderr)  # fmt: skip
        return 2
    report = _stderr_progress(0.0)
    records = suite.run(
        datasets=datasets,
        modes=modes,
        seeds=args.seeds,
        budgets=tuple(int(b) for b in args.budgets.split(",")),
        results=args.results,
        progress=lambda message: report(0.0, message),
    )
    rows = suite.summarize(records)
    table = suite.markdown(rows)
    if args.write:
        suite.write_table(table, Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md")
    print(json.dumps(rows) if args.json else table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
