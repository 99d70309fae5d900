"""Reusable widgets. Item text is always shown as plain text, never as HTML or markdown."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from sslcore.dataset import IMAGE, TEXT
from sslcore.images import display_image

DISPLAY_PIXELS = 256
STRATEGY_NAMES = {
    "margin": "Margin (smallest gap between the top two classes)",
    "least_confidence": "Least confidence",
    "entropy": "Entropy",
    "density_margin": "Margin, weighted by density",
    "disagreement": "Propagation vs self-training disagreement",
    "cold_start": "Diversity (representative, spread-out items)",
    "random": "Random",
}


def review_queue(project_id: int) -> list[str]:
    """Items queued (e.g. from the map) to be shown first on the Label page, this session."""
    return st.session_state.setdefault(f"review-queue-{project_id}", [])


def strategy_picker(key: str = "strategy") -> str:
    """The active-learning strategy, picked in the sidebar."""
    return st.sidebar.selectbox(
        "Next item by",
        list(STRATEGY_NAMES),
        format_func=STRATEGY_NAMES.get,
        key=key,
        help="How the next item to label is chosen. Before two classes have labels, the "
        "uncertainty strategies pick representative, diverse items.",
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(value) -> str:
    """A user's string (project, class or item name) made inert inside Streamlit markdown:
    no link, image, emphasis or HTML in it takes effect."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def show_item(row: dict, kind: str, feature_columns=()) -> None:
    """Render one item at a size a person can judge."""
    if kind == "text":
        st.text(row[TEXT])  # st.text never interprets markdown or HTML
    elif kind == "image":
        st.image(display_image(row[IMAGE], DISPLAY_PIXELS), width=DISPLAY_PIXELS)
    else:
        values = {c: row[c] for c in feature_columns}
        st.dataframe(pd.DataFrame([values]), hide_index=True)
