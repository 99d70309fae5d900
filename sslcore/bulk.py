"""Bulk accept by precision: which suggestions of a class can be accepted at once.

The user sets a target precision (default 98%). For each class the model's
suggestions are taken from the most to the least confident, and the longest
such run is offered whose precision stays at or above the target *even in
the pessimistic case*: the calibration is uncertain (it was learned from a
few dozen held-out labels, see :class:`sslcore.calibration.Calibrator`), so
the precision of a run is computed under hundreds of plausible calibrations
drawn from its posterior, and the run qualifies only if the lower
``1 - level`` quantile of those precisions, less the outcomes' own sampling
noise, reaches the target. With little calibration evidence the posterior is
wide and few items qualify; as labels accumulate it narrows and more do.

Accepted items then count as weak labels (see
:data:`sslcore.engine.SOURCE_WEIGHTS`) and are never held out for
calibration, so one bulk accept does not make the next one look safer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from .calibration import Calibrator

DEFAULT_TARGET_PRECISION = 0.98
DEFAULT_LEVEL = 0.95
MAX_CANDIDATES = 20_000
"""Per class, only the this-many most confident suggestions are weighed."""


@dataclass(frozen=True)
class BulkPlan:
    """What a bulk accept of one class would take, and how many of those may be wrong."""

    class_name: str
    candidates: int
    """Unlabeled items the model puts in this class."""
    item_ids: tuple[str, ...]
    """The qualifying items, most confident first."""
    expected_wrong: float
    """Sum over the qualifying items of (1 - calibrated confidence)."""
    wrong_bound: float
    """At most this many wrong, with the plan's confidence level."""
    precision_bound: float
    """Precision of the qualifying items, at least, with the plan's confidence level
    (1.0 when nothing qualifies)."""
    mean_confidence: float
    evidence: int
    """Held-out labels the calibration was learned from."""
    reachable: float = float("nan")
    """The highest precision bound any run of this class's most confident suggestions
    reaches (nan without suggestions): a target at or below it qualifies some items."""

    @property
    def count(self) -> int:
        return len(self.item_ids)


def plan_bulk_accept(
    item_ids,
    proba: np.ndarray,
    classes: list[str],
    calibrator: Calibrator,
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    level: float = DEFAULT_LEVEL,
    draws: int = 400,
    seed: int = 0,
) -> list[BulkPlan]:
    """Per class, the longest run of most-confident suggestions meeting ``target_precision``.

    Parameters
    ----------
    item_ids : sequence of str
        The unlabeled items, rows of ``proba``.
    proba : ndarray of shape (n, n_classes)
        The model's (uncalibrated) class distributions, as the calibrator expects.
    classes : list of str
        Class names, columns of ``proba``.
    calibrator : Calibrator
    target_precision : float, default=0.98
    level : float, default=0.95
        How sure the bound is.

    Returns
    -------
    list of BulkPlan, one per class, in column order

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.dirichlet([0.3, 0.3], 2000)
    >>> right = rng.random(2000) < p.max(1)
    >>> cal = Calibrator().fit(p, np.where(right, p.argmax(1), 1 - p.argmax(1)), reference=p)
    >>> plans = plan_bulk_accept([str(i) for i in range(2000)], p, ["a", "b"], cal)
    >>> all(plan.precision_bound >= 0.98 for plan in plans), plans[0].count > 0
    (True, True)
    """
    if not 0 < target_precision < 1:
        raise ValueError(f"target precision must be between 0 and 1, got {target_precision}")
    item_ids = np.asarray(item_ids, dtype=object)
    proba = np.asarray(proba, dtype=float)
    plans = []
    if proba.shape[1] < 2:
        return [_empty(name, len(item_ids), calibrator) for name in classes]
    mean_conf = calibrator.confidence(proba)
    predicted = proba.argmax(axis=1)
    z = norm.ppf(level)
    for column, name in enumerate(classes):
        rows = np.flatnonzero(predicted == column)
        rows = rows[np.argsort(-mean_conf[rows], kind="stable")][:MAX_CANDIDATES]
        if rows.size == 0:
            plans.append(_empty(name, 0, calibrator))
            continue
        q = mean_conf[rows]
        sampled = calibrator.sample_confidence(proba[rows], draws=draws, seed=seed + column)
        sizes = np.arange(1, rows.size + 1)
        precision = np.cumsum(sampled, axis=0) / sizes[:, None]
        noise = np.sqrt(np.cumsum(q * (1 - q))) / sizes
        lower = np.quantile(precision, 1 - level, axis=1) - z * noise
        reachable = max(float(lower.max()), 0.0)  # a bound below 0 says no more than 0
        passing = np.flatnonzero(lower >= target_precision)
        if passing.size == 0:
            plans.append(_empty(name, rows.size, calibrator, reachable))
            continue
        k = int(passing[-1]) + 1
        wrong = (1 - sampled[:k]).sum(axis=0)
        plans.append(
            BulkPlan(
                name, int((predicted == column).sum()),
                tuple(str(i) for i in item_ids[rows[:k]]),
                float((1 - q[:k]).sum()),
                float(np.quantile(wrong, level) + z * np.sqrt((q[:k] * (1 - q[:k])).sum())),
                float(lower[k - 1]), float(q[:k].mean()), calibrator.n_evidence_, reachable,
            )
        )  # fmt: skip
    return plans


def _empty(
    name: str, candidates: int, calibrator: Calibrator, reachable: float = float("nan")
) -> BulkPlan:
    return BulkPlan(name, candidates, (), 0.0, 0.0, 1.0, float("nan"),
                    getattr(calibrator, "n_evidence_", 0), reachable)  # fmt: skip
