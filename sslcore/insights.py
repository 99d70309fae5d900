"""Figures about the labeling itself: progress, calibration, and what more labels buy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .propagation import SpreadingState, class_prior, distributions, targets_from_codes
from .selection import SpreadingConfig
from .store.events import LABELING_SOURCES

GAIN_TOLERANCE = 1e-9
"""Fitted slopes below this (per unit of log labels) are numerical noise: no gain."""


def labels_over_time(events: pd.DataFrame) -> pd.DataFrame:
    """Cumulative labels given, per source, at each event time (undone events left out).

    ``events`` is :meth:`sslcore.store.Project.events`.

    Examples
    --------
    >>> ev = pd.DataFrame({"created_at": [1.0, 2.0], "source": ["human", "human"],
    ...                    "undone": [False, False], "class_id": [1, 1]})
    >>> labels_over_time(ev)["labels"].tolist()
    [1, 2]
    """
    kept = events[
        events["source"].isin(LABELING_SOURCES) & ~events["undone"] & events["class_id"].notna()
    ]
    table = kept[["created_at", "source"]].sort_values("created_at", kind="stable").copy()
    table["time"] = pd.to_datetime(table["created_at"], unit="s", utc=True)
    table["labels"] = table.groupby("source").cumcount() + 1
    return table[["time", "source", "labels"]].reset_index(drop=True)


def acceptance_by_confidence(events: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """How often suggestions were accepted, per bin of the confidence shown.

    A calibrated model's "90% confident" suggestions are accepted about 90% of
    the time. Only one-by-one decisions count (accepted, rejected), not bulk.

    Examples
    --------
    >>> ev = pd.DataFrame({"source": ["accepted", "rejected", "accepted"],
    ...                    "confidence": [0.95, 0.55, 0.92], "undone": [False] * 3})
    >>> acceptance_by_confidence(ev, bins=4)["accepted"].tolist()
    [0.0, 1.0]
    """
    decided = events[events["source"].isin(("accepted", "rejected")) & ~events["undone"]]
    decided = decided[decided["confidence"].notna()]
    edges = np.linspace(0.0, 1.0, bins + 1)
    if decided.empty:
        return pd.DataFrame(columns=["bin", "suggestions", "accepted", "mean_confidence"])
    bin_of = np.clip(np.digitize(decided["confidence"], edges[1:-1]), 0, bins - 1)
    rows = []
    for b in np.unique(bin_of):
        chosen = decided[bin_of == b]
        rows.append(
            {
                "bin": f"{edges[b]:.0%}–{edges[b + 1]:.0%}",
                "suggestions": len(chosen),
                "accepted": float((chosen["source"] == "accepted").mean()),
                "mean_confidence": float(chosen["confidence"].mean()),
            }
        )
    return pd.DataFrame(rows)


def learning_curve(
    S: sp.spmatrix,
    positions: np.ndarray,
    codes: np.ndarray,
    *,
    checkpoints: list[int] | None = None,
    folds: int = 5,
    settings: SpreadingConfig | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> pd.DataFrame:
    """Cross-validated accuracy of label spreading with the first m human labels, for each m.

    Parameters
    ----------
    S : sparse matrix
        The normalized affinity of the graph the model spreads on.
    positions, codes : arrays
        Item positions and integer class codes of the human labels, oldest first.
    checkpoints : list of int, optional
        Label counts to evaluate; by default up to eight, spaced geometrically.
    settings : SpreadingConfig, optional
        How labels spread: alpha and the class-mass normalization and its aim. Pass the
        model's (:attr:`sslcore.engine.Engine.spreading_config`) so that the curve is the
        model the project uses, not another one; default ``SpreadingConfig()``.

    Returns
    -------
    DataFrame with columns ``labels``, ``accuracy``, ``std``.

    Examples
    --------
    >>> W = sp.csr_matrix(np.kron(np.eye(2), np.ones((5, 5))) - np.eye(10))
    >>> from sslcore.graph import normalized_affinity
    >>> curve = learning_curve(normalized_affinity(W), np.arange(10), np.repeat([0, 1], 5),
    ...                        checkpoints=[10], folds=5)
    >>> curve["accuracy"].tolist()
    [1.0]
    """
    positions, codes = np.asarray(positions), np.asarray(codes)
    n_classes = int(codes.max()) + 1 if codes.size else 0
    if checkpoints is None:
        checkpoints = default_checkpoints(len(codes))
    settings = settings or SpreadingConfig()
    state = SpreadingState(S, alpha=settings.alpha)
    rng = np.random.default_rng(seed)
    rows = []
    for step, m in enumerate(checkpoints):
        if progress:
            progress(step / len(checkpoints), f"{m} labels")
        fold_of = rng.permutation(m) % min(folds, m)
        scores = []
        for fold in range(min(folds, m)):
            train, test = fold_of != fold, fold_of == fold
            item_codes = np.full(S.shape[0], -1)
            item_codes[positions[:m][train]] = codes[:m][train]
            state.set_targets(targets_from_codes(item_codes, n_classes))
            prior = class_prior(codes[:m][train], n_classes, settings.class_prior)
            P = distributions(
                state.solve(tol=1e-4),
                class_mass_normalization=settings.class_mass_normalization,
                prior=prior,
            )
            scores.append(float((P[positions[:m][test]].argmax(1) == codes[:m][test]).mean()))
        rows.append({"labels": m, "accuracy": float(np.mean(scores)), "std": float(np.std(scores))})
    if progress:
        progress(1.0, "done")
    return pd.DataFrame(rows, columns=["labels", "accuracy", "std"])


def default_checkpoints(n_labels: int, most: int = 8) -> list[int]:
    """Up to ``most`` label counts from 10 to ``n_labels``, spaced geometrically."""
    if n_labels < 10:
        return [n_labels] if n_labels >= 2 else []
    points = np.unique(np.geomspace(10, n_labels, most).round().astype(int))
    return [int(p) for p in points]


def next_labels_gain(curve: pd.DataFrame, more: int = 10) -> float | None:
    """Expected accuracy gain from ``more`` labels, from a fit of accuracy = a + b log(labels).

    A curve that is flat or falling buys nothing: the gain is exactly zero, not
    the rounding noise of the fit.

    Examples
    --------
    >>> curve = pd.DataFrame({"labels": [10, 100], "accuracy": [0.5, 0.7]})
    >>> round(next_labels_gain(curve, more=900), 3)
    0.2
    >>> next_labels_gain(pd.DataFrame({"labels": [10, 100], "accuracy": [0.9, 0.9]}))
    0.0
    """
    if len(curve) < 2:
        return None
    log_labels = np.log(curve["labels"].to_numpy(dtype=float))
    accuracy = curve["accuracy"].to_numpy(dtype=float)
    slope, intercept = np.polyfit(log_labels, accuracy, 1)
    # The fit of a flat curve has a slope of about 1e-16, not 0: anything within the
    # rounding error of the accuracies counts as flat.
    if slope <= GAIN_TOLERANCE * max(1.0, float(np.abs(accuracy).max())):
        return 0.0
    last = float(curve["labels"].iloc[-1])
    now = min(1.0, intercept + slope * np.log(last))
    later = min(1.0, now + slope * np.log((last + more) / last))
    return float(max(0.0, later - now))
