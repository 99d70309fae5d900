"""What the Review page shows: the model's suggestions and the human labels it doubts.

Suggestions read one round's predictions, whose confidence is calibrated (the
probability the suggestion is right), and the features, for the labeled items
that support a suggestion. Likely mistakes rank the labels people gave by how
much a model fitted *without* each of them disagrees with it: confident learning
(:func:`sslcore.label_issues.find_label_issues`) on the engine's cross-fitted,
calibrated predictions (:meth:`sslcore.engine.Engine.crossfit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PseudoLabel:
    """A suggested label for an unlabeled item and the human labels behind it."""

    item_id: str
    class_name: str
    confidence: float
    support_ids: tuple[str, ...]


@dataclass(frozen=True)
class LikelyMistake:
    """A human label that a model fitted without it puts in another class.

    ``confidence`` is the calibrated probability of ``predicted`` and ``p_given``
    that of the label given, both from the model that did not see this label;
    ``threshold`` is the confident-learning threshold of ``predicted`` (the mean
    probability of that class on items labeled with it); ``support_ids`` are the
    nearest items people labeled ``predicted``: the evidence the page shows.
    """

    item_id: str
    given: str
    predicted: str
    confidence: float
    p_given: float = float("nan")
    threshold: float = float("nan")
    support_ids: tuple[str, ...] = ()


def pseudo_labels(
    predictions, features: np.ndarray, *, per_class: int = 20, min_confidence: float = 0.0,
    n_support: int = 3,
) -> list[PseudoLabel]:  # fmt: skip
    """The most confident predictions for unlabeled items, per class, with their support.

    Parameters
    ----------
    predictions : Predictions
        One round of :class:`~sslcore.engine.Engine` output.
    features : ndarray of shape (n_items, n_features)
        Where the support is looked up: ``support_ids`` are the human-labeled
        items of the same class nearest the item (what the Review page shows
        as "why").

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> engine = Engine(["a", "b", "c", "d"], X, n_neighbors=1)
    >>> [(p.item_id, p.class_name, p.support_ids) for p in
    ...  pseudo_labels(engine.update({"a": "x", "c": "y"}), X)]
    [('b', 'x', ('a',)), ('d', 'y', ('c',))]
    """
    P = predictions
    if not P.classes:
        return []
    labeled = np.array([h is not None for h in P.human])
    human = np.asarray(P.human)
    predicted = P.proba.argmax(axis=1)
    out = []
    for column, name in enumerate(P.classes):
        candidates = np.flatnonzero(~labeled & (predicted == column))
        candidates = candidates[P.confidence[candidates] >= min_confidence]
        top = candidates[np.argsort(-P.confidence[candidates], kind="stable")[:per_class]]
        support_pool = np.flatnonzero(labeled & (human == name))
        for position in top:
            out.append(
                PseudoLabel(
                    str(P.item_ids[position]),
                    name,
                    float(P.confidence[position]),
                    _nearest(features, P.item_ids, position, support_pool, n_support),
                )
            )
    return out


def _nearest(features, item_ids, position: int, among: np.ndarray, k: int) -> tuple[str, ...]:
    if among.size == 0:
        return ()
    distance = ((features[among] - features[position]) ** 2).sum(axis=1)
    return tuple(str(i) for i in item_ids[among[np.argsort(distance)[:k]]])


def likely_mistakes(
    engine, *, min_confidence: float = 0.0, n_support: int = 3
) -> list[LikelyMistake]:
    """Labels people gave that a model fitted without them puts in another class.

    Most likely mistake first; only labels confident learning flags and whose
    suggested class has at least ``min_confidence`` are returned.

    Examples
    --------
    >>> from sslcore.engine import Engine
    >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] * 0.01
    >>> engine = Engine([str(i) for i in range(12)], X, n_neighbors=3)
    >>> labels = {"0": "a", "1": "a", "2": "a", "3": "b", "9": "b", "10": "b", "11": "b"}
    >>> _ = engine.update(labels)
    >>> [(m.item_id, m.given, m.predicted) for m in likely_mistakes(engine)]
    [('3', 'b', 'a')]
    """
    from .label_issues import find_label_issues

    fit = engine.crossfit()
    classes = engine.classes
    if fit is None or len(fit.codes) == 0 or len(classes) < 2:
        return []
    held_out = np.zeros((len(fit.codes), len(classes)))
    width = min(fit.held_out.shape[1], len(classes))
    held_out[:, :width] = fit.held_out[:, :width]
    calibrated = engine.calibrator.calibrate(held_out)
    table = find_label_issues(fit.codes, calibrated)
    table = table[table["is_issue"] & (table["p_suggested"] >= min_confidence)]
    codes = engine.codes
    out = []
    for row in table.itertuples(index=False):
        position = int(fit.positions[row.index])
        if codes[position] != row.given:  # relabeled since the cross-fit
            continue
        support = np.flatnonzero(codes == row.suggested)
        out.append(
            LikelyMistake(
                str(engine.item_ids[position]), classes[row.given], classes[row.suggested],
                float(row.p_suggested), float(row.p_given), float(row.threshold_suggested),
                _nearest(engine.features, engine.item_ids, position, support, n_support),
            )
        )  # fmt: skip
    return out
