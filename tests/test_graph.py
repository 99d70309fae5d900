import numpy as np
import pytest

from sslcore.graph import build_knn_graph, knn_search, node_density, spectral_embedding


def two_blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 0.1, (n, 2)), rng.normal(5, 0.1, (n, 2))].astype(np.float32)


def test_graph_is_symmetric_without_self_loops():
    W = build_knn_graph(two_blobs(), n_neighbors=5)
    assert (W != W.T).nnz == 0
    assert W.diagonal().sum() == 0
    assert (W.data > 0).all() and (W.data <= 1).all()


def test_graph_does_not_join_far_blobs():
    W = build_knn_graph(two_blobs(), n_neighbors=5).tocoo()
    assert not np.any((W.row < 40) != (W.col < 40))


@pytest.mark.parametrize("method", ["exact", "hnsw"])
def test_knn_methods_agree_on_easy_data(method):
    X = two_blobs()
    distances, indices = knn_search(X, 3, method=method)
    exact_d, _ = knn_search(X, 3, method="exact")
    assert indices.shape == (80, 3)
    assert not (indices == np.arange(80)[:, None]).any()
    np.testing.assert_allclose(distances, exact_d, rtol=1e-4, atol=1e-5)


def test_progress_reaches_one():
    seen = []
    build_knn_graph(two_blobs(), n_neighbors=3, progress=lambda f, m: seen.append(f))
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_tiny_inputs():
    assert build_knn_graph(np.zeros((1, 3))).shape == (1, 1)
    W = build_knn_graph(np.array([[0.0], [1.0]]), n_neighbors=10)
    assert W.nnz == 2


def test_duplicates_are_connected():
    W = build_knn_graph(np.zeros((5, 2)), n_neighbors=2)
    assert W.nnz > 0 and np.isfinite(W.data).all()


def test_spectral_embedding_separates_blobs():
    Z = spectral_embedding(build_knn_graph(two_blobs(), n_neighbors=5), 2)
    assert Z.shape == (80, 2)
    assert np.allclose(np.linalg.norm(Z, axis=1), 1.0)
    first, second = Z[:40].mean(0), Z[40:].mean(0)
    assert np.linalg.norm(first - second) > 1.0


def test_node_density_range():
    d = node_density(build_knn_graph(two_blobs(), n_neighbors=5))
    assert ((d > 0) & (d <= 1)).all()
