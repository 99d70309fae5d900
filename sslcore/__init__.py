"""sslcore: the semi-supervised labeling library behind the studio (no UI code here)."""

from .dataset import Dataset
from .demos import DEMOS, load_demo
from .errors import DataError, PoolExhaustedError, StoreError

__version__ = "0.1.0"

__all__ = ["DEMOS", "DataError", "Dataset", "PoolExhaustedError", "StoreError", "load_demo"]
