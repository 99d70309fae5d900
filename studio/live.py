"""The pages' handle on sslcore's labeling loop: one ProjectEngine per project per server
process, one LabelingSession per project per browser session."""

from __future__ import annotations

import streamlit as st

from sslcore.building import EngineBuild, builds_slowly
from sslcore.errors import DataError
from sslcore.session import LabelingSession, ProjectEngine
from sslcore.store import Project
from studio.components import md
from studio.state import annotator


@st.cache_resource(show_spinner=False, max_entries=4)
def _engines(data_dir: str) -> dict[int, ProjectEngine]:
    return {}


def _registry(project: Project) -> dict[int, ProjectEngine]:
    return _engines(str(project.store.data_dir.resolve()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _background_builds(data_dir: str) -> dict[int, EngineBuild]:
    return {}


def project_engine(project: Project) -> ProjectEngine:
    """The project's engine, brought up to its latest label events; built (features and
    graph, cached on disk) with a progress bar the first time. A build that must embed the
    items runs in the background: this page shows its progress and stops meanwhile, and
    every other page and project stays usable."""
    registry = _registry(project)
    if project.id not in registry:
        try:
            registry[project.id] = _built_in_background(project) or _build(project)
        except DataError as exc:
            st.error(f"The model cannot be built for this project: {md(exc)}")
            st.stop()
    live = registry[project.id]
    live.refresh()
    return live


def _built_in_background(project: Project) -> ProjectEngine | None:
    """The background build's engine once it is done; None when the project builds quickly
    in the foreground; else shows the build's progress and stops the page."""
    builds = _background_builds(str(project.store.data_dir.resolve()))
    build = builds.get(project.id)
    if build is None:
        if not builds_slowly(project):
            return None
        build = builds[project.id] = EngineBuild(project).start()
    if build.done:
        builds.pop(project.id, None)
        return build.result()  # a DataError goes to the message above
    st.subheader("Preparing the model")
    _build_progress(build)
    st.info(
        "The items are being embedded once; the features are then cached on disk. Other "
        "projects and pages work meanwhile, and this page continues by itself when it is done."
    )
    st.stop()


@st.fragment(run_every=1.0)
def _build_progress(build: EngineBuild) -> None:
    st.progress(build.fraction, text=build.message)
    if build.done:
        st.rerun()


def forget_engine(project: Project) -> None:
    """Drop a project's engine (after the project was deleted or its features changed)."""
    _registry(project).pop(project.id, None)
    _background_builds(str(project.store.data_dir.resolve())).pop(project.id, None)


def _build(project: Project) -> ProjectEngine:
    with st.status("Preparing the model (first time only)…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            status.update(label=message)
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        live = ProjectEngine.build(project, progress=progress)
        status.update(label="Model ready", state="complete", expanded=False)
    return live


def labeling_session(project: Project, strategy: str | None = None) -> LabelingSession:
    """This browser session's labeling loop on ``project`` (kept across reruns and pages)."""
    key = f"labeling-session-{project.id}"
    live = project_engine(project)
    session = st.session_state.get(key)
    if session is None or session.live is not live:
        session = st.session_state[key] = LabelingSession(live, annotator())
    session.annotator = annotator()
    if strategy is not None:
        session.strategy = strategy
    return session
