"""Export: the labeled data with the source of every label, and the trained model."""

import streamlit as st

from sslcore.export import FORMATS, export_table, to_bytes
from ui.components import md
from ui.model import model_file, predictions_table
from ui.state import require_project

MODEL_KEY = "trained-model"
MIME = {"csv": "text/csv", "parquet": "application/octet-stream", "jsonl": "application/jsonl"}

project = require_project()

st.title(f"Export · {md(project.name)}")
include_model = st.toggle(
    "Fill unlabeled items with the model's prediction (source 'model')", value=False
)
only_labeled = st.toggle("Only items with a label", value=False)
predictions = predictions_table(project) if include_model else None
table = export_table(project, predictions=predictions, include_unlabeled=not only_labeled)

counts = table["source"].value_counts(dropna=False).rename_axis("source").reset_index()
st.dataframe(counts, hide_index=True)
st.dataframe(table.head(200), hide_index=True)

columns = st.columns(len(FORMATS) + 1)
stem = "".join(c if c.isalnum() else "-" for c in project.name).strip("-") or "export"
for column, fmt in zip(columns, FORMATS, strict=False):
    column.download_button(
        f"Download {fmt.upper()}",
        data=to_bytes(table, fmt),
        file_name=f"{stem}.{fmt}",
        mime=MIME[fmt],
        key=f"download-{fmt}",
    )
version = (project.id, project.state().last_event_id)
cached = st.session_state.get(MODEL_KEY)
if cached is None or cached[0] != version:
    if columns[-1].button("Train model", key="train", help="Fits on the current labels."):
        with st.spinner("Training on the current labels…"):
            st.session_state[MODEL_KEY] = (version, model_file(project))
        cached = st.session_state[MODEL_KEY]
if cached is not None and cached[0] == version:
    if cached[1] is None:
        st.warning("The model needs labels in at least two classes.")
    else:
        columns[-1].download_button(
            "Download model (.joblib)", data=cached[1], file_name=f"{stem}-model.joblib",
            key="model",
        )  # fmt: skip
st.caption("The README shows how to load the model file and predict with it.")
