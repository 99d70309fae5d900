"""Review suggestions: accept or reject the model's pseudo-labels, alone or in bulk."""

import pandas as pd
import streamlit as st

from ui.components import md, show_item
from ui.model import refresh
from ui.state import annotator, require_annotator, require_project

ALL = "(every class)"
LAST_BULK = "last-bulk"

project = require_project()
require_annotator()

st.title(f"Review suggestions · {md(project.name)}")
model, predictions = refresh(project)
dataset = project.dataset()
if predictions.proba.shape[1] == 0:
    st.info("Label a few items first: suggestions appear once the model has labels to spread.")
    st.stop()


def item_row(item_id: str) -> dict:
    return dataset.items.iloc[model.engine.position(item_id)].to_dict()


def accept(item_id: str, class_name: str, confidence: float) -> None:
    if item_id in project.labels():  # someone labeled it since this page was drawn
        return
    project.label(
        item_id, class_name, annotator=annotator(), source="accepted",
        model_round=model.round, confidence=confidence,
    )  # fmt: skip


def reject(item_id: str, class_name: str, confidence: float) -> None:
    project.reject(
        item_id, class_name, annotator=annotator(), model_round=model.round, confidence=confidence
    )


def bulk_accept(rows: pd.DataFrame) -> None:
    # Items someone labeled since the preview keep their label.
    rows = rows[~rows["item_id"].isin(project.labels())]
    batch = project.label_many(
        zip(rows["item_id"], rows["class"], strict=True),
        annotator=annotator(),
        source="bulk",
        model_round=model.round,
        confidences=rows["confidence"],
    )
    st.session_state[LAST_BULK] = (batch, len(rows))


def undo_bulk() -> None:
    batch, _ = st.session_state.pop(LAST_BULK)
    project.undo_batch(batch, annotator=annotator())


chosen_class = st.sidebar.selectbox("Class", [ALL, *predictions.classes], key="review_class")
suggestions, mistakes = st.tabs(["Suggestions", "Likely mistakes"])

with suggestions:
    pseudo = model.engine.pseudo_labels(per_class=50)
    table = pd.DataFrame(
        [(p.item_id, p.class_name, p.confidence, p.support_ids) for p in pseudo],
        columns=["item_id", "class", "confidence", "support"],
    )
    if chosen_class != ALL:
        table = table[table["class"] == chosen_class]
    table = table.sort_values("confidence", ascending=False, kind="stable")
    if table.empty:
        st.success("No suggestions left for this class.")
    else:
        top = table.iloc[0]
        st.subheader(f"Suggested: {md(top['class'])} ({top['confidence']:.0%} confident)")
        st.caption(f"Item {md(top['item_id'])} · ranked first of the {len(table):,} most confident")
        show_item(item_row(top["item_id"]), dataset.kind, dataset.feature_columns)
        args = (top["item_id"], top["class"], float(top["confidence"]))
        left, right, _ = st.columns([1, 1, 3])
        left.button("Accept", on_click=accept, args=args, shortcut="A", type="primary",
                    use_container_width=True)  # fmt: skip
        right.button("Reject", on_click=reject, args=args, shortcut="X",
                     use_container_width=True)  # fmt: skip
        st.caption("Keys: A accepts, X rejects. A rejected class is never suggested again for "
                   "that item and weighs less around it.")  # fmt: skip
        if top["support"]:
            st.caption(f"Why: the nearest items people labeled {md(top['class'])}")
            for column, support_id in zip(st.columns(len(top["support"])), top["support"],
                                          strict=True):  # fmt: skip
                with column:
                    show_item(item_row(support_id), dataset.kind, dataset.feature_columns)

    st.divider()
    st.subheader("Accept in bulk")
    bulk_class = st.selectbox("Class", predictions.classes, key="bulk_class")
    threshold = st.slider("Confidence at least", 0.5, 1.0, 0.95, 0.01, key="bulk_threshold")
    every = pd.DataFrame(
        {
            "item_id": predictions.item_ids,
            "class": predictions.predicted,
            "confidence": predictions.confidence,
        }
    )[~model.engine.labeled]
    selected = every[(every["class"] == bulk_class) & (every["confidence"] >= threshold)]
    st.write(f"{len(selected):,} unlabeled items are predicted {md(bulk_class)} with at least "
             f"{threshold:.0%} confidence. A sample:")  # fmt: skip
    sample = selected.sample(min(5, len(selected)), random_state=0) if len(selected) else selected
    if len(sample):
        for column, item_id in zip(st.columns(len(sample)), sample["item_id"], strict=True):
            with column:
                show_item(item_row(item_id), dataset.kind, dataset.feature_columns)
    st.button(f"Accept {len(selected):,} as {md(bulk_class)}", on_click=bulk_accept,
              args=(selected,), disabled=selected.empty, key="bulk_accept")  # fmt: skip
    if LAST_BULK in st.session_state:
        _, count = st.session_state[LAST_BULK]
        st.info(f"Accepted {count:,} items in bulk.")
        st.button("Undo this bulk accept", on_click=undo_bulk, key="undo_bulk")

with mistakes:
    found = model.engine.likely_mistakes()
    if not found:
        st.success("The model agrees with every human label.")
    for mistake in found[:20]:
        st.divider()
        st.caption(f"Item {md(mistake.item_id)}")
        show_item(item_row(mistake.item_id), dataset.kind, dataset.feature_columns)
        st.text(f"Labeled {mistake.given}; its neighbourhood says {mistake.predicted} "
                f"({mistake.confidence:.0%}).")  # fmt: skip
        st.button(
            f"Change to {md(mistake.predicted)}",
            key=f"fix-{mistake.item_id}",
            on_click=lambda m=mistake: project.label(m.item_id, m.predicted, annotator=annotator()),
        )
