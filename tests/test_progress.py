"""Long jobs: the fraction never goes back, the time left, and a failure reaches the caller."""

import pytest

from sslcore.progress import BackgroundJob, ProgressTracker, describe_wait


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
