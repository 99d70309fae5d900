"""Reusable widgets. Item text is always shown as plain text, never as HTML or markdown."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

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
        help="How the next item to label is chosen:\n\n"
        + "\n".join(f"- {c.title}: {c.description}" for c in STRATEGY_CLASSES.values())
        + "\n\nBefore two classes have labels, all but Random start with representative, "
        "diverse items.",
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


KEY_GUARD = """<script>
(window.sslabelHiddenAreas ||= new Set()).add("AREA");
if (!window.sslabelKeyGuard) {
  window.sslabelKeyGuard = true;
  window.addEventListener("keydown", (event) => {
    for (const selector of window.sslabelHiddenAreas) {
      const area = document.querySelector(selector);
      if (area && getComputedStyle(area).visibility === "hidden") {
        event.stopImmediatePropagation();
        return;
      }
    }
  }, true);
}
</script>"""
"""Stops key presses while an :class:`ItemArea` is hidden; installed once per page, for
every area that asks."""


def items(count: int) -> str:
    """``count`` items, in words.

    Examples
    --------
    >>> items(1), items(1234)
    ('1 item', '1,234 items')
    """
    return f"{count:,} item" if count == 1 else f"{count:,} items"


RELEASE_FOCUS = """<script>/* REASON */ {
  const held = document.activeElement;  // in a block: the script runs again on each switch
  if (held && held.getAttribute("aria-expanded") !== "true") held.blur();
}</script>"""
"""Blurs what holds the focus, unless it is a picker open for a choice (someone clicked it
while the page was still being drawn)."""


def release_focus(reason: str) -> None:
    """Take the keyboard focus off whatever holds it (a picker in the sidebar keeps it
    after a choice, and the label keys would type into it); ``reason`` tells one call
    from the next, so the script runs again."""
    with st.sidebar:
        st.html(RELEASE_FOCUS.replace("REASON", reason), unsafe_allow_javascript=True)


class ItemArea:
    """Two places for what belongs to one item (its content, its buttons); the item's
    elements go in one of them, and whatever was shown before goes at once.

    Streamlit keeps a previous run's elements on screen, dimmed, until the new run
    replaces them one by one, and a container drawn where one was inherits the old
    one's elements: the previous item's buttons stayed clickable under the next
    item's caption. So the area alternates between two places: both are emptied
    when the area is created, and a new item goes where the previous one was not,
    with nothing to inherit. (An empty placeholder and a container sent to one
    place in one go reach the browser as the container alone, so the same item
    redrawn keeps its elements without a flicker.) Create the area before anything
    slow in the run, so an old item never waits on screen under a new title.

    ``complete_with`` names (by key prefix) the element drawn last for an item, such as
    its Skip button: until that element is in the page the area stays hidden. The
    browser draws an item's elements as they arrive, and a key pressed on seeing the
    item before its buttons were there did nothing (3 of 20 presses made the moment a
    new digit's caption showed, the buttons for its class not yet drawn).
    """

    def __init__(self, key: str, *, complete_with: str | None = None):
        self.key = key
        if complete_with:
            # Shown at once if the item's drawing failed: the error must be seen, and the
            # keys must not stay stopped.
            st.html(f"<style>.st-key-{key}:not(:has([class*='st-key-{complete_with}']))"
                    ":not(:has([data-testid=stException])) { visibility: hidden; }"
                    "</style>")  # fmt: skip
            # And no key acts while it is hidden: some of the new item's buttons may be in
            # the page already, and a press then would label an item nobody has seen.
            # (Streamlit's shortcuts listen on the document; this runs before them.)
            with st.sidebar:
                st.html(KEY_GUARD.replace("AREA", f".st-key-{key}"),
                        unsafe_allow_javascript=True)  # fmt: skip
        self._places = [st.empty(), st.empty()]

    def container(self, identity) -> DeltaGenerator:
        """The container for the item called ``identity`` (e.g. project and item id)."""
        marker = f"{self.key}-showing"
        shown, place = st.session_state.get(marker, (None, 0))
        if shown != identity:
            place = 1 - place
        st.session_state[marker] = (identity, place)
        return self._places[place].container(key=self.key)


def item_area(key: str, identity) -> DeltaGenerator:
    """:class:`ItemArea` created and filled at once."""
    return ItemArea(key).container(identity)


def show_item(row: dict, kind: str, feature_columns=(), *, location: bytes | None = None) -> None:
    """Render one item at a size a person can judge; ``location`` is a picture of where a
    table row sits on the map (:func:`studio.charts.mini_map`)."""
    if kind == "text":
        st.text(row[TEXT])  # st.text never interprets markdown or HTML
    elif kind == "image":
        st.image(display_image(row[IMAGE], DISPLAY_PIXELS), width=DISPLAY_PIXELS)
    else:
        values = pd.DataFrame([{c: row[c] for c in feature_columns}])
        st.dataframe(values.style.format(precision=3), hide_index=True)
        if location is not None:
            st.image(location, caption="Where it sits on the map (red ring)", width=200)
