"""Issue 9's checks that the suite does not make: likely-mistakes recall on planted errors,
and whether a second bulk accept is as precise as the first.

    python scripts/bench_trust.py mistakes --seeds 10
    python scripts/bench_trust.py bulk --dataset digits --labels 100 --target 0.95 --seeds 3

``mistakes``: 50 random digits labels, 10% of them flipped to another class at random;
the share of flipped labels among the top 10 of ``sslcore.review.likely_mistakes``.
``bulk``: random labels (a person's), the model chosen; bulk accept every class's
qualifying items at ``--target``; refresh and re-choose (the accepted items count half
and are never held out); bulk accept again. Precision of each round on the true labels.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from sslcore.engine import Engine
from sslcore.graph import build_knn_graph
from sslcore.review import likely_mistakes
from sslcore.simulate import load_spec


def mistakes(seeds: int) -> dict:
    _, X, y = load_spec("digits")
    graph = build_knn_graph(X)
    ids = [f"d{i}" for i in range(len(y))]
    classes = sorted(set(y))
    found = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        labeled = rng.choice(len(y), 50, replace=False)
        flipped = set(rng.choice(labeled, 5, replace=False).tolist())
        labels = {
            ids[p]: rng.choice([c for c in classes if c != y[p]]) if p in flipped else y[p]
            for p in labeled
        }
        engine = Engine(ids, X, graph=graph)
        engine.update(labels)
        top = {m.item_id for m in likely_mistakes(engine)[:10]}
        found.append(sum(ids[p] in top for p in flipped))
    return {"check": "likely mistakes, digits, 5 of 50 labels flipped", "seeds": seeds,
            "found_per_seed": found, "recall_top10": sum(found) / (5 * seeds)}  # fmt: skip


def bulk(dataset: str, n_labels: int, target: float, seeds: int) -> dict:
    _, X, y = load_spec(dataset)
    graph = build_knn_graph(X)
    ids = np.array([f"i{i}" for i in range(len(y))], dtype=object)
    rounds = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        labels = {ids[p]: y[p] for p in rng.choice(len(y), n_labels, replace=False)}
        sources = dict.fromkeys(labels, "human")
        engine = Engine(ids, X, graph=graph)
        engine.update(labels, sources=sources)
        per_round = []
        for _ in range(2):
            engine.apply_tuning(engine.tune())
            taken = [(i, p.class_name) for p in engine.bulk_plan(target_precision=target)
                     for i in p.item_ids]  # fmt: skip
            right = sum(y[engine.position(i)] == c for i, c in taken)
            per_round.append({"accepted": len(taken), "right": int(right),
                              "precision": right / len(taken) if taken else None})  # fmt: skip
            for item, name in taken:
                labels[item], sources[item] = name, "bulk"
            engine.update(labels, sources=sources)
        rounds.append(per_round)
    pooled = []
    for r in range(2):
        accepted = sum(s[r]["accepted"] for s in rounds)
        right = sum(s[r]["right"] for s in rounds)
        pooled.append({"round": r + 1, "accepted": accepted,
                       "precision": right / accepted if accepted else None})  # fmt: skip
    return {"check": f"two bulk accepts in a row, {dataset}", "labels": n_labels,
            "target": target, "seeds": seeds, "pooled": pooled, "per_seed": rounds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("check", choices=["mistakes", "bulk"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--target", type=float, default=0.98)
    args = parser.parse_args()
    if args.check == "mistakes":
        print(json.dumps(mistakes(args.seeds)))
    else:
        print(json.dumps(bulk(args.dataset, args.labels, args.target, args.seeds)))


if __name__ == "__main__":
    main()
