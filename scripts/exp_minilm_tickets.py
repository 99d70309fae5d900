"""Experiment: why MiniLM on tickets stops short of 99% at 50 labels (margin, 5 seeds).

Varies the kNN graph (k) and the class-mass normalisation with the same MiniLM features.
    nice -n 10 python scripts/exp_minilm_tickets.py
"""
import json, sys
import numpy as np
from sslcore.cache import ArtifactCache
from sslcore.demos import load_demo
from sslcore.active import ActiveLearner
from sslcore.engine import Engine
from sslcore.features import featurize
from sslcore.graph import build_knn_graph
from sslcore.simulate import run_once

method = sys.argv[1] if len(sys.argv) > 1 else "minilm"
ds = load_demo("tickets")
X = featurize(ds, method=method, cache=ArtifactCache("/tmp/sslabel-features"))
y = ds.labels.astype(str)
ids = [f"item-{i}" for i in range(len(y))]
budgets = [10, 30, 50, 100]
for k in (5, 10, 15, 25):
    graph = build_knn_graph(X, n_neighbors=k)
    for cmn in (True, False):
        runs = [run_once(ActiveLearner(Engine(ids, X, graph=graph, class_mass_normalization=cmn)), y,
                         strategy="margin", budgets=budgets, seed=s) for s in range(5)]
        acc = {b: round(float(np.mean([r[b][0] for r in runs])), 4) for b in budgets}
        print(json.dumps({"method": method, "k": k, "class_mass_normalization": cmn, **acc}), flush=True)
