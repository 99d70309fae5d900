"""Label: one item at a time, one button (and key) per class, the next item picked by the model."""

import streamlit as st

from sslcore.keys import class_keys
from sslcore.session import describe_events
from studio.charts import mini_map
from studio.components import ItemArea, md, release_focus, show_item, strategy_picker
from studio.live import build_progress, early_labeling_session
from studio.state import require_annotator, require_project

project = require_project()
require_annotator()
st.title(f"Label · {md(project.name)}")
# Every place on the page is laid out before anything that may wait (a build starting):
# what the previous run showed (another project's item, after a switch) goes at once.
building, progress = st.empty(), st.empty()
area = ItemArea("label-item", complete_with="skip-")  # Skip is drawn last for each item
if st.session_state.get("label-project") != project.id:
    # Just picked in the sidebar, the picker still has the keyboard: "1" would type there.
    st.session_state["label-project"] = project.id
    release_focus(f"project {project.id}")
session = early_labeling_session(project, strategy_picker())
live = session.live
dataset = project.dataset()
classes = project.classes()
NOTE = f"label-note-{project.id}"  # a note belongs to its project, never shown on another


def give_label(item_id: str, class_name: str) -> None:
    if session.label(item_id, class_name) is not None:
        st.session_state.pop(NOTE, None)


def undo() -> None:
    undone = session.undo()
    what = describe_events(undone, project.class_names_by_id())
    st.session_state[NOTE] = f"Undid {what}." if undone else "Nothing of yours to undo."


def undo_button(key: str) -> None:
    st.button("Undo last", key=key, on_click=undo, shortcut="U", width="stretch")


if not classes:
    st.warning("This project has no classes yet: add them on **Projects and data**.")
    st.stop()
if live is None:
    with building.container():
        build_progress(project)
        st.caption("Meanwhile, label items picked at random: the model learns from them once "
                   "ready.")  # fmt: skip

if session.current is None:
    session.next_item()
suggestion = session.current
done, total = len(project.state().labels), dataset.n_items
progress.progress(
    done / total, text=f"{done:,} / {total:,} labeled · {session.labeled_count} this session"
)

if suggestion is None:
    if done < total:
        st.info("Every item left is being labeled by someone else right now.")
        st.button("Look again", on_click=session.next_item)
    else:
        st.success("Every item is labeled.")
    undo_button(f"undo-{project.id}")
    if st.session_state.get(NOTE):
        st.info(st.session_state[NOTE])
    st.stop()

item_id = suggestion.item_id
# Everything drawn for this item, its buttons included, goes when the item changes; every
# button's key and arguments carry the item it was drawn for, so a press that reaches the
# server after the screen moved on is refused (LabelingSession.label), never given to another.
with area.container((project.id, item_id)):
    position = live.engine.position(item_id) if live is not None else None
    left, right = st.columns([3, 2])
    with left:
        st.caption(f"Item {md(item_id)}")
        location = None
        if dataset.kind == "tabular" and live is not None:
            location = mini_map(live.layout()[0], position)
        show_item(live.item(item_id) if live else dataset.content_of(item_id), dataset.kind,
                  dataset.feature_columns, location=location)  # fmt: skip
    with right:
        st.caption("Why this item")
        st.text(suggestion.reason)
        if live is not None and live.predictions.proba.shape[1] and done:
            # Calibrated: the first figure is the probability that the guess is right.
            predictions = live.predictions
            proba, names = predictions.proba[position], predictions.classes
            shown = [predictions.confidence[position]]
            ranked = sorted(range(len(names)), key=lambda c: -proba[c])[:2]
            shown += [proba[c] for c in ranked[1:]]
            st.caption("Model's guess (chance it is right)")
            guesses = zip(ranked, shown, strict=True)
            st.text(", then ".join(f"{names[c]} ({p:.0%})" for c, p in guesses))

    buttons = st.columns(min(len(classes), 5))
    for slot, (info, key) in enumerate(zip(classes, class_keys(project), strict=True)):
        buttons[slot % len(buttons)].button(
            md(info.name),
            key=f"label-{project.id}-{item_id}-{info.id}",
            on_click=give_label,
            args=(item_id, info.name),
            shortcut=key,
            width="stretch",
        )
    skip_col, _ = st.columns([1, 4])
    skip_col.button("Skip", key=f"skip-{project.id}-{item_id}", on_click=session.skip,
                    args=(item_id,), shortcut="S", width="stretch")  # fmt: skip

# Undo acts on no particular item (it undoes this person's last action), so it stays put
# outside the item's area.
undo_col, _ = st.columns([1, 4])
with undo_col:
    undo_button(f"undo-{project.id}")
if st.session_state.get(NOTE):
    st.info(st.session_state[NOTE])
last = session.last_action()
if len(last) > 1:
    st.warning(f"U now undoes {md(describe_events(last, project.class_names_by_id()))}, "
               f"all at once.")  # fmt: skip
st.caption("Keys: the key shown on a class button picks it, S skips, U undoes your last "
           "action (a label, an accept or a whole batch). Keys per class can be changed on "
           "Projects and data.")  # fmt: skip
