"""The pages' handle on sslcore's labeling loop: one ProjectEngine per project per server
process, built in the background, and one LabelingSession per project per browser session."""

from __future__ import annotations

import os
import threading

import streamlit as st

from sslcore.active import DEFAULT_STRATEGY
from sslcore.errors import DataError
from sslcore.progress import BackgroundJob, describe_wait
from sslcore.session import LabelingSession, ProjectEngine
from sslcore.store import Project
from studio.components import md
from studio.state import annotator

BUILD_WAIT_SECONDS = 2.0
"""A build that ends within this long shows no progress panel (e.g. a demo read from its cache)."""
POLL_SECONDS = 1.0
BACKGROUND_FEATURES = "SSLABEL_BACKGROUND_FEATURES"
"""Set to 0 to keep text projects on TF-IDF alone: no MiniLM embeddings computed in the
background for the model selection (the browser tests do, to keep their timing steady)."""


@st.cache_resource(show_spinner=False, max_entries=4)
def _jobs(data_dir: str) -> tuple[dict[int, BackgroundJob], threading.Lock]:
    return {}, threading.Lock()


def start_engine(project: Project) -> BackgroundJob:
    """Start building the project's engine in the background (once per server process):
    features and graph (cached on disk), then the first items to ask about."""
    jobs, lock = _jobs(str(project.store.data_dir.resolve()))
    with lock:
        job = jobs.get(project.id)
        if job is None:
            job = jobs[project.id] = BackgroundJob(
                lambda progress: ProjectEngine.build(
                    project,
                    progress,
                    prepare=DEFAULT_STRATEGY,
                    offer_alternatives=os.environ.get(BACKGROUND_FEATURES, "1") != "0",
                ),
                name=f"engine-{project.id}",
            ).start()
    return job


def forget_engine(project: Project) -> None:
    """Drop a project's engine (after the project was deleted, or to build it again)."""
    jobs, lock = _jobs(str(project.store.data_dir.resolve()))
    with lock:
        jobs.pop(project.id, None)


def engine_if_ready(project: Project) -> ProjectEngine | None:
    """The project's engine brought up to its latest label events, or None while it builds.

    A build is waited for until ``BUILD_WAIT_SECONDS`` after it started, so a small or
    cached project never flashes a progress bar, and a long build holds up no run after that.
    """
    job = start_engine(project)
    if not job.wait(max(0.0, BUILD_WAIT_SECONDS - job.tracker.elapsed())):
        return None
    if isinstance(job.error, DataError):
        st.error(f"The model cannot be built for this project: {md(job.error)}")
        st.button("Try again", on_click=forget_engine, args=(project,), key="engine-retry")
        st.stop()
    live = job.result()
    live.refresh()
    return live


def project_engine(project: Project) -> ProjectEngine:
    """The project's engine; while it builds, a progress bar with the time left, and the
    page stops there (it reruns by itself when the engine is ready)."""
    live = engine_if_ready(project)
    if live is None:
        build_progress(project)
        st.stop()
    return live


@st.fragment(run_every=POLL_SECONDS)
def build_progress(project: Project) -> None:
    """How far the project's engine build is, updated every second; the whole page
    reruns once it is done."""
    job = start_engine(project)
    if job.done:
        st.rerun()
    st.progress(job.tracker.fraction, text=f"Preparing the model: {describe_wait(job.tracker)}")


def tuning_notice(live: ProjectEngine, text: str) -> None:
    """``text`` while a model selection runs in the background, and the page reruns when it
    is done, so what it shows (suggestions, confidences, bounds) is the new model's. After
    a restart the first selection takes seconds, and meanwhile the Review page showed other
    suggestions and confidences with nothing saying why."""
    if live.tuning_job is not None and not live.tuning_job.done:
        _tuning_notice(live, text)


@st.fragment(run_every=POLL_SECONDS)
def _tuning_notice(live: ProjectEngine, text: str) -> None:
    if live.tuning_job is None or live.tuning_job.done:
        st.rerun()
    st.caption(text)


def _session(project: Project, live: ProjectEngine | None, strategy: str | None):
    key = f"labeling-session-{project.id}"
    session = st.session_state.get(key)
    if session is None:
        session = st.session_state[key] = LabelingSession(live, annotator(), project=project)
    elif live is not None and session.live is not live:
        session.attach(live)
    session.annotator = annotator()
    if strategy is not None:
        session.strategy = strategy
    return session


def labeling_session(project: Project, strategy: str | None = None) -> LabelingSession:
    """This browser session's labeling loop on ``project`` (kept across reruns and pages);
    the page waits (with a progress bar) until the project's engine is ready."""
    return _session(project, project_engine(project), strategy)


def early_labeling_session(project: Project, strategy: str | None = None) -> LabelingSession:
    """Like :func:`labeling_session`, but usable while the engine builds: items then come
    in random order, and the model takes over once it is ready."""
    return _session(project, engine_if_ready(project), strategy)
