"""Doctests of the modules that import torch run only where the 'deep' extra is installed."""

import importlib.util

if importlib.util.find_spec("torch") is None:
    collect_ignore = [
        "augment.py", "base.py", "consistency.py", "contrastive.py", "nets.py", "vae.py",
    ]  # fmt: skip
