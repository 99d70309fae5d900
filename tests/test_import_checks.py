"""Imports that used to succeed and then break or corrupt the project (issue 12, items 6-11).

Each is now refused at import with a message naming the column, row or entry and the fix,
or imported with a warning in ``Dataset.warnings`` that the CLI prints.
"""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from helpers import image_bytes, text_dataset

from sslcore.cli import main
from sslcore.dataset import MAX_CLASSES, Dataset
from sslcore.engine import Engine
from sslcore.errors import DataError
from sslcore.export import train_model
from sslcore.features import featurize
from sslcore.loaders import dataset_from_table, load_file, load_images, read_table


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def parquet(tmp_path, table: pd.DataFrame, name: str = "t.parquet"):
    path = tmp_path / name
    table.to_parquet(path, index=False)
    return path


# 6. Columns that collide or leak --------------------------------------------------


@pytest.mark.parametrize("column", ["item_id", "label"])
def test_feature_column_with_a_reserved_name_is_refused(tmp_path, column):
    path = write(tmp_path, "t.csv", f"id,{column},f\na,1,2\nb,3,4\n")
    with pytest.raises(DataError, match=rf"t\.csv: the feature column '{column}' has a name"):
        load_file(path, feature_columns=[column, "f"], id_column="id")


def test_label_column_among_the_features_is_refused(tmp_path, capsys):
    path = write(tmp_path, "t.csv", "label,f\n1,x\n2,y\n")
    with pytest.raises(DataError, match=r"the label column 'f' is also picked as a feature"):
        load_file(path, feature_columns=["label", "f"], label_column="f")
    code = main(["--data-dir", str(tmp_path / "d"), "import", str(path),
                 "--feature-columns", "label,f", "--label-column", "f"])  # fmt: skip
    assert code == 2
    assert "the label column 'f' is also picked as a feature" in capsys.readouterr().err


def test_label_column_as_the_text_is_refused(tmp_path):
    path = write(tmp_path, "t.csv", "msg,other\nhi,1\nyo,2\n")
    with pytest.raises(DataError, match=r"label column 'msg' is also picked as text"):
        load_file(path, text_column="msg", label_column="msg")


# 7. Repeated zip entries, empty feature columns -----------------------------------


def test_zip_with_a_repeated_entry_is_refused(tmp_path):
    path = tmp_path / "dupes.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("cats/a.png", image_bytes(color="red"))
            archive.writestr("cats/a.png", image_bytes(color="blue"))
    with pytest.raises(DataError, match=r"dupes\.zip: holds the entry 'cats/a\.png' twice"):
        load_images(path)


def test_zip_entries_equal_once_normalised_are_refused(tmp_path):
    path = tmp_path / "dupes.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cats/a.png", image_bytes())
        archive.writestr("cats/./a.png", image_bytes())
    with pytest.raises(DataError, match=r"the entries 'cats/a\.png' and 'cats/\./a\.png'"):
        load_images(path)


def test_dataset_refuses_repeated_ids_whatever_built_it():
    items = pd.DataFrame({"item_id": ["a", "a"], "text": ["x", "y"], "label": [None, None]})
    with pytest.raises(ValueError, match="item ids must be unique; 'a' appears"):
        Dataset("d", "text", items)


@pytest.mark.parametrize("cells", ["", "nan", "NaN"])
def test_all_missing_feature_column_is_refused(tmp_path, cells):
    path = write(tmp_path, "t.csv", f"f,g\n1,{cells}\n2,{cells}\n3,{cells}\n")
    with pytest.raises(DataError, match=r"t\.csv: the feature column 'g' has no value in any row"):
        load_file(path, feature_columns=["f", "g"])


def test_all_null_parquet_feature_is_refused(tmp_path):
    path = parquet(tmp_path, pd.DataFrame({"f": [1.0, 2.0], "g": [np.nan, np.nan]}))
    with pytest.raises(DataError, match=r"the feature column 'g' has no value in any row"):
        load_file(path, feature_columns=["f", "g"])


