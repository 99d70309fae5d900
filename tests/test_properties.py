"""Property-based tests: loaders read back what was written; the label store matches a model."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

from helpers import text_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sslcore.loaders import dataset_from_table, read_table
from sslcore.store import Store

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Loaders ----------------------------------------------------------------------

SPECIAL_LABELS = ["-1", "0", "unlabeled", "None", "NaN", "null", "007", "ham", "😀", "שלום"]


@st.composite
def tables(draw, exclude=""):
    """(ids, texts, labels): unique non-blank ids, any texts, labels with blanks and specials."""
    chars = st.characters(exclude_categories=["Cs"], exclude_characters=exclude)
    text = st.text(chars, max_size=30)
    short = st.text(chars, min_size=1, max_size=8).map(str.strip)
    label = st.one_of(st.sampled_from([*SPECIAL_LABELS, ""]), short)
    n = draw(st.integers(1, 12))
    ids = draw(st.lists(short.filter(bool), min_size=n, max_size=n, unique=True))
    texts = draw(st.lists(text, min_size=n, max_size=n))
    labels = draw(st.lists(label, min_size=n, max_size=n))
    texts[0] = texts[0] + "x"  # at least one text is not blank
    return ids, texts, labels


def expected_text(text: str) -> str:
    return "" if not text.strip() else text


def check(ds, ids, texts, labels):
    assert list(ds.ids) == ids
    assert list(ds.items["text"]) == [expected_text(t) for t in texts]
    assert list(ds.labels) == [label or None for label in labels]


@SETTINGS
@given(table=tables(), delimiter=st.sampled_from([",", ";", "|"]))
def test_quoted_csv_round_trip(table, delimiter):
    # Tab-separated files are read without quoting first: see test_tsv_round_trip.
    ids, texts, labels = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)  # Excel dialect: quotes \r and \n
    writer.writerow(["id", "text", "label"])
    writer.writerows(zip(ids, texts, labels, strict=True))
    data = buffer.getvalue().encode()
    ds = dataset_from_table(
        read_table(data, name="t.csv"),
        name="t.csv",
        text_column="text",
        id_column="id",
        label_column="label",
    )
    check(ds, ids, texts, labels)


@SETTINGS
@given(table=tables(exclude="\t\r\n"), suffix=st.sampled_from([".tsv", ".csv", ".txt"]))
def test_tsv_round_trip(table, suffix):
    """Tab-separated without quoting, as spreadsheets and the SMS collection write it."""
    ids, texts, labels = table
    rows = [["id", "text", "label"], *zip(ids, texts, labels, strict=True)]
    data = "".join("\t".join(row) + "\n" for row in rows).encode()
    ds = dataset_from_table(
        read_table(data, name="t" + suffix),
        name="t" + suffix,
        text_column="text",
        id_column="id",
        label_column="label",
    )
    check(ds, ids, texts, labels)


@SETTINGS
@given(table=tables(), ensure_ascii=st.booleans(), integer_labels=st.booleans())
def test_jsonl_round_trip(table, ensure_ascii, integer_labels):
    ids, texts, labels = table
    if integer_labels:  # JSON numbers read as class names: 1 -> "1", -1 -> "-1"
        raw = [int(lab) if re.fullmatch("-?[0-9]+", lab) else lab for lab in labels]
        labels = [str(r) for r in raw]
    else:
        raw = labels
    lines = [
        json.dumps(
            {"id": i, "text": t, "label": None if lab == "" else lab}, ensure_ascii=ensure_ascii
        )
        for i, t, lab in zip(ids, texts, raw, strict=True)
    ]
    data = "\n".join(lines).encode()
    ds = dataset_from_table(
        read_table(data, name="t.jsonl"),
        name="t.jsonl",
        text_column="text",
        id_column="id",
        label_column="label",
    )
    check(ds, ids, texts, labels)


# The label store against a reference model -------------------------------------

ITEMS = ["t0", "t1", "t2", "t3"]
CLASSES = ["a", "b", "-1"]
ANNOTATORS = ["ann", "bob"]

item = st.sampled_from(ITEMS)
cls = st.sampled_from(CLASSES)
annotator = st.sampled_from(ANNOTATORS)
operation = st.one_of(
    st.tuples(st.just("label"), item, st.one_of(cls, st.none()), annotator,
              st.sampled_from(["human", "accepted"])),
    st.tuples(st.just("reject"), item, cls, annotator),
    st.tuples(st.just("bulk"), st.lists(st.tuples(item, cls), max_size=4), annotator),
    st.tuples(st.just("undo"), st.integers(0, 1000), annotator),
    st.tuples(st.just("undo_last"), annotator),
)  # fmt: skip


class Model:
    """Per item, the stack of labeling events not undone, last wins; rejections likewise."""

    def __init__(self):
        self.events = {}  # event id -> dict(item, cls, kind, annotator, batch, undone)

    def add(self, event_id, item_id, class_name, kind, who, batch=None):
        self.events[event_id] = dict(
            item=item_id, cls=class_name, kind=kind, who=who, batch=batch, undone=False
        )

    def undo(self, event_id):
        target = self.events[event_id]
        group = [
            e for e in self.events.values() if target["batch"] and e["batch"] == target["batch"]
        ] or [target]
        for e in group:
            e["undone"] = True

    def undo_last(self, who):
        for event_id in sorted(self.events, reverse=True):
            e = self.events[event_id]
            if e["who"] == who and not e["undone"]:
                self.undo(event_id)
                return

    def labels(self):
        current = {}
        for event_id in sorted(self.events):
            e = self.events[event_id]
            if e["kind"] == "label" and not e["undone"]:
                current[e["item"]] = e["cls"]
        return {i: c for i, c in current.items() if c is not None}

    def rejections(self):
        return {
            (e["item"], e["cls"])
            for e in self.events.values()
            if e["kind"] == "reject" and not e["undone"]
        }


def apply(project, model, op):
    kind = op[0]
    if kind == "label":
        _, item_id, class_name, who, source = op
        model.add(project.label(item_id, class_name, annotator=who, source=source),
                  item_id, class_name, "label", who)  # fmt: skip
    elif kind == "reject":
        _, item_id, class_name, who = op
        model.add(project.reject(item_id, class_name, annotator=who),
                  item_id, class_name, "reject", who)  # fmt: skip
    elif kind == "bulk":
        _, pairs, who = op
        batch = project.label_many(pairs, annotator=who)
        events = project.events()
        ids = sorted(events.loc[events["batch_id"] == batch, "id"])
        assert len(ids) == len(pairs)
        for event_id, (item_id, class_name) in zip(ids, pairs, strict=True):
            model.add(int(event_id), item_id, class_name, "label", who, batch)
    elif kind == "undo" and model.events:
        _, pick, who = op
        event_id = sorted(model.events)[pick % len(model.events)]
        project.undo(event_id, annotator=who)
        model.undo(event_id)
    elif kind == "undo_last":
        project.undo_last(op[1])
        model.undo_last(op[1])


@SETTINGS
@given(ops=st.lists(operation, max_size=25))
def test_label_store_matches_the_reference_model(ops):
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        try:
            project = store.create_project("p", text_dataset(ITEMS), class_names=CLASSES)
            model = Model()
            for op in ops:
                apply(project, model, op)
                assert project.labels() == model.labels()
                assert project.rejections() == model.rejections()
            # A second store replays every event from scratch and must agree.
            fresh = Store(Path(tmp))
            replayed = fresh.open_project("p")
            assert replayed.labels() == model.labels()
            assert replayed.rejections() == model.rejections()
            fresh.close()
        finally:
            store.close()


def test_reference_model_knows_batches():
    """The model itself: undoing one member of a batch undoes the batch."""
    model = Model()
    model.add(1, "t0", "a", "label", "ann")
    model.add(2, "t0", "b", "label", "ann", batch="x")
    model.add(3, "t1", "b", "label", "ann", batch="x")
    assert model.labels() == {"t0": "b", "t1": "b"}
    model.undo(3)
    assert model.labels() == {"t0": "a"}
