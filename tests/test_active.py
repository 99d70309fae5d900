import numpy as np
import pytest

from sslcore.active import (
    STRATEGIES,
    ActiveLearner,
    Pool,
    entropy,
    get_strategy,
    least_confidence,
    margin,
)
from sslcore.demos import load_demo
from sslcore.engine import Engine
from sslcore.errors import PoolExhaustedError
from sslcore.features import featurize
from sslcore.graph import build_knn_graph


@pytest.fixture(scope="module")
def moons():
    ds = load_demo("moons")
    return ds, featurize(ds)


def engine_for(moons):
    ds, X = moons
    return Engine(ds.ids, X), dict(zip(ds.ids, ds.labels, strict=True))


def make_pool(n_labeled=4, n=60, with_proba=True):
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (n // 2, 3)), rng.normal(4, 1, (n - n // 2, 3))]
    labeled = np.zeros(n, bool)
    labeled[:n_labeled] = True
    proba = rng.dirichlet([1, 1, 1], n) if with_proba else None
    return Pool(
        ids=np.array([f"id-{i}" for i in range(n)], dtype=object),
        labeled=labeled,
        features=X,
        proba=proba,
        n_classes_labeled=3 if with_proba else 0,
        graph=build_knn_graph(X, n_neighbors=5),
        density=np.linspace(0.1, 1, n),
        other_proba=rng.dirichlet([1, 1, 1], n) if with_proba else None,
        classes=["a", "-1", "0"],
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_contract(strategy):
    pool = make_pool()
    picks = get_strategy(strategy).query(pool, 10, seed=3)
    ids = [s.item_id for s in picks]
    assert len(ids) == 10 == len(set(ids))
    assert not set(ids) & {f"id-{i}" for i in range(4)}
    assert all(isinstance(s.score, float) and s.reason for s in picks)
    again = get_strategy(strategy).query(pool, 10, seed=3)
    assert [s.item_id for s in again] == ids


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_exhausted_pool_is_a_named_error(strategy):
    pool = make_pool(n_labeled=60)
    with pytest.raises(PoolExhaustedError, match="all 60 items are labeled"):
        get_strategy(strategy).query(pool, 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_zero_labels_and_asking_for_more_than_left(strategy):
    pool = make_pool(n_labeled=0, with_proba=False)
    assert len(get_strategy(strategy).query(pool, 5)) == 5
    pool = make_pool(n_labeled=57)
    assert len(get_strategy(strategy).query(pool, 10)) == 3


def test_cold_start_covers_both_blobs():
    pool = make_pool(n_labeled=0, with_proba=False)
    picks = get_strategy("cold_start").query(pool, 2, seed=0)
    positions = sorted(int(s.item_id.split("-")[1]) for s in picks)
    assert positions[0] < 30 <= positions[1]


def test_batch_avoids_near_duplicates():
    pool = make_pool()
    picks = [int(s.item_id.split("-")[1]) for s in get_strategy("margin").query(pool, 5)]
    for a in picks:
        neighbours = set(pool.graph[a].indices.tolist())
        assert not neighbours & (set(picks) - {a})


def test_scores():
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(margin(p), [0.0, 1.0])
    np.testing.assert_allclose(least_confidence(p), [0.5, 0.0])
    assert entropy(p)[0] > entropy(p)[1]


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="choose one of random"):
        get_strategy("nope")


# The active learner over an engine -------------------------------------------------


def test_query_never_returns_labeled(moons):
    engine, truth = engine_for(moons)
    labels = dict(list(truth.items())[:20])
    engine.update(labels)
    learner = ActiveLearner(engine)
    for strategy in ("margin", "random", "entropy", "disagreement", "density_margin"):
        picks = learner.query(strategy, 15, seed=1)
        assert not {s.item_id for s in picks} & set(labels)


@pytest.mark.parametrize("strategy", ["margin", "entropy", "density_margin"])
def test_candidate_query_ranks_like_the_full_pool(moons, monkeypatch, strategy):
    import sslcore.active as active_module

    engine, truth = engine_for(moons)
    labels = dict(list(truth.items())[:10])
    engine.update(labels)
    full = ActiveLearner(engine).query(strategy, 5, seed=3)
    monkeypatch.setattr(active_module, "QUERY_CANDIDATES_MIN_ITEMS", 0)
    monkeypatch.setattr(active_module, "QUERY_CANDIDATES", 20)
    cut = ActiveLearner(engine).query(strategy, 5, seed=3)
    assert not {s.item_id for s in cut} & set(labels)
    assert len({s.item_id for s in cut}) == 5
    # Same top-scored items, up to how ties and near-duplicates are broken.
    assert cut[0].score == pytest.approx(full[0].score)
    assert sorted(s.score for s in cut)[-1] == pytest.approx(sorted(s.score for s in full)[-1])


def test_one_at_a_time_cold_start_follows_the_planned_batch():
    """The Label page asks for one item at a time; it must get the batch's medoids, not the
    single-cluster medoid and then outliers."""
    dataset = load_demo("digits")
    X = featurize(dataset)
    batch = ActiveLearner(Engine(dataset.ids, X)).query("margin", 10, seed=0)
    engine = Engine(dataset.ids, X)
    learner = ActiveLearner(engine)
    truth = dict(zip(dataset.ids, dataset.labels, strict=True))
    one_by_one, labels = [], {}
    for _ in range(10):
        (suggestion,) = learner.query("margin", 1, seed=len(labels))
        one_by_one.append(suggestion.item_id)
        labels[suggestion.item_id] = truth[suggestion.item_id]
        predictions = engine.update(labels)
    assert one_by_one == [s.item_id for s in batch]
    rest = ~engine.labeled
    accuracy = (predictions.predicted[rest] == dataset.labels[rest]).mean()
    assert accuracy > 0.9, accuracy  # 10 labels, one per digit: the benchmark's 94%
    (after,) = learner.query("margin", 1, seed=10)
    assert after.item_id not in one_by_one
    assert after.reason.startswith("Torn between")  # the plan is spent: margin takes over


def test_reasons_name_the_classes_behind_the_doubt_not_raw_scores():
    import re

    pool = make_pool()
    for name, pattern in [
        ("margin", r"Torn between '[^']+' and '[^']+'"),
        ("density_margin", r"Typical item, yet torn between '[^']+' and '[^']+'"),
        ("least_confidence", r"The model's best guess, '[^']+', is among its weakest"),
        ("entropy", r"The model spreads its belief over several classes: '[^']+'(, '[^']+')*"),
    ]:
        pick = get_strategy(name).query(pool, 1, seed=0)[0]
        # Classes, never the raw scores as percentages: the page shows the calibrated chance.
        assert re.fullmatch(pattern, pick.reason), pick.reason
        proba = pool.proba[list(pool.ids).index(pick.item_id)]
        assert repr(pool.classes[int(proba.argmax())]) in pick.reason


def test_the_planned_first_items_say_what_they_are_once_labels_exist(moons):
    engine, truth = engine_for(moons)
    learner = ActiveLearner(engine)
    assert learner.query("margin", 1)[0].reason == (
        "Typical of a group of similar items no one has labeled"
    )
    labels = {}
    for _ in range(3):
        item = learner.query("margin", 1)[0].item_id
        labels[item] = truth[item]
        engine.update(labels)
    reason = learner.query("margin", 1)[0].reason
    assert "no one has labeled" not in reason
    assert reason.endswith("7 of them left before the model's doubts choose")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_has_a_title_that_fits_a_sidebar_and_a_description(strategy):
    from sslcore.active import STRATEGY_CLASSES

    chosen = STRATEGY_CLASSES[strategy]
    assert 0 < len(chosen.title) <= 25 and chosen.description


def test_every_fifth_label_is_a_random_probe_the_calibration_may_trust(moons):
    from sslcore.active import PROBE_EVERY, PROBE_REASON

    engine, truth = engine_for(moons)
    learner = ActiveLearner(engine)
    labels, picked = {}, []
    while len(labels) < 30:
        (suggestion,) = learner.query("margin", 1, seed=len(labels))
        picked.append(suggestion)
        labels[suggestion.item_id] = truth[suggestion.item_id]
        engine.update(labels)
    probes = [n for n, s in enumerate(picked, start=1) if s.reason == PROBE_REASON]
    assert PROBE_EVERY == 5 and probes == [15, 20, 25, 30]  # after the 10 planned items
    uncertain = {
        s.item_id for s in picked if engine.picked_as_uncertain[engine.position(s.item_id)]
    }
    assert uncertain == {s.item_id for n, s in enumerate(picked, 1) if n > 10 and n not in probes}
    representative = engine.label_set().representative
    assert representative.sum() == 10 + len(probes)
    # Only the probes were drawn at random: the cold start covers the data on purpose.
    at_random = engine.label_set().at_random
    assert at_random.sum() == len(probes)
    assert all(engine.picked_at_random[engine.position(picked[n - 1].item_id)] for n in probes)

    # A batch: its 5th and 10th slots are probes, distinct from the other picks.
    batch = learner.query("margin", 10, seed=0)
    assert [i for i, s in enumerate(batch) if s.reason == PROBE_REASON] == [4, 9]
    assert len({s.item_id for s in batch}) == 10 and not {s.item_id for s in batch} & set(labels)
    never = ActiveLearner(engine, probe_every=None).query("margin", 10, seed=0)
    assert all(s.reason != PROBE_REASON for s in never)
    assert not engine.picked_at_random[[engine.position(s.item_id) for s in never]].any()
    drawn = learner.query("random", 3, seed=0)
    assert engine.picked_at_random[[engine.position(s.item_id) for s in drawn]].all()
