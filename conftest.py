"""Test collection for the whole repository (the tests' fixtures live in tests/conftest.py).

The docstring examples of sslcore run as tests (--doctest-modules); those of the modules that
import torch run only where the 'deep' extra is installed.
"""

import importlib.util

if importlib.util.find_spec("torch") is None:
    collect_ignore = [
        f"sslcore/deep/{module}.py"
        for module in ("augment", "base", "consistency", "contrastive", "nets", "vae")
    ]
