"""The project store: append-only label events in SQLite or PostgreSQL, classes, projects.

Every test that uses the ``store`` fixture runs on both backends.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pandas as pd
import pytest
from helpers import BACKENDS, sql, text_dataset

from sslcore.dataset import Dataset
from sslcore.errors import StoreError
from sslcore.store import SCHEMA_VERSION, Store, default_data_dir
from sslcore.store import projects as store_module

BACKENDS = BACKENDS

# Labels and events ------------------------------------------------------------


def test_label_round_trip_records_who_when_and_why(project):
    event_id = project.label("t1", "a", annotator="ann", source="accepted", model_round=3)
    assert project.labels() == {"t1": "a"}
    events = project.events()
    assert len(events) == 1
    row = events.iloc[0]
    assert row["id"] == event_id
    assert (row["item_id"], row["class_name"], row["source"]) == ("t1", "a", "accepted")
    assert (row["annotator"], row["model_round"], row["undone"]) == ("ann", 3, False)
    assert row["created_at"] > 0


def test_current_label_is_the_last_event(project):
    for name in ["a", "b", "-1", "a", "b"]:
        project.label("t0", name, annotator="ann")
    assert project.labels() == {"t0": "b"}
    assert len(project.events()) == 5  # nothing was edited in place


def test_label_none_clears_the_label(project):
    project.label("t0", "a", annotator="ann")
    project.label("t0", None, annotator="ann")
    assert project.labels() == {}


def test_undo_brings_back_the_previous_label(project):
    project.label("t0", "a", annotator="ann")
    second = project.label("t0", "b", annotator="ann")
    undone = project.undo(second, annotator="ann")
    assert [e.id for e in undone] == [second]
    assert project.labels() == {"t0": "a"}
    events = project.events()
    assert list(events["source"]) == ["human", "human", "undo"]
    assert list(events["undone"]) == [False, True, False]


def test_undo_twice_changes_nothing_the_second_time(project):
    first = project.label("t0", "a", annotator="ann")
    project.undo(first, annotator="ann")
    assert project.undo(first, annotator="ann") == []
    assert project.labels() == {}


def test_undo_of_an_unknown_event_is_refused(project):
    with pytest.raises(StoreError, match="There is no label event 999 to undo in 'toy'"):
        project.undo(999, annotator="ann")


def test_undo_of_one_batch_member_undoes_the_whole_batch(project):
    project.label("t0", "b", annotator="ann")
    batch = project.label_many([("t0", "a"), ("t1", "a"), ("t2", "b")], annotator="ann")
    events = project.events()
    members = events[events["batch_id"] == batch]
    assert len(members) == 3 and set(members["source"]) == {"bulk"}
    undone = project.undo(int(members["id"].iloc[1]), annotator="ann")
    assert len(undone) == 3
    assert project.labels() == {"t0": "b"}


def test_undo_last_undoes_this_annotators_latest_action_only(project):
    project.label("t0", "a", annotator="ann")
    project.label_many([("t1", "a"), ("t2", "a")], annotator="ann", source="accepted")
    project.label("t3", "b", annotator="bob")
    assert len(project.undo_last("ann")) == 2  # the bulk accept counts as one action
    assert project.labels() == {"t0": "a", "t3": "b"}
    assert len(project.undo_last("ann")) == 1
    assert project.labels() == {"t3": "b"}
    assert project.undo_last("ann") == []


def test_reject_and_undo_reject(project):
    event_id = project.reject("t0", "a", annotator="ann", model_round=1, confidence=0.9)
    assert project.rejections() == {("t0", "a")}
    assert project.labels() == {}
    project.undo(event_id, annotator="ann")
    assert project.rejections() == set()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: p.label("nope", "a", annotator="ann"), "There is no item 'nope' in 'toy'"),
        (lambda p: p.label("t0", "zzz", annotator="ann"), "There is no class 'zzz' in 'toy'"),
        (lambda p: p.label("t0", "a", annotator="  "), "Every label needs an annotator name"),
        (lambda p: p.label("t0", "a", annotator="a", source="undo"), "Unknown label source"),
        (lambda p: p.label("t0", "a", annotator="a", source="robot"), "Unknown label source"),
        (lambda p: p.label_many([("t0", "a"), ("x", "a")], annotator="a"), "no item 'x'"),
    ],
)
def test_bad_label_calls_are_refused_and_write_nothing(project, call, match):
    with pytest.raises(StoreError, match=match):
        call(project)
    assert project.events().empty


# Durability and concurrency ----------------------------------------------------


def test_a_label_is_visible_to_a_second_store_at_once(open_store, project):
    other = open_store()
    project.label("t0", "a", annotator="ann")
    assert other.open_project("toy").labels() == {"t0": "a"}
    other.open_project("toy").label("t1", "b", annotator="bob")
    assert project.labels() == {"t0": "a", "t1": "b"}


def test_reopen_after_close(store, open_store, project):
    project.label("t0", "a", annotator="ann")
    project.reject("t1", "b", annotator="ann")
    store.close()
    again = open_store().open_project("toy")
    assert again.labels() == {"t0": "a"}
    assert again.rejections() == {("t1", "b")}
    assert list(again.dataset().items["text"]) == ["one", "two", "three", "four", "five"]


def test_database_records_its_schema_version(store, project):
    assert sql(store, "SELECT max(version) FROM schema_info") == [(SCHEMA_VERSION,)]


def test_sqlite_database_uses_wal(store, backend):
    if backend != "sqlite":
        pytest.skip("SQLite only")
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused_with_a_clear_message(store, open_store):
    sql(store, "INSERT INTO schema_info (version) VALUES (:v)", v=SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=rf"newer sslabel \(schema {SCHEMA_VERSION + 1}.*upgrade"):
        open_store()


def test_a_second_machine_fetches_the_items_from_the_server(store, open_store, tmp_path, backend):
    if backend == "sqlite":
        pytest.skip("a SQLite store is one machine's file")
    store.create_project("toy", text_dataset(["one", "two"]), class_names=["a"])
    elsewhere = open_store(tmp_path / "other-machine").open_project("toy")
    assert list(elsewhere.dataset().items["text"]) == ["one", "two"]
    assert len(list((tmp_path / "other-machine" / "projects").glob("*/items.parquet"))) == 1
    elsewhere.label("t1", "a", annotator="bob")
    assert store.open_project("toy").labels() == {"t1": "a"}


def test_a_bad_database_url_is_refused_with_the_fix(tmp_path):
    with pytest.raises(StoreError, match="not in 'mysql'"):
        Store(tmp_path, database_url="mysql://u@localhost/db")
    with pytest.raises(StoreError, match="Cannot read the database URL 'no url'"):
        Store(tmp_path, database_url="no url")


N_WRITES = 40


def write_labels(data_dir, database_url, annotator, barrier=None):
    """Label every item N_WRITES/5 times through a Store of its own."""
    own = Store(data_dir, database_url=database_url)
    project = own.open_project("toy")
    if barrier is not None:
        barrier.wait()
    for i in range(N_WRITES):
        project.label(f"t{i % 5}", "ab"[i % 2], annotator=annotator)
    own.close()


def assert_no_event_lost(project, annotators):
    events = project.events()
    assert len(events) == N_WRITES * len(annotators)
    assert events["id"].is_unique
    assert events.groupby("annotator").size().to_dict() == dict.fromkeys(annotators, N_WRITES)
    last = events.sort_values("id").groupby("item_id").tail(1)
    assert project.labels() == dict(zip(last["item_id"], last["class_name"], strict=True))


def test_two_stores_in_threads_write_at_once_without_losing_an_event(store, project, database_url):
    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=write_labels, args=(store.data_dir, database_url, name, barrier))
        for name in ("ann", "bob")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_no_event_lost(project, ["ann", "bob"])


def test_one_project_shared_by_threads(project):
    def work(name):
        for i in range(N_WRITES):
            project.label(f"t{i % 5}", "a", annotator=name)
            project.labels()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_no_event_lost(project, ["ann", "bob"])


def test_two_processes_write_at_once_without_losing_an_event(store, project, database_url):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=write_labels, args=(store.data_dir, database_url, name, barrier))
        for name in ("ann", "bob")
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert_no_event_lost(project, ["ann", "bob"])


# Classes ----------------------------------------------------------------------


def test_add_class_and_refuse_a_duplicate_or_blank_name(project):
    info = project.add_class("  c  ")
    assert info.name == "c" and project.class_names() == ["a", "b", "-1", "c"]
    assert info.color.startswith("#")
    with pytest.raises(StoreError, match="The class 'a' exists already in 'toy'"):
        project.add_class("a")
    with pytest.raises(StoreError, match="A class needs a name"):
        project.add_class(" ")


def test_rename_class_keeps_its_labels(project):
    project.label("t0", "a", annotator="ann")
    project.reject("t1", "a", annotator="ann")
    project.rename_class("a", "alpha")
    assert project.class_names() == ["alpha", "b", "-1"]
    assert project.labels() == {"t0": "alpha"}
    assert project.rejections() == {("t1", "alpha")}
    with pytest.raises(StoreError, match="The class 'b' exists already; merge the classes"):
        project.rename_class("alpha", "b")
    with pytest.raises(StoreError, match="There is no class 'a' in 'toy'"):
        project.rename_class("a", "z")


def test_merge_classes_relabels_without_editing_events(project):
    project.label("t0", "a", annotator="ann")
    project.label("t1", "b", annotator="ann")
    project.merge_classes("a", "b")
    assert project.class_names() == ["b", "-1"]
    assert project.labels() == {"t0": "b", "t1": "b"}
    assert len(project.events()) == 2
    with pytest.raises(StoreError, match="There is no class 'a'"):
        project.label("t2", "a", annotator="ann")
    project.merge_classes("b", "-1")  # merges chain: a -> b -> -1
    assert project.labels() == {"t0": "-1", "t1": "-1"}
    with pytest.raises(StoreError, match="Pick two different classes"):
        project.merge_classes("-1", "-1")


def test_set_class_color_is_stored(store, project):
    project.set_class_color("b", "#123456")
    colors = {c.name: c.color for c in store.open_project("toy").classes()}
    assert colors["b"] == "#123456"


# Projects ---------------------------------------------------------------------


def test_imported_labels_become_imported_events_and_classes(store):
    dataset = text_dataset(["x", "y", "z"], labels=["spam", None, "-1"])
    project = store.create_project("p", dataset, class_names=["ham"], annotator="loader")
    assert project.class_names() == ["ham", "-1", "spam"]
    assert project.labels() == {"t0": "spam", "t2": "-1"}
    events = project.events()
    assert set(events["source"]) == {"imported"} and set(events["annotator"]) == {"loader"}
    assert project.dataset().labels.tolist() == [None, None, None]  # labels live in events


def test_import_labels_false_keeps_items_but_not_labels(store):
    dataset = text_dataset(["x", "y"], labels=["spam", "ham"])
    project = store.create_project("p", dataset, import_labels=False, class_names=["spam"])
    assert project.labels() == {} and project.class_names() == ["spam"]


def test_class_names_may_be_a_generator(store):
    dataset = text_dataset(["x", "y"], labels=["spam", None])
    names = (n for n in ["ham", "spam"])
    project = store.create_project("p", dataset, class_names=names)
    assert project.class_names() == ["ham", "spam"]
    assert project.labels() == {"t0": "spam"}


@pytest.mark.parametrize("again", ["toy", "  toy  "])
def test_duplicate_project_name_is_refused(store, project, again):
    with pytest.raises(StoreError, match="A project named 'toy' exists already; pick another"):
        store.create_project(again, text_dataset(["x"]))
    assert store.project_names() == ["toy"]
    assert len(list((store.data_dir / "projects").iterdir())) == 1


def test_blank_project_name_is_refused(store):
    with pytest.raises(StoreError, match="A project needs a name"):
        store.create_project("  ", text_dataset(["x"]))


def test_items_that_cannot_be_written_leave_no_project_and_no_folder(store):
    items = pd.DataFrame({"item_id": ["a", "b"], "text": [{"x": 1}, 3], "label": [None, None]})
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error, whatever its type
        store.create_project("broken", Dataset("broken", "text", items))
    assert store.project_names() == []
    assert list((store.data_dir / "projects").iterdir()) == []


class _FailingPalette(tuple):
    def __getitem__(self, index):
        if index == 1:
            raise RuntimeError("disk on fire")
        return super().__getitem__(index)


def test_failure_inside_the_transaction_rolls_everything_back(store, monkeypatch):
    monkeypatch.setattr(store_module, "PALETTE", _FailingPalette(store_module.PALETTE))
    dataset = text_dataset(["x", "y"], labels=["a", "b"])
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.create_project("half", dataset)
    assert store.project_names() == []
    assert list((store.data_dir / "projects").iterdir()) == []
    assert sql(store, "SELECT count(*) FROM classes") == [(0,)]
    assert sql(store, "SELECT count(*) FROM label_events") == [(0,)]


def test_open_unknown_project_is_refused(store):
    with pytest.raises(StoreError, match="There is no project 'ghost' in"):
        store.open_project("ghost")


def test_list_projects_counts_labels(store, project):
    project.label("t0", "a", annotator="ann")
    project.label("t1", "b", annotator="ann")
    table = store.list_projects()
    assert table.loc[0, ["name", "kind", "n_items", "n_labeled"]].tolist() == ["toy", "text", 5, 2]


def test_delete_project_removes_rows_and_folder(store, project):
    project.label("t0", "a", annotator="ann")
    folder = project.folder
    assert folder.exists()
    store.delete_project("toy")
    assert store.project_names() == [] and not folder.exists()
    assert store.create_project("toy", text_dataset(["x"])).labels() == {}


def test_settings_are_stored(store, project):
    project.update_settings(k=7, method="spreading")
    assert store.open_project("toy").settings == {"k": 7, "method": "spreading"}


def test_project_cache_lives_in_the_project_folder(project):
    project.cache.save("graph", "key1", [1, 2])
    assert project.cache.path("graph", "key1").is_relative_to(project.folder)


# Data dir ---------------------------------------------------------------------


def test_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(tmp_path / "from-env"))
    assert default_data_dir() == tmp_path / "from-env"
    opened = Store()
    try:
        assert opened.data_dir == tmp_path / "from-env"
        assert (tmp_path / "from-env" / "sslabel.db").exists()
    finally:
        opened.close()


def test_data_dir_defaults_to_data_in_the_working_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("SSLABEL_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path / "data"


def test_a_deleted_projects_id_is_not_reused(store):
    from sslcore.demos import load_demo

    first = store.create_project("one", load_demo("moons"))
    store.delete_project(first.id)
    second = store.create_project("two", load_demo("moons"))
    assert second.id != first.id


def test_two_stores_undoing_the_same_event_undo_it_once(store, open_store):
    from sslcore.demos import load_demo

    first = store.create_project("m", load_demo("moons"))
    event_id = first.label("point-0000", "upper", annotator="ann")
    other = open_store().open_project("m")
    assert len(first.undo(event_id, annotator="ann")) == 1
    assert other.undo(event_id, annotator="bob") == []  # it sees the first undo first
    assert (other.events()["source"] == "undo").sum() == 1


def test_more_classes_than_a_project_can_hold_are_refused_before_anything_is_written(store):
    from sslcore.dataset import MAX_CLASSES

    names = [f"c{i}" for i in range(MAX_CLASSES + 1)]
    dataset = text_dataset(["one", "two"])
    with pytest.raises(StoreError, match="1,001 classes is more than the 1,000"):
        store.create_project("many", dataset, class_names=names)
    assert store.project_names() == []
    assert not any((store.data_dir / "projects").glob("*many*"))
    project = store.create_project("many", dataset, class_names=names[:-1])
    with pytest.raises(StoreError, match="1,001 classes"):
        project.add_class("one too many")
    assert len(project.classes()) == MAX_CLASSES
