"""Inter-annotator agreement: pure functions of the votes, as in the items × annotators tables
of the reliability literature.

The input is a long table of votes, one row per (item, annotator) with the class
that annotator gave (``Project.votes()`` gives it). Cohen's kappa compares two
annotators on the items both labeled; Fleiss' kappa needs the same number of
votes on every item; Krippendorff's alpha (nominal) takes any number of votes
per item and is the figure for a whole team. Per-class figures compare "this
class or not" the same way.

A figure is ``nan`` when it is undefined: no items in common, or every vote of
the class-or-not split on one side (nothing to agree or disagree about).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

VOTE_COLUMNS = ("item_id", "annotator", "class_name")


def cohen_kappa(first, second) -> float:
    """Cohen's kappa of two annotators' labels of the same items (two aligned sequences).

    Examples
    --------
    >>> round(cohen_kappa(list("aabba"), list("abbba")), 4)  # (0.8 - 0.48) / (1 - 0.48)
    0.6154
    """
    first, second = np.asarray(first, dtype=object), np.asarray(second, dtype=object)
    if len(first) != len(second):
        raise ValueError(f"Cohen's kappa needs aligned labels: {len(first)} vs {len(second)}.")
    if len(first) == 0:
        return float("nan")
    observed = float(np.mean(first == second))
    classes = set(first) | set(second)
    expected = sum(float(np.mean(first == c)) * float(np.mean(second == c)) for c in classes)
    if expected == 1.0:
        return float("nan")
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts) -> float:
    """Fleiss' kappa of an items × classes table of vote counts, the same number per item.

    Examples
    --------
    >>> round(fleiss_kappa([[2, 0], [0, 2], [1, 1]]), 4)
    0.3333
    """
    counts = np.asarray(counts, dtype=float)
    per_item = counts.sum(axis=1)
    if counts.size == 0 or per_item.min() != per_item.max() or per_item[0] < 2:
        raise ValueError("Fleiss' kappa needs at least 2 votes per item, as many on every item.")
    n = per_item[0]
    agreement = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    shares = counts.sum(axis=0) / counts.sum()
    expected = float((shares**2).sum())
    if expected == 1.0:
        return float("nan")
    return (float(agreement.mean()) - expected) / (1.0 - expected)


def krippendorff_alpha(votes: pd.DataFrame) -> float:
    """Krippendorff's alpha for nominal data: any number of annotators, votes missing freely.

    ``votes`` has columns ``item_id, annotator, class_name``; items with a single vote
    are left out (they can neither agree nor disagree).

    Examples
    --------
    >>> votes = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3],
    ...                       "annotator": ["a", "b"] * 3,
    ...                       "class_name": ["x", "x", "y", "y", "x", "y"]})
    >>> round(krippendorff_alpha(votes), 4)
    0.4444
    """
    observed = _coincidences(votes)
    if observed.empty:
        return float("nan")
    totals = observed.sum(axis=1).to_numpy()
    n = totals.sum()
    disagreement = observed.to_numpy().sum() - np.trace(observed.to_numpy())
    expected = (totals.sum() ** 2 - (totals**2).sum()) / (n - 1)
    if expected == 0:
        return float("nan")
    return float(1.0 - disagreement / expected)


def _coincidences(votes: pd.DataFrame) -> pd.DataFrame:
    """Krippendorff's coincidence matrix: each pair of votes within an item, weighted
    1 / (votes in the item - 1)."""
    classes = sorted(votes["class_name"].unique(), key=str)
    matrix = pd.DataFrame(0.0, index=classes, columns=classes)
    for _, group in votes.groupby("item_id"):
        labels = group["class_name"].tolist()
        if len(labels) < 2:
            continue
        weight = 1.0 / (len(labels) - 1)
        for i, j in combinations(range(len(labels)), 2):
            matrix.loc[labels[i], labels[j]] += weight
            matrix.loc[labels[j], labels[i]] += weight
    return matrix


def per_class_alpha(votes: pd.DataFrame) -> pd.Series:
    """Krippendorff's alpha of "this class or not", for each class voted.

    Examples
    --------
    >>> votes = pd.DataFrame({"item_id": [1, 1, 2, 2], "annotator": ["a", "b"] * 2,
    ...                       "class_name": ["x", "x", "y", "z"]})
    >>> per_class_alpha(votes).round(3).to_dict()
    {'x': 1.0, 'y': 0.0, 'z': 0.0}
    """
    classes = sorted(votes["class_name"].unique(), key=str)
    return pd.Series(
        {c: krippendorff_alpha(votes.assign(class_name=votes["class_name"] == c)) for c in classes},
        name="alpha",
        dtype=float,
    )


def pairwise_kappa(votes: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa for every pair of annotators on the items both labeled:
    ``first, second, items, kappa``.

    Examples
    --------
    >>> votes = pd.DataFrame({"item_id": [1, 1, 2, 2, 3], "annotator": ["a", "b", "a", "b", "c"],
    ...                       "class_name": ["x", "x", "y", "y", "x"]})
    >>> pairwise_kappa(votes)[["first", "second", "items", "kappa"]].values.tolist()
    [['a', 'b', 2, 1.0]]
    """
    table = votes.pivot_table(
        index="item_id", columns="annotator", values="class_name", aggfunc="last"
    )
    rows = []
    for first, second in combinations(sorted(table.columns, key=str), 2):
        both = table[[first, second]].dropna()
        if len(both):
            rows.append((first, second, len(both), cohen_kappa(both[first], both[second])))
    return pd.DataFrame(rows, columns=["first", "second", "items", "kappa"])


