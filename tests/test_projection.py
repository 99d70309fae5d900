"""2-D maps and the decision field behind them."""

import numpy as np
import pytest

from sslcore.projection import decision_field, project_2d


def test_pca_map_keeps_rows_and_two_dimensional_data_is_used_as_is():
    X = np.random.default_rng(0).normal(size=(50, 8))
    coords = project_2d(X, method="pca")
    assert coords.shape == (50, 2) and coords.dtype == np.float32
    flat = np.random.default_rng(1).normal(size=(30, 2)).astype(np.float32)
    assert np.array_equal(project_2d(flat), flat)


def test_decision_field_follows_the_gap_between_two_clusters():
    rng = np.random.default_rng(0)
    left = rng.normal(loc=(-3, 0), scale=0.3, size=(40, 2))
    right = rng.normal(loc=(3, 0), scale=0.3, size=(40, 2))
    coords = np.r_[left, right]
    proba = np.r_[np.tile([0.9, 0.1], (40, 1)), np.tile([0.2, 0.8], (40, 1))]
    field = decision_field(coords, proba, resolution=41)
    middle_row = field.winner[20]
    assert middle_row[0] == 0 and middle_row[-1] == 1
    switch = np.flatnonzero(np.diff(middle_row))[0]
    assert abs(field.x[switch]) < 1.0  # the boundary runs through the gap near x = 0
    assert field.confidence[20, 0] > 0.85 and field.confidence[20, switch] < 0.75


@pytest.mark.slow
def test_umap_on_many_rows_fits_a_sample_and_places_the_rest(monkeypatch):
    from sslcore import projection

    monkeypatch.setattr(projection, "UMAP_FIT_ROWS", 200)
    monkeypatch.setattr(projection, "UMAP_BLOCK", 150)
    rng = np.random.default_rng(0)
    labels = rng.integers(2, size=600)
    X = rng.normal(size=(600, 8)) + labels[:, None] * 6.0
    reports = []
    coords = project_2d(X, method="umap", progress=lambda f, m: reports.append(f))
    assert coords.shape == (600, 2) and np.isfinite(coords).all()
    # The two clusters stay apart on the map: each point's nearest other point shares its cluster.
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).mean() > 0.98
    assert reports[0] == pytest.approx(0.0) and reports[-1] == pytest.approx(1.0)
    assert reports == sorted(reports)
