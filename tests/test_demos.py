"""Built-in demos: two moons, digits as images, support tickets."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sslcore.cache import fingerprint
from sslcore.demos import DEMO_DESCRIPTIONS, DEMO_PREFIX, DEMOS, ensure_demo_projects, load_demo


@pytest.fixture(scope="module")
def digits():
    return load_demo("digits")


def test_every_demo_has_a_description():
    assert set(DEMOS) == set(DEMO_DESCRIPTIONS) == {"digits", "moons", "tickets"}


def test_unknown_demo_names_the_choices():
    with pytest.raises(ValueError, match="unknown demo 'iris'; choose one of digits, moons"):
        load_demo("iris")


@pytest.mark.parametrize("name", DEMOS)
def test_demo_ids_are_unique_strings_and_every_item_is_labeled(name):
    ds = load_demo(name)
    assert ds.items["item_id"].is_unique
    assert all(isinstance(i, str) for i in ds.ids)
    assert all(isinstance(label, str) for label in ds.labels)


@pytest.mark.parametrize("name", DEMOS)
def test_demos_are_the_same_every_time(name):
    assert fingerprint(load_demo(name).items) == fingerprint(load_demo(name).items)


def test_digits_are_1797_small_grey_images_of_ten_classes(digits):
    assert digits.kind == "image" and digits.n_items == 1797
    assert digits.classes == [str(d) for d in range(10)]
    for data in digits.items["image"].iloc[:: len(digits.items) // 20]:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.size == (8, 8) and image.mode == "L"


def test_digits_images_have_ink_in_full_range(digits):
    with Image.open(io.BytesIO(digits.items["image"].iloc[0])) as image:
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() > 200


def test_moons_are_two_classes_in_two_dimensions():
    moons = load_demo("moons")
    assert moons.kind == "tabular" and moons.feature_columns == ("x", "y")
    assert moons.n_items == 1000 and len(moons.classes) == 2
    assert np.isfinite(moons.items[["x", "y"]].to_numpy(dtype=float)).all()


def test_tickets_are_480_messages_in_four_intents():
    tickets = load_demo("tickets")
    assert tickets.kind == "text" and tickets.n_items == 480
    assert tickets.classes == ["account", "billing", "delivery", "technical"]
    assert (tickets.items["text"].str.strip().str.len() > 0).all()


def test_demo_projects_are_created_once_with_classes_and_no_labels(store):
    created = ensure_demo_projects(store)
    assert created == [DEMO_PREFIX + d for d in DEMOS]
    for name in DEMOS:
        project = store.open_project(DEMO_PREFIX + name)
        assert project.labels() == {}
        assert project.class_names() == load_demo(name).classes
        assert project.n_items == load_demo(name).n_items
    assert ensure_demo_projects(store) == []


def test_digits_images_survive_the_store_byte_for_byte(store, digits):
    ensure_demo_projects(store, ["digits"])
    stored = store.open_project(DEMO_PREFIX + "digits").dataset().items
    assert list(stored["item_id"]) == list(digits.ids)
    assert list(stored["image"]) == list(digits.items["image"])
