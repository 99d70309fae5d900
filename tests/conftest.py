"""Shared fixtures: a store in a temp dir, the shared SMS file, tiny image and table writers."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from sslcore.dataset import Dataset
from sslcore.store import Store

SHARED_DATASETS = Path(__file__).parents[1].parent / "shared" / "datasets"


@pytest.fixture
def store(tmp_path):
    """A Store with its data dir in a fresh temp dir; closed after the test."""
    opened = Store(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def sms_path() -> Path:
    """The SMS spam collection (tab-separated, header ``Label<TAB>SMS``) from ../shared."""
    path = SHARED_DATASETS / "sms_spam.tsv"
    if not path.exists():
        pytest.skip(f"{path} is absent (it lives outside the repository, in ../shared/datasets)")
    return path


def image_bytes(fmt: str = "PNG", size=(6, 5), color="red", mode="RGB", **save) -> bytes:
    """A tiny image encoded in ``fmt``."""
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def text_dataset(texts, labels=None, ids=None, name="toy") -> Dataset:
    """A text Dataset built by hand (ids default to t0, t1, ...)."""
    ids = ids if ids is not None else [f"t{i}" for i in range(len(texts))]
    labels = labels if labels is not None else [None] * len(texts)
    items = pd.DataFrame({"item_id": ids, "text": list(texts), "label": list(labels)})
    return Dataset(name, "text", items)


@pytest.fixture
def project(store):
    """A five-item text project with classes 'a', 'b' and '-1' and no labels."""
    dataset = text_dataset(["one", "two", "three", "four", "five"])
    return store.create_project("toy", dataset, class_names=["a", "b", "-1"])


def sign_in(page, name: str = "browser-tester") -> None:
    """Answer the studio's once-per-session "Who is labeling?" form in a Playwright page."""
    start = page.get_by_role("button", name="Start labeling")
    start.wait_for(timeout=90_000)
    page.get_by_role("textbox", name="Your name").fill(name)
    start.click()
    start.wait_for(state="detached", timeout=60_000)
