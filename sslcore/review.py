"""What the Review page shows: the model's suggestions and the human labels it doubts.

Both are functions of one round's solution: suggestions read the predictions
(and the features, for the labeled items that support a suggestion); likely
mistakes read the spreading solution with each label's own echo removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .propagation import class_prior, distributions


@dataclass(frozen=True)
class PseudoLabel:
    """A suggested label for an unlabeled item and the human labels behind it."""

    item_id: str
    class_name: str
    confidence: float
    support_ids: tuple[str, ...]


@dataclass(frozen=True)
class LikelyMistake:
    """A human label the model's view of the neighbourhood strongly disagrees with."""

    item_id: str
    given: str
    predicted: str
    confidence: float


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


def likely_mistakes(engine, *, min_confidence: float = 0.7) -> list[LikelyMistake]:
    """Human labels that spreading, with the label itself left out, puts in another class.

    A label counts as a likely mistake when another class gets at least
    ``min_confidence`` of it.
    """
    P = engine.predictions
    labeled = np.flatnonzero(engine.labeled)
    if labeled.size == 0 or len(P.classes) < 2:
        return []
    given = engine.codes[labeled]
    state = engine.spreading
    # Leave-one-out by linearity: remove each label's own echo from its row of F.
    F = state.solution()[labeled].copy()
    F[np.arange(labeled.size), given] -= _self_influence(state, labeled)
    votes = distributions(
        F,
        class_mass_normalization=engine.class_mass_normalization,
        prior=class_prior(given, len(P.classes)),
    )
    winner = votes.argmax(axis=1)
    strength = votes.max(axis=1)
    flagged = np.flatnonzero((winner != given) & (strength >= min_confidence))
    flagged = flagged[np.argsort(-strength[flagged], kind="stable")]
    return [
        LikelyMistake(
            str(engine.item_ids[labeled[i]]),
            P.classes[given[i]],
            P.classes[winner[i]],
            float(strength[i]),
        )
        for i in flagged
    ]


def _self_influence(state, positions: np.ndarray, n_terms: int = 12) -> np.ndarray:
    """``(1 - alpha) [(I - alpha S)^-1]_ii`` for each position, by a truncated series."""
    S, alpha = state.S, state.alpha
    rows = state.rows(positions)  # S may be in the state's internal order
    out = np.empty(len(positions))
    for start in range(0, len(positions), 64):
        chunk = rows[start : start + 64]
        v = np.zeros((state.n_items, len(chunk)))
        v[chunk, np.arange(len(chunk))] = 1.0
        total = np.ones(len(chunk))
        for _ in range(n_terms):
            v = alpha * (S @ v)
            total += v[chunk, np.arange(len(chunk))]
        out[start : start + len(chunk)] = (1 - alpha) * total
    return out
