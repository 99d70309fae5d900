"""Long jobs a person waits for: how far they are, how long is left, and running them aside.

Steps report ``progress(fraction, message)``. A :class:`ProgressTracker` is such a
callback that remembers the latest report and estimates the time left;
:func:`stage` maps a step's own 0-1 onto its share of the whole job; a
:class:`BackgroundJob` runs a function in a thread with a tracker, so a UI can poll it
and stay usable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[float, str], None]

MIN_FRACTION = 0.02
"""Below this much done, an estimate is mostly noise, so none is given."""
MIN_SECONDS = 1.0


def time_left(fraction: float, elapsed: float) -> float | None:
    """Seconds still needed if the rest goes at the pace so far; ``None`` when too early.

    Examples
    --------
    >>> time_left(0.25, 30.0)
    90.0
    >>> time_left(0.01, 30.0) is None
    True
    """
    if fraction < MIN_FRACTION or elapsed < MIN_SECONDS or fraction >= 1.0:
        return None
    return elapsed * (1.0 - fraction) / fraction


def describe_seconds(seconds: float) -> str:
    """A rounded duration a person reads at a glance.

    Examples
    --------
    >>> describe_seconds(12), describe_seconds(95), describe_seconds(4000)
    ('about 10 s', 'about 2 min', 'about 1 h 7 min')
    """
    if seconds < 60:
        return f"about {max(5, 5 * round(seconds / 5))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h" + (f" {minutes} min" if minutes else "")


class ProgressTracker:
    """A thread-safe ``progress(fraction, message)`` callback with an estimate of time left.

    Parameters
    ----------
    clock : callable, default=time.monotonic
        Seconds, for tests to drive.

    Examples
    --------
    >>> now = [0.0]
    >>> tracker = ProgressTracker(clock=lambda: now[0])
    >>> now[0] = 10.0
    >>> tracker(0.25, "features")
    >>> tracker.fraction, tracker.message, tracker.seconds_left()
    (0.25, 'features', 30.0)
    >>> graph = tracker.stage(0.5, 1.0)
    >>> graph(0.5, "graph")
    >>> tracker.fraction
    0.75
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.started = clock()
        self.fraction = 0.0
        self.message = ""

    def __call__(self, fraction: float, message: str) -> None:
        with self._lock:
            # Never backwards: a step that restarts its own count must not undo the bar.
            self.fraction = max(self.fraction, min(max(float(fraction), 0.0), 1.0))
            self.message = message

    def stage(self, start: float, end: float) -> Progress:
        """A callback for one step of the job, whose 0-1 fills ``start``-``end`` of the whole."""
        return stage(self, start, end)

    def elapsed(self) -> float:
        return self._clock() - self.started

    def seconds_left(self) -> float | None:
        """Elapsed time scaled by the fraction left; None until there is enough to go on."""
        with self._lock:
            fraction = self.fraction
        return time_left(fraction, self.elapsed())


def stage(progress: Progress | None, start: float, end: float) -> Progress:
    """``progress`` for one step of a job: the step's own 0-1 fills ``start``-``end``.

    Examples
    --------
    >>> seen = []
    >>> stage(lambda f, m: seen.append(f), 0.5, 0.9)(0.5, "half of the step")
    >>> seen
    [0.7]
    """
    if progress is None:
        return lambda fraction, message: None

    def report(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(max(float(fraction), 0.0), 1.0), message)

    return report


def describe_wait(tracker: ProgressTracker) -> str:
    """``"40% · about 12 s left · Counting words"``: what a progress bar says.

    Examples
    --------
    >>> now = [0.0]
    >>> tracker = ProgressTracker(clock=lambda: now[0])
    >>> tracker(0.1, "Counting words")
    >>> describe_wait(tracker)
    '10% · Counting words'
    >>> now[0] = 90.0
    >>> describe_wait(tracker)
    '10% · about 14 min left · Counting words'
    """
    parts = [f"{tracker.fraction:.0%}"]
    left = tracker.seconds_left()
    if left is not None:
        parts.append(f"{describe_seconds(left)} left")
    if tracker.message:
        parts.append(tracker.message)
    return " · ".join(parts)


class BackgroundJob:
    """``work(progress)`` run once in a daemon thread, with a :class:`ProgressTracker`.

    Examples
    --------
    >>> job = BackgroundJob(lambda progress: progress(1.0, "done") or 42).start()
    >>> job.wait(10)
    True
    >>> job.result(), job.tracker.message
    (42, 'done')
    """

    def __init__(self, work: Callable[[Progress], Any], *, name: str = "background-job"):
        self._work = work
        self.name = name
        self.tracker = ProgressTracker()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: Any = None
        self.error: BaseException | None = None

    def start(self) -> BackgroundJob:
        """Start the work (once; later calls do nothing) and return the job."""
        if self._thread is None:
            self.tracker = ProgressTracker()
            self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._result = self._work(self.tracker)
        except BaseException as exc:  # handed to whoever asks for the result
            self.error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; True when the work has finished."""
        return self._done.wait(timeout)

    def result(self) -> Any:
        """The work's return value; raises its exception if it failed, or if it is not done."""
        if not self.done:
            raise RuntimeError(f"{self.name} has not finished")
        if self.error is not None:
            raise self.error
        return self._result
