"""Export tables and the trained model file."""

import io

import joblib
import pandas as pd
import pytest
from helpers import text_dataset

from sslcore.demos import load_demo
from sslcore.export import export_table, model_bytes, model_inputs, to_bytes, train_model


@pytest.mark.parametrize("demo", ["tickets", "moons", "digits"])
def test_model_file_round_trip_predicts_raw_items(demo):
    dataset = load_demo(demo)
    labeled = dict(zip(dataset.ids[::4], dataset.labels[::4], strict=True))
    model = train_model(dataset, labeled)
    loaded = joblib.load(io.BytesIO(model_bytes(model)))
    inputs = model_inputs(dataset)
    predicted = loaded.predict(inputs)
    assert (predicted == model.predict(inputs)).all()
    held_out = [i for i, item in enumerate(dataset.ids) if item not in labeled]
    accuracy = (predicted[held_out] == dataset.labels[held_out]).mean()
    assert accuracy > 0.8, accuracy


def test_model_needs_two_classes():
    dataset = load_demo("moons")
    with pytest.raises(ValueError, match="two classes"):
        train_model(dataset, {dataset.ids[0]: dataset.labels[0]})


def test_export_rows_carry_source_annotator_and_model_guess(store):
    project = store.create_project("m", load_demo("moons"), import_labels=False,
                                   class_names=["upper", "lower"])  # fmt: skip
    project.label("point-0000", "upper", annotator="ann", picked="random")
    project.label("point-0001", "lower", annotator="bob", source="accepted", confidence=0.9)
    batch = project.label_many([("point-0002", "upper"), ("point-0003", "upper")],
                               annotator="ann", confidences=[0.97, 0.96])  # fmt: skip
    project.undo_batch(batch, annotator="ann")
    guesses = pd.DataFrame({"item_id": ["point-0004"], "label": ["lower"], "confidence": [0.7]})
    table = export_table(project, predictions=guesses).set_index("item_id")
    assert table.loc["point-0000", ["label", "source", "picked", "annotator"]].tolist() == [
        "upper", "human", "random", "ann"
    ]  # fmt: skip
    assert pd.isna(table.loc["point-0001", "picked"])
    accepted = table.loc["point-0001", ["source", "confidence"]].tolist()
    assert accepted == ["accepted", pytest.approx(0.9)]
    assert pd.isna(table.loc["point-0002", "label"])  # the bulk accept was undone
    assert table.loc["point-0004", ["label", "source"]].tolist() == ["lower", "model"]
    assert len(table) == 1000
    # A dispute is neither unlabeled nor the model's to fill (it read as unlabeled).
    project.set_overlap(2)
    project.label("point-0005", "upper", annotator="ann")
    project.label("point-0005", "lower", annotator="bob")
    disputed = export_table(project, predictions=guesses.assign(item_id="point-0005"))
    row = disputed.set_index("item_id").loc["point-0005"]
    assert pd.isna(row["label"]) and row["source"] == "disputed"
    # A reviewer settling a dispute is a person's label too (it read 'None', as imports do).
    project.resolve("point-0005", "lower", annotator="rev")
    resolved = export_table(project).set_index("item_id").loc["point-0005"]
    assert resolved[["label", "source", "confidence"]].tolist() == [
        "lower",
        "resolved",
        pytest.approx(1.0),
    ]
    for fmt in ("csv", "parquet", "jsonl"):
        data = to_bytes(table.reset_index(), fmt)
        back = {
            "csv": lambda b: pd.read_csv(io.BytesIO(b)),
            "parquet": lambda b: pd.read_parquet(io.BytesIO(b)),
            "jsonl": lambda b: pd.read_json(io.BytesIO(b), lines=True),
        }[fmt](data)
        assert len(back) == 1000 and back.loc[0, "label"] == "upper"


