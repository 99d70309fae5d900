"""The labeling loop without a UI: what a key, an accept or a bulk accept may touch."""

import numpy as np
import pandas as pd
import pytest

from sslcore.active import EARLY_REASON
from sslcore.demos import create_demo_project, load_demo
from sslcore.session import (
    LabelingSession,
    ProjectEngine,
    bulk_candidates,
    bulk_plans,
    candidates_digest,
    describe_events,
)


@pytest.fixture
def moons(store):
    project = create_demo_project(store, "moons", "moons")
    return project, ProjectEngine.build(project)


def label_every_25th(project, truth, start=0):
    """A person gives the true label of every 25th moon (40 items, both classes)."""
    for item in sorted(truth)[start::25]:
        project.label(item, truth[item], annotator="ann")


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
    label_every_25th(project, truth)
    live.refresh()
    live.wait_for_tuning()
    rows = bulk_candidates(live.engine, "upper", 0.9)
    assert len(rows) > 10 and set(rows["class"]) == {"upper"}
    plan = next(p for p in bulk_plans(live.engine, 0.9) if p.class_name == "upper")
    assert list(rows["item_id"]) == list(plan.item_ids)
    assert plan.precision_bound >= 0.9 and plan.wrong_bound >= plan.expected_wrong
    digest = candidates_digest(rows)
    taken = rows["item_id"].iloc[0]
    project.label(taken, "lower", annotator="bob")
    session = LabelingSession(live, "ann")
    assert session.bulk_accept(rows.iloc[1:], digest=digest) is None  # another set: refused
    bulk = session.bulk_accept(rows, digest=digest)
    assert bulk.count == len(rows) - 1 and bulk.class_name == "upper"
    assert project.labels()[taken] == "lower"
    assert len(session.undo_bulk()) == len(rows) - 1
    assert len(project.labels()) == 41


def test_bulk_plan_is_stricter_at_a_higher_target(moons, truth):
    project, live = moons
    label_every_25th(project, truth)
    live.refresh()
    live.wait_for_tuning()
    loose = {p.class_name: p.count for p in bulk_plans(live.engine, 0.8)}
    strict = {p.class_name: p.count for p in bulk_plans(live.engine, 0.99)}
    assert all(strict[c] <= loose[c] for c in loose) and sum(loose.values()) > 0


def test_bulk_accepted_items_are_weak_labels_never_calibration_evidence(moons, truth):
    project, live = moons
    label_every_25th(project, truth)
    live.refresh()
    live.wait_for_tuning()
    evidence = live.engine.label_set().held.sum()
    rows = bulk_candidates(live.engine, "upper", 0.9)
    LabelingSession(live, "ann").bulk_accept(rows)
    live.refresh()
    labels = live.engine.label_set()
    bulk = np.isin(labels.positions, [live.engine.position(i) for i in rows["item_id"]])
    assert labels.held.sum() == evidence and not labels.held[bulk].any()
    assert labels.weights[bulk] == pytest.approx(0.5) and labels.weights[~bulk] == pytest.approx(1)


def test_bulk_candidates_before_any_label_is_empty(moons):
    _, live = moons
    live.refresh()
    empty = bulk_candidates(live.engine, "upper")
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


def test_presses_handled_at_once_label_the_item_once(moons):
    """Two reruns of one browser session may handle presses at the same time."""
    import threading

    project, live = moons
    session = LabelingSession(live, "ann")
    shown = session.next_item().item_id
    start = threading.Barrier(8)
    results = []

    def press():
        start.wait()
        results.append(session.label(shown, "upper"))

    threads = [threading.Thread(target=press) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is not None for r in results) == 1
    assert list(project.events()["item_id"]) == [shown]
    assert session.current.item_id != shown


def test_labeling_starts_before_the_engine_is_ready(moons):
    project, live = moons
    session = LabelingSession(None, "ann", project=project)
    first = session.next_item()
    assert first.reason == EARLY_REASON
    assert session.label(first.item_id, "upper") is not None
    second = session.current.item_id
    assert second != first.item_id
    session.skip(second)
    third = session.current.item_id
    assert third not in (first.item_id, second)
    session.attach(live)  # the engine is ready: the item on screen stays, the model takes over
    assert session.current.item_id == third
    session.label(third, "lower")
    assert session.current.reason != EARLY_REASON
    assert project.labels() == {first.item_id: "upper", third: "lower"}
    # The early items come in a random order (the third too, drawn before the engine took
    # over): their labels are a random sample.
    picked = {item: event.picked for item, event in project.current_events().items()}
    assert picked == {first.item_id: "random", third: "random"}


def test_a_restart_calibrates_as_the_session_that_labeled(moons, truth, open_store):
    project, live = moons
    session = LabelingSession(live, "ann")
    for _ in range(30):  # ten planned to cover the data, then margin with every fifth at random
        item = session.next_item().item_id
        session.label(item, truth[item])
    live.refresh(tune=False)
    stored = {event.picked for event in project.current_events().values()}
    assert stored == {None, "doubt", "random"}

    again = ProjectEngine.build(open_store().open_project(project.name))
    again.refresh(tune=False)
    for engine in (live.engine, again.engine):
        engine.apply_tuning(engine.tune())
    before, after = live.engine.label_set(), again.engine.label_set()
    assert again.engine.declared_classes == frozenset(project.class_names())
    assert before.every_class_labeled and after.every_class_labeled
    assert np.array_equal(before.representative, after.representative)
    assert np.array_equal(before.at_random, after.at_random)
    # The same to the solver's tolerance (1e-4 here); margin picks read as a fair sample, up
    # to 0.01 apart here and 12 points lower on digits at 100 labels.
    gap = np.abs(live.predictions.confidence - again.predictions.confidence)
    assert gap.max() < 0.005


