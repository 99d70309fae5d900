"""Export: the labeled data with the source of every label, and the trained model."""

import streamlit as st

from sslcore.export import FORMATS, export_table, images_zip, model_file, to_bytes
from studio.components import cached_for, md
from studio.live import engine_if_ready, project_engine
from studio.state import require_project

MODEL_KEY = "trained-model"
MIME = {"csv": "text/csv", "parquet": "application/octet-stream", "jsonl": "application/jsonl"}

project = require_project()

st.title(f"Export · {md(project.name)}")
include_model = st.toggle(
    "Fill unlabeled items with the model's prediction (source 'model')", value=False
)
only_labeled = st.toggle("Only items with a label", value=False)
predictions = project_engine(project).prediction_table() if include_model else None
table = export_table(project, predictions=predictions, include_unlabeled=not only_labeled)

sources = table["source"].astype(object).fillna("unlabeled")
counts = sources.value_counts().rename_axis("source").reset_index()
st.dataframe(counts, hide_index=True)
# The preview shows labeled rows first and says "unlabeled" where the file has an empty cell.
preview = table.sort_values("label", key=lambda label: label.isna(), kind="stable").head(200)
preview = preview.fillna({"label": "unlabeled", "source": "", "picked": ""})
st.caption(f"The first {len(preview):,} of {len(table):,} rows, labeled ones first.")
st.dataframe(preview, hide_index=True)

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
if project.kind == "image":
    st.download_button(
        "Download the images (.zip)",
        data=images_zip(project.dataset()),
        file_name=f"{stem}-images.zip",
        mime="application/zip",
        key="download-images",
        help="The content column names each image's file in this archive.",
    )
version = (project.id, project.state().last_event_id)
trained = cached_for(MODEL_KEY, version)
if trained is None and columns[-1].button("Train model", key="train",
                                          help="Fits on the current labels."):  # fmt: skip
    with st.spinner("Training on the current labels…"):
        # The features the project's model chose (e.g. TF-IDF+MiniLM over TF-IDF), so the
        # file predicts as the studio does; the project's own while its engine builds. Asked
        # only on a click: opening Export does not start the engine.
        live = engine_if_ready(project)
        features = live.engine.features_in_use if live is not None else None
        trained = cached_for(MODEL_KEY, version, lambda: model_file(project, features) or b"")
if trained == b"":
    st.warning("The model needs labels in at least two classes.")
elif trained is not None:
    columns[-1].download_button(
        "Download model (.joblib)", data=trained, file_name=f"{stem}-model.joblib", key="model"
    )
if project.kind == "image":
    from sslcore.deep.cli import MODELS_FOLDER
    from sslcore.deep.jobs import saved_models

    # Networks trained on the Projects page: load with sslcore.deep.load_model (README).
    for method, path in saved_models(project.folder / MODELS_FOLDER).items():
        st.download_button(
            f"Download the {method} network (.pt)", data=path.read_bytes(),
            file_name=f"{stem}-{method}.pt", key=f"network-{method}",
        )  # fmt: skip
st.caption("The README shows how to load the model file and predict with it.")
