import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sslcore.selftraining import SelfTrainer


def data():
    X, y = make_blobs(120, centers=3, random_state=0)
    partial = np.full(120, -1)
    for c in range(3):
        partial[np.flatnonzero(y == c)[:2]] = c
    return X, y, partial


@pytest.mark.parametrize("criterion", ["threshold", "k_best"])
def test_learns_and_records_rounds(criterion):
    X, y, partial = data()
    model = SelfTrainer(criterion=criterion, k_best=20).fit(X, partial)
    assert (model.predict(X) == y).mean() > 0.8  # two of the blobs overlap
    assert (model.labeled_iter_[partial >= 0] == 0).all()
    assert model.labeled_iter_.max() >= 1
    assert model.termination_condition_ in {"max_iter", "no_change", "all_labeled"}


def test_one_class_and_errors():
    X, _, _ = data()
    one = np.full(120, -1)
    one[0] = 4
    assert (SelfTrainer().fit(X, one).predict(X) == 4).all()
    with pytest.raises(ValueError, match="no labeled sample"):
        SelfTrainer().fit(X, np.full(120, -1))
