"""Map: the data in 2-D with labels, pseudo-labels and the decision field; lasso to label."""

import numpy as np
import streamlit as st

from sslcore.projection import decision_field
from studio.charts import COLOR_BY, hover_texts, map_figure
from studio.components import md, show_item
from studio.live import labeling_session
from studio.state import require_annotator, require_project

project = require_project()
require_annotator()

st.title(f"Map · {md(project.name)}")
session = labeling_session(project)
live = session.live
predictions = live.refresh()
dataset = project.dataset()
coords, method = live.layout()
classes = predictions.classes if predictions.proba.shape[1] else []
colors = {c.name: c.color for c in project.classes()}

left, middle, right = st.columns([2, 1, 1])
color_by = left.radio("Colour by", COLOR_BY, index=1, horizontal=True, key="color_by")
show_field = middle.toggle("Decision field", value=True, key="show_field")
if method != "UMAP":
    right.button("Refresh map", help="Show UMAP once it is ready.")
st.caption(f"Layout: {method}. Large outlined circles are human labels, small diamonds the "
           f"model's labels; grey background is where the model is unsure.")  # fmt: skip

field = decision_field(coords, predictions.proba) if show_field and classes else None
figure = map_figure(
    coords,
    predictions.item_ids,
    predictions.human,
    predictions.predicted if classes else np.full(len(coords), None),
    predictions.confidence if classes else np.zeros(len(coords)),
    classes,
    colors,
    hover=hover_texts(dataset),
    color_by=color_by,
    field=field,
)
event = st.plotly_chart(
    figure, key="map", on_select="rerun", selection_mode=("box", "lasso"), theme=None
)
selected = [str(p["customdata"]) for p in event.selection.points if p.get("customdata")]
if not selected:
    st.caption("Draw a lasso or a box around points to label them together or queue them.")
    st.stop()

st.subheader(f"{len(selected):,} items selected")
columns = st.columns(min(6, len(selected)))
for column, item_id in zip(columns, selected, strict=False):
    with column:
        show_item(live.item(item_id), dataset.kind, dataset.feature_columns)
label_col, button_col, queue_col = st.columns([2, 1, 1])
target = label_col.selectbox("Label the selection as", project.class_names(), key="lasso_class")
if button_col.button(f"Label {len(selected):,} items", type="primary", key="lasso_label"):
    session.label_selection(selected, target)
    st.success(f"Labeled {len(selected):,} items as {md(target)}. Undo on the Label page (U).")
if queue_col.button("Queue for review", key="lasso_queue"):
    session.enqueue(selected)
    st.success(f"{len(selected):,} items will come first on the Label page.")