def test_a_session_needs_an_engine_or_a_project():
    with pytest.raises(ValueError, match="needs a ProjectEngine"):
        LabelingSession(None, "ann")


def test_undo_says_what_it_undoes_and_a_batch_counts_as_one(moons):
    project, live = moons
    session = LabelingSession(live, "ann")
    shown = session.next_item().item_id
    session.label(shown, "upper")
    names = project.class_names_by_id()
    assert describe_events(session.last_action(), names) == f"{shown} → upper"
    session.label_selection(["point-0100", "point-0101", "point-0102"], "lower")
    assert describe_events(session.last_action(), names) == "a batch of 3 labels as lower"
    undone = session.undo()
    assert len(undone) == 3 and session.current.item_id != "point-0100"
    assert describe_events(session.last_action(), names) == f"{shown} → upper"


def test_an_accept_can_be_undone_alone(moons, truth):
    project, live = moons
    for item in ["point-0000", "point-0001", "point-0002", "point-0003"]:
        project.label(item, truth[item], annotator="ann")
    live.refresh()
    session = LabelingSession(live, "ann")
    event = session.accept("point-0011", "upper", 0.9)
    assert describe_events(session.last_action(), project.class_names_by_id()) == (
        "the accepted suggestion point-0011 → upper"
    )
    assert [e.id for e in session.undo_event(event)] == [event]
    assert "point-0011" not in project.labels()


def test_a_page_can_keep_the_layout_it_showed(store):
    from sslcore.cache import fingerprint
    from sslcore.projection import UMAP_SETTINGS, project_2d

    tickets = create_demo_project(store, "tickets", "tickets")
    live = ProjectEngine.build(tickets)
    pca = project_2d(live.engine.features, method="pca")
    # As if UMAP had finished in the background (computing it here would take long).
    tickets.cache.save("umap", fingerprint(live.features_key, UMAP_SETTINGS), pca + 1.0)
    coords, method = live.layout("pca")
    assert method == "PCA" and coords.shape == (480, 2)  # asked for PCA: no jump to UMAP
    coords, method = live.layout()
    assert method == "UMAP"
    np.testing.assert_allclose(coords, pca + 1.0)
    moons = ProjectEngine.build(create_demo_project(store, "moons", "m"))
    assert moons.layout("pca")[1] == "the data's own two dimensions"
    assert not moons.umap_ready()


def test_rejected_suggestions_lower_the_confidence_shown_at_the_next_choice(moons, truth):
    project, live = moons
    items = sorted(truth)
    label_every_25th(project, truth)
    live.wait_for_tuning()
    assert live.engine.calibrator.offset_ == pytest.approx(0.0)
    predictions = live.predictions
    unlabeled = [i for i in items if i not in project.labels()]
    shown = {i: float(predictions.confidence[live.engine.position(i)]) for i in unlabeled[:40]}
    for item, confidence in shown.items():  # people turn down 40 suggestions in a row
        name = predictions.predicted[live.engine.position(item)]
        project.reject(item, name, annotator="ann", confidence=confidence)
    label_every_25th(project, truth, start=1)  # more labels: the model is chosen again
    live.wait_for_tuning()
    assert live.decisions()[1].tolist() == [False] * 40
    assert live.engine.calibrator.offset_ < -0.5


def test_features_offered_later_are_chosen_once_and_searched_from_where_the_model_is(store):
    # Seen in the studio: once MiniLM was offered, the background selection ran again at
    # every refresh (Insights said "Choosing again" for good, with no label given), and
    # each search started from the project's first features, not from the ones in use.
    from sslcore.dataset import Dataset
    from sslcore.selection import FeatureRepresentation

    rng = np.random.default_rng(0)
    side = np.repeat(["left", "right"], 150)
    items = pd.DataFrame({"item_id": [f"r{i}" for i in range(300)], "label": side,
                          "a": rng.normal(size=300), "b": rng.normal(size=300)})  # fmt: skip
    project = store.create_project("noise", Dataset("noise", "tabular", items, ("a", "b")),
                                   import_labels=False, class_names=["left", "right"])  # fmt: skip
    live = ProjectEngine.build(project)
    for item in items["item_id"][::10]:
        project.label(item, side[int(item[1:])], annotator="ann")
    live.wait_for_tuning()
    clear = np.where(side == "left", -1.0, 1.0)[:, None] + rng.normal(scale=0.3, size=(300, 2))
    live.engine.add_representation(FeatureRepresentation("clear", clear))
    live.wait_for_tuning()
    assert live.engine.features_in_use == "clear"
    live.refresh(tune=True)
    assert live.tuning_job is None  # nothing new since: no selection under way
    for item in items["item_id"][5::10]:
        project.label(item, side[int(item[1:])], annotator="ann")
    live.wait_for_tuning()
    assert live.tuning.table()["name"].iloc[0].startswith("spreading on clear")