def test_a_project_with_no_label_yet_exports(store):
    project = store.create_project("m", load_demo("moons"), import_labels=False,
                                   class_names=["upper", "lower"])  # fmt: skip
    assert export_table(project)["label"].isna().all()
    guesses = pd.DataFrame({"item_id": ["point-0001"], "label": ["upper"], "confidence": [0.7]})
    table = export_table(project, predictions=guesses).set_index("item_id")
    assert table.loc["point-0001", ["label", "source"]].tolist() == ["upper", "model"]


FORMULAS = ["=HYPERLINK(\"http://x.example\",\"y\")", "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
            "-2+3", "\t=1+1", "\r=1+1"]  # fmt: skip


def _hostile_export(store):
    texts = [*FORMULAS, "line one\rline two", "plain", "a\r\nb", "tail\r"]
    ids = ["=id", "+id", "@id", "-id", "tab", "cr", "bare-cr", "plain", "crlf", "tail"]
    project = store.create_project(
        "formulas", text_dataset(texts, ids=ids), class_names=["=cmd()", "-1", "ok"]
    )
    project.label("=id", "=cmd()", annotator="@ann")
    project.label("plain", "-1", annotator="ann")
    project.label("bare-cr", "ok", annotator="ann")
    return export_table(project)


def test_csv_export_neutralises_formulas_in_texts_ids_labels_and_names(store):
    import csv

    table = _hostile_export(store)
    rows = list(csv.DictReader(io.StringIO(to_bytes(table, "csv").decode("utf-8"), newline="")))
    assert len(rows) == len(table)  # no bare \r split a row
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(dangerous), (column, value)
    by_id = {row["item_id"]: row for row in rows}
    assert set(by_id) == {"'=id", "'+id", "'@id", "'-id", "tab", "cr", "bare-cr", "plain",
                          "crlf", "tail"}  # fmt: skip
    assert by_id["'=id"]["content"] == "'" + FORMULAS[0]
    assert by_id["'=id"]["label"] == "'=cmd()" and by_id["'=id"]["annotator"] == "'@ann"
    assert by_id["plain"]["label"] == "'-1"
    assert by_id["cr"]["content"] == "'\r=1+1"
    # Text that is not a formula comes back byte for byte, line breaks included.
    assert by_id["bare-cr"]["content"] == "line one\rline two"
    assert by_id["crlf"]["content"] == "a\r\nb" and by_id["tail"]["content"] == "tail\r"
    assert float(by_id["bare-cr"]["confidence"]) == pytest.approx(1.0)


def test_csv_export_with_bare_carriage_returns_reads_back_in_pandas(store):
    table = _hostile_export(store)
    back = pd.read_csv(io.BytesIO(to_bytes(table, "csv")), dtype=str, keep_default_na=False)
    assert len(back) == len(table)
    assert back.set_index("item_id").loc["bare-cr", "content"] == "line one\rline two"


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_jsonl_and_parquet_exports_stay_exact(store, fmt):
    table = _hostile_export(store)
    data = to_bytes(table, fmt)
    if fmt == "jsonl":
        back = pd.read_json(io.BytesIO(data), lines=True, dtype=False)
    else:
        back = pd.read_parquet(io.BytesIO(data))
    assert back["item_id"].tolist() == table["item_id"].tolist()
    assert back["content"].tolist() == table["content"].tolist()
    labeled = table["label"].notna()
    assert back["label"][labeled].tolist() == table["label"][labeled].tolist()


def test_export_rounds_are_whole_numbers_and_images_are_named_files(store):
    import zipfile

    from sslcore.demos import create_demo_project
    from sslcore.export import image_file_names, images_zip

    project = create_demo_project(store, "digits", "d")
    project.label("digit-0001", "1", annotator="ann", source="accepted", model_round=43)
    table = export_table(project)
    assert str(table["model_round"].dtype) == "Int64"
    assert to_bytes(table, "csv").decode().splitlines()[2].endswith(",43")
    row = table.set_index("item_id").loc["digit-0001"]
    assert row["content"] == "digit-0001.png"
    archive = zipfile.ZipFile(io.BytesIO(images_zip(project.dataset())))
    assert archive.namelist() == image_file_names(project.dataset())
    assert archive.read("digit-0001.png") == project.dataset().items["image"].iloc[1]
