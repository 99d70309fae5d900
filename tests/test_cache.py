"""Fingerprints and the on-disk artefact cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sslcore.cache import ArtifactCache, fingerprint


def test_fingerprint_is_stable_for_equal_inputs():
    def parts():
        return (np.arange(6.0).reshape(2, 3), pd.DataFrame({"a": ["x", "y"]}), b"img", {"k": 10})

    assert fingerprint(*parts()) == fingerprint(*parts())


def test_fingerprint_ignores_settings_key_order():
    assert fingerprint({"k": 10, "metric": "cosine"}) == fingerprint({"metric": "cosine", "k": 10})


@pytest.mark.parametrize(
    "a, b",
    [
        (np.arange(6), np.arange(6).reshape(2, 3)),
        (np.arange(3, dtype=np.int64), np.arange(3, dtype=np.float64)),
        (np.array([1.0, 2.0]), np.array([1.0, 2.000001])),
        (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"b": [1, 2]})),
        (pd.DataFrame({"a": ["x", "y"]}), pd.DataFrame({"a": ["y", "x"]})),
        (np.array(["a", "b"], dtype=object), np.array(["ab", ""], dtype=object)),
        (b"one", b"two"),
        ({"k": 10}, {"k": 11}),
        (["ab"], "ab"),
        (("a", "b"), ("ab",)),
    ],
)
def test_fingerprint_changes_when_the_input_changes(a, b):
    assert fingerprint(a) != fingerprint(b)


def test_fingerprint_is_the_same_in_another_process():
    """Cache keys must survive a restart (no dependence on hash randomisation)."""
    code = (
        "import numpy as np, pandas as pd; from sslcore.cache import fingerprint; "
        "print(fingerprint({'k': 5, 'm': 'cos'}, np.arange(4), "
        "pd.DataFrame({'t': ['a', 'b']}), b'x', ['s', 1.5]))"
    )
    local = fingerprint({"k": 5, "m": "cos"}, np.arange(4), pd.DataFrame({"t": ["a", "b"]}), b"x",
                        ["s", 1.5])  # fmt: skip
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert other.stdout.strip() == local


def test_get_or_compute_computes_once_and_reloads_from_disk(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(10) ** 2

    first = ArtifactCache(tmp_path / "cache").get_or_compute("squares", "k1", compute)
    again = ArtifactCache(tmp_path / "cache").get_or_compute("squares", "k1", compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, again)


def test_different_keys_are_different_artefacts(tmp_path):
    cache = ArtifactCache(tmp_path)
    assert cache.get_or_compute("graph", "a", lambda: "A") == "A"
    assert cache.get_or_compute("graph", "b", lambda: "B") == "B"
    assert cache.get_or_compute("map", "a", lambda: "M") == "M"
    assert cache.load("graph", "a") == "A"


def test_corrupt_file_is_recomputed(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.save("features", "k", [1, 2, 3])
    cache.path("features", "k").write_bytes(b"\x00 half-written garbage")
    assert cache.get_or_compute("features", "k", lambda: [4, 5]) == [4, 5]
    assert ArtifactCache(tmp_path).load("features", "k") == [4, 5]


def test_save_leaves_no_temporary_files(tmp_path):
    cache = ArtifactCache(tmp_path / "c")
    for i in range(3):
        cache.save("x", "k", {"round": i})
    assert [p.name for p in (tmp_path / "c").iterdir()] == [cache.path("x", "k").name]
    assert cache.load("x", "k") == {"round": 2}


def test_failed_save_keeps_the_previous_artefact(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.save("x", "k", "good")

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    with pytest.raises(TypeError, match="cannot pickle"):
        cache.save("x", "k", Unpicklable())
    assert cache.load("x", "k") == "good"
    assert len(list(tmp_path.iterdir())) == 1
