"""Reusable widgets. Item text is always shown as plain text, never as HTML or markdown."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from sslcore.active import DEFAULT_STRATEGY, STRATEGIES, STRATEGY_CLASSES
from sslcore.dataset import IMAGE, TEXT
from sslcore.images import display_image

DISPLAY_PIXELS = 256


def strategy_picker(key: str = "strategy") -> str:
    """The active-learning strategy, picked in the sidebar."""
    return st.sidebar.selectbox(
        "Next item by",
        STRATEGIES,
        index=STRATEGIES.index(DEFAULT_STRATEGY),
        format_func=lambda name: STRATEGY_CLASSES[name].title,
        key=key,
        help="How the next item to label is chosen. Before two classes have labels, the "
        "uncertainty strategies pick representative, diverse items.",
    )


def cached_for(key: str, version, compute=None):
    """A value kept in this browser session while ``version`` stays the same.

    Returns the kept value when its version matches; else computes it when
    ``compute`` is given (e.g. after a button press) and keeps it; else None.
    """
    kept = st.session_state.get(key)
    if kept is not None and kept[0] == version:
        return kept[1]
    if compute is None:
        return None
    value = compute()
    st.session_state[key] = (version, value)
    return value


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&])")
# GitHub's autolinks (http://..., www...., a@b.c) are found in the text after escapes and
# character references are decoded, so neither stops them; an invisible word joiner
# (U+2060) between "http" and "://", "www" and ".", or before "@" does.
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\\\.)|(?=@)")
WORD_JOINER = "\u2060"


def md(value) -> str:
    """A user's string (project, class or item name) made inert inside Streamlit markdown:
    no link, image, emphasis or HTML in it takes effect, and it reads as typed.

    Examples
    --------
    >>> print(md("**bold** <b>"))
    \\*\\*bold\\*\\* \\<b\\>
    >>> "http" + WORD_JOINER + "://" in md("http://h.example/a.png")
    True
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))
    return _AUTOLINK.sub(WORD_JOINER, escaped)


def show_item(row: dict, kind: str, feature_columns=()) -> None:
    """Render one item at a size a person can judge."""
    if kind == "text":
        st.text(row[TEXT])  # st.text never interprets markdown or HTML
    elif kind == "image":
        st.image(display_image(row[IMAGE], DISPLAY_PIXELS), width=DISPLAY_PIXELS)
    else:
        values = {c: row[c] for c in feature_columns}
        st.dataframe(pd.DataFrame([values]), hide_index=True)
