"""Export the labeled data, with where every label came from."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import PurePosixPath

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer

from . import embeddings
from .dataset import ID, IMAGE, TEXT
from .features import (
    TextTfidf,
    project_method,
    resolve_method,
    tabular_inputs,
    tabular_transformer,
)
from .images import ImagePixels
from .loaders import IMAGE_SUFFIXES

FORMATS = ("csv", "parquet", "jsonl")
MODEL_TEXT_DIM = 100
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
"""A spreadsheet runs a cell starting with one of these as a formula (OWASP's CSV injection
list, and ASVS 1.2.10's NUL)."""
PERSON_DECIDED = ("human", "resolved")
"""Sources whose label a person chose (a label, a reviewer settling a dispute): confidence 1."""
COLUMNS = [
    "item_id", "content", "label", "source", "picked", "confidence", "annotator", "labeled_at",
    "model_round",
]  # fmt: skip


def export_table(
    project,
    *,
    predictions: pd.DataFrame | None = None,
    include_unlabeled: bool = True,
) -> pd.DataFrame:
    """One row per item: id, content reference, final label and its provenance.

    ``source`` is where the label came from: human, accepted (a suggestion a
    person accepted), bulk (accepted in bulk), imported, or model (the model's
    prediction for an item nobody labeled, given in ``predictions`` with the
    columns item_id, label, confidence), resolved (a reviewer settled a dispute), or
    disputed (annotators disagree and nobody resolved it yet: no label, never the model's
    guess). Items with neither have no label. ``picked`` says
    why a person was asked about the item: ``random`` (a random sample of the items, such
    as the Label page's every fifth item), ``doubt`` (the model was unsure of it), or empty.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import load_demo
    >>> from sslcore.store import Store
    >>> p = Store(tempfile.mkdtemp()).create_project("t", load_demo("tickets"))
    >>> table = export_table(p)
    >>> table.loc[0, "source"], len(table)
    ('imported', 480)
    """
    dataset = project.dataset()
    names = project.class_names_by_id()
    current = project.current_events()  # with several votes per item: their consensus
    rows = []
    for item_id, content in zip(dataset.ids, _content_refs(dataset), strict=True):
        ev = current.get(item_id)
        row = {"item_id": item_id, "content": content}
        if ev is not None:
            row.update(
                label=names[ev.class_id],
                source=ev.source,
                picked=ev.picked,
                confidence=1.0 if ev.source in PERSON_DECIDED else ev.confidence,
                annotator=ev.annotator,
                labeled_at=datetime.fromtimestamp(ev.created_at, UTC).isoformat(),
                model_round=ev.model_round,
            )
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["model_round"] = table["model_round"].astype("Int64")  # 43, not 43.0, in every format
    # Text columns stay text with no label at all (all empty, pandas makes them float, and
    # pandas 3 refuses a string set into them: the Export page of a new project failed).
    table = table.astype({c: object for c in ("label", "source", "picked", "annotator")})
    # People labeled these and disagree: not unlabeled, and no guess of the model's hides it.
    disputed = table["item_id"].isin(project.conflicts()).to_numpy()
    table.loc[disputed, "source"] = "disputed"
    if predictions is not None:
        guess = predictions.set_index(ID).reindex(table["item_id"])
        unlabeled = table["label"].isna().to_numpy() & ~disputed
        table.loc[unlabeled, "label"] = guess["label"].to_numpy()[unlabeled]
        table.loc[unlabeled, "confidence"] = guess["confidence"].to_numpy()[unlabeled]
        table.loc[unlabeled & guess["label"].notna().to_numpy(), "source"] = "model"
    if not include_unlabeled:
        table = table[table["label"].notna()].reset_index(drop=True)
    return table


def _content_refs(dataset) -> list:
    """What identifies an item's content in an export: its text, image file, or row."""
    items = dataset.items
    if dataset.kind == "text":
        return list(items[TEXT])
    if dataset.kind == "image":
        return image_file_names(dataset)
    records = items[list(dataset.feature_columns)].to_dict("records")
    return [json.dumps(r, default=_json_default) for r in records]


def image_file_names(dataset) -> list[str]:
    """The file name of every image: its path inside the imported folder or zip, or (for
    images that came without one, like the digits demo) its id with the image's own
    suffix. :func:`images_zip` holds the images under these names.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> image_file_names(load_demo("digits"))[:2]
    ['digit-0000.png', 'digit-0001.png']
    """
    from PIL import Image

    names = []
    for item_id, data in zip(dataset.items[ID], dataset.items[IMAGE], strict=True):
        if PurePosixPath(item_id).suffix.lower() in IMAGE_SUFFIXES:
            names.append(str(item_id))
            continue
        with Image.open(io.BytesIO(data)) as image:
            suffix = (image.format or "png").lower().replace("jpeg", "jpg")
        names.append(f"{item_id}.{suffix}")
    return names


def images_zip(dataset) -> bytes:
    """Every image of an image dataset in one .zip, under :func:`image_file_names`."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in zip(image_file_names(dataset), dataset.items[IMAGE], strict=True):
            archive.writestr(name, data)
    return buffer.getvalue()


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy where every text cell (and column name) a spreadsheet would run as a formula
    starts with a single quote, OWASP's advice against CSV injection.

    Texts, ids, labels and annotator names come from users and imported files, so
    ``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)`` or ``-2+3`` in any of them would run
    when the CSV is opened in a spreadsheet. Numbers are left alone.

    Examples
    --------
    >>> table = pd.DataFrame({"text": ["=1+1", "fine", "-2"], "n": [-1, 2, 3]})
    >>> neutralise_formulas(table).to_dict("list")
    {'text': ["'=1+1", 'fine', "'-2"], 'n': [-1, 2, 3]}
    """

    def neutral(value):
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            return "'" + value
        return value

    out = table.rename(columns=neutral)
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = [neutral(v) for v in out[column]]
    return out


def to_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    """Serialise an export table as CSV (UTF-8), Parquet or JSONL.

    CSV is for spreadsheets: text cells that would run as formulas get a leading
    single quote (:func:`neutralise_formulas`) and cells with line breaks are
    quoted. Parquet and JSONL hold every value exactly.

    Examples
    --------
    >>> to_bytes(pd.DataFrame({"a": [1]}), "jsonl")
    b'{"a":1}\\n'
    """
    if fmt == "csv":
        # CRLF line ends (RFC 4180) make the writer quote any cell holding a bare \r or \n,
        # which spreadsheets and pandas both read as a row break.
        return (
            neutralise_formulas(table)
            .to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            .encode("utf-8")
        )
    if fmt == "parquet":
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "jsonl":
        return table.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8")
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


def _featurizer(dataset, features: str = "auto") -> Pipeline:
    """Raw items to features by the project's method: one pipeline, or a union of one per
    block of a blend, each block scaled to unit rows as :func:`featurize` does."""
    method = resolve_method(dataset, features)
    parts = method.split("+")
    if len(parts) == 1:
        return _block(dataset, method)
    blocks = [(f"{i}-{part}", make_pipeline(_block(dataset, part), Normalizer()))
              for i, part in enumerate(parts)]  # fmt: skip
    return make_pipeline(FeatureUnion(blocks))


def _block(dataset, method: str) -> Pipeline:
    if embeddings.is_model_method(method):
        return make_pipeline(embeddings.Embedder(method=method, kind=dataset.kind))
    if dataset.kind == "text":
        return make_pipeline(TextTfidf(n_components=MODEL_TEXT_DIM))
    if dataset.kind == "image":
        return make_pipeline(ImagePixels())
    return make_pipeline(tabular_transformer(tabular_inputs(dataset)))


def model_inputs(dataset):
    """What the exported model's ``predict`` takes: texts, image bytes, or a feature table."""
    if dataset.kind == "text":
        return dataset.items[TEXT].astype(str).tolist()
    if dataset.kind == "image":
        return dataset.items[IMAGE].tolist()
    return tabular_inputs(dataset)


def train_model(dataset, labels: dict[str, str], *, features: str = "auto") -> Pipeline:
    """A scikit-learn pipeline from raw items to a class, trained on the current labels.

    The feature steps are fitted on every item (no labels needed), the
    logistic regression on the labeled ones. ``predict`` takes a list of texts,
    a list of image bytes, or a table with the feature columns.

    Parameters
    ----------
    dataset : Dataset
    labels : dict
        Item id to class name.
    features : str, default="auto"
        The project's feature method (:func:`sslcore.features.project_method`), so the
        model sees items as the project does. With a pretrained model (``"minilm"``,
        ``"model:..."``) the pipeline keeps the model's name, not its weights: loading
        it elsewhere needs the ``embeddings`` extra and, for a local model, its folder.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> ds = load_demo("tickets")
    >>> labels = dict(zip(ds.ids[:80], ds.labels[:80]))
    >>> model = train_model(ds, labels)
    >>> model.predict(["I was charged twice this month"]).tolist()
    ['billing']
    """
    inputs = model_inputs(dataset)
    positions = [i for i, item_id in enumerate(dataset.ids) if item_id in labels]
    if len({labels[dataset.ids[i]] for i in positions}) < 2:
        raise ValueError("a model needs labels in at least two classes")
    featurizer = _featurizer(dataset, features).fit(inputs)
    # Only the labeled items are transformed: with a pretrained model that is the slow step.
    X = featurizer.transform(_rows(inputs, positions))
    y = np.array([labels[dataset.ids[i]] for i in positions], dtype=object)
    classifier = LogisticRegression(max_iter=2000).fit(X, y)
    return Pipeline([("features", featurizer), ("classifier", classifier)])


def _rows(inputs, positions: list[int]):
    if isinstance(inputs, pd.DataFrame):
        return inputs.iloc[positions]
    return [inputs[i] for i in positions]


def model_bytes(model: Pipeline) -> bytes:
    """The model as a joblib file."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def model_file(project, features: str | None = None) -> bytes | None:
    """The project's trained pipeline (raw items in, class out) as joblib bytes, or None
    before two classes have labels. ``features``: the feature method the project's model
    chose (:attr:`sslcore.engine.Engine.features_in_use`); default the project's own."""
    labels = project.labels()
    if len(set(labels.values())) < 2:
        return None
    features = features or project_method(project)
    return model_bytes(train_model(project.dataset(), labels, features=features))
