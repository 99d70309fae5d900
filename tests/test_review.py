"""Suggestions with their support, and human labels the model doubts."""

import pytest

from sslcore.demos import load_demo
from sslcore.engine import Engine
from sslcore.features import featurize
from sslcore.review import likely_mistakes, pseudo_labels


@pytest.fixture(scope="module")
def moons():
    ds = load_demo("moons")
    return ds, featurize(ds)


def engine_for(moons):
    ds, X = moons
    return Engine(ds.ids, X), dict(zip(ds.ids, ds.labels, strict=True))


def test_pseudo_labels_with_support_and_likely_mistakes(moons):
    engine, truth = engine_for(moons)
    ids = list(truth)
    labels = {i: truth[i] for i in ids[:30]}
    wrong = ids[0]
    labels[wrong] = "lower" if truth[wrong] == "upper" else "upper"
    engine.update(labels)
    pseudo = pseudo_labels(engine.predictions, engine.features, per_class=5)
    assert pseudo and all(p.item_id not in labels for p in pseudo)
    assert all(labels[s] == p.class_name for p in pseudo for s in p.support_ids)
    assert wrong in [m.item_id for m in likely_mistakes(engine, min_confidence=0.6)]
