"""Projects and data: create a project from a demo or an upload, manage its classes."""

import tempfile
from pathlib import Path

import streamlit as st

from sslcore import embeddings
from sslcore.demos import DEMO_DESCRIPTIONS, DEMOS, create_demo_project
from sslcore.errors import DataError, StoreError
from sslcore.features import (
    SETTING,
    check_method,
    feature_choices,
    method_from_user,
    project_method,
)
from sslcore.keys import RESERVED_KEYS, class_keys, reset_keys, save_keys
from sslcore.loaders import (
    IMAGE_SUFFIXES,
    dataset_from_table,
    guess_columns,
    load_images,
    read_table,
)
from studio.components import md
from studio.live import forget_engine, start_engine
from studio.state import PROJECT_KEY, current_project, forget_project, get_store, open_project_next
from studio.training import training_panel

NO_COLUMN = "(none)"
ROW_NUMBER = "(row number)"

project = current_project()
store = get_store()
st.title("Projects and data")

projects = store.list_projects()
if projects.empty:
    st.info("No projects yet: create one below.")
else:
    st.dataframe(
        projects[["name", "kind", "n_items", "n_labeled"]].rename(
            columns={"n_items": "items", "n_labeled": "labeled"}
        ),
        hide_index=True,
    )


def _created(created, warnings=()) -> None:
    start_engine(created)  # features and graph get going now, not when Label is opened
    notes = "".join(f"\n\nNote: {md(w)}" for w in warnings)
    open_project_next(
        created.name,
        f"Created project {md(created.name)}. The model is being prepared in the background; "
        f"you can start labeling on Label right away.{notes}",
    )


st.header("New project")
from_demo, from_file = st.tabs(["From a demo", "From a file"])

with from_demo:
    demo = st.selectbox("Demo", DEMOS, format_func=lambda d: DEMO_DESCRIPTIONS[d])
    demo_name = st.text_input("Project name", value=f"{demo} demo", key="demo_name")
    if st.button("Create demo project", type="primary"):
        try:
            _created(create_demo_project(store, demo, demo_name))
        except StoreError as exc:
            st.error(md(exc))

with from_file:
    upload = st.file_uploader(
        "CSV, TSV, Parquet, JSONL, or a .zip of images (one sub-folder per class)",
        type=["csv", "tsv", "txt", "parquet", "jsonl", "ndjson", "zip"],
    )
    if upload is not None:
        safe_name = Path(upload.name).name  # never trust a path in an uploaded name
        stem = Path(safe_name).stem
        try:
            if safe_name.lower().endswith(".zip"):
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "upload.zip"
                    path.write_bytes(upload.getvalue())
                    dataset = load_images(path, name=safe_name)
                st.write(
                    f"{dataset.n_items} images, classes: {md(', '.join(dataset.classes)) or '-'}"
                )
                st.caption(f"Image types read: {', '.join(IMAGE_SUFFIXES)}")
                table = None
            else:
                table = read_table(upload.getvalue(), name=safe_name)
                for warning in table.attrs.get("warnings", []):
                    st.warning(md(warning))
                st.dataframe(table.head(10), hide_index=True)
        except DataError as exc:
            st.error(md(exc))
            st.stop()

        with st.form("import"):
            name = st.text_input("Project name", value=stem)
            if table is not None:
                columns = list(table.columns)
                guess = guess_columns(table)
                kind = st.radio("Items are", ["text", "tabular rows"], horizontal=True)
                text_column = st.selectbox(
                    "Text column", columns, index=columns.index(guess.text) if guess.text else 0
                )
                feature_columns = st.multiselect("Feature columns (for tabular rows)", columns)
                ids = [ROW_NUMBER, *columns]
                id_column = st.selectbox("Id column", ids, index=ids.index(guess.id or ROW_NUMBER))
                labels = [NO_COLUMN, *columns]
                label_column = st.selectbox(
                    "Existing labels (blank = unlabeled)",
                    labels,
                    index=labels.index(guess.label or NO_COLUMN),
                )
            typed_classes = st.text_area(
                "Classes, one per line",
                help="The classes you will label. Needed when no column or folder holds "
                "existing labels; added to the classes found there otherwise.",
            )
            submitted = st.form_submit_button("Import", type="primary")
        if submitted:
            class_names = list(dict.fromkeys(c.strip() for c in typed_classes.splitlines()))
            class_names = [c for c in class_names if c]
            try:
                if table is not None:
                    dataset = dataset_from_table(
                        table,
                        name=safe_name,
                        text_column=text_column if kind == "text" else None,
                        feature_columns=feature_columns if kind != "text" else None,
                        id_column=None if id_column == ROW_NUMBER else id_column,
                        label_column=None if label_column == NO_COLUMN else label_column,
                    )
                if len(set(class_names) | set(dataset.classes)) < 2:
                    raise DataError(
                        "Name the classes to label, one per line (at least two), or pick the "
                        "column that holds existing labels."
                    )
                _created(
                    store.create_project(name, dataset, class_names=class_names), dataset.warnings
                )
            except (DataError, StoreError) as exc:
                st.error(md(exc))

