"""Deep semi-supervised methods for images, in the optional extra ``deep`` (PyTorch).

* consistency regularisation: ``fixmatch``, ``pi`` (Pi-model), ``mean_teacher``
  (:class:`~sslcore.deep.consistency.ConsistencyTrainer`): class probabilities;
* a generative model: ``vae`` (:class:`~sslcore.deep.vae.VAEEmbedder`, Kingma et al.'s M1):
  an embedding for the graph and the map;
* contrastive pretraining: ``simclr``
  (:class:`~sslcore.deep.contrastive.ContrastiveEmbedder`): an embedding, and an encoder
  a consistency trainer can start from.

Importing this package needs no torch; using a method without it raises a
:class:`~sslcore.errors.DataError` that names the extra to install.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import DataError
from .runtime import Cancelled, ProgressFn, StepClock, format_seconds, write_atomically

CLASSIFIER_METHODS = ("fixmatch", "pi", "mean_teacher")
EMBEDDING_METHODS = ("vae", "simclr")
METHODS = CLASSIFIER_METHODS + EMBEDDING_METHODS
INSTALL_HINT = "pip install torch==2.13.0 'sslabel[deep]'"


def require_torch():
    """The ``torch`` module, or a :class:`DataError` that says how to install it."""
    try:
        import torch
    except ImportError as error:
        raise DataError(
            f"the deep methods ({', '.join(METHODS)}) need PyTorch, the optional extra "
            f"'deep': {INSTALL_HINT}"
        ) from error
    return torch


def make_model(method: str, **params: Any):
    """An unfitted estimator for ``method`` (one of :data:`METHODS`) with ``params``.

    Examples
    --------
    >>> make_model("pi", steps=10).method  # doctest: +SKIP
    'pi'
    """
    if method not in METHODS:
        raise ValueError(f"unknown deep method {method!r}; choose one of {', '.join(METHODS)}")
    require_torch()
    if method in CLASSIFIER_METHODS:
        from .consistency import ConsistencyTrainer

        return ConsistencyTrainer(method=method, **params)
    if method == "vae":
        from .vae import VAEEmbedder

        return VAEEmbedder(**params)
    from .contrastive import ContrastiveEmbedder

    return ContrastiveEmbedder(**params)


def train(
    method: str,
    images,
    labels=None,
    *,
    teacher=None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    **params: Any,
):
    """Fit ``method`` on ``images`` (``labels``: a class name per image, ``None`` if unknown).

    ``teacher`` (classifiers only): another model's class probabilities, see
    :meth:`~sslcore.deep.consistency.ConsistencyTrainer.fit`.

    Returns the fitted estimator: classifiers have ``predict_proba(images)`` and
    ``classes_``; embedders have ``embedding_`` (one row per image) and ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((64, 8, 8))
    >>> train("vae", images, steps=3, width=8, latent=2).embedding_.shape  # doctest: +SKIP
    (64, 2)
    """
    model = make_model(method, **params)
    if method in CLASSIFIER_METHODS and labels is None:
        raise DataError(f"{method} learns from labels: label a few items of each class first")
    if teacher is not None:
        return model.fit(images, labels, teacher=teacher, progress=progress, cancel=cancel)
    return model.fit(images, labels, progress=progress, cancel=cancel)


def load_model(path, *, device: str | None = None):
    """A model saved with its ``save(path)`` method (see :func:`sslcore.deep.base.load_model`)."""
    require_torch()
    from .base import load_model as _load

    return _load(path, device=device)


__all__ = [
    "CLASSIFIER_METHODS",
    "EMBEDDING_METHODS",
    "INSTALL_HINT",
    "METHODS",
    "Cancelled",
    "StepClock",
    "format_seconds",
    "load_model",
    "make_model",
    "require_torch",
    "train",
    "write_atomically",
]
