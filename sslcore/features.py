"""Turn a dataset's items into one float32 feature matrix, cached by fingerprint.

Defaults need no download: text is TF-IDF over word and character n-grams
reduced by TruncatedSVD; images are small grey or colour pixels reduced by PCA
(on the digits demo raw pixels beat blurred pixels, see docs/benchmarks.md);
tabular data is imputed, scaled and one-hot encoded. Embedding columns a user
supplies (``method="columns"``) are used as they are. Pretrained embeddings
(``"minilm"``, the bundled all-MiniLM-L6-v2, and ``"model:<folder>"``, any local
model) come from :mod:`sslcore.embeddings` and need the ``embeddings`` extra.
Methods joined by ``+`` (``"tfidf+minilm"``) are blended: each block is scaled
to unit rows and the blocks are concatenated, so distances average the blocks'
cosine distances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from . import embeddings
from .cache import ArtifactCache, fingerprint
from .dataset import ID, IMAGE, LABEL, TEXT, Dataset
from .errors import DataError
from .images import IMAGE_SIDE, ImagePixels

METHODS = ("auto", "tfidf", "minilm", "pixels", "tabular", "columns")
"""Named methods; ``"model:<folder or cached name>"`` and ``+`` blends are accepted too."""
FEATURES_VERSION = 1
SETTING = "features"
"""The project setting that holds the project's feature method."""

TEXT_DIM = 128
IMAGE_DIM = 64

