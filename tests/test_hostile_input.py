"""Hostile and unusual input: each is refused with a clear DataError or handled safely.

Every refusal leaves nothing behind: no project in the store and no folder on disk.
"""

from __future__ import annotations

import io
import json
import stat
import struct
import zipfile
import zlib

import numpy as np
import pandas as pd
import pytest
from helpers import image_bytes, text_dataset
from PIL import Image

from sslcore import images, loaders
from sslcore.errors import DataError
from sslcore.loaders import load_file, load_images
from sslcore.store import Store


def import_project(store, path, name="hostile", **columns):
    """What the studio and the CLI do: load, then store. Returns the project."""
    return store.create_project(name, load_file(path, **columns))


def assert_refused(store, path, match, **columns):
    """The import raises a DataError matching ``match`` and leaves no trace in the store."""
    with pytest.raises(DataError, match=match):
        import_project(store, path, **columns)
    assert store.project_names() == []
    assert list((store.data_dir / "projects").iterdir()) == []


# Empty, header only, delimiters, encodings ------------------------------------


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \r\n"])
def test_empty_file(store, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert_refused(store, path, r"empty\.csv: the file is empty", text_column="text")


def test_empty_jsonl(store, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n")
    assert_refused(store, path, r"empty\.jsonl: the file is empty", text_column="text")


def test_header_only(store, tmp_path):
    path = tmp_path / "head.csv"
    path.write_text("id,text,label\n")
    assert_refused(store, path, r"head\.csv: has a header but no rows", text_column="text")


@pytest.mark.parametrize("delimiter", [";", "|"])
def test_other_delimiter_is_sniffed_so_the_text_column_exists(store, tmp_path, delimiter):
    path = tmp_path / "semi.csv"
    path.write_text(f"id{delimiter}text\n1{delimiter}a, b, c\n2{delimiter}d\n")
    project = import_project(store, path, text_column="text", id_column="id")
    assert list(project.dataset().items["text"]) == ["a, b, c", "d"]


def test_picking_a_column_that_is_not_there_lists_the_real_columns(store, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("id;message\n1;hello\n")
    assert_refused(
        store,
        path,
        r"semi\.csv: there is no column 'text'. Columns are: 'id', 'message'",
        text_column="text",
    )


def test_latin1_bytes(store, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nna\u00efve,a\n".encode("latin-1"))
    assert_refused(store, path, r"latin\.csv: line 2 holds the byte 0xef, which is not UTF-8")


def test_latin1_jsonl(store, tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    assert_refused(store, path, r"latin\.jsonl: line 2 .*not UTF-8", text_column="text")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_bom_is_dropped(store, tmp_path, suffix):
    body = {
        ".csv": "text,label\nhi,a\n",
        ".tsv": "text\tlabel\nhi\ta\n",
        ".jsonl": '{"text": "hi", "label": "a"}\n',
    }[suffix]
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    project = import_project(store, path, text_column="text", label_column="label")
    assert project.labels() == {"1": "a"}


@pytest.mark.slow
def test_one_100_mb_line_imports_whole(tmp_path):
    path = tmp_path / "long.csv"
    size = 100 * 1024 * 1024
    with path.open("wb") as f:
        f.write(b"id,text\nlong,")
        f.write(b"x" * size)
        f.write(b"\nshort,y\n")
    ds = load_file(path, text_column="text", id_column="id")
    assert list(ds.ids) == ["long", "short"]
    assert len(ds.items["text"].iloc[0]) == size
    assert ds.items["text"].iloc[1] == "y"


# Numbers, ids, labels ---------------------------------------------------------


def test_nan_and_blank_features_are_missing(tmp_path):
    path = tmp_path / "nums.csv"
    path.write_text("x,y\n1,nan\n,2\nNaN,3\n")
    ds = load_file(path, feature_columns=["x", "y"])
    x = ds.items["x"].to_numpy(dtype=float)
    assert x[0] == 1 and np.isnan(x[1:]).all()
    assert np.isnan(ds.items["y"].iloc[0])


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity"])
def test_infinite_feature_names_row_and_column(store, tmp_path, value):
    path = tmp_path / "nums.csv"
    path.write_text(f"x,y\n1,2\n3,{value}\n")
    assert_refused(
        store,
        path,
        rf"nums\.csv: line 3, column 'y': the value '{value}' is infinite",
        feature_columns=["x", "y"],
    )


def test_infinite_feature_in_parquet(store, tmp_path):
    path = tmp_path / "nums.parquet"
    pd.DataFrame({"x": [1.0, 2.0, -np.inf]}).to_parquet(path)
    assert_refused(
        store, path, r"nums\.parquet: row 3, column 'x'.*infinite", feature_columns=["x"]
    )


def test_duplicate_ids_name_the_id_and_both_rows(store, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,text\na,1\nb,2\nc,3\nb,4\n")
    assert_refused(
        store,
        path,
        r"dup\.csv: column 'id': the id 'b' appears on lines 3 and 5",
        text_column="text",
        id_column="id",
    )


def test_mixed_label_types_in_jsonl_read_as_class_names(tmp_path):
    path = tmp_path / "mixed.jsonl"
    records = [
        {"text": t, "label": v} for t, v in zip("abcde", [1, "1", 2.0, -1, None], strict=True)
    ]
    path.write_text("\n".join(json.dumps(r) for r in records))
    ds = load_file(path, text_column="text", label_column="label")
    assert list(ds.labels) == ["1", "1", "2", "-1", None]
    assert ds.classes == ["-1", "1", "2"]


@pytest.mark.parametrize(
    "column", [[1, 1, 2], [1.0, 1.0, 2.0], ["1", "1", "2"], pd.array([1, 1, 2], dtype="Int64")]
)
def test_numeric_label_types_in_parquet_read_as_class_names(tmp_path, column):
    path = tmp_path / "mixed.parquet"
    pd.DataFrame({"text": ["a", "b", "c"], "label": column}).to_parquet(path)
    ds = load_file(path, text_column="text", label_column="label")
    assert list(ds.labels) == ["1", "1", "2"]


@pytest.mark.parametrize(
    "labels, expected_labeled",
    [(["a", "a", "a"], 3), (["a", "b", "c"], 3), (["", "", ""], 0), (["x"], 1)],
    ids=["one-class", "everything-labeled", "nothing-labeled", "single-item"],
)
def test_degenerate_label_sets_import(store, tmp_path, labels, expected_labeled):
    path = tmp_path / "t.csv"
    path.write_text("text,label\n" + "".join(f"item {i},{lab}\n" for i, lab in enumerate(labels)))
    project = import_project(store, path, text_column="text", label_column="label")
    assert project.n_items == len(labels)
    assert len(project.labels()) == expected_labeled
    assert project.class_names() == sorted({lab for lab in labels if lab})


# Images -----------------------------------------------------------------------


def noisy_image(fmt: str) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, suffix", [("PNG", "png"), ("JPEG", "jpg")])
def test_truncated_image(store, tmp_path, fmt, suffix):
    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    (tmp_path / "imgs" / "cats" / "good.png").write_bytes(image_bytes())
    data = noisy_image(fmt)
    (tmp_path / "imgs" / "cats" / f"bad.{suffix}").write_bytes(data[: len(data) // 2])
    assert_refused(
        store, tmp_path / "imgs", rf"imgs/cats/bad\.{suffix}: cannot be read as an image"
    )


def test_file_that_is_not_an_image_despite_its_name(store, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "fake.png").write_bytes(b"<html>not a png</html>")
    assert_refused(store, tmp_path / "imgs", r"imgs/fake\.png: cannot be read as an image")


def png_claiming_size(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height`` pixels (costs no memory)."""
    data = bytearray(image_bytes(size=(1, 1), mode="1", color=0))
    assert data[12:16] == b"IHDR"
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize("width", [10_000, 100_000])
def test_decompression_bomb_by_header(store, tmp_path, width):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "bomb.png").write_bytes(png_claiming_size(width, width))
    assert_refused(store, tmp_path / "imgs", r"imgs/bomb\.png: the image is larger than 40,000,000")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_over_the_patched_limit(store, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "ok.png").write_bytes(image_bytes(size=(10, 10)))
    (tmp_path / "imgs" / "big.png").write_bytes(image_bytes(size=(11, 10)))
    assert_refused(store, tmp_path / "imgs", r"imgs/big\.png: the image is larger than 100 pixels")


def test_image_pixel_limit_is_restored_after_import(tmp_path):
    before = Image.MAX_IMAGE_PIXELS
    (tmp_path / "a.png").write_bytes(image_bytes())
    load_images(tmp_path)
    assert Image.MAX_IMAGE_PIXELS == before


# Zip archives -----------------------------------------------------------------


def make_zip(path, entries):
    """entries: (ZipInfo or name, bytes)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return path


@pytest.mark.parametrize(
    "member, match",
    [
        ("../evil.png", r"'\.\./evil\.png' points outside the archive"),
        ("cats/../../evil.png", r"'cats/\.\./\.\./evil\.png' points outside the archive"),
        ("/etc/evil.png", r"'/etc/evil\.png' has an absolute path"),
        ("C:/evil.png", r"'C:/evil\.png' has an absolute path"),
        ("\\\\server\\evil.png", r"'.*server.*evil\.png' has an absolute path"),
    ],
)
def test_zip_entries_leaving_the_archive(store, tmp_path, member, match):
    path = make_zip(
        tmp_path / "bad.zip",
        [("cats/ok.png", image_bytes()), (zipfile.ZipInfo(member), image_bytes())],
    )
    assert_refused(store, path, rf"bad\.zip: the entry {match}.*nothing was imported")


def test_zip_symlink_entry(store, tmp_path):
    link = zipfile.ZipInfo("cats/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = make_zip(tmp_path / "link.zip", [("cats/ok.png", image_bytes()), (link, b"/etc/passwd")])
    assert_refused(store, path, r"link\.zip: the entry 'cats/link\.png' is a symbolic link")


def test_symlink_in_a_folder_is_not_followed(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes())
    (tmp_path / "imgs" / "cats").mkdir(parents=True)
    (tmp_path / "imgs" / "cats" / "real.png").write_bytes(image_bytes())
    (tmp_path / "imgs" / "cats" / "link.png").symlink_to(secret)
    assert list(load_images(tmp_path / "imgs").ids) == ["cats/real.png"]


def test_zip_bomb_by_declared_size(store, tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_ZIP_UNCOMPRESSED", 50_000)
    path = make_zip(tmp_path / "bomb.zip", [("cats/zeros.png", b"\0" * 100_000)])
    assert path.stat().st_size < 5_000  # it is a bomb: small packed, big unpacked
    assert_refused(store, path, r"bomb\.zip: would unpack to .* more than the limit")


def test_zip_member_whose_header_lies_about_its_size(store, tmp_path):
    path = make_zip(tmp_path / "liar.zip", [("cats/a.png", image_bytes() + b"\0" * 200_000)])
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # uncompressed size in the central directory
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("cats/a.png").file_size == 100
    assert_refused(store, path, r"liar\.zip: the entry 'cats/a\.png' cannot be unpacked")


def test_zip_with_too_many_members(store, tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_ZIP_MEMBERS", 2)
    path = make_zip(tmp_path / "many.zip", [(f"{i}.png", image_bytes()) for i in range(3)])
    assert_refused(store, path, r"many\.zip: holds 3 files, more than the limit of 2")


# Text that must survive byte for byte -----------------------------------------

HOSTILE_TEXTS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)"><b>bold</b> &amp; &lt;',
    "![tracker](https://evil.example.com/pixel.png) and [link](javascript:alert(1))",
    "emoji 😀👍🏽👨‍👩‍👧 and flags 🇫🇷",
    "right-to-left: مرحبا بالعالم \u202eevil\u202c שלום",
    'tabs\tand\nnewlines\r\nand "quotes" and, commas; semis | pipes',
    "  leading and trailing spaces  ",
    "zero\u200bwidth and combining e\u0301",
]
HOSTILE_CLASSES = ["<script>x</script>", "c" * 10_000, "😀", "שלום", "-1", "0", "unlabeled"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_hostile_text_and_class_names_survive_import_and_store(store, tmp_path, suffix):
    n = len(HOSTILE_TEXTS)
    labels = [HOSTILE_CLASSES[i % len(HOSTILE_CLASSES)] for i in range(n)]
    table = pd.DataFrame(
        {"id": [f"<i>{i}</i>" for i in range(n)], "text": HOSTILE_TEXTS, "label": labels}
    )
    path = tmp_path / f"hostile{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False)
    elif suffix == ".jsonl":
        table.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        table.to_parquet(path)
    project = import_project(store, path, text_column="text", id_column="id", label_column="label")
    store.close()

    reopened = Store(store.data_dir).open_project("hostile")
    items = reopened.dataset().items
    assert list(items["item_id"]) == list(table["id"])
    assert [t.encode() for t in items["text"]] == [t.encode() for t in HOSTILE_TEXTS]
    assert reopened.labels() == dict(zip(table["id"], labels, strict=True))
    assert set(reopened.class_names()) == set(labels)
    assert project.id == reopened.id


def test_hostile_class_names_added_by_hand_round_trip(store):
    project = store.create_project("p", text_dataset(["a", "b"]))
    for name in HOSTILE_CLASSES:
        project.add_class(name)
    project.label("t0", "c" * 10_000, annotator="عربي 😀")
    again = store.open_project("p")
    assert again.class_names() == HOSTILE_CLASSES
    assert again.labels() == {"t0": "c" * 10_000}
    assert list(again.events()["annotator"]) == ["عربي 😀"]
