"""Experiment: MiniLM rows centred (mean removed, then unit length) before the kNN graph, alone
and in the TF-IDF blend, k=10, margin from zero labels, 5 seeds.
    nice -n 10 python scripts/exp_minilm_centred.py tickets
    nice -n 10 python scripts/exp_minilm_centred.py sms
"""
import json, sys
import numpy as np
from sklearn.preprocessing import normalize
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
M = featurize(ds.without_labels() if False else ds, method="minilm", cache=cache)
T = featurize(ds, method="tfidf", cache=cache)
C = normalize(M - M.mean(axis=0))
variants = {"minilm centred": C, "tfidf+minilm centred": np.hstack([T, C]) / np.sqrt(2)}
y = ds.labels.astype(str)
ids = [f"item-{i}" for i in range(len(y))]
budgets = [10, 30, 50, 100]
for label, X in variants.items():
    graph = build_knn_graph(X)
    runs = [run_once(ActiveLearner(Engine(ids, X, graph=graph)), y, strategy="margin", budgets=budgets,
                     seed=s) for s in range(5)]
    acc = {b: round(float(np.mean([r[b][0] for r in runs])), 4) for b in budgets}
    print(json.dumps({"data": name, "features": label, **acc}), flush=True)
