"""The engine behind the pages: built once per project, refreshed once per new label event.

Features, the kNN graph and the 2-D map are cached on disk by fingerprint
(sslcore's ArtifactCache) and in memory per server process, so a click never
recomputes them. A refresh only runs label spreading from the previous round.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from sslcore.cache import fingerprint
from sslcore.engine import Engine, Predictions
from sslcore.errors import DataError
from sslcore.export import model_bytes, train_model
from sslcore.features import featurize
from sslcore.graph import build_knn_graph
from sslcore.projection import project_2d
from sslcore.store import Project
from ui.components import md

N_NEIGHBORS = 10


@dataclass
class ProjectModel:
    """One project's engine and what the pages need between rounds."""

    engine: Engine
    features_key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_event_id: int = -1
    round: int = 0
    changed_last_round: int = 0
    pca: np.ndarray | None = None
    umap: np.ndarray | None = None
    umap_thread: threading.Thread | None = None

    @property
    def features(self) -> np.ndarray:
        return self.engine.features


@st.cache_resource(show_spinner=False, max_entries=4)
def _models(data_dir: str) -> dict:
    return {}


def _registry(project: Project) -> dict:
    return _models(str(project.store.data_dir.resolve()))


def get_model(project: Project) -> ProjectModel:
    """The project's model, building features and graph with a progress bar the first time."""
    registry = _registry(project)
    if project.id in registry:
        return registry[project.id]
    try:
        model = _build(project)
    except DataError as exc:
        st.error(f"The model cannot be built for this project: {md(exc)}")
        st.stop()
    registry[project.id] = model
    return model


def forget_model(project: Project) -> None:
    """Drop a project's model (after the project was deleted)."""
    _registry(project).pop(project.id, None)


def _build(project: Project) -> ProjectModel:
    with st.status("Preparing the model (first time only)…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        dataset = project.dataset()
        status.update(label="Computing features…")
        features = featurize(dataset, cache=project.cache, progress=progress)
        key = fingerprint(features, {"n_neighbors": N_NEIGHBORS})
        status.update(label="Building the neighbour graph…")
        graph = project.cache.get_or_compute(
            "graph", key, lambda: build_knn_graph(features, n_neighbors=N_NEIGHBORS,
                                                  progress=progress)
        )  # fmt: skip
        engine = Engine(dataset.ids, features, graph=graph)
        status.update(label="Model ready", state="complete", expanded=False)
    return ProjectModel(engine, key)


def refresh(project: Project) -> tuple[ProjectModel, Predictions]:
    """Bring the model up to the latest label events (no work if nothing changed)."""
    model = get_model(project)
    with model.lock:
        state = project.state()
        if state.last_event_id != model.last_event_id:
            before = model.engine.predictions
            predictions = model.engine.update(project.labels(), project.rejections())
            if before.proba.shape[1] and predictions.proba.shape[1]:
                old = pd.Series(before.predicted, index=before.item_ids)
                new = pd.Series(predictions.predicted, index=predictions.item_ids)
                model.changed_last_round = int((old != new).sum())
            model.last_event_id = state.last_event_id
            model.round += 1
        return model, model.engine.predictions


def predictions_table(project: Project) -> pd.DataFrame:
    """item_id, label (the model's class), confidence for every item."""
    _, predictions = refresh(project)
    return pd.DataFrame(
        {
            "item_id": predictions.item_ids,
            "label": predictions.predicted,
            "confidence": predictions.confidence,
        }
    )


def model_file(project: Project) -> bytes | None:
    """The trained pipeline (raw items in, class out) as a joblib file; None before 2 classes."""
    labels = project.labels()
    if len(set(labels.values())) < 2:
        return None
    return model_bytes(train_model(project.dataset(), labels))


def map_coords(project: Project) -> tuple[np.ndarray, str]:
    """2-D coordinates: UMAP when ready (computed in the background), PCA meanwhile."""
    model = get_model(project)
    if model.features.shape[1] == 2:
        return model.features, "the data's own two dimensions"
    key = model.features_key
    if model.umap is None and project.cache.has("umap", key):
        model.umap = project.cache.load("umap", key)
    if model.umap is not None:
        return model.umap, "UMAP"
    if model.umap_thread is None:

        def compute() -> None:
            model.umap = project.cache.get_or_compute(
                "umap", key, lambda: project_2d(model.features, method="umap")
            )

        model.umap_thread = threading.Thread(target=compute, daemon=True, name="umap")
        model.umap_thread.start()
    if model.pca is None:
        model.pca = project.cache.get_or_compute(
            "pca", key, lambda: project_2d(model.features, method="pca")
        )
    return model.pca, "PCA (UMAP is being computed)"
