"""Grid: many similar items at once; leave out the odd ones, label the rest in one action."""

import streamlit as st

from sslcore.grid import (
    DEFAULT_GRID_SIZE,
    GRID_SIZES,
    cluster_grid,
    confident_grid,
    neighbour_grid,
    tile_keys,
)
from sslcore.keys import class_keys
from sslcore.session import describe_events
from studio.components import item_area, items, md, show_item
from studio.live import labeling_session
from studio.state import require_annotator, require_project

CONFIDENT, CLUSTER, NEIGHBOURS = "Most sure of a class", "Similar items", "Neighbours of an item"
COLUMNS = 6

project = require_project()
require_annotator()
st.title(f"Grid · {md(project.name)}")
session = labeling_session(project)
live = session.live
dataset = project.dataset()
classes = project.classes()
names = [c.name for c in classes]
GRID, ODD, SEEN, NOTE = (f"grid-{what}-{project.id}" for what in ("grid", "odd", "seen", "note"))
seen: set[str] = st.session_state.setdefault(SEEN, set())
if not classes:
    st.warning("This project has no classes yet: add them on **Projects and data**.")
    st.stop()

mode_col, choice_col, size_col = st.columns([3, 2, 1])
mode = mode_col.radio("Show", (CONFIDENT, CLUSTER, NEIGHBOURS), horizontal=True, key="grid_mode")
predicted = [n for n in names if n in live.predictions.classes]
choice = None
if mode == CONFIDENT:
    if not predicted:
        st.info("Label a few items first: the model then says which items it is surest about.")
        st.stop()
    choice = choice_col.selectbox("Class", predicted, key="grid_class")
elif mode == NEIGHBOURS:
    last = session.last_action()
    choice = choice_col.text_input(
        "Item id", value=last[-1].item_id if last else "", key="grid_item",
        help="By default the item you labeled last.",
    ).strip()  # fmt: skip
size = size_col.selectbox("Items", GRID_SIZES, index=GRID_SIZES.index(DEFAULT_GRID_SIZE))


def make_grid():
    if mode == CONFIDENT:
        return confident_grid(live.refresh(), choice, size, exclude=seen)
    if mode == NEIGHBOURS:
        if choice not in project.item_ids():
            st.info("Give the id of an item to see it with its nearest unlabeled neighbours.")
            st.stop()
        return neighbour_grid(live.engine, choice, size, exclude=seen)
    return cluster_grid(live.engine, size, exclude=seen)


def toggle(item_id: str) -> None:
    st.session_state[ODD] = st.session_state.get(ODD, frozenset()) ^ {item_id}


def done_with(shown) -> None:
    seen.update(shown)
    st.session_state.pop(GRID, None)  # the next run draws the next grid
    st.session_state.pop(ODD, None)


def label_rest(shown: tuple[str, ...], odd: tuple[str, ...], class_name: str) -> None:
    _, count = session.label_grid(shown, odd, class_name)
    st.session_state[NOTE] = (
        f"Labeled {items(count)} as {class_name}; left out {len(odd):,}. U undoes them at once."
    )
    done_with(shown)


def forget_seen() -> None:
    seen.clear()
    st.session_state.pop(GRID, None)


def undo() -> None:
    undone = session.undo()
    what = describe_events(undone, project.class_names_by_id())
    st.session_state[NOTE] = f"Undid {what}." if undone else "Nothing of yours to undo."


params = (mode, choice, size)
kept = st.session_state.get(GRID)
if kept is None or kept[0] != params:
    kept = st.session_state[GRID] = (params, make_grid())
    st.session_state.pop(ODD, None)
grid = kept[1]
odd = st.session_state.get(ODD, frozenset())
if note := st.session_state.get(NOTE):
    st.success(md(note))
if not grid.item_ids:
    st.info(grid.title)
    st.button("Show again the items seen before", on_click=forget_seen)
    st.stop()

keys = class_keys(project)
tiles = tile_keys(len(grid.item_ids), taken=[*keys, "N"])
rest = len(grid.item_ids) - len(odd & set(grid.item_ids))
st.subheader(md(grid.title))
st.caption("Press a tile's key (or click it) to leave out an item that does not belong; then "
           "Enter labels the rest as the proposed class, or a class's key as that class. "
           "N shows the next grid, U undoes.")  # fmt: skip

with item_area("grid-area", (project.id, grid.item_ids)):
    for start in range(0, len(grid.item_ids), COLUMNS):
        row = grid.item_ids[start : start + COLUMNS]
        for column, item_id, key in zip(st.columns(COLUMNS), row, tiles[start:],
                                        strict=False):  # fmt: skip
            left_out = item_id in odd
            with column.container(border=True):
                st.caption(md(f"{item_id} · left out" if left_out else item_id))
                show_item(live.item(item_id), dataset.kind, dataset.feature_columns)
                st.button(
                    "Put back" if left_out else "Leave out",
                    key=f"grid-toggle-{project.id}-{item_id}",
                    on_click=toggle,
                    args=(item_id,),
                    shortcut=key,
                    type="primary" if left_out else "secondary",
                    width="stretch",
                )
    shown, left = grid.item_ids, tuple(sorted(odd & set(grid.item_ids)))
    target_col, go_col = st.columns([2, 3], vertical_alignment="bottom")
    target = target_col.selectbox(
        "Label the rest as",
        names,
        index=names.index(grid.proposed) if grid.proposed in names else None,
        placeholder="Pick a class",
        key=f"grid-target-{project.id}-{hash(shown)}",
    )
    go_col.button(
        f"Label {items(rest)}" + (f" as {md(target)}" if target else ""),
        key=f"grid-label-{project.id}-{hash(shown)}",
        type="primary",
        shortcut="Enter",
        disabled=target is None or rest == 0,
        on_click=label_rest,
        args=(shown, left, target),
    )
    by_class = st.columns(min(len(classes), 6))
    for slot, (info, key) in enumerate(zip(classes, keys, strict=True)):
        by_class[slot % len(by_class)].button(
            f"Rest as {md(info.name)}",
            key=f"grid-as-{project.id}-{info.id}-{hash(shown)}",
            shortcut=key,
            on_click=label_rest,
            args=(shown, left, info.name),
            disabled=rest == 0,
            width="stretch",
        )

next_col, undo_col, _ = st.columns([1, 1, 3])
next_col.button("Next grid", key=f"grid-next-{project.id}", shortcut="N", on_click=done_with,
                args=(grid.item_ids,), width="stretch")  # fmt: skip
undo_col.button("Undo last", key=f"grid-undo-{project.id}", shortcut="U", on_click=undo,
                width="stretch")  # fmt: skip
