"""Grid labeling: which items a grid shows, the keys of its tiles, and labeling the rest."""

import numpy as np
import pytest

from sslcore.demos import create_demo_project, load_demo
from sslcore.grid import cluster_grid, confident_grid, neighbour_grid, tile_keys
from sslcore.keys import RESERVED_KEYS
from sslcore.session import LabelingSession, ProjectEngine


@pytest.fixture
def moons(store):
    project = create_demo_project(store, "moons", "moons")
    truth = load_demo("moons").items.set_index("item_id")["label"].to_dict()
    for item in ["point-0000", "point-0001", "point-0002", "point-0003"]:
        project.label(item, truth[item], annotator="ann")
    live = ProjectEngine.build(project)
    live.refresh()
    return project, live, truth


def test_a_confident_grid_is_the_surest_unlabeled_items_of_the_class(moons):
    _, live, _ = moons
    p = live.predictions
    grid = confident_grid(p, "upper", 24)
    assert grid.proposed == "upper" and len(grid.item_ids) == 24
    rows = [list(p.item_ids).index(i) for i in grid.item_ids]
    assert all(p.human[r] is None and p.predicted[r] == "upper" for r in rows)
    confidence = p.confidence[rows]
    assert (np.diff(confidence) <= 0).all()
    unlabeled_upper = (p.predicted == "upper") & np.array([h is None for h in p.human])
    assert confidence[-1] >= np.sort(p.confidence[unlabeled_upper])[-24]
    following = confident_grid(p, "upper", 24, exclude=grid.item_ids)
    assert not set(following.item_ids) & set(grid.item_ids)


def test_a_class_the_model_does_not_predict_gives_an_empty_grid(moons):
    _, live, _ = moons
    grid = confident_grid(live.predictions, "middle", 24)
    assert grid.item_ids == () and "no item 'middle'" in grid.title


def test_a_neighbour_grid_starts_with_the_item_and_keeps_to_unlabeled_items(moons):
    _, live, _ = moons
    engine = live.engine
    grid = neighbour_grid(engine, "point-0500", 12)
    assert grid.item_ids[0] == "point-0500" and len(set(grid.item_ids)) == 12
    X = engine.features
    distance = [((X[engine.position(i)] - X[engine.position("point-0500")]) ** 2).sum()
                for i in grid.item_ids]  # fmt: skip
    assert distance == sorted(distance)
    assert not {"point-0000", "point-0001", "point-0002", "point-0003"} & set(grid.item_ids)
    around_a_labeled_item = neighbour_grid(engine, "point-0000", 5)
    assert "point-0000" not in around_a_labeled_item.item_ids
    assert len(around_a_labeled_item.item_ids) == 5


def test_cluster_grids_show_new_items_each_time(moons):
    _, live, _ = moons
    first = cluster_grid(live.engine, 24)
    second = cluster_grid(live.engine, 24, exclude=first.item_ids)
    assert len(first.item_ids) == len(second.item_ids) == 24
    assert not set(first.item_ids) & set(second.item_ids)
    assert first.proposed in ("upper", "lower")


def test_tile_keys_never_take_a_class_key_or_a_reserved_key():
    keys = tile_keys(48, taken=[*"0123456789", "N"])
    given = [k for k in keys if k]
    assert len(given) == len(set(given)) == 48
    plain = {k for k in given if "+" not in k}
    assert not plain & {*"0123456789", "N", *RESERVED_KEYS}
    assert keys[:3] == ["A", "B", "D"]


def test_the_rest_of_a_grid_is_labeled_as_one_batch(moons):
    project, live, _ = moons
    session = LabelingSession(live, "ann")
    grid = confident_grid(live.predictions, "upper", 12)
    odd = grid.item_ids[:2]
    taken = grid.item_ids[5]
    project.label(taken, "lower", annotator="bob")  # labeled since the grid was shown
    batch, count = session.label_grid(grid.item_ids, odd, "upper")
    assert count == 9
    labels = project.labels()
    assert all(labels[i] == "upper" for i in grid.item_ids[2:] if i != taken)
    assert labels[taken] == "lower" and not set(odd) & set(labels)
    assert len(session.undo()) == 9  # one action
    assert session.label_grid(grid.item_ids[:2], odd, "upper") == (None, 0)
