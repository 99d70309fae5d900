"""Insights computed from label events and the graph."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sslcore.graph import build_knn_graph, normalized_affinity
from sslcore.insights import (
    acceptance_by_confidence,
    default_checkpoints,
    labels_over_time,
    learning_curve,
    next_labels_gain,
)
from sslcore.selection import SpreadingConfig


def _events(rows):
    return pd.DataFrame(rows, columns=["created_at", "source", "confidence", "undone", "class_id"])


def test_labels_over_time_leaves_out_undone_and_rejections():
    events = _events(
        [
            (1.0, "human", None, False, 1),
            (2.0, "human", None, True, 1),
            (3.0, "rejected", 0.8, False, 2),
            (4.0, "accepted", 0.9, False, 2),
            (5.0, "human", None, False, 1),
        ]
    )
    table = labels_over_time(events)
    assert table["source"].tolist() == ["human", "accepted", "human"]
    assert table["labels"].tolist() == [1, 1, 2]


def test_acceptance_rate_per_confidence_bin():
    events = _events(
        [(0, "accepted", 0.91, False, 1)] * 9
        + [(0, "rejected", 0.95, False, 1)]
        + [(0, "rejected", 0.32, False, 1), (0, "accepted", 0.35, False, 1)]
        + [(0, "bulk", 0.99, False, 1), (0, "accepted", 0.99, True, 1)]
    )
    table = acceptance_by_confidence(events, bins=10).set_index("bin")
    assert table.loc["90%–100%", "suggestions"] == 10
    assert table.loc["90%–100%", "accepted"] == pytest.approx(0.9)
    assert table.loc["30%–40%", "accepted"] == pytest.approx(0.5)
    assert table["suggestions"].sum() == 12  # bulk and undone decisions are not counted


def test_learning_curve_on_two_cliques_is_perfect_and_on_noise_is_not():
    W = sp.csr_matrix(np.kron(np.eye(2), np.ones((20, 20))) - np.eye(40))
    S = normalized_affinity(W)
    positions = np.arange(40)
    codes = np.repeat([0, 1], 20)
    order = np.random.default_rng(0).permutation(40)
    curve = learning_curve(S, positions[order], codes[order], checkpoints=[10, 40])
    assert curve["accuracy"].tolist() == pytest.approx([1.0, 1.0])
    shuffled = np.random.default_rng(1).permutation(codes)
    noisy = learning_curve(S, positions, shuffled, checkpoints=[40])
    assert noisy["accuracy"].iloc[0] < 0.8


def test_learning_curve_spreads_with_the_settings_it_is_given():
    # Two overlapping blobs, 9:1; 60 random labels. Class masses aimed at equal shares
    # call many majority items the minority class, aimed at the label frequencies not:
    # the curve must be the model the project uses (Insights passes the engine's settings).
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (270, 2)), rng.normal(0, 1, (30, 2)) + [1.0, 0.0]]
    y = np.repeat([0, 1], [270, 30])
    S = normalized_affinity(build_knn_graph(X.astype(np.float32)))
    positions = rng.permutation(300)[:60]

    def accuracy(settings):
        curve = learning_curve(S, positions, y[positions], checkpoints=[60], settings=settings)
        return curve["accuracy"].iloc[0]

    frequencies = accuracy(SpreadingConfig(class_prior="labels"))
    equal = accuracy(SpreadingConfig(class_prior="uniform"))
    assert frequencies > 0.9 and equal < frequencies - 0.1


def test_default_checkpoints_and_gain():
    assert default_checkpoints(5) == [5]
    points = default_checkpoints(1000)
    assert points[0] == 10 and points[-1] == 1000 and len(points) <= 8
    flat = pd.DataFrame({"labels": [10, 100], "accuracy": [0.9, 0.9]})
    assert next_labels_gain(flat) == 0  # exactly: a flat curve buys nothing, not 1e-16
    # The same flat curve with the noise a fit picks up on another BLAS is still flat.
    noisy = pd.DataFrame({"labels": [10, 30, 100], "accuracy": [0.9, 0.9 + 1e-16, 0.9]})
    assert next_labels_gain(noisy) == 0
    rising = pd.DataFrame({"labels": [10, 20, 40], "accuracy": [0.5, 0.6, 0.7]})
    assert 0 < next_labels_gain(rising) < 0.1
    assert next_labels_gain(rising.head(1)) is None
