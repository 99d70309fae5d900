"""Label: one item at a time, one button (and key) per class, the next item picked by the model."""

import streamlit as st

from sslcore.active import Suggestion
from sslcore.errors import PoolExhaustedError
from ui.components import md, review_queue, show_item, strategy_picker
from ui.model import refresh
from ui.state import annotator, require_annotator, require_project

project = require_project()
require_annotator()
strategy = strategy_picker()

CURRENT = f"current-item-{project.id}"
SKIPPED = f"skipped-{project.id}"
SESSION_COUNT = f"session-count-{project.id}"
UNDO_NOTE = "undo-note"
RESERVED_KEYS = {"C", "R", "S", "U"}  # Streamlit's own, and skip / undo

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


def pick_next() -> None:
    """Ask the model for the next item (and why) and reserve it for this annotator, passing
    over items skipped this session and items other annotators hold."""
    model, _ = refresh(project)
    skipped = st.session_state.setdefault(SKIPPED, set())
    queue = review_queue(project.id)
    while queue:
        item_id = queue.pop(0)
        if project.reserve_next([item_id], annotator=annotator()) == item_id:
            st.session_state[CURRENT] = Suggestion(item_id, 0.0, "You queued it from the map.")
            return
    held_by_others = len(project.reservations())
    try:
        batch = model.engine.query(strategy, len(skipped) + held_by_others + 1, seed=model.round)
    except PoolExhaustedError:
        st.session_state[CURRENT] = None
        return
    fresh = [s for s in batch if s.item_id not in skipped]
    if not fresh:  # only skipped items are left: offer them again
        skipped.clear()
        fresh = batch
    chosen = project.reserve_next([s.item_id for s in fresh], annotator=annotator())
    st.session_state[CURRENT] = next((s for s in fresh if s.item_id == chosen), None)


def give_label(item_id: str, class_name: str) -> None:
    project.label(item_id, class_name, annotator=annotator())
    st.session_state[SESSION_COUNT] = st.session_state.get(SESSION_COUNT, 0) + 1
    st.session_state[UNDO_NOTE] = None
    pick_next()


def skip(item_id: str) -> None:
    st.session_state.setdefault(SKIPPED, set()).add(item_id)
    pick_next()


def undo() -> None:
    undone = project.undo_last(annotator())
    if not undone:
        st.session_state[UNDO_NOTE] = "Nothing of yours to undo."
        return
    st.session_state[UNDO_NOTE] = f"Undid your last label ({len(undone)} event(s))."
    st.session_state[SESSION_COUNT] = max(0, st.session_state.get(SESSION_COUNT, 0) - 1)
    st.session_state[CURRENT] = Suggestion(undone[0].item_id, 0.0, "You undid its label.")


st.title(f"Label · {md(project.name)}")
if not classes:
    st.warning("This project has no classes yet: add them on **Projects and data**.")
    st.stop()

if CURRENT not in st.session_state:
    pick_next()
suggestion = st.session_state[CURRENT]
model, predictions = refresh(project)

done, total = int(model.engine.labeled.sum()), dataset.n_items
st.progress(
    done / total,
    text=f"{done:,} / {total:,} labeled · {st.session_state.get(SESSION_COUNT, 0)} this session",
)

if suggestion is None:
    if done < total:
        st.info("Every item left is being labeled by someone else right now.")
        st.button("Look again", on_click=pick_next)
    else:
        st.success("Every item is labeled.")
    st.button("Undo last", on_click=undo, shortcut="U")
    st.stop()

item_id = suggestion.item_id
position = model.engine.position(item_id)
row = dataset.items.iloc[position].to_dict()
left, right = st.columns([3, 2])
with left:
    st.caption(f"Item {md(item_id)}")
    show_item(row, dataset.kind, dataset.feature_columns)
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
skip_col.button("Skip", on_click=skip, args=(item_id,), shortcut="S", use_container_width=True)
undo_col.button("Undo last", on_click=undo, shortcut="U", use_container_width=True)
if st.session_state.get(UNDO_NOTE):
    st.info(st.session_state[UNDO_NOTE])
st.caption("Keys: the key shown on a class button picks it, S skips, U undoes your last label.")
