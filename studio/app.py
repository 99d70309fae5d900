"""The studio's frame: page setup, the sidebar every page shares, and the navigation.

Streamlit runs this file on every interaction, whatever page is open, so what
it draws (the project picker and the annotator's name) is one widget for the
whole app and keeps its value across page switches. ``sslabel app`` serves this
file; ``streamlit run app.py`` from a checkout runs it through the root app.py.
"""

from pathlib import Path

import streamlit as st

from studio.state import draw_frame

PAGES = Path(__file__).parent / "app_pages"


def main() -> None:
    st.set_page_config(page_title="sslabel studio", page_icon="🏷️", layout="wide")
    navigation = st.navigation(
        [
            st.Page(PAGES / "projects.py", title="Projects and data",
                    icon=":material/folder_open:"),
            st.Page(PAGES / "label.py", title="Label", icon=":material/label:", default=True),
            st.Page(PAGES / "grid.py", title="Grid", icon=":material/grid_view:"),
            st.Page(PAGES / "review.py", title="Review suggestions",
                    icon=":material/fact_check:"),
            st.Page(PAGES / "map.py", title="Map", icon=":material/scatter_plot:"),
            st.Page(PAGES / "insights.py", title="Insights", icon=":material/insights:"),
            st.Page(PAGES / "export.py", title="Export", icon=":material/download:"),
        ]
    )  # fmt: skip
    draw_frame()
    navigation.run()


if __name__ == "__main__":
    main()
