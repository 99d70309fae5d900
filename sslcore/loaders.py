"""Importers: CSV/TSV, Parquet, JSONL tables and folders or .zip files of images.

Every loader either returns a complete :class:`~sslcore.dataset.Dataset` or
raises one :class:`~sslcore.errors.DataError` whose message names the file, the
row or column at fault and the fix. Nothing is ever half imported.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from . import images
from .dataset import ID, IMAGE, LABEL, MAX_CLASSES, TEXT, TOO_MANY_CLASSES_ADVICE, Dataset
from .errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")

MAX_ZIP_MEMBERS = 200_000
MAX_ZIP_UNCOMPRESSED = 2 * 1024**3
"""All images of one import together, unpacked (they are held in memory and stored)."""
MAX_IMAGE_BYTES = 256 * 1024**2
"""One image file: an uncompressed 40-megapixel RGBA bitmap is 160 MB. A larger member is
refused from its declared size, before a byte of it is unpacked (a zip bomb)."""
MAX_ABS_FEATURE = 1e30
"""Larger magnitudes overflow the scaler's sums of squares or float32 features."""
_SNIFF_BYTES = 64 * 1024

READ_AS_CLASS_NAMES = frozenset(
    ["nan", "-nan", "none", "null", "na", "n/a", "#n/a", "<na>", "nat", "inf", "-inf", "+inf",
     "infinity", "-infinity", "undefined", "missing"]
)  # fmt: skip
"""Label cells that other tools write for "no value": sslabel reads them as class names
(a class may be called "None"), and says so. Only blank cells (and real nulls in Parquet
or JSONL) leave an item unlabeled."""
WARNINGS = "warnings"
"""Key in ``DataFrame.attrs`` under which :func:`read_table` leaves what it noticed."""


