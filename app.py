"""The labeling studio: `streamlit run app.py` (or `sslabel app`)."""

import streamlit as st

st.set_page_config(page_title="sslabel studio", page_icon="🏷️", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/projects.py", title="Projects and data", icon=":material/folder_open:"),
        st.Page("pages/label.py", title="Label", icon=":material/label:", default=True),
        st.Page("pages/review.py", title="Review suggestions", icon=":material/fact_check:"),
        st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
        st.Page("pages/insights.py", title="Insights", icon=":material/insights:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
    ]
)
navigation.run()
