"""The studio's frame: page setup, the sidebar every page shares, and the navigation.

Streamlit runs this file on every interaction, whatever page is open, so what
it draws (the project picker and the annotator's name) is one widget for the
whole app and keeps its value across page switches. ``sslabel app`` serves this
file; ``streamlit run app.py`` from a checkout runs it through the root app.py.
"""

from pathlib import Path

import streamlit as st
from sqlalchemy.exc import DatabaseError

from sslcore.store.files import database_error
from studio.auth import page_allowed, require_sign_in, sign_out_button
from studio.components import md
from studio.state import draw_frame, get_store

PAGES = Path(__file__).parent / "app_pages"


def main() -> None:
    st.set_page_config(page_title="sslabel studio", page_icon="🏷️", layout="wide")
    require_sign_in(get_store())
    pages = [
        ("projects.py", dict(title="Projects and data", icon=":material/folder_open:")),
        ("label.py", dict(title="Label", icon=":material/label:", default=True)),
        ("grid.py", dict(title="Grid", icon=":material/grid_view:")),
        ("review.py", dict(title="Review suggestions", icon=":material/fact_check:")),
        ("conflicts.py", dict(title="Conflicts", icon=":material/rule:")),
        ("map.py", dict(title="Map", icon=":material/scatter_plot:")),
        ("insights.py", dict(title="Insights", icon=":material/insights:")),
        ("export.py", dict(title="Export", icon=":material/download:")),
    ]
    navigation = st.navigation(
        [st.Page(PAGES / name, **options) for name, options in pages if page_allowed(name)]
    )
    try:
        draw_frame()
        sign_out_button()
        navigation.run()
    except DatabaseError as error:  # a page the database cannot read, met after opening it
        store = get_store()
        st.error(md(database_error(store.location, error, store.data_dir)))


if __name__ == "__main__":
    main()
