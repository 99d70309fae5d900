"""Bulk accept by precision: what a target takes, and the highest target anything meets."""

import numpy as np
import pytest

from sslcore.bulk import plan_bulk_accept
from sslcore.calibration import Calibrator


def calibrated_on(n_rows: int, seed: int = 0):
    """Scores calibrated already, a calibrator fitted on ``n_rows`` of them, 2,000 items."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet([0.3, 0.3], 2000)
    right = rng.random(2000) < proba.max(1)
    codes = np.where(right, proba.argmax(1), 1 - proba.argmax(1))
    calibrator = Calibrator().fit(proba[:n_rows], codes[:n_rows], reference=proba)
    return [str(i) for i in range(2000)], proba, calibrator


def test_the_reachable_bound_is_the_highest_target_that_takes_anything():
    ids, proba, calibrator = calibrated_on(15)  # too little evidence for 98%
    plans = plan_bulk_accept(ids, proba, ["a", "b"], calibrator)
    assert all(plan.count == 0 for plan in plans)
    for column, plan in enumerate(plans):
        assert 0.5 < plan.reachable < 0.98
        at = plan_bulk_accept(ids, proba, ["a", "b"], calibrator,
                              target_precision=plan.reachable - 1e-9)[column]  # fmt: skip
        above = plan_bulk_accept(ids, proba, ["a", "b"], calibrator,
                                 target_precision=plan.reachable + 1e-3)[column]  # fmt: skip
        assert at.count > 0 and at.precision_bound >= plan.reachable - 1e-9
        assert above.count == 0


def test_the_reachable_bound_of_a_lone_unsure_suggestion_is_zero_not_below():
    ids, proba, calibrator = calibrated_on(15)
    lone = np.array([[0.45, 0.55]])  # the only item predicted "b", and barely
    proba = np.r_[proba[proba[:, 0] > 0.5], lone]
    ids = [str(i) for i in range(len(proba))]
    plan = plan_bulk_accept(ids, proba, ["a", "b"], calibrator)[1]
    assert plan.candidates == 1 and plan.reachable == pytest.approx(0.0)


def test_a_class_nobody_is_predicted_has_no_reachable_bound():
    ids, proba, calibrator = calibrated_on(200)
    proba = np.c_[proba, np.zeros(len(proba))]
    plans = plan_bulk_accept(ids, proba, ["a", "b", "c"], calibrator)
    assert plans[2].candidates == 0 and np.isnan(plans[2].reachable)
