"""Long jobs: the time left, a fraction that never goes back, progress from each step,
and a failure that reaches the caller."""

import numpy as np
import pytest
from helpers import image_bytes, text_dataset

from sslcore.features import featurize
from sslcore.images import ImagePixels
from sslcore.progress import (
    BackgroundJob,
    ProgressTracker,
    describe_seconds,
    describe_wait,
    time_left,
)


def test_time_left_extrapolates_the_pace_so_far():
    assert time_left(0.25, 30.0) == pytest.approx(90.0)
    assert time_left(0.5, 10.0) == pytest.approx(10.0)
    assert time_left(0.01, 30.0) is None  # too early to tell
    assert time_left(0.5, 0.5) is None
    assert time_left(1.0, 30.0) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3, "about 5 s"), (44, "about 45 s"), (95, "about 2 min"), (3599, "about 1 h"),
     (4000, "about 1 h 7 min")],
)  # fmt: skip
def test_durations_read_at_a_glance(seconds, text):
    assert describe_seconds(seconds) == text


def test_image_features_report_progress_per_image():
    blobs = [image_bytes(size=(4, 4), color=(i, 0, 0)) for i in range(7)]
    reports = []
    rows = ImagePixels().fit(blobs).transform(blobs, progress=reports.append)
    assert rows.shape == (7, 48)
    assert reports == pytest.approx([(i + 1) / 7 for i in range(7)])


def test_text_features_report_progress_in_stages():
    dataset = text_dataset(["card refund", "refund my card", "app crashes", "crash on open"])
    reports = []
    X = featurize(dataset, progress=lambda fraction, message: reports.append(fraction))
    assert np.isfinite(X).all()
    assert reports[0] == pytest.approx(0.0) and reports[-1] == pytest.approx(1.0)
    assert len(reports) >= 4
    assert reports == sorted(reports)


def test_the_fraction_never_goes_back_and_stages_fill_their_share():
    tracker = ProgressTracker(clock=lambda: 0.0)
    features, graph = tracker.stage(0.0, 0.8), tracker.stage(0.8, 1.0)
    features(0.5, "features")
    assert tracker.fraction == pytest.approx(0.4)
    features(0.25, "a step that counts again from zero")
    assert tracker.fraction == pytest.approx(0.4)
    graph(0.5, "graph")
    assert tracker.fraction == pytest.approx(0.9) and tracker.message == "graph"


def test_no_estimate_before_there_is_something_to_go_on():
    now = [0.0]
    tracker = ProgressTracker(clock=lambda: now[0])
    tracker(0.5, "half")
    assert tracker.seconds_left() is None  # no time has passed yet
    now[0] = 20.0
    assert tracker.seconds_left() == pytest.approx(20.0)
    assert describe_wait(tracker) == "50% · about 20 s left · half"


def test_a_failed_job_hands_its_error_to_whoever_asks():
    def fail(progress):
        progress(0.3, "working")
        raise ValueError("no column 'text'")

    job = BackgroundJob(fail).start()
    assert job.wait(30)
    assert isinstance(job.error, ValueError)
    with pytest.raises(ValueError, match="no column 'text'"):
        job.result()


def test_a_job_runs_once_however_often_it_is_started():
    runs = []
    job = BackgroundJob(lambda progress: runs.append(1) or len(runs))
    job.start().start()
    assert job.wait(30)
    job.start()
    assert job.result() == 1 and runs == [1]


def test_asking_for_a_result_too_early_is_an_error():
    import threading

    release = threading.Event()
    job = BackgroundJob(lambda progress: release.wait(30)).start()
    with pytest.raises(RuntimeError, match="has not finished"):
        job.result()
    release.set()
    assert job.wait(30)