def agreement_with(votes: pd.DataFrame, reference: Mapping[str, object]) -> pd.DataFrame:
    """Each annotator's Cohen's kappa against a reference label per item (e.g. the model's
    class): ``annotator, items, agreement, kappa`` (agreement is the share equal)."""
    votes = votes[votes["item_id"].isin(reference.keys())]
    rows = []
    for who, own in votes.groupby("annotator"):
        truth = own["item_id"].map(reference)
        rows.append(
            (who, len(own), float(np.mean(own["class_name"] == truth)),
             cohen_kappa(own["class_name"], truth))
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["annotator", "items", "agreement", "kappa"])


def agreement_with_consensus(
    votes: pd.DataFrame, resolved: Mapping[str, object] | None = None
) -> pd.DataFrame:
    """Each annotator against the consensus of the *others*: the resolution of an item if a
    reviewer gave one, else the class a strict majority of the other annotators' votes
    name. Items with neither are left out. Columns as :func:`agreement_with`.

    Leaving the annotator's own vote out keeps a lone dissenter from being half of the
    consensus they are measured against.

    Examples
    --------
    >>> votes = pd.DataFrame({"item_id": [1, 1, 1, 2, 2, 2],
    ...                       "annotator": ["a", "b", "c"] * 2,
    ...                       "class_name": ["x", "x", "y", "y", "y", "y"]})
    >>> agreement_with_consensus(votes)[["annotator", "agreement"]].values.tolist()
    [['a', 1.0], ['b', 1.0], ['c', 0.5]]
    """
    resolved = dict(resolved or {})
    rows = []
    for who in sorted(votes["annotator"].unique(), key=str):
        others = votes[votes["annotator"] != who]
        reference = {**_majority(others), **resolved}
        rows.append(agreement_with(votes[votes["annotator"] == who], reference))
    columns = ["annotator", "items", "agreement", "kappa"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _majority(votes: pd.DataFrame) -> dict:
    """Item to the class more than half its votes name (items without one are left out)."""
    majority = {}
    for item, group in votes.groupby("item_id"):
        counts = group["class_name"].value_counts()
        if counts.iloc[0] * 2 > len(group):
            majority[item] = counts.index[0]
    return majority
