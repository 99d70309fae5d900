"""Likely labeling mistakes, found by confident learning on cross-fitted probabilities.

A pure function of the given labels and of probabilities predicted for each
labeled item *without its own label* (:mod:`sslcore.crossfit`), as cleanlab's
``find_label_issues(labels, pred_probs)`` (Northcutt et al. 2021, "Confident
learning"): each class gets a threshold, the mean probability the model gives
that class on items labeled with it; an item is flagged when the most likely
class among those reaching their threshold is not its label. Every label is
ranked by its normalized margin, ``p(given) - max p(other)``: the lower, the
more likely a mistake. Using cross-fitted probabilities matters: a model that
saw the label mostly echoes it back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def find_label_issues(labels, pred_probs) -> pd.DataFrame:
    """Rank labeled items from most to least likely mislabeled.

    Parameters
    ----------
    labels : array of int, shape (n,)
        The given class of each item (column of ``pred_probs``).
    pred_probs : ndarray of shape (n, n_classes)
        Cross-fitted class probabilities of each item.

    Returns
    -------
    pandas.DataFrame
        One row per item, most suspicious first, with ``index`` (row in the
        inputs), ``given``, ``suggested`` (the most probable other class),
        ``p_given``, ``p_suggested``, ``margin`` (``p_given - p_suggested``),
        ``threshold_suggested`` (that class's confident-learning threshold) and
        ``is_issue``.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.85, 0.15]])
    >>> table = find_label_issues(np.array([0, 0, 1, 1]), probs)
    >>> int(table.iloc[0]["index"]), bool(table.iloc[0]["is_issue"])
    (3, True)
    """
    labels = np.asarray(labels, dtype=np.int64)
    P = np.asarray(pred_probs, dtype=float)
    n, n_classes = P.shape
    columns = ["index", "given", "suggested", "p_given", "p_suggested", "margin",
               "threshold_suggested", "is_issue"]  # fmt: skip
    if n == 0 or n_classes < 2:
        return pd.DataFrame(columns=columns)
    rows = np.arange(n)
    thresholds = class_thresholds(labels, P)
    p_given = P[rows, labels]
    others = P.copy()
    others[rows, labels] = -np.inf
    suggested = others.argmax(axis=1)
    p_suggested = P[rows, suggested]
    reaching = np.where(P >= thresholds[None, :] - 1e-12, P, -np.inf)
    confident_class = reaching.argmax(axis=1)
    any_reaching = np.isfinite(reaching.max(axis=1))
    is_issue = any_reaching & (confident_class != labels) & (p_suggested > p_given)
    margin = p_given - p_suggested
    order = np.lexsort((rows, margin))
    return pd.DataFrame(
        {
            "index": rows[order],
            "given": labels[order],
            "suggested": suggested[order],
            "p_given": p_given[order],
            "p_suggested": p_suggested[order],
            "margin": margin[order],
            "threshold_suggested": thresholds[suggested[order]],
            "is_issue": is_issue[order],
        },
        columns=columns,
    )


def class_thresholds(labels, pred_probs) -> np.ndarray:
    """Per class, the mean probability of that class over the items labeled with it
    (1 for a class nobody labeled, so it never flags anything).

    Examples
    --------
    >>> class_thresholds(np.array([0, 0, 1]), np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7]]))
    array([0.7, 0.7])
    """
    labels = np.asarray(labels, dtype=np.int64)
    P = np.asarray(pred_probs, dtype=float)
    n_classes = P.shape[1]
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.bincount(labels, weights=P[np.arange(len(labels)), labels], minlength=n_classes)
    return np.divide(sums, counts, out=np.ones(n_classes), where=counts > 0)
