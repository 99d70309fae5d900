"""Conflicts: items whose annotators disagree, who said what and what the model thinks;
a reviewer settles each with a resolution (the votes stay as they were)."""

import pandas as pd
import streamlit as st

from studio.auth import may
from studio.components import md, show_item
from studio.live import project_engine
from studio.state import annotator, require_annotator, require_project

project = require_project()
require_annotator()

st.title(f"Conflicts · {md(project.name)}")


def set_overlap() -> None:
    project.set_overlap(int(st.session_state["overlap-input"]))


overlap = project.overlap()
if may("owner"):
    st.number_input(
        "Annotators per item", min_value=1, max_value=20, value=overlap, step=1,
        key="overlap-input", on_change=set_overlap,
        help="With 1, a later label replaces an earlier one. With 2 or more, each person's "
        "label is a vote: items go to that many people, never twice to one, and items "
        "whose votes disagree wait for a reviewer here.",
    )  # fmt: skip
if overlap == 1:
    st.info(
        "Each item is labeled by one person here, and a later label replaces an earlier one, "
        "so nothing is disputed."
    )
    st.stop()

live = project_engine(project)
predictions = live.predictions
dataset = project.dataset()
disputed = project.conflicts()
st.caption(
    f"Each item is labeled by {overlap} annotators. An item whose votes disagree counts as "
    "unlabeled (the model does not learn from it) until it is resolved here."
)
st.metric("Disputed items", f"{len(disputed):,}")
if not disputed:
    st.success("No disputes: every item's votes agree, or a reviewer settled them.")
    st.stop()

votes = project.votes()
classes = project.class_names()
item_id = st.selectbox("Item", disputed, key="conflict-item")
left, right = st.columns([3, 2])
with left:
    st.caption(f"Item {md(item_id)}")
    show_item(live.item(item_id), dataset.kind, dataset.feature_columns)
with right:
    st.caption("Who said what")
    said = votes[votes["item_id"] == item_id][["annotator", "class_name"]]
    st.dataframe(said.rename(columns={"class_name": "class"}), hide_index=True)
    if predictions.proba.shape[1]:
        position = live.engine.position(item_id)
        st.caption("The model's view")
        proba = pd.DataFrame(
            {"class": predictions.classes, "probability": predictions.proba[position]}
        ).sort_values("probability", ascending=False)
        st.dataframe(proba.style.format({"probability": "{:.0%}"}), hide_index=True)

if not may("reviewer"):
    st.caption("A reviewer or the owner resolves disputes.")
    st.stop()
with st.form("resolve"):
    # Nothing picked to start, per item: a preset class (the first, or the one picked for
    # the previous item) was one click away from settling a dispute nobody had looked at.
    picked = st.radio("Resolve as", classes, index=None, horizontal=True,
                      key=f"resolve-class-{item_id}", format_func=md)  # Markdown  # fmt: skip
    if st.form_submit_button("Resolve", type="primary"):
        if picked is None:
            st.warning("Pick the class this item is, then Resolve.")
        else:
            project.resolve(item_id, picked, annotator=annotator())
            st.rerun()
