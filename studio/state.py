"""What the frame owns for every page: the store, the open project, the annotator.

The project and the annotator live in session-state keys the frame owns and in
the URL (``?project=…&annotator=…``), so they survive page switches, reloads,
and a link sent to someone else.
"""

from __future__ import annotations

import streamlit as st

from sslcore.demos import ensure_demo_projects
from sslcore.errors import StoreError
from sslcore.store import Project, Store, default_data_dir
from studio.auth import signed_in
from studio.components import md

PROJECT_KEY = "project_name"
PENDING_PROJECT_KEY = "open_project_next"
FLASH_KEY = "flash"
ANNOTATOR_KEY = "annotator"
ANNOTATOR_INPUT_KEY = "annotator-input"


@st.cache_resource(show_spinner=False)
def _store(data_dir: str) -> Store:
    store = Store(data_dir)
    if not store.project_names():
        ensure_demo_projects(store)
    return store


def get_store() -> Store:
    """The store of the data directory (``$SSLABEL_DATA_DIR`` or ./data), shared by sessions.

    A store that cannot be opened (a lost or damaged database, a read-only folder) stops
    the page with the store's message, which names the path and the fix."""
    try:
        return _store(str(default_data_dir().resolve()))
    except StoreError as error:
        st.error(md(error))
        st.stop()


@st.cache_resource(show_spinner=False, max_entries=8)
def _project(data_dir: str, name: str) -> Project:
    return _store(data_dir).open_project(name)


def forget_project(name: str) -> None:
    """Drop the cached handle of a project (after it was deleted or renamed)."""
    _project.clear()


def _open_project(store: Store, name: str) -> Project | None:
    try:
        return _project(str(store.data_dir.resolve()), name)
    except StoreError:  # deleted by someone else since the list was read
        forget_project(name)
        return None


def annotator() -> str:
    """The annotator's name for this browser session (see :func:`require_annotator`)."""
    return st.session_state.get(ANNOTATOR_KEY, "").strip()


def _set_annotator(name: str) -> None:
    st.session_state[ANNOTATOR_KEY] = name
    st.query_params["annotator"] = name


def require_annotator() -> str:
    """Ask once who is labeling; pages that write labels stop until then.

    Every label event carries this name, and reservations keep two people with
    different names from being shown the same item.
    """
    if annotator():
        return annotator()
    st.subheader("Who is labeling?")
    with st.form("who"):
        name = st.text_input("Your name", max_chars=80, help="Stored with every label you give.")
        if st.form_submit_button("Start labeling", type="primary") and name.strip():
            _set_annotator(name.strip())
            st.rerun()
    st.stop()


def _rename_annotator() -> None:
    if name := st.session_state[ANNOTATOR_INPUT_KEY].strip():
        _set_annotator(name)


def _pick_project(names: list[str]) -> None:
    """Settle which project is open: one just created, else the one in session state, else
    the one in the URL, else the first."""
    pending = st.session_state.pop(PENDING_PROJECT_KEY, None)
    if pending in names:
        st.session_state[PROJECT_KEY] = pending
    elif st.session_state.get(PROJECT_KEY) not in names:
        from_url = st.query_params.get("project")
        st.session_state[PROJECT_KEY] = from_url if from_url in names else names[0]


def draw_frame() -> None:
    """The project picker and the annotator's name in the sidebar, and a one-time message
    above the page; drawn once per run by the frame (studio/app.py)."""
    store = get_store()
    names = store.project_names()
    if ANNOTATOR_KEY not in st.session_state and st.query_params.get("annotator"):
        st.session_state[ANNOTATOR_KEY] = st.query_params["annotator"].strip()[:80]
    with st.sidebar:
        if names:
            _pick_project(names)
            st.selectbox("Project", names, key=PROJECT_KEY)
            st.query_params["project"] = st.session_state[PROJECT_KEY]
        if annotator():
            st.session_state[ANNOTATOR_INPUT_KEY] = annotator()
            st.text_input(
                "Annotator",
                key=ANNOTATOR_INPUT_KEY,
                on_change=_rename_annotator,
                help="Stored with every label you give.",
                disabled=signed_in(),  # a signed-in person labels under their account
            )
            st.query_params["annotator"] = annotator()
    if flash := st.session_state.pop(FLASH_KEY, None):
        st.success(flash)


def current_project() -> Project | None:
    """The project open in the sidebar, or None when there is none."""
    name = st.session_state.get(PROJECT_KEY)
    return _open_project(get_store(), name) if name else None


def require_project() -> Project:
    """The open project; pages that need one stop here when there is none."""
    project = current_project()
    if project is None:
        st.info("No project yet: create one on Projects and data.")
        st.stop()
    try:
        project.dataset()  # read once per project handle; a missing items file stops here
    except StoreError as error:
        st.error(md(error))
        st.stop()
    return project


def open_project_next(name: str, message: str) -> None:
    """Switch the sidebar to ``name`` on the next run and show ``message`` once."""
    st.session_state[PENDING_PROJECT_KEY] = name
    st.session_state[FLASH_KEY] = message
    st.rerun()
