"""Derived artefacts (features, graphs, 2-D maps) cached as files under a fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd


def fingerprint(*parts: Any) -> str:
    """A short stable hash of data and settings.

    Arrays, data frames, bytes, and JSON-serialisable settings are accepted.

    Examples
    --------
    >>> fingerprint({"k": 10}) == fingerprint({"k": 10})
    True
    """
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()[:20]


def _feed(digest, part: Any) -> None:
    if isinstance(part, np.ndarray):
        digest.update(str((part.dtype.str, part.shape)).encode())
        if part.dtype == object:
            for value in part.ravel():
                _feed(digest, value)
        else:
            digest.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, pd.DataFrame):
        digest.update(repr(list(part.columns)).encode())
        digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
    elif isinstance(part, bytes | bytearray):
        digest.update(hashlib.sha256(part).digest())
    elif isinstance(part, list | tuple):
        digest.update(b"[")
        for value in part:
            _feed(digest, value)
        digest.update(b"]")
    else:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    digest.update(b"\x00")


class ArtifactCache:
    """Files under ``root``, one per (name, key), written atomically.

    Examples
    --------
    >>> import tempfile
    >>> cache = ArtifactCache(tempfile.mkdtemp())
    >>> cache.get_or_compute("squares", "k1", lambda: [1, 4, 9])
    [1, 4, 9]
    >>> cache.has("squares", "k1")
    True
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key}.joblib"

    def has(self, name: str, key: str) -> bool:
        return self.path(name, key).exists()

    def load(self, name: str, key: str) -> Any:
        return joblib.load(self.path(name, key))

    def save(self, name: str, key: str, value: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(name, key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{target.name}.")
        os.close(fd)
        try:
            joblib.dump(value, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get_or_compute(self, name: str, key: str, compute: Callable[[], Any]) -> Any:
        """Load the artefact if cached, else compute, save and return it."""
        if self.has(name, key):
            try:
                return self.load(name, key)
            except Exception:  # a corrupt file is recomputed, not fatal
                pass
        value = compute()
        self.save(name, key, value)
        return value