# 8. Parquet: nested cells, timestamps, huge numbers, numbers read as categories ---


@pytest.mark.parametrize(
    ("values", "what"),
    [([[1, 2], [3]], r"holds a list \(\[1, 2\]\)"), ([{"a": 1}, {"a": 2}], r"holds an object")],
)
@pytest.mark.parametrize("role", ["feature", "id", "text", "label"])
def test_nested_parquet_cells_are_refused(tmp_path, values, what, role):
    table = pd.DataFrame({"nested": values, "f": [1.0, 2.0], "t": ["x", "y"]})
    path = parquet(tmp_path, table)
    columns = {
        "feature": dict(feature_columns=["nested", "f"]),
        "id": dict(feature_columns=["f"], id_column="nested"),
        "text": dict(text_column="nested"),
        "label": dict(text_column="t", label_column="nested"),
    }[role]
    with pytest.raises(DataError, match=rf"t\.parquet: row 1, column 'nested' {what}"):
        load_file(path, **columns)


def test_nested_jsonl_value_is_refused(tmp_path):
    lines = [json.dumps({"text": "a", "meta": {"k": [1]}}), json.dumps({"text": "b", "meta": 2})]
    path = write(tmp_path, "t.jsonl", "\n".join(lines))
    with pytest.raises(DataError, match=r"line 1, column 'meta' holds an object"):
        load_file(path, feature_columns=["meta"])


def test_timestamps_become_seconds_and_a_null_stays_missing(tmp_path):
    stamps = pd.to_datetime(["1970-01-01 00:01:40", None, "2020-01-01 00:00:00"])
    table = pd.DataFrame({"when": stamps, "f": [1.0, 2.0, 3.0]})
    dataset = load_file(parquet(tmp_path, table), feature_columns=["when", "f"])
    when = dataset.items["when"]
    assert when[0] == pytest.approx(100.0)
    assert np.isnan(when[1])  # not -9.22e18
    assert when[2] == pytest.approx(1_577_836_800.0)
    X = featurize(dataset)
    assert np.isfinite(X).all()


def test_dates_and_durations_become_seconds(tmp_path):
    table = pd.DataFrame(
        {
            "day": [pd.Timestamp("1970-01-02").date(), None],
            "took": pd.to_timedelta(["1min", None]),
        }
    )
    dataset = load_file(parquet(tmp_path, table), feature_columns=["day", "took"])
    assert dataset.items["day"][0] == pytest.approx(86_400.0)
    assert dataset.items["took"][0] == pytest.approx(60.0)
    assert dataset.items[["day", "took"]].iloc[1].isna().all()


@pytest.mark.parametrize("value", ["1e308", "-1e300", "3.5e38"])
def test_numbers_too_large_to_scale_are_refused(tmp_path, value):
    path = write(tmp_path, "t.csv", f"f\n1\n{value}\n2\n")
    with pytest.raises(DataError, match=rf"line 3, column 'f': the value '{value}' is beyond"):
        load_file(path, feature_columns=["f"])


def test_huge_parquet_number_is_refused(tmp_path):
    path = parquet(tmp_path, pd.DataFrame({"f": [1.0, 1e308]}))
    with pytest.raises(DataError, match=r"row 2, column 'f': the value 1e\+308 is beyond"):
        load_file(path, feature_columns=["f"])


def test_large_but_scalable_numbers_import(tmp_path):
    path = write(tmp_path, "t.csv", "f\n1e29\n-1e29\n0\n")
    X = featurize(load_file(path, feature_columns=["f"]))
    assert np.isfinite(X).all()


