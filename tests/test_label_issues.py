"""Likely mistakes: confident learning on cross-fitted predictions finds planted errors."""

import numpy as np

from sslcore.engine import Engine
from sslcore.graph import build_knn_graph
from sslcore.label_issues import find_label_issues
from sslcore.review import likely_mistakes
from sslcore.simulate import load_spec


def test_find_label_issues_flags_a_label_its_class_does_not_support():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.85, 0.15]])
    table = find_label_issues(np.array([0, 0, 1, 1, 1]), probs)
    assert table.iloc[0]["index"] == 4 and table.iloc[0]["is_issue"]
    assert table["is_issue"].sum() == 1


def test_planted_mistakes_on_digits_come_first():
    _, X, y = load_spec("digits")
    graph = build_knn_graph(X)
    ids = [f"d{i}" for i in range(len(y))]
    classes = sorted(set(y))
    found = planted = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        labeled = rng.choice(len(y), 50, replace=False)
        flipped = set(rng.choice(labeled, 5, replace=False).tolist())
        labels = {}
        for p in labeled:
            wrong = [c for c in classes if c != y[p]]
            labels[ids[p]] = rng.choice(wrong) if p in flipped else y[p]
        engine = Engine(ids, X, graph=graph)
        engine.update(labels)
        mistakes = likely_mistakes(engine)
        top = {m.item_id for m in mistakes[:10]}
        found += sum(ids[p] in top for p in flipped)
        planted += len(flipped)
        for m in mistakes[:10]:  # the evidence the Review page shows
            assert m.given == labels[m.item_id] and m.predicted != m.given
            assert m.confidence > m.p_given and m.support_ids
            assert all(labels[s] == m.predicted for s in m.support_ids)
    assert found / planted >= 0.7
