import numpy as np
import pandas as pd
import pytest

from sslcore.cache import ArtifactCache
from sslcore.dataset import Dataset
from sslcore.demos import load_demo
from sslcore.errors import DataError
from sslcore.features import featurize


@pytest.mark.parametrize("name, columns", [("digits", 64), ("moons", 2)])
def test_demo_shapes(name, columns):
    X = featurize(load_demo(name))
    assert X.dtype == np.float32 and X.shape[1] == columns and np.isfinite(X).all()


def test_text_is_cached(tmp_path):
    ds = load_demo("tickets")
    cache = ArtifactCache(tmp_path)
    X = featurize(ds, cache=cache)
    assert X.shape[0] == 480 and X.dtype == np.float32
    assert len(list(tmp_path.iterdir())) == 1
    np.testing.assert_array_equal(featurize(ds, cache=cache), X)


def test_tabular_imputes_and_one_hot_encodes():
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "label": [None] * 3,
            "x": [1.0, np.nan, 3.0],
            "colour": ["red", None, "blue"],
        }
    )
    X = featurize(Dataset("t", "tabular", items, ("x", "colour")))
    assert X.shape == (3, 3) and np.isfinite(X).all()


def test_embedding_columns_used_as_is():
    items = pd.DataFrame({"item_id": ["a", "b"], "label": [None] * 2, "e0": [0.5, 1.0]})
    X = featurize(Dataset("t", "tabular", items, ("e0",)), method="columns")
    np.testing.assert_allclose(X.ravel(), [0.5, 1.0])


def test_undecodable_image_names_the_row():
    items = pd.DataFrame({"item_id": ["a"], "label": [None], "image": [b"not an image"]})
    with pytest.raises(DataError, match="row 0"):
        featurize(Dataset("i", "image", items))


def test_the_svd_with_progress_is_scikit_learns_own():
    """Features of existing text projects (and the benchmarks) stay as they were."""
    import scipy.sparse as sp
    from numpy.testing import assert_allclose
    from sklearn.decomposition import TruncatedSVD

    from sslcore.demos import load_demo
    from sslcore.features import text_vectorizers, truncated_svd

    texts = load_demo("tickets").items["text"].tolist()
    M = sp.hstack([v.fit_transform(texts) for v in text_vectorizers()]).tocsr()
    seen = []
    ours = truncated_svd(M, 32, progress=lambda fraction, message: seen.append(fraction))
    theirs = TruncatedSVD(32, algorithm="randomized", random_state=0).fit_transform(M)
    assert_allclose(ours, theirs, rtol=1e-7, atol=1e-10)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 5