def test_one_word_in_a_numeric_column_is_reported(tmp_path, capsys):
    rows = "\n".join(str(i) for i in range(50))
    path = write(tmp_path, "t.csv", f"f\n{rows}\nabc\n7\n")
    dataset = load_file(path, feature_columns=["f"])
    assert dataset.items["f"].dtype == object  # read as categories, as before
    [warning] = dataset.warnings
    assert "column 'f' holds 51 numbers but line 52 holds 'abc'" in warning
    assert "read as categories" in warning
    assert main(["--data-dir", str(tmp_path / "d"), "import", str(path), "--feature-columns",
                 "f"]) == 0  # fmt: skip
    assert "sslabel: warning: t.csv: column 'f' holds 51 numbers" in capsys.readouterr().err


def test_a_column_of_words_is_not_reported(tmp_path):
    path = write(tmp_path, "t.csv", "size\nS\nM\nL\n3\n")
    assert load_file(path, feature_columns=["size"]).warnings == ()


# 9. Label cells other tools write for "no value" ----------------------------------


def test_null_like_labels_stay_classes_with_a_warning(tmp_path, capsys):
    labels = ["nan", "NaN", "None", "null", "Infinity", "", "spam"]
    rows = "\n".join(f"t{i},{label}" for i, label in enumerate(labels))
    path = write(tmp_path, "t.csv", f"text,label\n{rows}\n")
    dataset = load_file(path, text_column="text", label_column="label")
    assert list(dataset.labels) == [*labels[:5], None, "spam"]
    [warning] = dataset.warnings
    assert "5 label cell(s) hold 'Infinity', 'NaN', 'None', 'nan', 'null'" in warning
    assert "first on line 2" in warning and "Only blank cells count as unlabeled" in warning
    assert main(["--data-dir", str(tmp_path / "d"), "import", str(path), "--text-column",
                 "text", "--label-column", "label"]) == 0  # fmt: skip
    assert "Only blank cells count as unlabeled" in capsys.readouterr().err


def test_ordinary_labels_give_no_warning(tmp_path):
    path = write(tmp_path, "t.csv", "text,label\na,ham\nb,\nc,-1\n")
    assert load_file(path, text_column="text", label_column="label").warnings == ()


# 10. Encodings, whitespace in ids, colons in folders, corrupt images, deep JSON -----


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_files_with_a_utf16_or_utf32_byte_order_mark_are_read(tmp_path, encoding):
    text = "text,label\nhéllo 😀,a\nzwei,b\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    table = read_table(data, name="u.csv")
    assert table.to_dict("list") == {"text": ["héllo 😀", "zwei"], "label": ["a", "b"]}
    [note] = table.attrs["warnings"]
    assert "u.csv: read as UTF-" in note and "byte-order mark" in note
    dataset = dataset_from_table(table, name="u.csv", text_column="text", label_column="label")
    assert dataset.warnings == (note,)


def test_utf16_without_a_byte_order_mark_is_named(tmp_path):
    path = write(tmp_path, "u.csv", "text,label\nhello,a\n".encode("utf-16-le"))
    with pytest.raises(DataError, match=r"u\.csv: looks like UTF-16 text without a byte-order"):
        load_file(path, text_column="text")


