"""Calibrated confidence: a known truth, shrinking at few labels, sharpening with many."""

import numpy as np
import pytest

from sslcore.calibration import Calibrator, expected_calibration_error, temper


def synthetic(n, seed):
    """Items whose true class probabilities are known, and an underconfident model:
    the same ranking as the truth, its scores flattened (``p ** 0.3``)."""
    rng = np.random.default_rng(seed)
    truth_p = rng.dirichlet([0.5, 0.5, 0.5], n)
    outcome = (rng.random(n)[:, None] < truth_p.cumsum(axis=1)).argmax(axis=1)
    return truth_p, outcome, temper(truth_p, 0.3)


def test_calibration_recovers_known_probabilities():
    _, outcome, scores = synthetic(500, 1)
    truth_p, test_outcome, test_scores = synthetic(20_000, 2)
    calibrator = Calibrator().fit(scores, outcome, reference=test_scores)
    confidence = calibrator.confidence(test_scores)
    right = test_scores.argmax(axis=1) == test_outcome
    raw_ece = expected_calibration_error(test_scores.max(axis=1), right)
    assert raw_ece > 0.15  # the model's own scores are far off
    assert expected_calibration_error(confidence, right) < 0.05
    assert np.abs(confidence - truth_p.max(axis=1)).mean() < 0.06


def test_few_labels_shrink_towards_unsure_and_many_sharpen():
    _, test_outcome, test_scores = synthetic(20_000, 2)
    spread = {}
    for n in (5, 500):
        _, outcome, scores = synthetic(n, 1)
        confidence = (
            Calibrator().fit(scores, outcome, reference=test_scores).confidence(test_scores)
        )
        spread[n] = confidence.std()
        assert confidence.max() < 1.0
    assert spread[5] < 0.8 * spread[500]


def test_calibrated_distribution_keeps_the_prediction_and_sums_to_one():
    _, outcome, scores = synthetic(200, 3)
    calibrated = Calibrator().fit(scores, outcome).calibrate(scores)
    assert (calibrated.argmax(axis=1) == scores.argmax(axis=1)).all()
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)


def test_rejections_seen_move_every_confidence_down():
    _, outcome, scores = synthetic(200, 4)
    calibrator = Calibrator().fit(scores, outcome)
    before = calibrator.confidence(scores)
    after = calibrator.with_decisions(before[:40], np.zeros(40, bool)).confidence(scores)
    assert (after <= before + 1e-12).all() and after.mean() < before.mean() - 0.01


def test_ece_of_a_perfect_model_is_near_its_noise_floor():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 50_000)
    right = rng.random(50_000) < confidence
    assert expected_calibration_error(confidence, right) == pytest.approx(0.0, abs=0.01)


def _two_classes(log_ratios):
    """Two-class rows whose top class (column 0) leads by the given log-ratios."""
    p1 = 1.0 / (1.0 + np.exp(-np.asarray(log_ratios, dtype=float)))
    return np.c_[p1, 1.0 - p1]


def test_the_surest_items_are_never_shown_less_sure_than_the_evidence_allows():
    # Forty held-out labels near the boundary, 80% right, and ten far from it, all right:
    # the evidence separates, so the slope's posterior is one-sided. One Gaussian over all
    # parameters gave negative slopes weight, and the confidence peaked at 88% just past
    # the boundary and fell to 84% far from it.
    rng = np.random.default_rng(0)
    held = _two_classes(np.r_[rng.uniform(0.05, 1.0, 40), rng.uniform(8.0, 10.0, 10)])
    right = np.r_[rng.random(40) < 0.8, np.ones(10, bool)]
    calibrator = Calibrator().fit(held, np.where(right, 0, 1))
    confidence = calibrator.confidence(_two_classes(np.linspace(0.0, 12.0, 49)))
    assert (np.diff(confidence) >= -1e-9).all()
    assert confidence[-1] > 0.95 and confidence[0] < 0.8
