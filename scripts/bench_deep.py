"""Deep methods against pixels + graph, from zero labels (the engine picks the labels).

Each run prints one JSON line: the simulate() result plus wall time, this process's CPU
time and the 1-minute load average before and after (the machine is shared).

    nice -n 10 python scripts/bench_deep.py --dataset glyphs --budgets 30 --seeds 3 \
        --deep-features simclr --method graph --steps 400 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--budgets", default="30")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strategy", default="margin")
    parser.add_argument("--deep-features", choices=["vae", "simclr"])
    parser.add_argument("--method", default="graph")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--teacher", choices=["graph"])
    parser.add_argument("--teacher-features", choices=["vae", "simclr"])
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args()
    chosen = {"steps": args.steps, "width": args.width, "teacher": args.teacher,
              "teacher_features": args.teacher_features,
              "batch_size": args.batch_size}  # fmt: skip
    params = {k: v for k, v in chosen.items() if v}
    if args.deep_features or args.method != "graph":
        import torch

        torch.set_num_threads(args.threads)
    from sslcore.simulate import simulate

    load_before = os.getloadavg()[0]
    started = time.monotonic()
    result = simulate(
        args.dataset,
        strategy=args.strategy,
        budgets=[int(b) for b in args.budgets.split(",")],
        seeds=args.seeds,
        deep_features=args.deep_features,
        method=args.method,
        deep_params=params,
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(
        params=params,
        threads=args.threads,
        wall_s=round(time.monotonic() - started, 1),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 1),
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
