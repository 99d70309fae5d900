"""Engine builds in the background: the result, the progress, and the error a page shows."""

import pytest

from sslcore.active import DEFAULT_STRATEGY
from sslcore.demos import load_demo
from sslcore.errors import DataError
from sslcore.features import SETTING
from sslcore.progress import BackgroundJob
from sslcore.session import ProjectEngine


def _build_job(project) -> BackgroundJob:
    return BackgroundJob(
        lambda progress: ProjectEngine.build(project, progress, prepare=DEFAULT_STRATEGY)
    ).start()


def test_a_build_reports_progress_and_gives_the_engine(store):
    project = store.create_project("t", load_demo("tickets"))
    job = _build_job(project)
    assert job.wait(120) and job.error is None
    assert job.result().engine.n_items == 480
    assert job.tracker.fraction == pytest.approx(1.0) and job.tracker.message == "Ready"


def test_a_failed_build_keeps_the_reason_for_the_page(store, tmp_path):
    absent = tmp_path / "no-model"
    project = store.create_project("t", load_demo("tickets"), settings={SETTING: f"model:{absent}"})
    job = _build_job(project)
    assert job.wait(120)
    assert isinstance(job.error, DataError) and "not on this machine" in str(job.error)
    with pytest.raises(DataError, match="not on this machine"):
        job.result()
