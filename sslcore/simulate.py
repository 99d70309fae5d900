"""Oracle simulation: replay labeling with the true labels as the annotator.

Every run starts from zero labels. The first batch (the first budget) is
asked for at once, as the app's first screen does; after that the oracle
labels one suggestion at a time and the engine refreshes after each label,
as in the app. Accuracy is transductive: measured on the items the oracle
did not label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .active import STRATEGIES as _ALL_STRATEGIES
from .dataset import Dataset
from .demos import DEMOS, EXTRA_DEMOS, load_demo
from .errors import DataError

STRATEGIES = tuple(s for s in _ALL_STRATEGIES if s != "cold_start")
"""Strategy names accepted by ``sslabel simulate --strategy``."""


def load_spec(
    dataset_spec: str,
    *,
    label_column: str | None = None,
    features: str = "auto",
    cache_dir: str | Path | None = None,
):
    """``(name, features, true labels as str)`` for a demo name, an ``.npz`` or a file.

    ``features`` is a feature method (:func:`sslcore.features.featurize`); with
    ``cache_dir`` computed features are kept there and reused.

    Examples
    --------
    >>> name, X, y = load_spec("moons")
    >>> X.shape, sorted(set(y))
    ((1000, 2), ['lower', 'upper'])
    """
    from .cache import ArtifactCache
    from .features import featurize

    if dataset_spec in DEMOS or dataset_spec in EXTRA_DEMOS:
        dataset = load_demo(dataset_spec)
    elif dataset_spec.endswith(".npz"):
        if features != "auto":
            raise DataError(f"{dataset_spec}: an .npz holds its features already; drop --features")
        with np.load(dataset_spec, allow_pickle=False) as archive:
            if "X" not in archive or "y" not in archive:
                raise DataError(f"{dataset_spec}: an .npz needs arrays 'X' and 'y'")
            X, y = archive["X"].astype(np.float32), archive["y"]
        return Path(dataset_spec).stem, X, np.array([str(v) for v in y], dtype=object)
    else:
        dataset = _load_file(dataset_spec, label_column)
    labels = dataset.labels
    if any(v is None for v in labels):
        raise DataError(
            f"{dataset_spec}: simulation needs a true label for every item; "
            f"{sum(v is None for v in labels)} are missing"
        )
    cache = ArtifactCache(cache_dir) if cache_dir is not None else None
    return dataset.name, featurize(dataset, method=features, cache=cache), labels


def _load_file(path: str, label_column: str | None) -> Dataset:
    from .loaders import load_file

    return load_file(path, label_column=label_column)


def run_once(learner, y: np.ndarray, *, strategy: str, budgets: list[int], seed: int, predict=None):
    """One replay from zero labels with an :class:`~sslcore.active.ActiveLearner` on a fresh
    engine; returns ``{budget: measure(...)}`` plus ``macro_f1`` (see :func:`measure`).

    ``predict(known, seed, predictions)``, given a class name per item (``None`` if
    unlabeled) and the engine's :class:`~sslcore.engine.Predictions`, returns a predicted
    class name per item; by default the engine's own predictions are scored.
    """
    from sklearn.metrics import f1_score

    engine = learner.engine
    results = {}
    for labels in replay(learner, y, strategy=strategy, budgets=budgets, seed=seed):
        point = measure(engine, y)
        rest = ~engine.labeled
        predicted = engine.predictions.predicted
        if predict is not None:
            known = np.full(len(y), None, dtype=object)
            for item_id, name in labels.items():
                known[engine.position(item_id)] = name
            predicted = predict(known, seed, engine.predictions)
            point["accuracy"] = (
                float((predicted[rest].astype(str) == y[rest].astype(str)).mean())
                if rest.any() else 1.0
            )  # fmt: skip
        predicted = predicted[rest].astype(str)
        truth = y[rest].astype(str)
        point["macro_f1"] = (
            float(f1_score(truth, predicted, average="macro")) if rest.any() else 1.0
        )
        results[len(labels)] = point
    return results


def replay(learner, y: np.ndarray, *, strategy: str, budgets: list[int], seed: int):
    """Label from zero as the studio's loop does: the first budget's items at once (a cold
    start plans a batch), then one at a time, each by ``strategy`` on a refreshed engine.
    Yields the labels (item id to true class) at each budget, once the model has been
    re-chosen (:func:`catch_up`).
    """
    engine = learner.engine
    labels: dict[str, str] = {}
    batch = budgets[0]
    while len(labels) < budgets[-1]:
        want = min(batch, budgets[-1] - len(labels), engine.n_items - len(labels))
        for suggestion in learner.query(strategy, want, seed=seed + len(labels)):
            labels[suggestion.item_id] = y[engine.position(suggestion.item_id)]
        engine.update(labels)
        batch = 1
        if len(labels) in budgets:
            catch_up(engine)
            yield labels


def catch_up(engine) -> None:
    """Re-choose the model if the labels grew since the last choice, as the app's
    background selection will have done by the time anyone looks."""
    if engine.tuning_due():
        engine.apply_tuning(engine.tune())


def measure(engine, y: np.ndarray) -> dict:
    """What a simulation records on the items still unlabeled: accuracy, the ECE of the
    confidence shown (and the ECE a perfectly calibrated model would show on that many
    items), and a bulk accept at the default target precision (items taken, how many right).

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> engine = Engine(["a", "b", "c"], np.array([[0.0], [0.1], [5.0]]))
    >>> _ = engine.update({"a": "x", "c": "y"})
    >>> measure(engine, np.array(["x", "x", "y"]))["accuracy"]
    1.0
    """
    from .bulk import DEFAULT_TARGET_PRECISION
    from .calibration import ece_noise_floor, expected_calibration_error

    P = engine.predictions
    rest = ~engine.labeled
    right = (P.predicted[rest].astype(str) == y[rest].astype(str)).astype(float)
    confidence = P.confidence[rest]
    plans = engine.bulk_plan(target_precision=DEFAULT_TARGET_PRECISION)
    accepted = [(engine.position(i), plan.class_name) for plan in plans for i in plan.item_ids]
    tuning = engine.tuning
    return {
        "accuracy": float(right.mean()) if right.size else 1.0,
        "ece": expected_calibration_error(confidence, right),
        "ece_floor": ece_noise_floor(confidence),
        "mean_confidence": float(confidence.mean()) if confidence.size else 1.0,
        "bulk_accepted": len(accepted),
        "bulk_right": int(sum(str(y[p]) == name for p, name in accepted)),
        "bulk_coverage": len(accepted) / max(int(rest.sum()), 1),
        "model": tuning.choice.describe() if tuning is not None else "default",
    }


def simulate(
    dataset_spec: str,
    *,
    strategy: str,
    budgets: list[int],
    seeds: int,
    label_column: str | None = None,
    features: str = "auto",
    cache_dir: str | Path | None = None,
    deep_features: str | None = None,
    method: str = "graph",
    deep_params: dict | None = None,
) -> dict:
    """Average transductive accuracy after each budget of oracle labels.

    Parameters
    ----------
    dataset_spec : str
        A demo name, a file the importer reads (with ``label_column``), or an
        ``.npz`` with arrays ``X`` and ``y``.
    strategy : str
        One of :data:`STRATEGIES`.
    budgets : list of int
        Label counts at which to measure, e.g. ``[10, 30, 50]``.
    seeds : int
        Number of replays (seeds 0 .. seeds - 1).
    label_column : str, optional
    features : str, default="auto"
        The feature method, e.g. ``"minilm"`` or ``"tfidf+minilm"``
        (:func:`sslcore.features.featurize`). Several separated by commas
        (``"tfidf,minilm,tfidf+minilm"``): the engine starts on the first and the model
        selection may choose any of them, as in a studio project whose embeddings were
        computed in the background.
    cache_dir : path, optional
        Where computed features are kept and reused.
    deep_features : {"vae", "simclr"}, optional
        A deep embedding trained first on all images (no labels), replacing the features.
    method : {"graph", "fixmatch", "pi", "mean_teacher"}, default="graph"
        What is scored at each budget: the engine's label spreading, or a deep classifier
        trained on the labels the strategy picked (the engine still picks them).
    deep_params : dict, optional
        Hyperparameters for the deep methods, e.g. ``{"steps": 300}``; ``{"teacher":
        "graph"}`` also gives the classifier the engine's label spreading as a teacher.

    Returns
    -------
    dict
        ``{"dataset", "features", "deep_features", "method", "strategy", "n_items", "seeds",
        "curve": [{"labels",
        "accuracy", "std", "macro_f1", "ece", "bulk_precision", "bulk_coverage"}]}``.
        ``ece`` is the expected calibration error (15 bins) of the confidence shown
        for the unlabeled items; ``bulk_precision`` (pooled over seeds; ``None`` if
        nothing qualified) and ``bulk_coverage`` (share of the unlabeled items) are
        those of a bulk accept at the default target precision (98%), every class
        together. The engine re-chooses its model as labels grow
        (:meth:`sslcore.engine.Engine.tune`).

    Examples
    --------
    >>> result = simulate("moons", strategy="margin", budgets=[4, 8], seeds=1)
    >>> [point["labels"] for point in result["curve"]]
    [4, 8]
    """
    from .active import ActiveLearner
    from .engine import Engine
    from .graph import build_knn_graph
    from .selection import FeatureRepresentation

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise ValueError("budgets must be positive label counts, e.g. 10,30,50")
    first, *others = [method.strip() for method in features.split(",")]
    name, X, y = load_spec(
        dataset_spec, label_column=label_column, features=first, cache_dir=cache_dir
    )
    representations = [
        FeatureRepresentation(method, load_spec(dataset_spec, label_column=label_column,
                                                features=method, cache_dir=cache_dir)[1])
        for method in others
    ]  # fmt: skip
    predict = None
    if deep_features or method != "graph":
        from .deep.evaluation import deep_setup

        X, predict = deep_setup(
            dataset_spec, X, features=deep_features, method=method, params=deep_params or {},
            label_column=label_column,
        )  # fmt: skip
    budgets = [b for b in budgets if b <= len(y)] or [len(y)]
    graph = build_knn_graph(X)
    ids = [f"item-{i}" for i in range(len(y))]
    runs = []
    embedding = None  # depends only on the graph: computed once, shared by every seed
    for seed in range(seeds):
        learner = ActiveLearner(
            Engine(ids, X, graph=graph, auto_tune=True, representations=representations),
            embedding=embedding,
        )
        runs.append(
            run_once(learner, y, strategy=strategy, budgets=budgets, seed=seed, predict=predict)
        )
        embedding = learner.embedding
    curve = []
    for budget in budgets:
        points = [run[budget] for run in runs]
        accuracy = np.array([p["accuracy"] for p in points])
        accepted = sum(p["bulk_accepted"] for p in points)
        right = sum(p["bulk_right"] for p in points)
        curve.append(
            {
                "labels": budget,
                "accuracy": round(float(accuracy.mean()), 4),
                "std": round(float(accuracy.std()), 4),
                "macro_f1": round(float(np.mean([p["macro_f1"] for p in points])), 4),
                "ece": round(float(np.mean([p["ece"] for p in points])), 4),
                "bulk_precision": round(right / accepted, 4) if accepted else None,
                "bulk_coverage": round(float(np.mean([p["bulk_coverage"] for p in points])), 4),
            }
        )
    return {
        "dataset": name,
        "features": features,
        "deep_features": deep_features,
        "method": method,
        "strategy": strategy,
        "n_items": int(len(y)),
        "seeds": int(seeds),
        "curve": curve,
    }