def read_table(source, *, name: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV, Parquet or JSONL file into a table of strings and numbers.

    CSV and TSV cells are kept as strings (so a label "007" or "-1" survives)
    with blanks as empty strings; the delimiter is sniffed.

    Parameters
    ----------
    source : path or bytes
        A file path, or the file's bytes (then ``name`` gives its file name).
    name : str, optional
        File name used for the format and in error messages.

    Examples
    --------
    >>> read_table(b"id,text\\n1,hello\\n", name="a.csv").to_dict("records")
    [{'id': '1', 'text': 'hello'}]
    """
    name = name or os.fspath(source)
    data = source if isinstance(source, bytes) else _read_bytes(source)
    suffix = Path(name).suffix.lower()
    notes: list[str] = []
    if suffix in (".parquet", ".pq"):
        table = _read_parquet(data, name)
    elif suffix in (".jsonl", ".ndjson"):
        table = _read_jsonl(_decode(data, name, notes), name)
    elif suffix in (".csv", ".tsv", ".tab", ".txt"):
        table = _read_delimited(_decode(data, name, notes), name, tab=suffix in (".tsv", ".tab"))
    else:
        raise DataError(
            f"{name}: unsupported file type {suffix or '(none)'!r}. "
            f"Use CSV, TSV, Parquet or JSONL, or a folder or .zip of images."
        )
    if table.columns.duplicated().any():
        dupes = sorted(set(table.columns[table.columns.duplicated()]))
        raise DataError(f"{name}: the column name(s) {dupes} appear more than once; rename them.")
    table.attrs[WARNINGS] = notes
    return table


def _read_bytes(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path.") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; only image folders can be imported.") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror}).") from None


_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _decode(data: bytes, name: str, notes: list[str]) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)  # the codec reads and drops the mark
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{name}: starts with a {encoding.upper()} byte-order mark but byte "
                    f"{exc.start:,} is not {encoding.upper()}. Save the file as UTF-8 and "
                    f"import it again."
                ) from None
            notes.append(
                f"{name}: read as {encoding.upper()} (its byte-order mark says so); UTF-8 is "
                f"the usual encoding for CSV and JSONL."
            )
            return text
    if _looks_utf16(data):  # ASCII in UTF-16 is valid UTF-8, NULs and all
        raise DataError(
            f"{name}: looks like UTF-16 text without a byte-order mark (every other byte "
            f"is 0). Save it as UTF-8 (e.g. Excel: 'CSV UTF-8'; iconv -f utf-16le "
            f"-t utf-8) and import it again."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{name}: line {line} holds the byte 0x{data[exc.start]:02x}, which is not UTF-8. "
            f"Save the file as UTF-8 (e.g. Excel: 'CSV UTF-8'; "
            f"iconv -f latin1 -t utf-8) and import it again."
        ) from None


def _looks_utf16(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" not in sample:
        return False
    half = len(sample) // 2
    return half > 0 and max(sample[0::2].count(0), sample[1::2].count(0)) > 0.4 * half


def _read_delimited(text: str, name: str, *, tab: bool) -> pd.DataFrame:
    if not text.strip():
        raise DataError(f"{name}: the file is empty; it needs a header row and at least one row.")
    delimiter = "\t" if tab else _sniff_delimiter(text)
    # Tab-separated files conventionally have no quoting: a message starting with a
    # quote mark must not swallow the lines after it. Quoted TSV is the fallback.
    attempts = [csv.QUOTE_NONE, csv.QUOTE_MINIMAL] if delimiter == "\t" else [csv.QUOTE_MINIMAL]
    for quoting in attempts:
        try:
            # index_col=False: a row with more fields than the header must not silently
            # turn the first column into the index (shifting every value one column left).
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                table = pd.read_csv(
                    io.StringIO(text),
                    sep=delimiter,
                    dtype=str,
                    keep_default_na=False,
                    na_filter=False,
                    quoting=quoting,
                    index_col=False,
                )
            if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
                error = _too_many_fields(text, delimiter, quoting, name)
                continue
            break
        except pd.errors.ParserError as exc:
            error = exc
            if "Expected" in str(exc) and "fields" in str(exc):
                error = _too_many_fields(text, delimiter, quoting, name)
    else:
        if isinstance(error, DataError):
            raise error
        raise DataError(
            f"{name}: cannot be parsed as a table with delimiter {delimiter!r} "
            f"({str(error).strip()}). "
            f"Check that every row has as many fields as the header and quotes are closed."
        ) from None
    if table.empty:
        raise DataError(f"{name}: has a header but no rows; add at least one item.")
    header = _header(text, delimiter)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:  # pandas would silently rename the second one 'x.1'
        raise DataError(f"{name}: the column name(s) {dupes} appear more than once; rename them.")
    lines = _record_lines(text, delimiter, quoting, name)
    if len(lines) == len(table):
        table.attrs[LINES] = lines
    return table


LINES = "lines"
"""``table.attrs`` key: the line (as an editor counts, header = 1) each row starts on."""


def _record_lines(text: str, delimiter: str, quoting: int, name: str) -> list[int]:
    """The line each data record starts on; a quoted value may span several lines.

    Refuses a quote left open on one line that a quote on a later line closes, text
    following it (``1,"hello`` ... ``3,"x``): pandas reads every line between as one value
    and the file would import as one mangled item.
    """
    previous = csv.field_size_limit(sys.maxsize)
    try:
        # Strict first, to find the quote; lenient where strict stops at text after a
        # closing quote on the same line ("a" b), which pandas reads as pandas does.
        for strict in (True, False):
            reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting,
                                strict=strict)  # fmt: skip
            starts, end = [], 0
            try:
                next(reader, None)
                end = reader.line_num
                for row in reader:
                    if row:  # pandas skips blank lines too
                        starts.append(end + 1)
                    end = reader.line_num
                return starts
            except csv.Error:
                if strict and _reopens(text, reader.line_num, end + 1, delimiter, quoting):
                    raise DataError(
                        f"{name}: the quote opening a value on line {end + 1} is closed only "
                        f"on line {reader.line_num}, so lines {end + 1}-{reader.line_num} would "
                        f"read as one value. Close the quote on line {end + 1}, or write a "
                        f'quote inside a quoted value as two ("").'
                    ) from None
        return []
    finally:
        csv.field_size_limit(previous)


def _reopens(text: str, line: int, start: int, delimiter: str, quoting: int) -> bool:
    """Whether strict reading stopped, on ``line``, at a quote that closes a value opened on
    an earlier line (``start``) though it stands where a value opens: first on its line or
    right after a delimiter (``3,"x``). A value closed by a quote after text (``world" ,``)
    is a multi-line value with stray text, which pandas reads as before."""
    if quoting == csv.QUOTE_NONE or line <= start:
        return False
    row = text.split("\n")[line - 1]
    at = 0
    while (at := row.find('"', at)) != -1 and row[at + 1 : at + 2] == '"':
        at += 2  # a doubled quote inside the value
    return at == 0 or (at > 0 and row[at - 1] == delimiter)


def _header(text: str, delimiter: str) -> list[str]:
    line = text.splitlines()[0] if text else ""  # \r alone ends a line too (old Mac files)
    previous = csv.field_size_limit(sys.maxsize)
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    finally:
        csv.field_size_limit(previous)


def _too_many_fields(text: str, delimiter: str, quoting: int, name: str) -> DataError:
    previous = csv.field_size_limit(sys.maxsize)
    try:
        rows = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting)
        width = len(next(rows))
        where, start = "a row has more fields", rows.line_num
        for row in rows:
            if len(row) > width:
                where = f"line {start + 1} has {len(row)} fields"
                break
            start = rows.line_num
    finally:
        csv.field_size_limit(previous)
    return DataError(
        f"{name}: {where} but the header has {width} "
        f"(delimiter {delimiter!r}). Quote values that contain the delimiter, or add the "
        f"missing column names to the header."
    )


_DELIMITERS = ",;\t|"
_SINGLE_COLUMN = "\x1f"  # the ASCII unit separator: never in a header without delimiters


def _sniff_delimiter(text: str) -> str:
    sample = text[:_SNIFF_BYTES]
    header = sample.splitlines()[0] if sample else ""
    counts = {d: header.count(d) for d in _DELIMITERS}
    if not any(counts.values()):
        # One column: commas or semicolons inside the values are not delimiters.
        return _SINGLE_COLUMN
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    # The header names the columns, so the delimiter must separate them.
    return sniffed if counts.get(sniffed) else max(counts, key=counts.get)


def _read_parquet(data: bytes, name: str) -> pd.DataFrame:
    try:
        table = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(f"{name}: is not a readable Parquet file ({exc}).") from None
    if table.empty:
        raise DataError(f"{name}: has no rows; add at least one item.")
    return table.reset_index(drop=True)


def _read_jsonl(text: str, name: str) -> pd.DataFrame:
    records, lines = [], []
    # Split on "\n" only: splitlines() also breaks at U+2028, U+0085 and friends, which
    # JSON writers leave unescaped inside strings (json.dumps(..., ensure_ascii=False)).
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{name}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}). "
                f"Each line must hold one JSON object."
            ) from None
        except RecursionError:
            raise DataError(
                f"{name}: line {number} nests lists or objects too deep to read. Each line "
                f"must hold one flat JSON object of texts, numbers and labels."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{name}: line {number} holds a JSON {type(record).__name__}, not an object "
                f'like {{"text": "...", "label": "..."}}.'
            )
        records.append(record)
        lines.append(number)
    if not records:
        raise DataError(f"{name}: the file is empty; it needs one JSON object per line.")
    table = pd.DataFrame.from_records(records)
    table.attrs[LINES] = lines
    return table


LABEL_COLUMN_NAMES = ("label", "labels", "class", "category", "target", "intent", "y")
ID_COLUMN_NAMES = ("id", "item_id", "uid", "key")


@dataclass(frozen=True)
class ColumnGuess:
    """Which columns of a table most likely hold the text, the labels and the ids."""

    text: str | None
    label: str | None
    id: str | None


def guess_columns(table: pd.DataFrame) -> ColumnGuess:
    """The import form's defaults: the text is the column of strings with the longest
    values; labels and ids are columns named so (ids only when unique).

    Examples
    --------
    >>> t = pd.DataFrame({"Label": ["ham", "spam"], "SMS": ["Ok lar... Joking", "WIN a prize now"]})
    >>> guess_columns(t)
    ColumnGuess(text='SMS', label='Label', id=None)
    """

    def named(names) -> list[str]:
        return [c for c in table.columns if str(c).strip().lower() in names]

    label = next(iter(named(LABEL_COLUMN_NAMES)), None)
    unique = [c for c in named(ID_COLUMN_NAMES) if table[c].is_unique]
    identifier = next(iter(unique), None)
    text, longest = None, 0.0
    for column in table.columns:
        if column in (label, identifier):
            continue
        values = table[column].head(2000)
        strings = values[values.map(lambda v: isinstance(v, str) and v.strip() != "")]
        if strings.empty or pd.to_numeric(strings, errors="coerce").notna().mean() > 0.5:
            continue  # numbers kept as text (CSV cells are strings) are not the text
        length = float(strings.str.len().mean())
        if length > longest:
            text, longest = column, length
    return ColumnGuess(text, label, identifier)


def dataset_from_table(
    table: pd.DataFrame,
    *,
    name: str,
    text_column: str | None = None,
    feature_columns: list[str] | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
) -> Dataset:
    """Build a dataset from a table and the columns the user picked.

    Give ``text_column`` for text items, or ``feature_columns`` for tabular
    items (numbers, or categories that are one-hot encoded later). With
    neither, a table with one column besides the id and label columns is
    read as text. Without ``id_column`` the row number (from 1) is the id.

    Everything the engine would trip over later is refused here, naming the
    column and row: lists or objects in a cell, an empty feature column, a
    feature that is the label, numbers too large to scale. What is imported
    but may not be what the user meant (a numeric column read as categories
    because of a few words, label cells like "None" read as class names) is
    described in the dataset's ``warnings``.

    Examples
    --------
    >>> t = pd.DataFrame({"id": ["a", "b"], "msg": ["hi", "yo"], "y": ["-1", ""]})
    >>> ds = dataset_from_table(t, name="t.csv", text_column="msg", id_column="id",
    ...                         label_column="y")
    >>> list(ds.labels)
    ['-1', None]
    """
    if not text_column and not feature_columns:
        text_column = _only_other_column(table, id_column, label_column)
    if bool(text_column) == bool(feature_columns):
        raise DataError(
            f"{name}: pick either a text column or one or more feature columns "
            f"(columns: {_column_list(table)})."
        )
    feature_columns = list(dict.fromkeys(feature_columns or []))
    for column in [text_column, id_column, label_column, *feature_columns]:
        if column is not None and column not in table.columns:
            raise DataError(
                f"{name}: there is no column '{column}'. Columns are: {_column_list(table)}."
            )
        if column is not None:
            _refuse_nested(table, column, name)
    _refuse_label_leak(name, text_column, feature_columns, label_column)
    notes = list(table.attrs.get(WARNINGS, []))
    items = pd.DataFrame({ID: _ids(table, id_column, name)})
    if text_column:
        items[TEXT] = _texts(table[text_column], text_column, name)
        kind, features = "text", ()
    else:
        for column in feature_columns:
            items[column] = _feature(table, column, name, notes)
        kind, features = "tabular", tuple(feature_columns)
    items[LABEL] = _labels(table, label_column, name, notes) if label_column else None
    return Dataset(Path(name).stem, kind, items, features, warnings=tuple(notes))


def _refuse_label_leak(name, text_column, feature_columns, label_column) -> None:
    if label_column is not None and label_column in [text_column, *feature_columns]:
        role = "text" if label_column == text_column else "a feature"
        raise DataError(
            f"{name}: the label column '{label_column}' is also picked as {role}, so the "
            f"model would read each answer from the item itself. Pick another label column "
            f"or leave '{label_column}' out of the features."
        )
    for column in feature_columns:
        if column in (ID, LABEL):
            raise DataError(
                f"{name}: the feature column '{column}' has a name sslabel keeps for its own "
                f"columns ('{ID}', '{LABEL}'). Rename it in the file (e.g. '{column}_value') "
                f"and import again."
            )


def _refuse_nested(table: pd.DataFrame, column_name: str, name: str) -> None:
    """Lists, objects or arrays in a cell (Parquet list/struct columns, nested JSON) have no
    reading as one text, number or category; str() of them silently made ids like '[1 2]'."""
    column = table[column_name]
    if pd.api.types.infer_dtype(column, skipna=True) not in ("mixed", "mixed-integer", "unknown"):
        return  # one C pass settles the common case: all strings, all numbers, ...
    for position, value in enumerate(column):
        if isinstance(value, list | tuple | dict | set | np.ndarray):
            kind = "an object" if isinstance(value, dict) else "a list"
            raise DataError(
                f"{name}: {_where(table, position)}, column '{column_name}' holds {kind} "
                f"({_short(value)}), not a single text, number or category. Pick another "
                f"column, or flatten it into one column per value."
            )


def _cell(value) -> str:
    """A cell as the user wrote it: '1e308' from a CSV, 1e+308 from Parquet."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _short(value, limit: int = 40) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _only_other_column(table: pd.DataFrame, *picked: str | None) -> str | None:
    """The text column when the user picked none and exactly one other column is left."""
    others = [c for c in table.columns if c not in picked]
    return others[0] if len(others) == 1 else None


def _column_list(table: pd.DataFrame) -> str:
    return ", ".join(f"'{c}'" for c in table.columns)


def _place(table: pd.DataFrame, position: int) -> tuple[str, int]:
    """Where a row is, as the person can find it: ("line", 4) in a text file (as an editor
    counts, header included), else ("row", 3) (1-based, e.g. in a Parquet file)."""
    lines = table.attrs.get(LINES)
    if lines is not None and len(lines) == len(table):
        return "line", lines[int(position)]
    return "row", int(position) + 1


def _where(table: pd.DataFrame, position: int) -> str:
    return "{} {}".format(*_place(table, position))


def _ids(table: pd.DataFrame, id_column: str | None, name: str) -> list[str]:
    if id_column is None:
        return [str(i) for i in range(1, len(table) + 1)]
    raw = table[id_column].tolist()
    ids = [_as_text(v) for v in raw]
    blank = [i for i, v in enumerate(ids) if v is None or v == ""]
    if blank:
        raise DataError(
            f"{name}: {_where(table, blank[0])}, column '{id_column}': the item id is blank "
            f"({len(blank)} blank id(s) in all). Fill in every id or import without an id column."
        )
    seen: dict[str, int] = {}
    for position, value in enumerate(ids):
        if value in seen:
            first, second = raw[seen[value]], raw[position]
            rows = f"({_where(table, seen[value])}) and {_cell(second)} ({_where(table, position)})"
            if str(first) != str(second) and str(first).strip() == str(second).strip():
                raise DataError(
                    f"{name}: column '{id_column}': the ids {_cell(first)} {rows} are the "
                    f"same once the spaces around them are removed; ids must be unique."
                )
            if _cell(first) != _cell(second):  # 3 and "3" in JSONL
                raise DataError(
                    f"{name}: column '{id_column}': the ids {_cell(first)} {rows} both read "
                    f"as {value!r}; ids must be unique."
                )
            (kind, first), (_, second) = _place(table, seen[value]), _place(table, position)
            raise DataError(
                f"{name}: column '{id_column}': the id {value!r} appears on {kind}s {first} "
                f"and {second}; ids must be unique."
            )
        seen[value] = position
    return ids


def _texts(column: pd.Series, column_name: str, name: str) -> list[str]:
    texts = ["" if _is_missing(v) else _as_string(v) for v in column]
    if not any(texts):
        raise DataError(
            f"{name}: column '{column_name}' is empty in every row; pick the text column."
        )
    return texts


def _as_string(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _feature(table: pd.DataFrame, column_name: str, name: str, notes: list[str]) -> pd.Series:
    """Numbers stay numbers (blank or NaN = missing, imputed later); anything else is a category."""
    column = table[column_name]
    if _is_time(column):
        numeric = _seconds(column)
    else:
        # "nan" as text (numpy, R and many exporters write it) is a missing number: without
        # this one "nan" cell turned a whole numeric column into categories.
        values = column.map(lambda v: None if _is_missing(v) or _is_nan_text(v) else v)
        numeric = pd.to_numeric(values, errors="coerce")
        non_numeric = numeric.isna() & values.notna()
        if non_numeric.any():
            return _categories(table, values, numeric, non_numeric, column_name, name, notes)
    if numeric.isna().all():
        raise DataError(
            f"{name}: the feature column '{column_name}' has no value in any row. Leave it "
            f"out of the feature columns."
        )
    magnitude = np.abs(numeric.to_numpy(dtype=float))
    bad = np.flatnonzero(~np.isfinite(magnitude) & numeric.notna().to_numpy())
    if len(bad):
        raise DataError(
            f"{name}: {_where(table, bad[0])}, column '{column_name}': the value "
            f"{_cell(column.iloc[bad[0]])} is infinite. Replace it with a finite number or leave "
            f"it blank to have it imputed."
        )
    huge = np.flatnonzero(magnitude > MAX_ABS_FEATURE)
    if len(huge):
        raise DataError(
            f"{name}: {_where(table, huge[0])}, column '{column_name}': the value "
            f"{_cell(column.iloc[huge[0]])} is beyond ±{MAX_ABS_FEATURE:.0e}, too large to scale "
            f"({len(huge)} such value(s)). Rescale the column (e.g. take its logarithm) or "
            f"leave those cells blank."
        )
    return numeric.astype(float)


def _categories(table, values, numeric, non_numeric, column_name, name, notes) -> pd.Series:
    column = table[column_name]
    n_numbers = int(numeric.notna().sum())
    words = np.flatnonzero(non_numeric.to_numpy())
    if n_numbers >= len(words):
        notes.append(
            f"{name}: column '{column_name}' holds {n_numbers:,} numbers but "
            f"{_where(table, words[0])} holds {_cell(column.iloc[words[0]])}"
            + (f" (and {len(words) - 1:,} more non-numbers)" if len(words) > 1 else "")
            + ", so the whole column is read as categories, not numbers. Fix or blank those "
            "cells to have it read as numbers."
        )
    # Built as a list: on a string column, map() turns None back into NaN and a blank
    # category became the category "nan".
    categories = [None if _is_missing(v) else _as_string(v) for v in values]
    return pd.Series(categories, index=column.index, dtype=object)


def _is_time(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column):
        return True
    return pd.api.types.infer_dtype(column, skipna=True) in ("date", "datetime")


def _seconds(column: pd.Series) -> pd.Series:
    """Times as seconds since 1970 (durations as seconds); a missing time stays missing
    (cast as it was, NaT became -9.2e18)."""
    if pd.api.types.is_timedelta64_dtype(column):
        return column.dt.total_seconds()
    if not pd.api.types.is_datetime64_any_dtype(column):
        column = pd.to_datetime(column.map(lambda v: None if _is_missing(v) else v), utc=True)
    epoch = pd.Timestamp(0, tz=column.dt.tz)
    return (column - epoch).dt.total_seconds()


def _is_nan_text(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == "nan"


def _labels(table: pd.DataFrame, column_name: str, name: str, notes: list[str]) -> list[str | None]:
    labels = [_as_text(v) or None for v in table[column_name]]
    suspicious = [i for i, v in enumerate(labels) if v and v.lower() in READ_AS_CLASS_NAMES]
    if suspicious:
        found = sorted({labels[i] for i in suspicious})
        notes.append(
            f"{name}: column '{column_name}': {len(suspicious):,} label cell(s) hold "
            f"{', '.join(repr(v) for v in found)} (first on {_where(table, suspicious[0])}), "
            f"read as class names. Only blank cells count as unlabeled; blank those cells if "
            f"they mean 'no label'."
        )
    classes = {v for v in labels if v}
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"{name}: column '{column_name}' holds {len(classes):,} different labels, more than "
            f"the {MAX_CLASSES:,} classes a project can have. Is it the label column? "
            + TOO_MANY_CLASSES_ADVICE
        )
    return labels


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _as_text(value) -> str | None:
    """A cell as a stripped string; ``None`` when missing. 3.0 reads as "3"."""
    if _is_missing(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return _as_string(value).strip()


def load_images(path: str | os.PathLike, *, name: str | None = None) -> Dataset:
    """Import a folder or a ``.zip`` of images.

    The item id is the file's path inside the folder; the name of the folder
    an image sits in (``cats/001.jpg``) is its existing label, and images at
    the top level are unlabeled. Unsafe archives (paths that leave the
    archive, links, bombs) and unreadable images are refused.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp()); (root / "cat").mkdir()
    >>> Image.new("RGB", (4, 4)).save(root / "cat" / "a.png")
    >>> load_images(root).items[["item_id", "label"]].to_dict("records")
    [{'item_id': 'cat/a.png', 'label': 'cat'}]
    """
    path = Path(path)
    name = name or path.name
    if path.is_dir():
        members = _folder_images(path)
    elif path.suffix.lower() == ".zip":
        members = _zip_images(path, name)
    else:
        raise DataError(f"{name}: is neither a folder nor a .zip of images.")
    if not members:
        raise DataError(
            f"{name}: holds no images ({', '.join(IMAGE_SUFFIXES)}); put images in it, "
            f"optionally in one sub-folder per class."
        )
    members.sort(key=lambda m: m[0])
    rows = []
    for relative, data in members:
        images.check_image(data, name=f"{name}/{relative}")
        parts = PurePosixPath(relative).parts
        rows.append((relative, data, parts[-2] if len(parts) > 1 else None))
    items = pd.DataFrame(rows, columns=[ID, IMAGE, LABEL])
    return Dataset(Path(name).stem, "image", items)


def _is_image_name(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
    return not hidden and PurePosixPath(relative).suffix.lower() in IMAGE_SUFFIXES


def _folder_images(root: Path) -> list[tuple[str, bytes]]:
    members, budget = [], MAX_ZIP_UNCOMPRESSED
    for current, _dirs, files in os.walk(root):
        for file in files:
            full = Path(current) / file
            relative = full.relative_to(root).as_posix()
            if _is_image_name(relative) and not full.is_symlink():
                size = full.stat().st_size
                _check_image_size(f"{root.name}/{relative}", size, budget)
                budget -= size
                members.append((relative, full.read_bytes()))
    return members


def _check_image_size(label: str, size: int, budget: int) -> None:
    """Refuse one image file before reading it, from the size it declares."""
    if size > MAX_IMAGE_BYTES:
        raise DataError(
            f"{label}: is {size / 1024**2:,.0f} MB, more than the limit of "
            f"{MAX_IMAGE_BYTES / 1024**2:,.0f} MB for one image (a zip bomb?); nothing was "
            f"imported. Shrink or remove it."
        )
    if size > budget:
        raise DataError(
            f"{label}: the images together pass the limit of "
            f"{MAX_ZIP_UNCOMPRESSED / 1024**3:.0f} GiB; nothing was imported. Split them into "
            f"smaller imports."
        )


def _zip_images(path: Path, name: str) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{name}: is not a readable .zip file ({exc}).") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_MEMBERS:
            raise DataError(
                f"{name}: holds {len(infos):,} files, more than the limit of "
                f"{MAX_ZIP_MEMBERS:,}; split it into smaller archives."
            )
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_UNCOMPRESSED:
            raise DataError(
                f"{name}: would unpack to {total / 1024**3:.1f} GiB, more than the limit of "
                f"{MAX_ZIP_UNCOMPRESSED / 1024**3:.0f} GiB; split it into smaller archives."
            )
        for info in infos:
            _check_zip_member(info, name)
        wanted = [i for i in infos if _is_image_name(i.filename)]
        _refuse_repeated_entries(wanted, name)
        members = []
        budget = MAX_ZIP_UNCOMPRESSED
        for info in wanted:
            _check_image_size(f"{name}/{info.filename}", info.file_size, budget)
            data = _read_member(archive, info, budget, name)
            budget -= len(data)
            members.append((PurePosixPath(info.filename).as_posix(), data))
    return members


def _refuse_repeated_entries(infos: list[zipfile.ZipInfo], name: str) -> None:
    """A zip may hold two entries of one name (or of names equal once './' is dropped);
    both would become one item id."""
    seen: dict[str, str] = {}
    for info in infos:
        relative = PurePosixPath(info.filename).as_posix()
        if relative in seen:
            first = seen[relative]
            if first == info.filename:
                both = f"the entry {first!r} twice"
            else:
                both = f"the entries {first!r} and {info.filename!r}, one path"
            raise DataError(
                f"{name}: holds {both}; each image needs its own path (it is its "
                f"id). Nothing was imported; re-create the archive without the repeat."
            )
        seen[relative] = info.filename


_DRIVE = re.compile(r"[A-Za-z]:")


def _check_zip_member(info: zipfile.ZipInfo, name: str) -> None:
    member = info.filename
    pure = PurePosixPath(member.replace("\\", "/"))
    if pure.is_absolute() or member.startswith(("/", "\\")) or _DRIVE.match(pure.parts[0]):
        raise DataError(
            f"{name}: the entry {member!r} has an absolute path; nothing was imported. "
            f"Re-create the archive with relative paths."
        )
    if ".." in pure.parts:
        raise DataError(
            f"{name}: the entry {member!r} points outside the archive ('..'); nothing was "
            f"imported. Re-create the archive without it."
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DataError(
            f"{name}: the entry {member!r} is a symbolic link; nothing was imported. "
            f"Archive the files themselves, not links to them."
        )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, name: str) -> bytes:
    # The sizes in a zip header can lie, so the real output is counted too, and reading
    # stops at the first byte past a limit.
    limit = min(budget, info.file_size, MAX_IMAGE_BYTES)
    chunks, size = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(1 << 20, limit - size + 1)):
                size += len(chunk)
                if size > limit:
                    raise DataError(
                        f"{name}: the entry {info.filename!r} unpacks to more than its header "
                        f"says or past the size limit (a zip bomb?); nothing was imported."
                    )
                chunks.append(chunk)
    # zipfile stops at the size the header claims and then fails the CRC check (BadZipFile);
    # damaged, encrypted or exotic entries raise the others.
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise DataError(
            f"{name}: the entry {info.filename!r} cannot be unpacked ({exc}); the archive is "
            f"damaged, encrypted or lies about its sizes. Nothing was imported; re-create it."
        ) from None
    return b"".join(chunks)


def load_file(
    path: str | os.PathLike,
    *,
    text_column: str | None = None,
    feature_columns: list[str] | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
) -> Dataset:
    """Import any supported file or folder: a table with the given columns, or images.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.tsv"
    >>> _ = p.write_text("Label\\tSMS\\nham\\thello\\n")
    >>> load_file(p, text_column="SMS", label_column="Label").n_items
    1
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".zip":
        return load_images(path)
    table = read_table(path)
    return dataset_from_table(
        table,
        name=path.name,
        text_column=text_column,
        feature_columns=feature_columns,
        id_column=id_column,
        label_column=label_column,
    )