def test_latin1_still_gets_the_latin1_advice(tmp_path):
    path = write(tmp_path, "l.csv", "text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"line 2 holds the byte 0xe9, which is not UTF-8"):
        load_file(path, text_column="text")


def test_ids_equal_once_stripped_show_their_spaces(tmp_path):
    path = write(tmp_path, "t.csv", 'id,text\nabc,x\n" abc ",y\n')
    with pytest.raises(DataError) as caught:
        load_file(path, text_column="text", id_column="id")
    message = str(caught.value)
    assert "the ids 'abc' (line 2) and ' abc ' (line 3) are the same once the spaces" in message


def test_ids_equal_once_read_as_text_show_both_values(tmp_path):
    path = write(tmp_path, "t.jsonl", '{"id": 3, "text": "a"}\n{"id": "3", "text": "b"}\n')
    with pytest.raises(
        DataError, match=r"the ids 3 \(line 1\) and '3' \(line 2\) both read as '3'"
    ):
        load_file(path, text_column="text", id_column="id")


def test_a_folder_with_a_colon_is_not_called_absolute(tmp_path):
    path = tmp_path / "colon.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("time:12/a.png", image_bytes())
    dataset = load_images(path)
    assert dataset.items[["item_id", "label"]].to_dict("records") == [
        {"item_id": "time:12/a.png", "label": "time:12"}
    ]


@pytest.mark.parametrize("entry", ["C:/x.png", "c:x.png"])
def test_a_drive_letter_is_still_absolute(tmp_path, entry):
    path = tmp_path / "drive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(entry, image_bytes())
    with pytest.raises(DataError, match="has an absolute path"):
        load_images(path)


@pytest.mark.parametrize("content", [b"not an image at all", image_bytes()[:40]])
def test_corrupt_image_names_the_file_not_a_stream(tmp_path, content):
    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    (tmp_path / "imgs" / "cats" / "ok.png").write_bytes(image_bytes())
    (tmp_path / "imgs" / "cats" / "bad.png").write_bytes(content)
    with pytest.raises(DataError, match=r"imgs/cats/bad\.png: cannot be read as an image") as e:
        load_images(tmp_path / "imgs")
    assert "BytesIO" not in str(e.value) and "0x" not in str(e.value)


def test_deeply_nested_jsonl_is_refused_not_a_recursion_error(tmp_path):
    depth = 200_000
    line = '{"text": "a", "deep": ' + "[" * depth + "]" * depth + "}"
    path = write(tmp_path, "deep.jsonl", line + "\n")
    with pytest.raises(DataError, match=r"deep\.jsonl: line 1 nests lists or objects too deep"):
        load_file(path, text_column="text")


# 11. Texts without a single word --------------------------------------------------


EMOJI = ["😀😀", "😡", "😀", "😡😡", "🎉🎉🎉", "😀🎉", "👍", "👎👎"]


def test_emoji_only_texts_train_a_model_and_an_engine():
    dataset = text_dataset(EMOJI * 3, labels=["pos", "neg"] * 12)
    labels = dict(zip(dataset.ids, dataset.labels, strict=True))
    model = train_model(dataset, labels)  # was: ValueError "empty vocabulary"
    assert model.predict(EMOJI).shape == (len(EMOJI),)
    X = featurize(dataset)
    assert X.shape[0] == len(EMOJI) * 3 and np.isfinite(X).all()
    engine = Engine(dataset.ids, X)
    assert len(engine.update(dict(list(labels.items())[:4])).predicted) == len(EMOJI) * 3


def test_blank_texts_beside_emoji_train_a_model():
    dataset = text_dataset(["😀", " ", "😡", "\t"], labels=["a", "b", "a", "b"])
    model = train_model(dataset, dict(zip(dataset.ids, dataset.labels, strict=True)))
    assert model.predict(["😀"]).shape == (1,)


def test_read_table_of_bytes_keeps_warnings_in_attrs():
    table = read_table(b"\xff\xfe" + "a\n1\n".encode("utf-16-le"), name="b.csv")
    assert table["a"].tolist() == ["1"]
    assert len(table.attrs["warnings"]) == 1


def test_a_label_column_with_more_classes_than_a_project_can_hold_is_refused(tmp_path):
    rows = "\n".join(f"t{i},c{i}" for i in range(MAX_CLASSES + 1))
    path = write(tmp_path, "t.csv", f"text,label\n{rows}\n")
    with pytest.raises(DataError, match=r"t\.csv: column 'label' holds 1,001 different labels"):
        load_file(path, text_column="text", label_column="label")
    rows = "\n".join(f"t{i},c{i}" for i in range(MAX_CLASSES))
    path = write(tmp_path, "ok.csv", f"text,label\n{rows}\n")
    assert len(set(load_file(path, text_column="text", label_column="label").classes)) == 1000
