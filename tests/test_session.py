"""The labeling loop without a UI: what a key, an accept or a bulk accept may touch."""

import pandas as pd
import pytest

from sslcore.demos import create_demo_project, load_demo
from sslcore.session import LabelingSession, ProjectEngine, bulk_candidates


@pytest.fixture
def moons(store):
    project = create_demo_project(store, "moons", "moons")
    return project, ProjectEngine.build(project)


@pytest.fixture
def truth():
    return load_demo("moons").items.set_index("item_id")["label"].to_dict()


def test_a_label_is_recorded_only_for_the_item_on_screen(moons):
    project, live = moons
    session = LabelingSession(live, "ann")
    first = session.next_item().item_id
    assert session.label(first, "upper") is not None
    second = session.current.item_id
    assert second != first
    assert session.label(first, "lower") is None  # a second press for the same item
    elsewhere = next(i for i in ("point-0998", "point-0999") if i != second)
    assert session.label(elsewhere, "lower") is None  # never applied to an item not on screen
    assert project.labels() == {first: "upper"}


def test_skip_passes_over_the_item_for_the_session(moons):
    _, live = moons
    session = LabelingSession(live, "ann")
    first = session.next_item().item_id
    session.skip(first)
    assert session.current.item_id != first
    assert first in session.skipped


def test_undo_brings_the_item_back_on_screen(moons):
    project, live = moons
    session = LabelingSession(live, "ann")
    first = session.next_item().item_id
    session.label(first, "upper")
    undone = session.undo()
    assert [e.item_id for e in undone] == [first]
    assert session.current.item_id == first and project.labels() == {}
    assert session.undo() == []  # nothing of this annotator's is left to undo


def test_queued_items_come_first(moons):
    _, live = moons
    session = LabelingSession(live, "ann")
    session.enqueue(["point-0500", "point-0501", "point-0500"])
    assert session.queue == ["point-0500", "point-0501"]
    assert session.next_item().item_id == "point-0500"
    assert session.current.reason == "You queued it from the map."


def test_two_annotators_never_hold_the_same_item(moons):
    project, live = moons
    mine = LabelingSession(live, "ann").next_item().item_id
    theirs = LabelingSession(live, "bob").next_item().item_id
    assert mine != theirs
    held = project.reservations()
    assert held[mine][0] == "ann" and held[theirs][0] == "bob"


def test_accept_leaves_an_item_labeled_since_it_was_shown(moons, truth):
    project, live = moons
    for item in ["point-0000", "point-0001", "point-0002", "point-0003"]:
        project.label(item, truth[item], annotator="ann")
    live.refresh()
    session = LabelingSession(live, "ann")
    project.label("point-0010", "lower", annotator="bob")
    assert session.accept("point-0010", "upper", 0.9) is None
    assert project.labels()["point-0010"] == "lower"
    event = session.accept("point-0011", "upper", 0.9)
    assert project.events().set_index("id").loc[event, "source"] == "accepted"


def test_bulk_accept_is_one_undoable_batch_that_skips_labels_given_since(moons, truth):
    project, live = moons
    for item in ["point-0000", "point-0001", "point-0002", "point-0003"]:
        project.label(item, truth[item], annotator="ann")
    predictions = live.refresh()
    rows = bulk_candidates(predictions, "upper", 0.5)
    assert len(rows) > 10 and set(rows["class"]) == {"upper"}
    assert (rows["confidence"] >= 0.5).all()
    taken = rows["item_id"].iloc[0]
    project.label(taken, "lower", annotator="bob")
    session = LabelingSession(live, "ann")
    bulk = session.bulk_accept(rows)
    assert bulk.count == len(rows) - 1 and bulk.class_name == "upper"
    assert project.labels()[taken] == "lower"
    assert len(session.undo_bulk()) == len(rows) - 1
    assert len(project.labels()) == 5


def test_bulk_candidates_before_any_label_is_empty(moons):
    _, live = moons
    empty = bulk_candidates(live.refresh(), "upper", 0.5)
    assert isinstance(empty, pd.DataFrame) and empty.empty


def test_refresh_counts_rounds_and_changes(moons, truth):
    project, live = moons
    live.refresh()
    start = live.round
    project.label("point-0000", truth["point-0000"], annotator="ann")
    live.refresh()
    live.refresh()  # no new event: no new round
    assert live.round == start + 1
    other = "lower" if truth["point-0000"] == "upper" else "upper"
    project.label("point-0999", other, annotator="ann")
    live.refresh()
    assert live.round == start + 2 and live.changed_last_round > 0


def test_human_label_order_follows_the_events(moons, truth):
    project, live = moons
    for item in ["point-0005", "point-0002", "point-0009"]:
        project.label(item, truth[item], annotator="ann")
    positions, codes = live.human_label_order()
    assert positions.tolist() == [5, 2, 9]
    names = sorted({truth[i] for i in ["point-0005", "point-0002", "point-0009"]})
    assert [names[c] for c in codes] == [
        truth[i] for i in ["point-0005", "point-0002", "point-0009"]
    ]


def test_with_overlap_two_the_second_annotator_is_shown_what_the_first_labeled(tmp_path):
    from sslcore.demos import create_demo_project
    from sslcore.session import LabelingSession, ProjectEngine
    from sslcore.store import Store

    project = create_demo_project(Store(tmp_path), "moons", "m")
    project.set_overlap(2)
    live = ProjectEngine.build(project)
    ann, bob = LabelingSession(live, "ann"), LabelingSession(live, "bob")
    first = ann.next_item().item_id
    ann.label(first, "upper")
    assert bob.next_item().item_id == first  # it needs a second vote
    bob.label(first, "lower")
    assert project.conflicts() == [first]
    assert first not in project.labels()  # disputed: the model does not learn from it
    assert ann.current is not None and ann.current.item_id != first  # never twice
