"""A deep training run as a background job: progress, time left, cancel, and files written
only when the run completes (each in one atomic step)."""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import BackgroundJob
from . import CLASSIFIER_METHODS, train
from .runtime import Cancelled, write_atomically


@dataclass(frozen=True)
class TrainedFiles:
    """Where a finished run put its outputs."""

    model: Path
    embedding: Path | None = None
    predictions: Path | None = None


def train_and_save(
    method: str,
    images,
    labels,
    item_ids,
    folder: str | os.PathLike,
    *,
    progress=None,
    cancel: threading.Event | None = None,
    **params: Any,
) -> TrainedFiles:
    """Train ``method``, then write ``<method>.pt`` and ``<method>-embedding.npz`` (item ids
    and one row per image) or ``<method>-proba.npz`` (item ids, classes, probabilities).

    Nothing is written until training has finished; a cancelled run (``cancel`` set)
    raises :class:`~sslcore.deep.runtime.Cancelled` and leaves ``folder`` as it was.

    Examples
    --------
    >>> files = train_and_save("vae", images, None, ids, "models/")  # doctest: +SKIP
    >>> np.load(files.embedding)["embedding"].shape  # doctest: +SKIP
    (1797, 16)
    """
    folder = Path(folder)
    model = train(method, images, labels, progress=progress, cancel=cancel, **params)
    ids = np.asarray([str(i) for i in item_ids])
    if method in CLASSIFIER_METHODS:
        arrays = {"item_ids": ids, "classes": np.asarray(model.classes_),
                  "proba": model.predict_proba(images)}  # fmt: skip
        output = folder / f"{method}-proba.npz"
    else:
        arrays = {"item_ids": ids, "embedding": model.embedding_}
        output = folder / f"{method}-embedding.npz"
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{method} was cancelled")
    model_path = folder / f"{method}.pt"
    model.save(model_path)
    write_atomically(output, lambda tmp: _write_npz(tmp, arrays))
    kind = "predictions" if method in CLASSIFIER_METHODS else "embedding"
    return TrainedFiles(model=model_path, **{kind: output})


def saved_models(folder: str | os.PathLike) -> dict[str, Path]:
    """``{method: path}`` of the networks ``train_and_save`` finished in ``folder``.

    Examples
    --------
    >>> saved_models("no-such-folder")
    {}
    """
    from . import METHODS

    folder = Path(folder)
    return {m: folder / f"{m}.pt" for m in METHODS if (folder / f"{m}.pt").is_file()}


def _write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    Path(path).write_bytes(buffer.getvalue())


@dataclass
class TrainingJob:
    """``train_and_save`` as a :class:`~sslcore.progress.BackgroundJob` that a page can
    poll and cancel.

    ``threads``, when given, sets torch's CPU threads for the whole process (torch has no
    per-thread setting): the studio leaves one core to the pages.

    Examples
    --------
    >>> job = TrainingJob("vae", images, None, ids, folder).start()  # doctest: +SKIP
    >>> job.fraction, job.message  # doctest: +SKIP
    (0.42, 'vae: step 630/1500, loss 61.2, 1 min 10 s left')
    >>> job.cancel(); job.wait()  # doctest: +SKIP
    'cancelled'
    """

    method: str
    images: Any
    labels: Any
    item_ids: Any
    folder: str | os.PathLike
    params: dict = field(default_factory=dict)
    threads: int | None = None

    def __post_init__(self):
        self._cancel = threading.Event()
        self._job = BackgroundJob(self._train, name=f"train-{self.method}")
        self._started = False

    def start(self) -> TrainingJob:
        self._started = True
        self._job.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop at its next step; nothing it would have written appears."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> str:
        """Wait up to ``timeout`` seconds; returns the state then."""
        self._job.wait(timeout)
        return self.state

    @property
    def state(self) -> str:
        """pending, running, done, cancelled or failed."""
        if not self._started:
            return "pending"
        if not self._job.done:
            return "running"
        if self._job.error is None:
            return "done"
        return "cancelled" if isinstance(self._job.error, Cancelled) else "failed"

    @property
    def fraction(self) -> float:
        return self._job.tracker.fraction

    @property
    def message(self) -> str:
        state = self.state
        if state == "done":
            return f"{self.method}: finished"
        if state == "cancelled":
            return f"{self.method}: cancelled, nothing saved"
        if state == "failed":
            return f"{self.method}: {self._job.error}"
        return self._job.tracker.message or "waiting"

    @property
    def error(self) -> BaseException | None:
        """What made the run fail (a cancel is not a failure)."""
        return self._job.error if self.state == "failed" else None

    @property
    def result(self) -> TrainedFiles | None:
        return self._job.result() if self.state == "done" else None

    def _train(self, progress) -> TrainedFiles:
        if self.threads:
            from . import require_torch

            require_torch().set_num_threads(self.threads)
        return train_and_save(
            self.method, self.images, self.labels, self.item_ids, self.folder,
            progress=progress, cancel=self._cancel, **self.params,
        )  # fmt: skip
