"""Several annotators on one project: reservations, and four processes labeling at once."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import text_dataset

from sslcore.errors import StoreError
from sslcore.store import SCHEMA_VERSION, Store

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
import annotators_load  # noqa: E402

ITEMS = ["t0", "t1", "t2", "t3", "t4"]


def holders(project) -> dict[str, str]:
    return {item: who for item, (who, _) in project.reservations().items()}


# Reservations -------------------------------------------------------------------


def test_two_annotators_never_get_the_same_item(project):
    assert project.reserve_next(ITEMS, annotator="ann") == "t0"
    assert project.reserve_next(ITEMS, annotator="bob") == "t1"
    assert project.reserve_next(ITEMS, annotator="cy") == "t2"
    assert holders(project) == {"t0": "ann", "t1": "bob", "t2": "cy"}


def test_asking_again_keeps_the_item_and_extends_it(project):
    assert project.reserve_next(ITEMS, annotator="ann", ttl=10) == "t0"
    first = project.reservations()["t0"][1]
    assert project.reserve_next(ITEMS, annotator="ann", ttl=1000) == "t0"
    assert project.reservations()["t0"][1] > first
    assert len(project.reservation_log()) == 1


def test_a_new_reservation_replaces_the_annotators_previous_one(project):
    project.reserve_next(["t0"], annotator="ann")
    assert project.reserve_next(["t3"], annotator="ann") == "t3"
    assert holders(project) == {"t3": "ann"}
    assert project.reserve_next(ITEMS, annotator="bob") == "t0"


def test_none_when_every_candidate_is_taken_and_the_old_hold_is_let_go(project):
    project.reserve_next(["t0"], annotator="ann")
    project.reserve_next(["t1"], annotator="bob")
    assert project.reserve_next(["t0"], annotator="bob") is None
    assert holders(project) == {"t0": "ann"}
    assert project.reserve_next([], annotator="ann") is None
    assert project.reservations() == {}


def test_a_reservation_lapses_after_its_time_to_live(project):
    assert project.reserve_next(ITEMS, annotator="ann", ttl=0.05) == "t0"
    for _ in range(200):  # at most 2 s
        if not project.reservations():
            break
        time.sleep(0.01)
    assert project.reservations() == {}
    assert project.reserve_next(ITEMS, annotator="bob") == "t0"
    log = project.reservation_log()
    assert list(log["annotator"]) == ["ann", "bob"]
    assert log["released_at"].iloc[0] == log["expires_at"].iloc[0]  # closed when it lapsed


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p.label("t0", "a", annotator="bob"),
        lambda p: p.label("t0", "a", annotator="ann", source="accepted"),
        lambda p: p.label_many([("t4", "b"), ("t0", "a")], annotator="cy"),
    ],
    ids=["label by another", "accept", "bulk"],
)
def test_labeling_an_item_releases_its_reservation(project, write):
    project.reserve_next(["t0"], annotator="ann")
    project.reserve_next(["t1"], annotator="bob")
    write(project)
    assert holders(project) == {"t1": "bob"}
    log = project.reservation_log().set_index("item_id")
    assert log.loc["t0", "released_at"] >= log.loc["t0", "reserved_at"]
    assert pd.isna(log.loc["t1", "released_at"])


def test_a_rejection_keeps_the_reservation(project):
    project.reserve_next(["t0"], annotator="ann")
    project.reject("t0", "a", annotator="ann")
    assert holders(project) == {"t0": "ann"}


def test_labeled_candidates_are_passed_over(project):
    project.label("t0", "a", annotator="bob")
    assert project.reserve_next(ITEMS, annotator="ann") == "t1"
    project.undo_last("bob")
    assert project.reserve_next(ITEMS, annotator="cy") == "t0"


def test_release_lets_go_of_everything_the_annotator_holds(project):
    project.reserve_next(["t0"], annotator="ann")
    project.reserve_next(["t1"], annotator="bob")
    project.release("ann")
    assert holders(project) == {"t1": "bob"}


def test_a_second_store_sees_the_reservation(store, project):
    project.reserve_next(ITEMS, annotator="ann")
    other = Store(store.data_dir)
    try:
        assert other.open_project("toy").reserve_next(ITEMS, annotator="bob") == "t1"
    finally:
        other.close()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: p.reserve_next(ITEMS, annotator=" "), "Every label needs an annotator name"),
        (lambda p: p.reserve_next(ITEMS, annotator="a", ttl=0), "positive time to live, not 0"),
        (lambda p: p.release(""), "Every label needs an annotator name"),
    ],
)
def test_bad_reservation_calls_are_refused(project, call, match):
    with pytest.raises(StoreError, match=match):
        call(project)
    assert project.reservation_log().empty


def test_deleting_a_project_deletes_its_reservations(store, project):
    project.reserve_next(ITEMS, annotator="ann")
    store.delete_project("toy")
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM reservations").fetchone()[0] == 0


def test_a_version_1_database_gains_reservations_and_keeps_its_labels(tmp_path):
    old = Store(tmp_path)
    old.create_project("toy", text_dataset(["x", "y"]), class_names=["a"]).label(
        "t0", "a", annotator="ann"
    )
    old.close()
    with sqlite3.connect(tmp_path / "sslabel.db") as conn:  # as version 1 left it
        conn.execute("DROP TABLE reservations")
        conn.execute("UPDATE schema_info SET version = 1")
    store = Store(tmp_path)
    try:
        project = store.open_project("toy")
        assert project.labels() == {"t0": "a"}
        assert project.reserve_next(["t0", "t1"], annotator="bob") == "t1"
        with sqlite3.connect(store.db_path) as conn:
            versions = [v for (v,) in conn.execute("SELECT version FROM schema_info")]
        assert versions == [1, 2] and SCHEMA_VERSION == 2
    finally:
        store.close()


# The load harness's own checks ----------------------------------------------------


def test_overlap_check_finds_two_annotators_holding_one_item():
    nan = float("nan")
    log = pd.DataFrame(
        [
            ("x", "ann", 0.0, 10.0, 4.0),  # released at 4
            ("x", "bob", 4.0, 14.0, nan),  # fine: after the release
            ("y", "ann", 0.0, 1.0, nan),  # lapsed at 1
            ("y", "bob", 1.5, 9.0, nan),  # fine: after it lapsed
            ("y", "cy", 2.0, 9.0, nan),  # clash with bob
        ],
        columns=["item_id", "annotator", "reserved_at", "expires_at", "released_at"],
    )
    assert [c[:3] for c in annotators_load.overlapping_reservations(log)] == [("y", "bob", "cy")]


def test_reference_replay_knows_undo_and_clearing():
    from sslcore.store import LabelEvent

    ev = [
        LabelEvent(1, "x", 1, "human", "ann", 0.0),
        LabelEvent(2, "x", 2, "bulk", "ann", 0.0, batch_id="b"),
        LabelEvent(3, "y", 1, "human", "ann", 0.0),
        LabelEvent(4, "x", 2, "undo", "ann", 0.0, undoes=2),
        LabelEvent(5, "y", None, "human", "ann", 0.0),
        LabelEvent(6, "z", 1, "rejected", "ann", 0.0),
    ]
    assert annotators_load.reference_labels(ev) == {"x": 1}


# Four processes at once ----------------------------------------------------------------


@pytest.mark.slow
def test_four_annotator_processes_for_30_seconds(tmp_path):
    result = annotators_load.run(4, 30.0, data_dir=tmp_path, n_items=20_000, ttl=1.0)
    acks = result.pop("acks")
    print(f"\n4 annotators, 30 s: {result}")
    assert result["lost"] == 0
    assert result["duplicate_reservations"] == 0
    assert result["replay_equal"]
    assert result["integrity"] == "ok"
    assert all(got["labels"] and got["batches"] and got["rejects"] for got in acks.values())
    assert sum(len(got["undone"]) for got in acks.values()) > 0
    assert result["events"] > 0
