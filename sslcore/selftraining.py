"""Self-training: a classifier labels what it is sure of, then retrains on it.

Same semantics as scikit-learn's ``SelfTrainingClassifier`` (threshold or
k-best criterion, ``-1`` for unlabeled, ``labeled_iter_``,
``termination_condition_``), with logistic regression as the default base
model. Where it disagrees with label spreading is itself a useful signal
(see :class:`sslcore.active.Disagreement`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from .propagation import _unlabeled_mask


class SelfTrainer(ClassifierMixin, BaseEstimator):
    """Self-training over any scikit-learn classifier with ``predict_proba``.

    Parameters
    ----------
    estimator : classifier, default=None
        ``None`` means ``LogisticRegression(max_iter=1000)``.
    criterion : {"threshold", "k_best"}, default="threshold"
    threshold : float, default=0.9
        Pseudo-label items whose top probability reaches this.
    k_best : int, default=10
        With ``criterion="k_best"``, how many pseudo-labels to add per round.
    max_iter : int or None, default=10

    Attributes
    ----------
    estimator_ : the fitted classifier
    classes_ : ndarray
    transduction_ : ndarray, labels used for the final fit (``-1`` where still unlabeled)
    labeled_iter_ : ndarray, round at which each sample got its label (0 = human)
    n_iter_ : int
    termination_condition_ : {"max_iter", "no_change", "all_labeled"}

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(200, centers=2, random_state=0)
    >>> y_partial = np.full(200, -1)
    >>> two_each = np.r_[np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:2]]
    >>> y_partial[two_each] = y[two_each]
    >>> float((SelfTrainer().fit(X, y_partial).predict(X) == y).mean()) > 0.9
    True
    """

    def __init__(
        self,
        estimator=None,
        *,
        criterion: str = "threshold",
        threshold: float = 0.9,
        k_best: int = 10,
        max_iter: int | None = 10,
    ):
        self.estimator = estimator
        self.criterion = criterion
        self.threshold = threshold
        self.k_best = k_best
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit on the labeled samples, then add pseudo-labels round by round."""
        X, y = validate_data(self, X, y, dtype=None, y_numeric=False, accept_sparse=True)
        if self.criterion not in ("threshold", "k_best"):
            raise ValueError(f"criterion must be 'threshold' or 'k_best', got {self.criterion!r}")
        unlabeled = _unlabeled_mask(y)
        if unlabeled.all():
            raise ValueError("y has no labeled sample; mark unlabeled samples with -1")
        base = LogisticRegression(max_iter=1000) if self.estimator is None else self.estimator
        self.classes_ = np.unique(y[~unlabeled])
        codes = np.full(len(y), -1)
        codes[~unlabeled] = np.searchsorted(self.classes_, y[~unlabeled])
        self.labeled_iter_ = np.where(unlabeled, -1, 0)
        self.n_iter_ = 0
        self.termination_condition_ = "max_iter"
        while (self.max_iter is None or self.n_iter_ < self.max_iter) and (codes == -1).any():
            model = self._fit_base(base, X, codes)
            pool = np.flatnonzero(codes == -1)
            proba = _proba_over(model, X[pool], len(self.classes_))
            confidence = proba.max(axis=1)
            if self.criterion == "threshold":
                picked = np.flatnonzero(confidence >= self.threshold)
            else:
                picked = np.argsort(-confidence, kind="stable")[: self.k_best]
            self.n_iter_ += 1
            if picked.size == 0:
                self.termination_condition_ = "no_change"
                break
            codes[pool[picked]] = proba[picked].argmax(axis=1)
            self.labeled_iter_[pool[picked]] = self.n_iter_
        else:
            if not (codes == -1).any():
                self.termination_condition_ = "all_labeled"
        self.estimator_ = self._fit_base(base, X, codes)
        self.transduction_ = np.where(codes >= 0, self.classes_[np.maximum(codes, 0)], -1)
        return self

    def _fit_base(self, base, X, codes):
        keep = codes >= 0
        if len(np.unique(codes[keep])) < 2:
            return _Constant(codes[keep][0])
        return clone(base).fit(X[keep], codes[keep])

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=None, reset=False, accept_sparse=True)
        return _proba_over(self.estimator_, X, len(self.classes_))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class _Constant:
    """Stand-in model when only one class is labeled."""

    def __init__(self, code):
        self.code = int(code)
        self.classes_ = np.array([self.code])

    def predict_proba(self, X):
        return np.ones((X.shape[0], 1))


def _proba_over(model, X, n_classes):
    """``predict_proba`` widened to every class code, whatever the model saw."""
    proba = np.zeros((X.shape[0], n_classes))
    proba[:, np.asarray(model.classes_, int)] = model.predict_proba(X)
    return proba
