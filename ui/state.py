"""Session-wide state of the studio: the store, the open project, the annotator."""

from __future__ import annotations

import getpass

import streamlit as st

from sslcore.demos import ensure_demo_projects
from sslcore.errors import StoreError
from sslcore.store import Project, Store, default_data_dir

PROJECT_KEY = "project_name"
PENDING_PROJECT_KEY = "open_project_next"
FLASH_KEY = "flash"
ANNOTATOR_KEY = "annotator"  # plain state: Streamlit drops widget state on a page switch
ANNOTATOR_INPUT_KEY = "annotator-input"


@st.cache_resource(show_spinner=False)
def _store(data_dir: str) -> Store:
    store = Store(data_dir)
    if not store.project_names():
        ensure_demo_projects(store)
    return store


def get_store() -> Store:
    """The store of the data directory (``$SSLABEL_DATA_DIR`` or ./data), shared by sessions."""
    return _store(str(default_data_dir().resolve()))


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


def _default_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return ""


def require_annotator() -> str:
    """Ask once per browser session who is labeling; pages that write labels stop until then.

    Every label event carries this name, and reservations keep two people with
    different names from being shown the same item.
    """
    if annotator():
        return annotator()
    st.subheader("Who is labeling?")
    with st.form("who"):
        name = st.text_input("Your name", value=_default_name(), max_chars=80,
                             help="Stored with every label you give.")  # fmt: skip
        if st.form_submit_button("Start labeling", type="primary") and name.strip():
            st.session_state[ANNOTATOR_KEY] = name.strip()
            st.rerun()
    st.stop()


def _use_app_navigation() -> None:
    """Make a first request for a page URL go through app.py's st.navigation.

    With a pages/ folder beside app.py, Streamlit serves the first request for
    e.g. /label straight from pages/ in its old multipage mode, with the wrong
    menu, until some run of app.py has called st.navigation. Leave that mode and
    run again: app.py then routes the same URL.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the old mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def _rename_annotator() -> None:
    if name := st.session_state[ANNOTATOR_INPUT_KEY].strip():
        st.session_state[ANNOTATOR_KEY] = name


def sidebar() -> Project | None:
    """Project picker and annotator name, shown on every page."""
    _use_app_navigation()
    store = get_store()
    names = store.project_names()
    if st.session_state.get(PENDING_PROJECT_KEY) in names:
        st.session_state[PROJECT_KEY] = st.session_state.pop(PENDING_PROJECT_KEY)
    with st.sidebar:
        if names:
            if st.session_state.get(PROJECT_KEY) not in names:
                st.session_state[PROJECT_KEY] = names[0]
            st.selectbox("Project", names, key=PROJECT_KEY)
        if annotator():
            st.session_state[ANNOTATOR_INPUT_KEY] = annotator()
            st.text_input(
                "Annotator",
                key=ANNOTATOR_INPUT_KEY,
                on_change=_rename_annotator,
                help="Stored with every label you give.",
            )
    if flash := st.session_state.pop(FLASH_KEY, None):
        st.success(flash)
    return _open_project(store, st.session_state[PROJECT_KEY]) if names else None


def require_project() -> Project:
    """The sidebar, and the open project; pages that need one stop here when there is none."""
    project = sidebar()
    if project is None:
        st.info("No project yet: create one on Projects and data.")
        st.stop()
    return project


def open_project_next(name: str, message: str) -> None:
    """Switch the sidebar to ``name`` on the next run and show ``message`` once."""
    st.session_state[PENDING_PROJECT_KEY] = name
    st.session_state[FLASH_KEY] = message
    st.rerun()
