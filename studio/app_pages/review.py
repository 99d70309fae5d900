"""Review suggestions: accept or reject the model's pseudo-labels, alone or in bulk."""

import pandas as pd
import streamlit as st

from sslcore.review import likely_mistakes, pseudo_labels
from sslcore.session import bulk_candidates, describe_events
from studio.charts import mini_map
from studio.components import md, show_item
from studio.live import labeling_session
from studio.state import require_annotator, require_project

ALL = "(every class)"

project = require_project()
require_annotator()

st.title(f"Review suggestions · {md(project.name)}")
session = labeling_session(project)
live = session.live
predictions = live.refresh()
dataset = project.dataset()
if predictions.proba.shape[1] == 0:
    st.info("Label a few items first: suggestions appear once the model has labels to spread.")
    st.stop()


def show(item_id: str) -> None:
    location = None
    if dataset.kind == "tabular":  # numbers alone do not say where the item is
        location = mini_map(live.layout()[0], live.engine.position(item_id))
    show_item(live.item(item_id), dataset.kind, dataset.feature_columns, location=location)


NOTE, LAST = f"review-note-{project.id}", f"review-last-{project.id}"


def decided(event_id: int | None, item_id: str, what: str) -> None:
    st.session_state[LAST] = event_id
    st.session_state[NOTE] = what if event_id else f"{item_id} was labeled meanwhile; left as is."


def accept(item_id: str, class_name: str, confidence: float) -> None:
    event = session.accept(item_id, class_name, confidence)
    decided(event, item_id, f"Accepted {item_id} → {class_name}.")


def reject(item_id: str, class_name: str, confidence: float) -> None:
    event = session.reject(item_id, class_name, confidence)
    decided(event, item_id, f"Rejected {class_name} for {item_id}: never suggested for it again.")


def undo_decision() -> None:
    undone = session.undo_event(st.session_state.pop(LAST))
    st.session_state[NOTE] = f"Undid {describe_events(undone, project.class_names_by_id())}."


classes = [c for c in project.class_names() if c in predictions.classes]  # the project's order
chosen_class = st.sidebar.selectbox("Suggestions for", [ALL, *classes], key="review_class")
suggestions, mistakes = st.tabs(["Suggestions", "Likely mistakes"])
if st.session_state.get(NOTE):
    note, undo_col = suggestions.columns([5, 1], vertical_alignment="center")
    note.success(md(st.session_state[NOTE]))
    if st.session_state.get(LAST):
        undo_col.button("Undo", on_click=undo_decision, shortcut="U", key="undo_decision")

with suggestions:
    pseudo = pseudo_labels(predictions, live.engine.features, per_class=50)
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
        show(top["item_id"])
        args = (top["item_id"], top["class"], float(top["confidence"]))
        left, right, _ = st.columns([1, 1, 3])
        left.button("Accept", on_click=accept, args=args, shortcut="A", type="primary",
                    use_container_width=True)  # fmt: skip
        right.button("Reject", on_click=reject, args=args, shortcut="X",
                     use_container_width=True)  # fmt: skip
        st.caption("Keys: A accepts, X rejects, U undoes the last of them. A rejected class is "
                   "never suggested again for that item and weighs less around it.")  # fmt: skip
        if top["support"]:
            st.caption(f"Why: the nearest items people labeled {md(top['class'])}")
            for column, support_id in zip(st.columns(len(top["support"])), top["support"],
                                          strict=True):  # fmt: skip
                with column:
                    show(support_id)

    st.divider()
    st.subheader("Accept in bulk")
    bulk_class = st.selectbox("Accept the class", classes, key="bulk_class")
    threshold = st.slider("Confidence at least", 0.5, 1.0, 0.95, 0.01, key="bulk_threshold")
    selected = bulk_candidates(predictions, bulk_class, threshold)
    st.write(f"{len(selected):,} unlabeled items are predicted {md(bulk_class)} with at least "
             f"{threshold:.0%} confidence. A sample:")  # fmt: skip
    sample = selected.sample(min(5, len(selected)), random_state=0) if len(selected) else selected
    if len(sample):
        for column, item_id in zip(st.columns(len(sample)), sample["item_id"], strict=True):
            with column:
                show(item_id)
    st.button(f"Accept {len(selected):,} as {md(bulk_class)}", on_click=session.bulk_accept,
              args=(selected,), disabled=selected.empty, key="bulk_accept")  # fmt: skip
    if session.last_bulk is not None:
        st.info(f"Accepted {session.last_bulk.count:,} items in bulk.")
        st.button("Undo this bulk accept", on_click=session.undo_bulk, key="undo_bulk")

with mistakes:
    found = likely_mistakes(live.engine)
    if not found:
        st.success("The model agrees with every human label.")
    for mistake in found[:20]:
        st.divider()
        st.caption(f"Item {md(mistake.item_id)}")
        show(mistake.item_id)
        st.text(f"Labeled {mistake.given}; its neighbourhood says {mistake.predicted} "
                f"({mistake.confidence:.0%}).")  # fmt: skip
        st.button(f"Change to {md(mistake.predicted)}", key=f"fix-{mistake.item_id}",
                  on_click=session.correct, args=(mistake.item_id, mistake.predicted))  # fmt: skip
