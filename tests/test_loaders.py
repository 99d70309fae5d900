"""Importers: tables (CSV/TSV/Parquet/JSONL) and folders or .zip files of images."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import image_bytes
from PIL import Image

from sslcore.errors import DataError
from sslcore.loaders import dataset_from_table, load_file, load_images, read_table


def write(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# Delimited text ---------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    rows = [["id", "text", "label"], ["a", "hello there", "x"], ["b", "bye now", "y"]]
    path = write(tmp_path / "t.csv", "\n".join(delimiter.join(r) for r in rows) + "\n")
    ds = load_file(path, text_column="text", id_column="id", label_column="label")
    assert list(ds.ids) == ["a", "b"]
    assert list(ds.items["text"]) == ["hello there", "bye now"]
    assert list(ds.labels) == ["x", "y"]


def test_semicolon_file_with_commas_in_text_keeps_the_text_whole(tmp_path):
    path = write(tmp_path / "t.csv", "id;text\n1;hello, world, again\n2;a, b\n")
    ds = load_file(path, text_column="text", id_column="id")
    assert list(ds.items["text"]) == ["hello, world, again", "a, b"]


def test_pipe_file_with_semicolons_in_text(tmp_path):
    path = write(tmp_path / "t.csv", "id|text\n1|one; two; three\n2|four; five\n")
    ds = load_file(path, text_column="text", id_column="id")
    assert list(ds.items["text"]) == ["one; two; three", "four; five"]


def test_one_column_file_keeps_commas_inside_the_values(tmp_path):
    path = write(tmp_path / "messages.txt", "text\nhello, world\nfoo; bar | baz\n")
    ds = load_file(path, text_column="text")
    assert list(ds.items["text"]) == ["hello, world", "foo; bar | baz"]


def test_tsv_without_quoting_keeps_quote_marks(tmp_path):
    path = write(tmp_path / "t.tsv", 'label\ttext\nham\t"quoted" start\nspam\tplain "mid\n')
    ds = load_file(path, text_column="text", label_column="label")
    assert list(ds.items["text"]) == ['"quoted" start', 'plain "mid']


def test_quoted_csv_keeps_newlines_and_delimiters_inside_quotes(tmp_path):
    path = write(
        tmp_path / "t.csv", 'id,text\n1,"line one\nline two, with comma"\n2,"say ""hi"""\n'
    )
    ds = load_file(path, text_column="text", id_column="id")
    assert list(ds.items["text"]) == ["line one\nline two, with comma", 'say "hi"']


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfid,text\n1,caf\xc3\xa9\n")
    ds = load_file(path, text_column="text", id_column="id")
    assert list(ds.ids) == ["1"]
    assert list(ds.items["text"]) == ["café"]


