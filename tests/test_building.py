"""Background engine builds: the result, the progress, and the error a page shows."""

import pytest

from sslcore.building import EngineBuild, builds_slowly
from sslcore.demos import load_demo
from sslcore.errors import DataError
from sslcore.features import SETTING


def test_a_build_reports_progress_and_gives_the_engine(store):
    project = store.create_project("t", load_demo("tickets"))
    build = EngineBuild(project).start()
    live = build.wait(120)
    assert build.done and build.error is None
    assert live.engine.n_items == 480
    assert build.fraction == pytest.approx(1.0) and build.message


def test_a_failed_build_keeps_the_reason_for_the_page(store, tmp_path):
    absent = tmp_path / "no-model"
    project = store.create_project("t", load_demo("tickets"), settings={SETTING: f"model:{absent}"})
    with pytest.raises(DataError, match="not on this machine"):
        builds_slowly(project)
    build = EngineBuild(project).start()
    with pytest.raises(DataError, match="not on this machine"):
        build.wait(120)
    assert build.done and isinstance(build.error, DataError)


def test_only_uncached_model_features_build_slowly(store):
    assert not builds_slowly(store.create_project("t", load_demo("tickets")))
