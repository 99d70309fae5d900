"""The project page's deep-training panel: start a background job on an image project,
follow its progress and time left, cancel it. Jobs live per server process (one per
project), so a page switch or a reload finds the running job again."""

from __future__ import annotations

import os

import streamlit as st

from sslcore.errors import DataError
from sslcore.store import Project
from studio.components import md

METHOD_NAMES = {
    "fixmatch": "FixMatch: class probabilities",
    "mean_teacher": "Mean teacher: class probabilities",
    "pi": "Pi-model: class probabilities",
    "vae": "VAE: an embedding (no labels needed)",
    "simclr": "SimCLR: an embedding (no labels needed)",
}
DEFAULT_STEPS = 600


@st.cache_resource(show_spinner=False)
def _jobs(data_dir: str) -> dict:
    return {}


def _registry(project: Project) -> dict:
    return _jobs(str(project.store.data_dir.resolve()))


def training_job(project: Project):
    """The project's latest training job in this server process, or ``None``."""
    return _registry(project).get(project.id)


def training_panel(project: Project) -> None:
    """Draw the panel for an image project (a note on how to install the extra otherwise)."""
    from sslcore.deep import require_torch

    st.header("Deep model for images")
    try:
        require_torch()
    except DataError as exc:
        st.info(str(exc))
        return
    job = training_job(project)
    if job is None or job.state != "running":
        _start_form(project)
    _status(project)


def _start_form(project: Project) -> None:
    from sslcore.deep.cli import MODELS_FOLDER, project_images
    from sslcore.deep.jobs import TrainingJob

    with st.form("deep-train"):
        method = st.selectbox("Method", list(METHOD_NAMES), format_func=METHOD_NAMES.get)
        steps = st.number_input("Training steps", min_value=1, value=DEFAULT_STEPS, step=100)
        start = st.form_submit_button("Start training")
    if not start:
        return
    images, labels, ids = project_images(project)
    # One core stays with the studio so pages keep answering while the job trains.
    threads = max(1, (os.cpu_count() or 2) - 1)
    _registry(project)[project.id] = TrainingJob(
        method, images, labels, ids, project.folder / MODELS_FOLDER,
        params={"steps": int(steps)}, threads=threads,
    ).start()  # fmt: skip
    st.rerun()


def _status(project: Project) -> None:
    job = training_job(project)
    if job is None:
        return
    running = job.state == "running"

    @st.fragment(run_every=1.0 if running else None)
    def follow() -> None:
        current = training_job(project)
        if current is None:
            return
        st.progress(min(max(current.fraction, 0.0), 1.0), text=current.message)
        if current.state == "running":
            if st.button("Cancel training", key="deep-cancel"):
                current.cancel()
        elif current.state == "done":
            files = current.result
            saved = files.predictions or files.embedding
            st.success(f"{current.method} finished: model and outputs saved as "
                       f"{md(files.model.name)} and {md(saved.name)}")  # fmt: skip
        elif current.state == "failed":
            st.error(f"Training failed: {md(current.error)}")
        elif current.state == "cancelled":
            st.warning("Training was cancelled; nothing was saved.")
        if running and current.state != "running":
            st.rerun()  # the job ended: redraw the page with the start form

    follow()