_KINDS = {"tfidf": ("text",), "minilm": ("text",), "pixels": ("image",), "model": ("text", "image")}


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
    method : str, default="auto"
        One of :data:`METHODS`, ``"model:<folder or cached name>"``, or several joined by
        ``+``. ``"auto"`` picks ``tfidf`` for text, ``pixels`` for images and ``tabular`` for
        tables.
    cache : ArtifactCache, optional
        When given, the result is stored under a fingerprint of the items and
        the method, and loaded instead of recomputed next time. Each block of a blend
        is cached on its own, so a blend reuses a block computed before.
    progress : callable, optional
        ``progress(fraction, message)``, called as the work advances (per block of
        rows for tables, per image, per stage for text), so a caller can tell the
        time left (:class:`sslcore.progress.ProgressTracker`).

    Returns
    -------
    ndarray of shape (n_items, n_features), float32

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> featurize(load_demo("moons")).shape
    (1000, 2)
    >>> featurize(load_demo("tickets"), method="tfidf+tfidf").shape
    (480, 256)
    """
    method = resolve_method(dataset, method)
    progress = progress or (lambda fraction, message: None)
    parts = method.split("+")
    if len(parts) > 1:
        return _blend(dataset, parts, cache, progress)

    def compute() -> np.ndarray:
        message = f"Computing {method} features"
        progress(0.0, message)
        if embeddings.is_model_method(method):
            X = _embed(dataset, method, progress)
        else:
            X = _METHODS[method](dataset, lambda fraction: progress(fraction, message))
        progress(1.0, "Features ready")
        return np.ascontiguousarray(X, dtype=np.float32)

    if cache is None:
        return compute()
    return cache.get_or_compute("features", _key(dataset, method), compute)


def features_cached(dataset: Dataset, method: str, cache: ArtifactCache) -> bool:
    """True when :func:`featurize` would load every block of ``method`` from ``cache``
    instead of computing it (the studio builds in the background when it would not).

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import load_demo
    >>> cache, ds = ArtifactCache(tempfile.mkdtemp()), load_demo("moons")
    >>> features_cached(ds, "auto", cache), featurize(ds, cache=cache).shape
    (False, (1000, 2))
    >>> features_cached(ds, "auto", cache)
    True
    """
    method = resolve_method(dataset, method)
    return all(cache.has("features", _key(dataset, part)) for part in method.split("+"))


def _key(dataset: Dataset, method: str) -> str:
    return fingerprint(FEATURES_VERSION, method, _identity(method), dataset.kind, _content(dataset))


def resolve_method(dataset: Dataset, method: str) -> str:
    """The concrete method ``"auto"`` stands for on this dataset; checks any other.

    Raises ``ValueError`` for an unknown name and :class:`DataError` for a method that does
    not fit the dataset's kind (TF-IDF on images, pixels on text, ...).

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> resolve_method(load_demo("tickets"), "auto")
    'tfidf'
    """
    if method == "auto":
        return {"text": "tfidf", "image": "pixels", "tabular": "tabular"}[dataset.kind]
    for part in method.split("+"):
        _check_part(dataset, part)
    return method


def _check_part(dataset: Dataset, part: str) -> None:
    name = "model" if part.startswith(embeddings.MODEL_PREFIX) else part
    if name not in METHODS[1:] and name != "model":
        choices = ", ".join(METHODS)
        raise ValueError(
            f"unknown feature method {part!r}; use one of {choices}, "
            "model:/path/to/model, or several joined by '+'"
        )
    if dataset.kind not in _KINDS.get(name, (dataset.kind,)):
        raise DataError(
            f"the feature method {part!r} is for {' or '.join(_KINDS[name])} items, and "
            f"{dataset.name!r} holds {dataset.kind} items"
        )


def method_from_user(value: str) -> str:
    """A feature method as a person types it: a folder that exists, bare or after
    ``model:``, becomes ``model:<absolute folder>``, so the project finds it from anywhere.

    Examples
    --------
    >>> method_from_user(" tfidf + minilm ")
    'tfidf+minilm'
    """
    from pathlib import Path

    parts = []
    for part in value.split("+"):
        part = part.strip()
        folder = Path(part.removeprefix(embeddings.MODEL_PREFIX)).expanduser()
        if part not in METHODS and folder.is_dir():
            part = f"{embeddings.MODEL_PREFIX}{folder.resolve()}"
        parts.append(part)
    return "+".join(parts)


def check_method(dataset: Dataset, method: str, *, load: bool = False) -> str:
    """``method`` if it fits the dataset's items and its models are on this machine.

    Parameters
    ----------
    dataset : Dataset
    method : str
    load : bool, default=False
        Also load each model (seconds) to check that it embeds this kind of item.

    Raises
    ------
    DataError
        Naming what is wrong: an unknown method, one for other items, a missing extra or
        model folder.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> check_method(load_demo("digits"), "tfidf")
    Traceback (most recent call last):
    ...
    sslcore.errors.DataError: the feature method 'tfidf' is for text items, and 'digits' ...
    """
    try:
        resolve_method(dataset, method)
    except ValueError as error:
        raise DataError(str(error)) from error
    for part in method.split("+"):
        if embeddings.is_model_method(part):
            if load:
                embeddings.checked_model(part, dataset.kind)
            else:
                embeddings.resolve_model(part)
    return method


CHOICES = {
    "text": {
        "auto": "TF-IDF of words and character n-grams (default, no extra needed)",
        "minilm": "Sentence embeddings: all-MiniLM-L6-v2 (embeddings extra)",
        "tfidf+minilm": "TF-IDF and sentence embeddings, blended (embeddings extra)",
    },
    "image": {"auto": "Pixels, reduced by PCA (default)"},
    "tabular": {"auto": "The feature columns, scaled and one-hot encoded (default)"},
}
"""Per kind of item, the named feature methods a person can pick for a project, with a
title; any kind but tabular also takes ``model:<folder>``."""


def feature_choices(kind: str, *, extra_installed: bool) -> dict[str, str]:
    """:data:`CHOICES` for ``kind``, without those that need the extra when it is absent.

    Examples
    --------
    >>> list(feature_choices("text", extra_installed=False))
    ['auto']
    """
    choices = CHOICES[kind]
    return {m: t for m, t in choices.items() if extra_installed or not _needs_extra(m)}


def _needs_extra(method: str) -> bool:
    return any(embeddings.is_model_method(part) for part in method.split("+"))


def alternatives(dataset: Dataset, method: str) -> tuple[str, ...]:
    """Feature methods the model selection may also choose for a project featurized with
    ``method``: a text project left on ``"auto"`` is offered TF-IDF+MiniLM when the
    embeddings extra is installed. Not MiniLM alone: offered too, the selection chose it on
    SMS spam where it is worse, 1.4 and 0.9 points below TF-IDF alone at 30 and 50 labels
    (docs/benchmarks.md). A method the user chose is kept as it is.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> alternatives(load_demo("digits"), "auto"), alternatives(load_demo("tickets"), "tfidf")
    ((), ())
    """
    if method != "auto" or dataset.kind != "text" or not embeddings.embeddings_available():
        return ()
    return (f"tfidf+{embeddings.BUNDLED}",)


def project_method(project) -> str:
    """The feature method a project was imported with (``"auto"`` unless one was chosen),
    from its settings; the studio, the exported model and the CLI all read it here."""
    return project.settings.get(SETTING, "auto")


def _identity(method: str):
    return embeddings.resolve_model(method).identity if embeddings.is_model_method(method) else None


def _blend(dataset, parts, cache, progress) -> np.ndarray:
    from sklearn.preprocessing import normalize

    blocks = []
    for i, part in enumerate(parts):

        def scaled(fraction: float, message: str, i=i) -> None:
            progress((i + fraction) / len(parts), message)

        X = featurize(dataset, method=part, cache=cache, progress=scaled)
        blocks.append(normalize(X) / np.sqrt(len(parts)))
    return np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)


def _embed(dataset: Dataset, method: str, progress) -> np.ndarray:
    column = TEXT if dataset.kind == "text" else IMAGE
    items = _require(dataset, column).tolist()
    return embeddings.embed(items, kind=dataset.kind, method=method, progress=progress)


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
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """TF-IDF on word 1-2 grams and character 2-5 grams, TruncatedSVD, unit rows.

    ``progress(fraction)`` is called after each step; the SVD's power iterations, most of
    the time on a few thousand texts, report one by one.

    Examples
    --------
    >>> text_tfidf(["refund my card", "card refund", "app crashes", "crash on open"]).shape
    (4, 3)
    """
    return TextTfidf(n_components=n_components).fit_transform(texts, progress=progress)


class TextTfidf(TransformerMixin, BaseEstimator):
    """Texts to unit rows: TF-IDF on words and on characters, reduced by TruncatedSVD.

    Shared by the engine's features and the exported model. A vectorizer that finds no
    vocabulary is left out rather than failing: texts of emoji only have no words (the
    word pattern wants letters or digits), and too few texts leave no character n-gram
    seen twice.

    Parameters
    ----------
    n_components : int, default=128
        Dimensions kept, clipped to what the vocabulary and the number of texts allow.

    Examples
    --------
    >>> TextTfidf(n_components=2).fit_transform(["😀😀", "😡😡", "😀😡", "😀"]).shape
    (4, 2)
    """

    def __init__(self, *, n_components: int = TEXT_DIM):
        self.n_components = n_components

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None, *, progress: Callable[[float], None] | None = None):
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        progress = progress or _quiet
        texts = _clean_texts(X)
        self.vectorizers_, blocks = [], []
        # Measured on 5,574 SMS: words take ~2% of the time, characters ~8%, the SVD the rest.
        for vectorizer, done in zip(text_vectorizers(), (0.02, 0.1), strict=True):
            try:
                blocks.append(vectorizer.fit_transform(texts))
            except ValueError:  # empty vocabulary
                continue
            finally:
                progress(done)
            self.vectorizers_.append(vectorizer)
        self.components_ = None
        if not blocks:
            return np.zeros((len(texts), 1), np.float32)
        M = sp.hstack(blocks).tocsr()
        k = min(self.n_components, M.shape[1] - 1, len(texts) - 1)
        if k < 1:
            return normalize(M).toarray().astype(np.float32)
        self.components_ = truncated_svd(M, k, progress=lambda f: progress(0.1 + 0.9 * f))
        return normalize(M @ self.components_.T).astype(np.float32)

    def transform(self, X):
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        texts = _clean_texts(X)
        if not self.vectorizers_:
            return np.zeros((len(texts), 1), np.float32)
        M = sp.hstack([v.transform(texts) for v in self.vectorizers_]).tocsr()
        if self.components_ is None:
            return normalize(M).toarray().astype(np.float32)
        return normalize(M @ self.components_.T).astype(np.float32)


SVD_POWER_ITERATIONS = 5
SVD_OVERSAMPLES = 10


def truncated_svd(
    M, n_components: int, *, progress: Callable[[float], None] | None = None
) -> np.ndarray:
    """The ``components_`` of ``TruncatedSVD(n_components, algorithm="randomized",
    random_state=0)`` fitted on ``M``, computed step by step so that each power iteration
    can report progress.

    Examples
    --------
    >>> from sklearn.decomposition import TruncatedSVD
    >>> M = np.random.default_rng(0).random((30, 12))
    >>> expected = TruncatedSVD(3, algorithm="randomized", random_state=0).fit_transform(M)
    >>> bool(np.allclose(M @ truncated_svd(M, 3).T, expected))
    True
    """
    from scipy import linalg
    from sklearn.utils.extmath import svd_flip

    progress = progress or _quiet
    # The same steps and random draws as scikit-learn's randomized_svd (Halko et al. 2011):
    # the range of the wider side is found by LU-normalised power iterations.
    transpose = M.shape[0] < M.shape[1]
    A = M.T if transpose else M
    Q = np.random.RandomState(0).normal(size=(A.shape[1], n_components + SVD_OVERSAMPLES))
    steps = SVD_POWER_ITERATIONS + 1
    for step in range(SVD_POWER_ITERATIONS):
        Q, _ = linalg.lu(A @ Q, permute_l=True, check_finite=False)
        Q, _ = linalg.lu(A.T @ Q, permute_l=True, check_finite=False)
        progress((step + 1) / steps)
    Q, _ = linalg.qr(A @ Q, mode="economic", check_finite=False)
    U_hat, _, Vt = linalg.svd(Q.T @ A, full_matrices=False, lapack_driver="gesdd")
    U = Q @ U_hat
    if transpose:
        U, Vt = Vt.T, U.T
    _, Vt = svd_flip(U[:, :n_components], Vt[:n_components], u_based_decision=False)
    progress(1.0)
    return Vt


def _clean_texts(texts) -> list[str]:
    return ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]


def _quiet(fraction: float) -> None:
    pass


def _tfidf(dataset: Dataset, progress: Callable[[float], None]) -> np.ndarray:
    return TextTfidf().fit_transform(_require(dataset, TEXT).tolist(), progress=progress)


def _pixels(dataset: Dataset, progress: Callable[[float], None]) -> np.ndarray:
    blobs = _require(dataset, IMAGE).tolist()
    X = ImagePixels(side=IMAGE_SIDE).fit(blobs).transform(blobs, progress=progress)
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


TABULAR_BLOCK = 100_000
"""Rows transformed at a time: the float64 temporaries (imputed, scaled, one-hot) of a
block, not of the whole table, are alive at once."""


def _tabular(dataset: Dataset, progress: Callable[[float], None]) -> np.ndarray:
    """What ``tabular_transformer(frame).fit_transform(frame)`` gives, in float32, built
    without its whole-table float64 copies: each part is fitted on every row, then rows
    are transformed a block at a time into the result."""
    from sklearn.base import clone

    frame = tabular_inputs(dataset)
    parts = [(pipe, cols) for _, pipe, cols in tabular_transformer(frame).transformers if cols]
    fitted = []
    for done, (pipe, cols) in enumerate(parts, start=1):
        fitted.append((clone(pipe).fit(frame[cols]), cols))
        progress(0.3 * done / len(parts))
    blocks = range(0, len(frame), TABULAR_BLOCK)
    out = None
    for done, start in enumerate(blocks, start=1):
        rows = frame.iloc[start : start + TABULAR_BLOCK]
        block = np.hstack([_dense(pipe.transform(rows[cols])) for pipe, cols in fitted])
        if out is None:
            out = np.empty((len(frame), block.shape[1]), np.float32)
        out[start : start + len(rows)] = block
        progress(0.3 + 0.7 * done / len(blocks))
    return out


def _dense(block) -> np.ndarray:
    return block.toarray() if hasattr(block, "toarray") else np.asarray(block)


def _columns(dataset: Dataset, progress: Callable[[float], None]) -> np.ndarray:
    frame = _tabular_frame(dataset)
    try:
        X = frame.to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"embedding columns must be numeric: {error}") from error
    if np.isnan(X).any():
        raise DataError("embedding columns contain missing values; fill them or use 'tabular'")
    return X


_METHODS: dict[str, Callable[[Dataset, Callable[[float], None]], np.ndarray]] = {
    "tfidf": _tfidf,
    "pixels": _pixels,
    "tabular": _tabular,
    "columns": _columns,
}
