"""Map: the data in 2-D with labels, pseudo-labels and the decision field; lasso to label."""

import numpy as np
import streamlit as st

from sslcore.projection import decision_field
from sslcore.session import OWN_LAYOUT, most_predicted
from studio.charts import COLOR_BY, hover_texts, map_figure
from studio.components import items, md, show_item
from studio.live import labeling_session
from studio.state import require_annotator, require_project

THUMBNAILS = 12

project = require_project()
require_annotator()

st.title(f"Map · {md(project.name)}")
session = labeling_session(project)
live = session.live
dataset = project.dataset()
LAYOUT = f"map-layout-{project.id}"  # the layout this browser shows, kept until asked to change
NOTE = f"map-note-{project.id}"


def label_selection(item_ids: list[str], class_name: str) -> None:
    # A callback runs before the page is drawn, so the map already shows these labels.
    session.label_selection(item_ids, class_name)
    count = len(session.last_action())
    st.session_state[NOTE] = (f"Labeled {items(count)} as {class_name}. U on the Label page "
                              "undoes them all at once.")  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=4)
def hover_of(project_id: int, n_items: int, _dataset) -> list[str]:
    # Kept per project: an image project's thumbnails decode every image.
    return hover_texts(_dataset)


def show_umap() -> None:
    st.session_state[LAYOUT] = "umap"


predictions = live.refresh()
coords, method = live.layout(st.session_state.get(LAYOUT))
st.session_state.setdefault(LAYOUT, "umap" if method == "UMAP" else "pca")
order = project.class_names()  # the project's class order, in the legend too
classes = [c for c in order if c in predictions.classes] if predictions.proba.shape[1] else []
colors = {c.name: c.color for c in project.classes()}

left, middle, right = st.columns([2, 1, 1])
color_by = left.radio("Colour by", COLOR_BY, index=1, horizontal=True, key="color_by")
show_field = middle.toggle("Decision field", value=True, key="show_field")
if method not in (OWN_LAYOUT, "UMAP") and live.umap_ready():
    right.button("Show UMAP", on_click=show_umap, help="UMAP is ready: it separates groups "
                 "better than PCA. The map changes its layout.")  # fmt: skip
st.caption(f"Layout: {method}. Large outlined circles are human labels, small diamonds the "
           f"model's labels; the background is blank where the model is unsure. Click a "
           f"point to see it; draw a lasso or a box to label many.")  # fmt: skip

columns = [predictions.classes.index(c) for c in classes]  # the engine's columns, in order
field = decision_field(coords, predictions.proba[:, columns]) if show_field and classes else None
figure = map_figure(
    coords,
    predictions.item_ids,
    predictions.human,
    predictions.predicted if classes else np.full(len(coords), None),
    predictions.confidence if classes else np.zeros(len(coords)),
    classes,
    colors,
    hover=hover_of(project.id, dataset.n_items, dataset),
    color_by=color_by,
    field=field,
    pictures=dataset.kind == "image",
)
event = st.plotly_chart(
    figure,
    key=f"map-{project.id}",
    on_select="rerun",
    selection_mode=("points", "box", "lasso"),
    theme=None,
)
if note := st.session_state.pop(NOTE, None):
    st.success(md(note))  # class names are plain text
selected = [str(p["customdata"]) for p in event.selection.points if p.get("customdata")]
if not selected:
    st.stop()

st.subheader(f"{items(len(selected))} selected")
for start in range(0, min(THUMBNAILS, len(selected)), 6):
    row = selected[start : min(start + 6, THUMBNAILS)]
    for column, item_id in zip(st.columns(6), row, strict=False):
        with column:
            st.caption(md(item_id))
            show_item(live.item(item_id), dataset.kind, dataset.feature_columns)
if len(selected) > THUMBNAILS:
    st.caption(f"… and {len(selected) - THUMBNAILS:,} more.")

suggested, count = most_predicted(predictions, selected)
names = project.class_names()
label_col, button_col, queue_col = st.columns([2, 1, 1], vertical_alignment="bottom")
target = label_col.selectbox(
    "Label the selection as",
    names,
    index=names.index(suggested) if suggested in names else None,
    placeholder="Pick a class",
    help=(
        f"Preset to what most of the selection is: {suggested} ({count:,} of {len(selected):,})."
        if suggested
        else "The model has no guess yet: pick the class."
    ),
)
button_col.button(
    f"Label {items(len(selected))}" + (f" as {md(target)}" if target else ""),
    type="primary",
    key="lasso_label",
    disabled=target is None,
    on_click=label_selection,
    args=(selected, target),
)
if queue_col.button("Queue for labeling", key="lasso_queue"):
    session.enqueue(selected)
    st.success(f"{items(len(selected))} will come first on the Label page.")
