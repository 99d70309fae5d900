"""Label: one item at a time, one button (and key) per class, the next item picked by the model."""

import streamlit as st

from studio.components import md, show_item, strategy_picker
from studio.live import labeling_session
from studio.state import require_annotator, require_project

UNDO_NOTE = "undo-note"
RESERVED_KEYS = {"C", "R", "S", "U"}  # Streamlit's own, and skip / undo

project = require_project()
require_annotator()
session = labeling_session(project, strategy_picker())
live = session.live
dataset = project.dataset()
classes = project.class_names()


def shortcuts(names: list[str]) -> list[str | None]:
    """A class's own name when every name is one distinct key (digits "0"-"9");
    else 1-9 for the first nine classes and 0 for the tenth."""
    keys = [n.upper() for n in names]
    if all(len(k) == 1 and k.isalnum() and k not in RESERVED_KEYS for k in keys):
        if len(set(keys)) == len(keys):
            return keys
    return [str(p + 1) if p < 9 else ("0" if p == 9 else None) for p in range(len(names))]


def give_label(item_id: str, class_name: str) -> None:
    if session.label(item_id, class_name) is not None:
        st.session_state[UNDO_NOTE] = None


def undo() -> None:
    undone = session.undo()
    if undone:
        st.session_state[UNDO_NOTE] = f"Undid your last label ({len(undone)} event(s))."
    else:
        st.session_state[UNDO_NOTE] = "Nothing of yours to undo."


st.title(f"Label · {md(project.name)}")
if not classes:
    st.warning("This project has no classes yet: add them on **Projects and data**.")
    st.stop()

if session.current is None:
    session.next_item()
suggestion = session.current
predictions = live.refresh()

done, total = int(live.engine.labeled.sum()), dataset.n_items
st.progress(
    done / total, text=f"{done:,} / {total:,} labeled · {session.labeled_count} this session"
)

if suggestion is None:
    if done < total:
        st.info("Every item left is being labeled by someone else right now.")
        st.button("Look again", on_click=session.next_item)
    else:
        st.success("Every item is labeled.")
    st.button("Undo last", on_click=undo, shortcut="U")
    st.stop()

item_id = suggestion.item_id
position = live.engine.position(item_id)
left, right = st.columns([3, 2])
with left:
    st.caption(f"Item {md(item_id)}")
    show_item(live.item(item_id), dataset.kind, dataset.feature_columns)
with right:
    st.caption("Why this item")
    st.text(suggestion.reason)
    if predictions.proba.shape[1] and done:
        st.caption("Model's guess")
        st.text(
            f"{predictions.predicted[position]}  ({predictions.confidence[position]:.0%} confident)"
        )

buttons = st.columns(min(len(classes), 5))
for position, (class_name, key) in enumerate(zip(classes, shortcuts(classes), strict=True)):
    buttons[position % len(buttons)].button(
        md(class_name),
        key=f"class-{position}",
        on_click=give_label,
        args=(item_id, class_name),
        shortcut=key,
        use_container_width=True,
    )

skip_col, undo_col, _ = st.columns([1, 1, 3])
skip_col.button("Skip", on_click=session.skip, args=(item_id,), shortcut="S",
                use_container_width=True)  # fmt: skip
undo_col.button("Undo last", on_click=undo, shortcut="U", use_container_width=True)
if st.session_state.get(UNDO_NOTE):
    st.info(st.session_state[UNDO_NOTE])
st.caption("Keys: the key shown on a class button picks it, S skips, U undoes your last label.")