def test_latin1_file_is_refused_with_the_line_and_the_fix(tmp_path):
    path = write(tmp_path / "legacy.csv", "id,text\n1,ok\n2,café\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"legacy\.csv: line 3 .*0xe9.*not UTF-8.*Save the file"):
        load_file(path, text_column="text")


def test_cells_stay_strings_so_codes_keep_their_zeros(tmp_path):
    path = write(tmp_path / "t.csv", "id,text,label\n007,a,-1\n010,b,0\n3,c,NA\n")
    ds = load_file(path, text_column="text", id_column="id", label_column="label")
    assert list(ds.ids) == ["007", "010", "3"]
    assert list(ds.labels) == ["-1", "0", "NA"]


@pytest.mark.parametrize("name", ["-1", "0", "unlabeled", "None", "nan", "null"])
def test_any_class_name_is_a_class_and_only_blank_is_unlabeled(tmp_path, name):
    path = write(tmp_path / "t.csv", f"text,label\nfirst,{name}\nsecond,\nthird,   \n")
    ds = load_file(path, text_column="text", label_column="label")
    assert list(ds.labels) == [name, None, None]
    assert ds.classes == [name]


def test_row_with_more_fields_than_the_header_is_refused_not_shifted(tmp_path):
    path = write(tmp_path / "t.csv", "id,text\n1,hello, world\n2,foo, bar\n")
    with pytest.raises(DataError, match=r"t\.csv: line 2 has 3 fields but the header has 2"):
        load_file(path, text_column="text", id_column="id")


def test_later_row_with_too_many_fields_is_refused(tmp_path):
    path = write(tmp_path / "t.csv", "id,text\n1,hello\n2,foo, bar\n")
    with pytest.raises(DataError, match=r"t\.csv: line 3 has 3 fields but the header has 2"):
        load_file(path, text_column="text", id_column="id")


def test_short_rows_are_padded_with_blanks(tmp_path):
    path = write(tmp_path / "t.csv", "id,text,label\n1,hello\n2,foo,b\n")
    ds = load_file(path, text_column="text", id_column="id", label_column="label")
    assert list(ds.labels) == [None, "b"]


def test_duplicate_column_names_are_refused(tmp_path):
    path = write(tmp_path / "t.csv", "text,label,label\nhi,a,b\n")
    with pytest.raises(DataError, match=r"t\.csv: the column name\(s\) \['label'\] appear more"):
        read_table(path)


def test_unclosed_quote_is_a_parse_error_with_advice(tmp_path):
    path = write(tmp_path / "t.csv", 'id,text\n1,"never closed\n2,x,y,z\n')
    with pytest.raises(DataError, match=r"t\.csv: .*quotes are closed"):
        read_table(path)


def test_a_quote_left_open_until_a_later_line_is_refused_naming_both_lines(tmp_path):
    # pandas reads lines 2-4 as one value: the file would import as one mangled item.
    text = 'id,text,label\n1,"hello there,ham\n2,ok,ham\n3,"unterminated\n'
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(DataError, match=r"t\.csv: the quote opening a value on line 2 is closed "
                       r"only on line 4, so lines 2-4 would read as one value"):  # fmt: skip
        read_table(path)


def test_text_after_a_closing_quote_reads_as_before(tmp_path):
    same_line = read_table(write(tmp_path / "a.csv", 'id,text\n1,"spaced" \n2,x\n'))
    assert list(same_line["text"]) == ["spaced ", "x"]
    assert same_line.attrs["lines"] == [2, 3]
    # A value spanning lines on purpose, text after its closing quote.
    spanning = read_table(write(tmp_path / "b.csv", 'id,text\n1,"two\nlines" \n2,x\n'))
    assert list(spanning["text"]) == ["two\nlines ", "x"]
    assert spanning.attrs["lines"] == [2, 4]


def test_a_file_whose_lines_end_in_a_carriage_return_alone_reads(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"id,text\r1,a\r2,b\r")
    assert list(read_table(path)["text"]) == ["a", "b"]


# Picking columns --------------------------------------------------------------


def test_missing_column_names_the_column_and_lists_the_real_ones():
    table = pd.DataFrame({"msg": ["a"], "y": ["b"]})
    with pytest.raises(
        DataError, match=r"t\.csv: there is no column 'text'. Columns are: 'msg', 'y'"
    ):
        dataset_from_table(table, name="t.csv", text_column="text")


def test_text_and_features_together_or_neither_are_refused():
    table = pd.DataFrame({"msg": ["a"], "x": [1.0]})
    with pytest.raises(DataError, match="pick either a text column or one or more feature"):
        dataset_from_table(table, name="t.csv")
    with pytest.raises(DataError, match="pick either a text column"):
        dataset_from_table(table, name="t.csv", text_column="msg", feature_columns=["x"])


def test_without_id_column_the_row_number_from_one_is_the_id():
    table = pd.DataFrame({"msg": ["a", "b", "c"]})
    ds = dataset_from_table(table, name="t.csv", text_column="msg")
    assert list(ds.ids) == ["1", "2", "3"]
    assert ds.kind == "text" and ds.name == "t"


def test_blank_id_is_refused_with_the_row():
    table = pd.DataFrame({"id": ["a", " ", "c"], "msg": ["x", "y", "z"]})
    with pytest.raises(DataError, match=r"t\.csv: row 2, column 'id': the item id is blank"):
        dataset_from_table(table, name="t.csv", text_column="msg", id_column="id")


def test_text_column_empty_everywhere_is_refused():
    table = pd.DataFrame({"msg": ["", " ", None]})
    with pytest.raises(DataError, match="column 'msg' is empty in every row"):
        dataset_from_table(table, name="t.csv", text_column="msg")


def test_tabular_features_numbers_blanks_and_categories(tmp_path):
    path = write(tmp_path / "t.csv", "x,y,colour,label\n1.5,2,red,a\n,3e2,blue,\n-4,0,,b\n")
    ds = load_file(path, feature_columns=["x", "y", "colour"], label_column="label")
    assert ds.kind == "tabular" and ds.feature_columns == ("x", "y", "colour")
    x = ds.items["x"].to_numpy(dtype=float)
    assert x[0] == pytest.approx(1.5) and np.isnan(x[1]) and x[2] == pytest.approx(-4)
    assert list(ds.items["y"]) == pytest.approx([2.0, 300.0, 0.0])
    assert list(ds.items["colour"]) == ["red", "blue", None]
    assert list(ds.labels) == ["a", None, "b"]


# Parquet and JSONL ------------------------------------------------------------


def test_parquet_round_trip_with_numeric_labels_read_as_class_names(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {"id": [1, 2, 3], "text": ["a", "b", "c"], "label": [1.0, np.nan, 2.0]}
    ).to_parquet(path)
    ds = load_file(path, text_column="text", id_column="id", label_column="label")
    assert list(ds.ids) == ["1", "2", "3"]
    assert list(ds.labels) == ["1", None, "2"]


def test_unreadable_parquet_is_a_data_error(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"t\.parquet: is not a readable Parquet file"):
        read_table(path)


def test_jsonl_with_blank_lines_and_missing_keys(tmp_path):
    lines = [{"text": "a", "label": "x"}, {"text": "b"}, {"text": "c", "label": None}]
    path = write(tmp_path / "t.jsonl", "\n\n".join(json.dumps(r) for r in lines) + "\n\n")
    ds = load_file(path, text_column="text", label_column="label")
    assert list(ds.items["text"]) == ["a", "b", "c"]
    assert list(ds.labels) == ["x", None, None]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_jsonl_text_may_hold_unicode_line_separators(tmp_path, separator):
    line = json.dumps({"text": f"one{separator}two"}, ensure_ascii=False)
    path = write(tmp_path / "t.jsonl", line + "\r\n" + line + "\r\n")
    ds = load_file(path, text_column="text")
    assert list(ds.items["text"]) == [f"one{separator}two"] * 2


def test_jsonl_bad_line_names_the_line(tmp_path):
    path = write(tmp_path / "t.jsonl", '{"text": "a"}\n{"text": "b",}\n')
    with pytest.raises(DataError, match=r"t\.jsonl: line 2 is not valid JSON"):
        read_table(path)


def test_unsupported_suffix_names_the_supported_ones(tmp_path):
    path = write(tmp_path / "t.xlsx", "whatever")
    with pytest.raises(DataError, match=r"t\.xlsx: unsupported file type '\.xlsx'. Use CSV"):
        load_file(path, text_column="text")


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_file(tmp_path / "nope.csv", text_column="text")


# Images -----------------------------------------------------------------------

FORMATS = {
    "png": dict(fmt="PNG"),
    "jpg": dict(fmt="JPEG"),
    "webp": dict(fmt="WEBP"),
    "bmp": dict(fmt="BMP"),
    "gif": dict(fmt="GIF", mode="P", color=1),
}


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_every_image_format_imports(tmp_path, suffix):
    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    data = image_bytes(**FORMATS[suffix])
    (tmp_path / "imgs" / "cats" / f"001.{suffix}").write_bytes(data)
    ds = load_images(tmp_path / "imgs")
    assert ds.kind == "image"
    assert list(ds.ids) == [f"cats/001.{suffix}"]
    assert list(ds.labels) == ["cats"]
    assert ds.items["image"].iloc[0] == data


def test_animated_gif_imports_its_bytes_untouched(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    (tmp_path / "anim.gif").write_bytes(buffer.getvalue())
    ds = load_images(tmp_path)
    with Image.open(io.BytesIO(ds.items["image"].iloc[0])) as image:
        assert image.n_frames == 3


def test_folder_names_are_labels_and_top_level_images_are_unlabeled(tmp_path):
    for relative in ["cats/001.png", "-1/a.png", "unlabeled/b.png", "0/c.png", "loose.png"]:
        (tmp_path / relative).parent.mkdir(exist_ok=True)
        (tmp_path / relative).write_bytes(image_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(image_bytes())
    ds = load_images(tmp_path)
    assert dict(zip(ds.ids, ds.labels, strict=True)) == {
        "-1/a.png": "-1",
        "0/c.png": "0",
        "cats/001.png": "cats",
        "loose.png": None,
        "unlabeled/b.png": "unlabeled",
    }


def test_zip_of_images_with_class_folders(tmp_path):
    path = tmp_path / "pets.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cats/1.png", image_bytes())
        archive.writestr("dogs/2.jpg", image_bytes("JPEG"))
        archive.writestr("__MACOSX/cats/._1.png", b"resource fork")
        archive.writestr("readme.md", "hello")
    ds = load_file(path)
    assert ds.name == "pets"
    assert dict(zip(ds.ids, ds.labels, strict=True)) == {"cats/1.png": "cats", "dogs/2.jpg": "dogs"}


def test_folder_without_images_says_what_to_put_in_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: holds no images .*sub-folder per class"):
        load_images(tmp_path / "empty")


def test_not_a_zip_is_a_data_error(tmp_path):
    path = write(tmp_path / "fake.zip", "not a zip at all")
    with pytest.raises(DataError, match=r"fake\.zip: is not a readable \.zip file"):
        load_images(path)


def test_sms_file_imports_with_its_two_classes(sms_path):
    ds = load_file(sms_path, text_column="SMS", label_column="Label")
    assert ds.n_items == 5574
    assert ds.classes == ["ham", "spam"]
    assert (ds.items["text"].str.len() > 0).all()


def test_the_only_other_column_is_the_text(tmp_path):
    path = tmp_path / "two.tsv"
    path.write_text("Label\tSMS\nham\thello there\nspam\tWIN now\n", encoding="utf-8")
    dataset = load_file(path, label_column="Label")
    assert dataset.kind == "text"
    assert list(dataset.items["text"]) == ["hello there", "WIN now"]
    wide = tmp_path / "three.csv"
    wide.write_text("a,b,label\n1,2,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="pick either a text column"):
        load_file(wide, label_column="label")


def test_errors_name_the_line_an_editor_shows(tmp_path):
    """The header is line 1, a quoted value spanning lines moves the rest down."""
    path = write(tmp_path / "t.csv", 'id,text\na,"two\nlines"\n,x\n')
    with pytest.raises(DataError, match=r"t\.csv: line 4, column 'id': the item id is blank"):
        load_file(path, text_column="text", id_column="id")
    jsonl = write(tmp_path / "t.jsonl", '{"id": "a", "t": "x"}\n\n{"id": "a", "t": "y"}\n')
    with pytest.raises(DataError, match=r"the id 'a' appears on lines 1 and 3"):
        load_file(jsonl, text_column="t", id_column="id")


def test_a_table_built_in_memory_names_rows():
    table = pd.DataFrame({"id": ["a", "a"], "msg": ["x", "y"]})
    with pytest.raises(DataError, match=r"the id 'a' appears on rows 1 and 2"):
        dataset_from_table(table, name="t.csv", text_column="msg", id_column="id")


def test_the_obvious_columns_are_guessed(sms_path):
    from sslcore.loaders import guess_columns

    guess = guess_columns(read_table(sms_path))
    assert (guess.text, guess.label, guess.id) == ("SMS", "Label", None)
    tickets = read_table(Path(__file__).parents[1] / "data" / "samples" / "support_tickets.csv")
    guess = guess_columns(tickets)
    assert (guess.text, guess.label, guess.id) == ("message", "intent", "id")
    numbers = pd.DataFrame({"id": ["1", "1"], "amount": ["12.5", "3"], "note": ["ok", "late"]})
    guess = guess_columns(numbers)
    assert (guess.text, guess.label, guess.id) == ("note", None, None)  # ids must be unique
