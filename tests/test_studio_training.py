"""The project page's deep-training panel: start, follow, finish or cancel a background job."""

import os

import pytest
from test_app import app

from sslcore.demos import DEMO_PREFIX
from sslcore.store import Store

if not os.environ.get("SSLABEL_REQUIRE_EXTRAS"):
    pytest.importorskip("torch", reason="the 'deep' extra (torch) is not installed")

DIGITS = DEMO_PREFIX + "digits"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLABEL_DATA_DIR", str(tmp_path))
    return tmp_path


def start(at, method: str, steps: int):
    form_select = next(s for s in at.selectbox if s.label == "Method")
    form_select.set_value(method)
    next(n for n in at.number_input if n.label == "Training steps").set_value(steps)
    next(b for b in at.button if b.label == "Start training").click().run()


def job_of(data_dir, name: str):
    from studio.training import training_job

    return training_job(Store(data_dir).open_project(name))


def test_a_training_started_on_the_project_page_saves_its_embedding(data_dir):
    at = app("projects", DIGITS).run()
    assert not at.exception
    start(at, "vae", 3)
    job = job_of(data_dir, DIGITS)
    assert job.wait(120) == "done", job.message
    at.run()
    assert any("vae finished" in s.value for s in at.success)
    folder = Store(data_dir).open_project(DIGITS).folder / "models"
    assert sorted(p.name for p in folder.iterdir()) == ["vae-embedding.npz", "vae.pt"]


def test_the_page_reports_a_failed_job_and_cancel_stops_one_saving_nothing(data_dir):
    at = app("projects", DIGITS).run()
    start(at, "fixmatch", 100_000)
    job = job_of(data_dir, DIGITS)
    # No labels yet: a classifier run fails at once with the message a user reads.
    assert job.wait(120) == "failed"
    at.run()
    assert any("at least two classes" in e.value for e in at.error)
    project = Store(data_dir).open_project(DIGITS)
    project.label_many([("digit-0000", "0"), ("digit-0001", "1")], annotator="tester")
    start(at, "fixmatch", 100_000)
    job = job_of(data_dir, DIGITS)
    while job.fraction <= 0.0 and job.state == "running":
        job.wait(0.05)
    assert job.state == "running" and " left" in job.message
    at.run()
    next(b for b in at.button if b.label == "Cancel training").click().run()
    assert job.wait(120) == "cancelled"
    at.run()
    assert any("nothing was saved" in w.value for w in at.warning)
    assert not (project.folder / "models").exists()


def test_the_export_page_offers_a_trained_network(data_dir):
    at = app("projects", DIGITS).run()
    start(at, "simclr", 2)
    assert job_of(data_dir, DIGITS).wait(120) == "done"
    export = app("export", DIGITS).run()
    assert not export.exception
    labels = [b.label for b in export.get("download_button")]
    assert "Download the simclr network (.pt)" in labels
