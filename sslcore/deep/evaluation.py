"""The deep methods inside ``sslabel simulate``: an embedding in place of the default
features, or a classifier trained at each budget on the labels the engine picked."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from . import CLASSIFIER_METHODS, EMBEDDING_METHODS, make_model
from .arrays import image_array


def simulation_images(dataset_spec: str, *, label_column: str | None = None) -> np.ndarray:
    """The images of a demo or image file/folder, as the deep trainers take them."""
    from ..demos import load_demo
    from ..loaders import load_file

    try:
        dataset = load_demo(dataset_spec)
    except ValueError:
        dataset = load_file(dataset_spec, label_column=label_column)
    if dataset.kind != "image":
        raise DataError(f"{dataset_spec}: the deep methods need images, this is {dataset.kind}")
    return image_array(dataset.items["image"].tolist())


def _spreader(Z: np.ndarray):
    """``spread(known) -> Predictions``: label spreading of ``known`` on a graph of ``Z``."""
    from ..engine import Engine
    from ..graph import build_knn_graph

    graph = build_knn_graph(Z)
    ids = [f"item-{i}" for i in range(len(Z))]

    def spread(known: np.ndarray):
        labels = {ids[i]: name for i, name in enumerate(known) if name is not None}
        return Engine(ids, Z, graph=graph).update(labels)

    return spread


def teacher_proba(predictions) -> np.ndarray:
    """The engine's class probabilities with columns in sorted class-name order."""
    order = np.argsort(np.asarray(predictions.classes, dtype=str), kind="stable")
    return predictions.proba[:, order]


def deep_setup(
    dataset_spec: str,
    X: np.ndarray,
    *,
    features: str | None,
    method: str,
    params: dict,
    label_column: str | None = None,
):
    """``(features for the graph, predict or None)`` for :func:`sslcore.simulate.simulate`."""
    if features not in (None, *EMBEDDING_METHODS):
        raise ValueError(
            f"deep features must be one of {', '.join(EMBEDDING_METHODS)}; got {features!r}"
        )
    if method not in ("graph", *CLASSIFIER_METHODS):
        raise ValueError(f"method must be graph, {', '.join(CLASSIFIER_METHODS)}; got {method!r}")
    params = dict(params)
    teacher = params.pop("teacher", None)
    teacher_features = params.pop("teacher_features", None)
    if teacher not in (None, "graph"):
        raise ValueError(f"teacher must be 'graph' or absent; got {teacher!r}")
    images = simulation_images(dataset_spec, label_column=label_column)
    if features:
        X = make_model(features, **params).fit(images).embedding_
    # The teacher may spread the same labels on another graph: the engine keeps picking
    # labels on the default features, the teacher spreads them on a deep embedding.
    spread = _spreader(make_model(teacher_features, **params).fit(images).embedding_) if (
        teacher and teacher_features
    ) else None  # fmt: skip
    predict = None
    if method != "graph":

        def predict(known: np.ndarray, seed: int, predictions) -> np.ndarray:
            model = make_model(method, **{**params, "seed": seed})
            if teacher and spread is not None:
                predictions = spread(known)
            proba = teacher_proba(predictions) if teacher else None
            return model.fit(images, known, teacher=proba).predict(images)

    return X, predict