if project is None:
    st.stop()

MODEL_FOLDER = "model"
st.header(f"Features of {md(project.name)}")
installed = embeddings.embeddings_available()
choices = feature_choices(project.kind, extra_installed=installed)
if project.kind != "tabular":
    choices[MODEL_FOLDER] = "A model folder on this machine (sentence-transformers or transformers)"
current = project_method(project)
current_choice = MODEL_FOLDER if current.startswith(embeddings.MODEL_PREFIX) else current
chosen = st.selectbox(
    "Items are compared by",
    list(choices),
    index=list(choices).index(current_choice) if current_choice in choices else 0,
    format_func=choices.get,
    key=f"features-{project.id}",
    help="How items are turned into numbers: the neighbour graph, the suggestions and the "
    "exported model all use it.",
)
method = chosen
if chosen == MODEL_FOLDER:
    folder = st.text_input(
        "Model folder",
        value=current.removeprefix(embeddings.MODEL_PREFIX) if current_choice == chosen else "",
        key=f"features-folder-{project.id}",
        help="A folder saved by sentence-transformers or transformers' save_pretrained(), "
        "or ORG/NAME of a model in the local Hugging Face cache. Nothing is downloaded.",
    )
    method = method_from_user(embeddings.MODEL_PREFIX + folder.strip()) if folder.strip() else ""
if st.button("Use these features", disabled=method in ("", current)):
    try:
        project.update_settings(**{SETTING: check_method(project.dataset(), method)})
        forget_engine(project)
        st.success("Features changed: the model is rebuilt the next time a page needs it.")
    except DataError as exc:
        st.error(md(exc))
if project.kind == "text" and not installed:
    st.info(embeddings.WHAT_THE_EXTRA_ADDS)
    st.code("\n".join(embeddings.INSTALL_COMMANDS), language="sh")

st.header(f"Classes of {md(project.name)}")
classes = project.classes()
counts = {}
for label in project.labels().values():
    counts[label] = counts.get(label, 0) + 1
keys = class_keys(project)
for info, key in zip(classes, keys, strict=True):
    swatch, name_col, key_col = st.columns([1, 8, 3], vertical_alignment="center")
    color = swatch.color_picker(
        "Colour", info.color, key=f"color-{info.id}", label_visibility="collapsed"
    )
    if color != info.color:
        project.set_class_color(info.name, color)
    name_col.text(f"{info.name}  ({counts.get(info.name, 0):,} labeled)")
    key_col.text(f"key {key}" if key else "no key")

if classes:
    with st.expander("Keys on the Label page"):
        with st.form("class_keys"):
            inputs = st.columns(min(len(classes), 6))
            chosen = {
                info.name: inputs[i % len(inputs)].text_input(
                    md(info.name), value=key or "", max_chars=1, key=f"key-{info.id}"
                )
                for i, (info, key) in enumerate(zip(classes, keys, strict=True))
            }
            st.caption(
                "One letter or digit per class; blank for none. Taken: "
                + ", ".join(f"{k} ({what})" for k, what in RESERVED_KEYS.items())
            )
            if st.form_submit_button("Save keys"):
                try:
                    save_keys(project, chosen)
                    st.rerun()
                except StoreError as exc:
                    st.error(str(exc))
        if st.button("Back to the default keys", key="reset_keys"):
            reset_keys(project)
            for info in classes:
                st.session_state.pop(f"key-{info.id}", None)
            st.rerun()

add, rename, merge = st.columns(3)
with add.form("add_class", clear_on_submit=True):
    new_class = st.text_input("New class")
    if st.form_submit_button("Add class") and new_class:
        try:
            project.add_class(new_class)
            st.rerun()
        except StoreError as exc:
            st.error(md(exc))
names = [c.name for c in classes]
if names:
    with rename.form("rename_class"):
        old = st.selectbox("Rename", names)
        new = st.text_input("to")
        if st.form_submit_button("Rename"):
            try:
                project.rename_class(old, new)
                st.rerun()
            except StoreError as exc:
                st.error(md(exc))
if len(names) > 1:
    with merge.form("merge_classes"):
        source = st.selectbox("Merge", names)
        target = st.selectbox("into", names, index=1)
        if st.form_submit_button("Merge"):
            try:
                project.merge_classes(source, target)
                st.rerun()
            except StoreError as exc:
                st.error(md(exc))

if project.kind == "image":
    training_panel(project)

with st.expander("Delete this project"):
    st.write(f"Deletes {md(project.name)}, its items and every label. This cannot be undone.")
    if st.button("Delete project", type="secondary"):
        store.delete_project(project.id)
        forget_engine(project)
        forget_project(project.name)
        st.session_state.pop(PROJECT_KEY, None)
        st.rerun()
