"""sslcore: the semi-supervised labeling library behind the studio (no UI code here)."""

from .active import STRATEGIES, ActiveLearner, Suggestion
from .dataset import Dataset
from .demos import DEMOS, load_demo
from .engine import Engine, Predictions
from .errors import DataError, PoolExhaustedError, StoreError
from .features import featurize
from .graph import build_knn_graph
from .loaders import load_file
from .propagation import LabelSpreader
from .review import LikelyMistake, PseudoLabel
from .selftraining import SelfTrainer
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "DEMOS",
    "STRATEGIES",
    "ActiveLearner",
    "DataError",
    "Dataset",
    "Engine",
    "LabelSpreader",
    "LikelyMistake",
    "PoolExhaustedError",
    "Predictions",
    "PseudoLabel",
    "SelfTrainer",
    "Store",
    "StoreError",
    "Suggestion",
    "build_knn_graph",
    "featurize",
    "load_demo",
    "load_file",
]
