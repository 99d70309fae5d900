"""What every deep training run shares and that needs no torch: progress with time left,
cancellation, and writing a file so that a reader never sees half of it."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ProgressFn = Callable[[float, str], None]


class Cancelled(Exception):
    """A training run stopped because its cancel event was set; nothing was written."""


class StepClock:
    """Reports ``progress(fraction, message)`` with the time left, and honours ``cancel``.

    Parameters
    ----------
    total : int
        Steps planned.
    progress : callable, optional
        ``progress(fraction, message)``; the message ends with the estimated time left.
    cancel : threading.Event, optional
        Checked at every :meth:`tick`; when set, :class:`Cancelled` is raised.
    label : str
        What is being trained, for the message.
    every : float, default=0.5
        Seconds between two progress reports (the first and last are always sent).

    Examples
    --------
    >>> messages = []
    >>> clock = StepClock(4, progress=lambda f, m: messages.append(f), label="demo", every=0)
    >>> for _ in range(4):
    ...     clock.tick()
    >>> messages[-1]
    1.0
    """

    def __init__(
        self,
        total: int,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        label: str = "training",
        every: float = 0.5,
    ):
        self.total = max(1, int(total))
        self.progress = progress
        self.cancel = cancel
        self.label = label
        self.every = every
        self.done = 0
        self.started = time.monotonic()
        self._last_report = -float("inf")
        self.check()
        if progress is not None:
            progress(0.0, f"{label}: starting")

    def check(self) -> None:
        """Raise :class:`Cancelled` if the cancel event is set."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.label} was cancelled")

    def tick(self, detail: str = "") -> None:
        self.done += 1
        self.check()
        now = time.monotonic()
        if self.progress is None:
            return
        if self.done < self.total and now - self._last_report < self.every:
            return
        self._last_report = now
        fraction = min(1.0, self.done / self.total)
        left = (now - self.started) / self.done * (self.total - self.done)
        extra = f", {detail}" if detail else ""
        self.progress(
            fraction,
            f"{self.label}: step {self.done}/{self.total}{extra}, {format_seconds(left)} left",
        )


def format_seconds(seconds: float) -> str:
    """``"1 min 05 s"`` / ``"12 s"``.

    Examples
    --------
    >>> format_seconds(65.2), format_seconds(4)
    ('1 min 05 s', '4 s')
    """
    seconds = max(0, round(seconds))
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def write_atomically(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)``, then move the file onto ``path`` in one step.

    A reader sees the old file or the complete new one, never a partial write; if
    ``write`` raises (or the run is cancelled inside it), the temporary file is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
