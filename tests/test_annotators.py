"""Several annotators on one project: reservations, overlap, and processes labeling at once.

Every test that uses the ``store`` fixture runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import BACKENDS, sql, text_dataset

from sslcore.errors import StoreError
from sslcore.store import SCHEMA_VERSION

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
import annotators_load  # noqa: E402

BACKENDS = BACKENDS
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


def test_a_second_store_sees_the_reservation(open_store, project):
    project.reserve_next(ITEMS, annotator="ann")
    assert open_store().open_project("toy").reserve_next(ITEMS, annotator="bob") == "t1"


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
    assert sql(store, "SELECT count(*) FROM reservations") == [(0,)]


def test_a_version_1_database_gains_reservations_and_keeps_its_labels(store, open_store):
    store.create_project("toy", text_dataset(["x", "y"]), class_names=["a"]).label(
        "t0", "a", annotator="ann"
    )
    for table in ("reservations", "project_files", "accounts"):  # as version 1 left it
        sql(store, f"DROP TABLE {table}")
    sql(store, "ALTER TABLE label_events DROP COLUMN picked")
    sql(store, "UPDATE schema_info SET version = 1")
    store.close()
    again = open_store()
    project = again.open_project("toy")
    assert project.labels() == {"t0": "a"}
    assert project.reserve_next(["t0", "t1"], annotator="bob") == "t1"
    versions = sql(again, "SELECT version FROM schema_info ORDER BY version")
    assert versions == [(1,), (2,), (3,), (4,)] and SCHEMA_VERSION == 4


def test_a_version_3_database_gains_why_items_were_picked_and_keeps_its_labels(store, open_store):
    store.create_project("toy", text_dataset(["x", "y"]), class_names=["a"]).label(
        "t0", "a", annotator="ann"
    )
    sql(store, "ALTER TABLE label_events DROP COLUMN picked")  # as version 3 left it
    sql(store, "UPDATE schema_info SET version = 3")
    store.close()
    project = open_store().open_project("toy")
    assert project.labels() == {"t0": "a"} and project.current_events()["t0"].picked is None
    project.label("t1", "a", annotator="bob", picked="doubt")
    assert project.current_events()["t1"].picked == "doubt"
    with pytest.raises(StoreError, match="Unknown reason an item was picked 'hunch'"):
        project.label("t1", "a", annotator="bob", picked="hunch")


# Overlap: each item labeled by N annotators --------------------------------------


def test_with_overlap_two_an_item_goes_to_two_people_and_never_twice_to_one(project):
    project.set_overlap(2)
    assert project.reserve_next(ITEMS, annotator="ann") == "t0"
    assert project.reserve_next(ITEMS, annotator="bob") == "t0"
    assert project.reserve_next(ITEMS, annotator="cy") == "t1"  # t0 has its two people
    project.label("t0", "a", annotator="ann")
    assert project.reserve_next(ITEMS, annotator="ann") == "t1"  # never t0 again
    project.label("t0", "b", annotator="bob")
    assert project.reserve_next(ITEMS, annotator="dee") == "t2"  # t0 done, t1 full
    assert sorted((item, who) for item, who, _ in project.holds()) == [
        ("t1", "ann"), ("t1", "cy"), ("t2", "dee"),
    ]  # fmt: skip
    assert project.conflicts() == ["t0"]
    assert project.labels() == {}  # disputed: unlabeled until resolved


def test_overlap_counts_votes_and_holds_together(project):
    project.set_overlap(3)
    project.label("t0", "a", annotator="ann")
    assert project.reserve_next(["t0"], annotator="bob") == "t0"
    assert project.reserve_next(["t0"], annotator="cy") == "t0"
    assert project.reserve_next(["t0"], annotator="dee") is None  # 1 vote + 2 holds
    project.undo_last("ann")
    assert project.reserve_next(["t0"], annotator="dee") == "t0"  # the vote was undone


def test_a_resolved_item_is_handed_to_nobody(project):
    project.set_overlap(2)
    project.label("t0", "a", annotator="ann")
    project.resolve("t0", "a", annotator="rev")
    assert project.reserve_next(["t0", "t1"], annotator="bob") == "t1"


@pytest.mark.parametrize("bad", [0, 21, 1.5, "2", True])
def test_a_bad_overlap_is_refused(project, bad):
    with pytest.raises(StoreError, match="whole number of annotators from 1 to 20"):
        project.set_overlap(bad)
    assert project.overlap() == 1


def test_an_overlap_set_elsewhere_counts_at_once(open_store, project):
    open_store().open_project("toy").set_overlap(2)
    assert project.reserve_next(["t0"], annotator="ann") == "t0"
    assert project.reserve_next(["t0"], annotator="bob") == "t0"


@pytest.mark.parametrize("overlap", [1, 2])
def test_threads_racing_for_items_never_overfill_one(open_store, project, overlap):
    """Sixteen annotators in eight stores ask for the same three items at the same moment."""
    project.set_overlap(overlap)
    stores = [open_store() for _ in range(8)]
    barrier = threading.Barrier(16)
    got = {}

    def ask(k: int) -> None:
        mine = stores[k % 8].open_project("toy")
        barrier.wait()
        got[k] = mine.reserve_next(["t0", "t1", "t2"], annotator=f"ann-{k}", ttl=60)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handed = pd.Series([g for g in got.values() if g is not None]).value_counts().to_dict()
    assert handed == dict.fromkeys(["t0", "t1", "t2"], overlap)
    assert len(project.holds()) == 3 * overlap


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
    assert annotators_load.overlapping_reservations(log, overlap=2) == []
    three = pd.concat([log, log.assign(annotator="dee").iloc[[4]]])  # dee beside bob and cy
    assert [c[:3] for c in annotators_load.overlapping_reservations(three, 2)] == [
        ("y", "bob", "dee")
    ]


def test_handed_twice_check_finds_a_grant_over_ones_own_standing_label():
    from sslcore.store import LabelEvent

    events = [
        LabelEvent(1, "x", 1, "human", "ann", 5.0),
        LabelEvent(2, "y", 1, "human", "ann", 5.0),
        LabelEvent(3, "y", 1, "undo", "ann", 7.0, undoes=2),
    ]
    log = pd.DataFrame(
        [("x", "ann", 6.0), ("y", "ann", 8.0), ("x", "bob", 6.0), ("x", "ann", 4.0)],
        columns=["item_id", "annotator", "reserved_at"],
    )
    assert annotators_load.handed_twice(log, events) == 1  # x to ann at 6; y was undone


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
def test_four_annotator_processes_for_30_seconds(tmp_path, database_url):
    result = annotators_load.run(
        4, 30.0, data_dir=tmp_path, n_items=20_000, ttl=1.0, database_url=database_url
    )
    acks = result.pop("acks")
    print(f"\n4 annotators, 30 s: {result}")
    assert result["lost"] == 0 and result["errors"] == 0
    assert result["duplicate_reservations"] == 0 and result["handed_twice"] == 0
    assert result["replay_equal"]
    assert result["integrity"] == "ok"
    assert all(got["labels"] and got["batches"] and got["rejects"] for got in acks.values())
    assert sum(len(got["undone"]) for got in acks.values()) > 0
    assert result["events"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_eight_annotators_on_postgresql_through_a_server_crash(
    tmp_path, database_url, postgres_server
):
    """8 processes, overlap 2, 30 s; the server is SIGKILLed 12 s in and started again."""
    result = annotators_load.run(
        8, 30.0, data_dir=tmp_path, n_items=20_000, ttl=1.0, database_url=database_url,
        overlap=2, kill_after=12.0, server=postgres_server,
    )  # fmt: skip
    acks = result.pop("acks")
    print(f"\n8 annotators, overlap 2, server killed at 12 s: {result}")
    assert result["errors"] > 0  # the crash was felt
    assert result["lost"] == 0  # every acknowledged event is there after the restart
    assert result["extra"] <= result["errors"]
    assert result["duplicate_reservations"] == 0 and result["handed_twice"] == 0
    assert result["replay_equal"] and result["integrity"] == "ok"
    assert all(got["labels"] for got in acks.values())


def test_export_with_overlap_has_agreed_and_resolved_labels_only(project):
    from sslcore.export import export_table

    project.set_overlap(2)
    project.label("t0", "a", annotator="ann")
    project.label("t0", "a", annotator="bob")
    project.label("t1", "a", annotator="ann")
    project.label("t1", "b", annotator="bob")
    project.label("t2", "a", annotator="ann")
    project.label("t2", "b", annotator="bob")
    project.resolve("t2", "b", annotator="rev")
    table = export_table(project).set_index("item_id")
    assert table["label"].dropna().to_dict() == {"t0": "a", "t2": "b"}  # t1 is disputed
    assert table.loc["t2", "source"] == "resolved"
    assert table.loc["t1", "source"] == "disputed"
