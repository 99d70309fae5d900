"""Benchmarks for the embeddings extra: throughput and label efficiency per feature method.

    nice -n 10 python scripts/bench_embeddings.py throughput
    nice -n 10 python scripts/bench_embeddings.py efficiency --cache-dir /tmp/sslabel-features

``throughput`` embeds the SMS spam collection (5,574 texts) with the bundled MiniLM as the
studio does (sslcore.embeddings.embed), after TF-IDF features of the same texts as a baseline
measured in the same run, and prints wall time, texts per second, the process's CPU seconds
and the load average before and after (the machine is shared: texts per CPU second is the
figure least moved by other work). ``efficiency`` runs ``sslabel simulate`` (margin sampling
from zero labels, 5 seeds) for each dataset and feature method and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from sslcore.bench import SMS_PATH
from sslcore.loaders import load_file

METHODS = ("tfidf", "minilm", "tfidf+minilm")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(function):
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = function()
    return result, time.perf_counter() - wall, _cpu_seconds() - cpu


def throughput(batch_size: int | None) -> dict:
    import torch

    from sslcore import embeddings
    from sslcore.features import text_tfidf

    texts = load_file(SMS_PATH, label_column="Label").items["text"].tolist()
    load_before = os.getloadavg()
    _, tfidf_wall, tfidf_cpu = _timed(lambda: text_tfidf(texts))
    _, load_wall, _ = _timed(lambda: embeddings.load_model("minilm"))
    X, wall, cpu = _timed(
        lambda: embeddings.embed(texts, kind="text", method="minilm", batch_size=batch_size)
    )
    return {
        "texts": len(texts),
        "dimension": int(X.shape[1]),
        "torch_threads": torch.get_num_threads(),
        "batch_size": batch_size or embeddings.CPU_BATCH,
        "tfidf_wall_s": round(tfidf_wall, 1),
        "tfidf_cpu_s": round(tfidf_cpu, 1),
        "model_load_s": round(load_wall, 1),
        "embed_wall_s": round(wall, 1),
        "embed_cpu_s": round(cpu, 1),
        "texts_per_s": round(len(texts) / wall, 1),
        "texts_per_cpu_s": round(len(texts) / cpu, 1),
        "load_average_before": [round(v, 1) for v in load_before],
        "load_average_after": [round(v, 1) for v in os.getloadavg()],
    }


def efficiency(datasets, methods, budgets, seeds: int, cache_dir: Path) -> str:
    from sslcore.simulate import simulate

    header = "| data | features | " + " | ".join(f"{b} labels" for b in budgets) + " |"
    lines = [header, "|" + "---|" * (2 + len(budgets))]
    for dataset in datasets:
        spec, label_column = (str(SMS_PATH), "Label") if dataset == "sms" else (dataset, None)
        for method in methods:
            started = time.perf_counter()
            result = simulate(spec, strategy="margin", budgets=list(budgets), seeds=seeds,
                              label_column=label_column, features=method,
                              cache_dir=cache_dir)  # fmt: skip
            cells = [
                f"{p['accuracy']:.1%} ± {p['std']:.1%} (F1 {p['macro_f1']:.2f})"
                for p in result["curve"]
            ]
            lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
            print(json.dumps({**result, "seconds": round(time.perf_counter() - started, 1)}),
                  flush=True)  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    speed = commands.add_parser("throughput")
    speed.add_argument("--batch-size", type=int)
    runs = commands.add_parser("efficiency")
    runs.add_argument("--datasets", default="tickets,sms")
    runs.add_argument("--methods", default=",".join(METHODS))
    runs.add_argument("--budgets", default="10,30,50,100")
    runs.add_argument("--seeds", type=int, default=5)
    runs.add_argument("--cache-dir", type=Path, default=Path("/tmp/sslabel-features"))
    args = parser.parse_args()
    if args.command == "throughput":
        print(json.dumps(throughput(args.batch_size), indent=2))
    else:
        print(efficiency(args.datasets.split(","), args.methods.split(","),
                         [int(b) for b in args.budgets.split(",")], args.seeds,
                         args.cache_dir))  # fmt: skip


if __name__ == "__main__":
    main()
