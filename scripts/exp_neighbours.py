"""Experiment: k = 10 (the default) against k = 15 for each text representation, margin from
zero labels, 5 seeds, features from the cache the benchmarks filled.
    nice -n 10 python scripts/exp_neighbours.py tickets
    nice -n 10 python scripts/exp_neighbours.py sms
"""
import json, sys
import numpy as np
from sslcore.bench import SMS_PATH
from sslcore.cache import ArtifactCache
from sslcore.demos import load_demo
from sslcore.active import ActiveLearner
from sslcore.engine import Engine
from sslcore.features import featurize
from sslcore.graph import build_knn_graph
from sslcore.loaders import load_file
from sslcore.simulate import run_once

name = sys.argv[1]
ds = load_demo("tickets") if name == "tickets" else load_file(SMS_PATH, label_column="Label")
cache = ArtifactCache("/tmp/sslabel-features")
y = ds.labels.astype(str)
ids = [f"item-{i}" for i in range(len(y))]
budgets = [10, 30, 50, 100]
for method in ("tfidf", "minilm", "tfidf+minilm"):
    X = featurize(ds, method=method, cache=cache)
    for k in (15,):
        graph = build_knn_graph(X, n_neighbors=k)
        runs = [run_once(ActiveLearner(Engine(ids, X, graph=graph)), y, strategy="margin",
                         budgets=budgets, seed=s) for s in range(5)]
        acc = {b: round(float(np.mean([r[b][0] for r in runs])), 4) for b in budgets}
        print(json.dumps({"data": name, "features": method, "k": k, **acc}), flush=True)
