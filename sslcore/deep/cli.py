"""``sslabel train``: train a deep model on an image project from the command line."""

from __future__ import annotations

import json
import sys
import threading

from ..errors import DataError
from . import CLASSIFIER_METHODS, METHODS, require_torch
from .runtime import Cancelled

MODELS_FOLDER = "models"


def project_images(project):
    """The project's encoded images, item ids and current labels (``None`` if unlabeled)."""
    if project.kind != "image":
        raise DataError(
            f"project {project.name!r} holds {project.kind} items; the deep methods train on images"
        )
    items = project.dataset().items
    labels = project.labels()
    ids = items["item_id"].tolist()
    return items["image"].tolist(), [labels.get(i) for i in ids], ids


def run_train(store, args) -> int:
    """Train ``args.method`` on project ``args.project``; write the model and its output
    under the project's ``models/`` folder (see :func:`sslcore.deep.jobs.train_and_save`)."""
    if args.method not in METHODS:
        raise DataError(f"unknown method {args.method!r}; choose one of {', '.join(METHODS)}")
    torch = require_torch()
    from .jobs import train_and_save

    if args.threads:
        torch.set_num_threads(args.threads)
    project = store.open_project(args.project)
    images, labels, ids = project_images(project)
    params = {"seed": args.seed}
    if args.steps:
        params["steps"] = args.steps
    if args.flip and args.method != "vae":
        params["flip"] = True
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        print(f"\r{100 * fraction:5.1f}%  {message}", end="", file=sys.stderr, flush=True)

    try:
        files = train_and_save(
            args.method, images, labels, ids, project.folder / MODELS_FOLDER,
            progress=progress, cancel=cancel, **params,
        )  # fmt: skip
    except (KeyboardInterrupt, Cancelled):
        print(f"\nsslabel: {args.method} cancelled; nothing was saved", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    summary = {"project": project.name, "method": args.method, "model": str(files.model)}
    if args.method in CLASSIFIER_METHODS:
        summary["predictions"] = str(files.predictions)
        summary["labeled"] = sum(v is not None for v in labels)
    else:
        summary["embedding"] = str(files.embedding)
    print(json.dumps(summary))
    return 0
