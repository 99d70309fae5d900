"""Progress reports with the time left, for the long first-time steps (features, graph).

The steps report ``progress(fraction, message)``; :func:`with_time_left` wraps such a
callback so each message also says how long the rest should take, extrapolated from the
time spent so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Progress = Callable[[float, str], None]

MIN_FRACTION = 0.02
"""Below this much done, an estimate is mostly noise, so none is given."""
MIN_SECONDS = 2.0


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


def with_time_left(progress: Progress, *, clock: Callable[[], float] = time.monotonic) -> Progress:
    """``progress``, with "(about N min left)" added to each message once it can be told.

    The clock starts at the first report, so wrap one callback per step.

    Examples
    --------
    >>> now = iter([0.0, 10.0, 20.0]).__next__
    >>> report = with_time_left(lambda f, m: print(f"{f:.0%} {m}"), clock=now)
    >>> report(0.0, "Indexing")
    0% Indexing
    >>> report(0.2, "Indexing")
    20% Indexing (about 40 s left)
    >>> report(0.5, "Searching")
    50% Searching (about 20 s left)
    """
    started: list[float] = []

    def report(fraction: float, message: str) -> None:
        now = clock()
        if not started:
            started.append(now)
        left = time_left(fraction, now - started[0])
        progress(
            fraction, message if left is None else f"{message} ({describe_seconds(left)} left)"
        )

    return report
