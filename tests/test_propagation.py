import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from sslcore.graph import normalized_affinity
from sslcore.propagation import LabelSpreader, SpreadingState, distributions, targets_from_codes

# A 4-node path 0-1-2-3 with unit weights.
PATH = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], float))


def closed_form(W, Y, alpha):
    S = normalized_affinity(W).toarray().astype(float)
    return (1 - alpha) * np.linalg.solve(np.eye(len(S)) - alpha * S, Y)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.99])
def test_matches_closed_form(alpha):
    Y = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    state = SpreadingState(normalized_affinity(PATH), alpha=alpha)
    state.set_targets(Y)
    np.testing.assert_allclose(
        state.solve(tol=1e-10, max_sweeps=20_000), closed_form(PATH, Y, alpha), atol=1e-8
    )


def test_local_relaxation_matches_closed_form():
    Y = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    state = SpreadingState(normalized_affinity(PATH), alpha=0.9)
    state.set_targets(Y)
    state.relax_local(threshold=1e-12, max_steps=10_000, max_rows=10)
    np.testing.assert_allclose(state.F, closed_form(PATH, Y, 0.9), atol=1e-9)


def test_warm_start_after_new_label_reaches_new_solution():
    state = SpreadingState(normalized_affinity(PATH), alpha=0.9)
    state.set_targets(targets_from_codes(np.array([0, -1, -1, -1]), 2))
    state.solve(tol=1e-10)
    state.change_targets(np.array([3]), np.array([[0.0, 1.0]]))
    Y = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    np.testing.assert_allclose(state.solve(tol=1e-10), closed_form(PATH, Y, 0.9), atol=1e-8)


def test_a_solution_offered_is_taken_only_when_closer():
    Y = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    state = SpreadingState(normalized_affinity(PATH), alpha=0.9)
    state.set_targets(Y)
    state.sweep(1)
    swept = state.solution().copy()
    assert not state.offer(np.zeros_like(swept))
    np.testing.assert_array_equal(state.solution(), swept)
    assert state.offer(closed_form(PATH, Y, 0.9))
    assert state.residual_norm() < 1e-12


def test_hard_clamp_keeps_labels():
    state = SpreadingState(normalized_affinity(PATH), alpha=0.9, hard_clamp=True)
    codes = np.array([0, -1, -1, 1])
    state.set_targets(targets_from_codes(codes, 2), clamped=codes >= 0)
    F = state.solve(tol=1e-10)
    np.testing.assert_allclose(F[[0, 3]], [[1.0, 0.0], [0.0, 1.0]], atol=1e-12)
    assert F[1, 0] > F[1, 1] and F[2, 1] > F[2, 0]


def test_rejection_lowers_class_nearby():
    base = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    rejected = targets_from_codes(np.array([0, -1, -1, 1]), 2, [(1, 0)])
    F0 = closed_form(PATH, base, 0.9)
    F1 = closed_form(PATH, rejected, 0.9)
    assert F1[2, 0] < F0[2, 0]
    P = distributions(F1, forbidden=[(1, 0)])
    assert P[1, 0] == 0  # a forbidden class is set to zero, not computed


def test_distributions_rows_sum_to_one_and_unreached_uniform():
    P = distributions(np.array([[0.2, 0.1], [0.0, 0.0], [-1.0, 0.5]]))
    np.testing.assert_allclose(P.sum(1), 1.0)
    np.testing.assert_allclose(P[1:], [[0.5, 0.5], [0.0, 1.0]])


def test_non_convergence_warns():
    state = SpreadingState(normalized_affinity(PATH), alpha=0.99)
    state.set_targets(targets_from_codes(np.array([0, -1, -1, 1]), 2))
    with pytest.warns(ConvergenceWarning):
        state.solve(tol=1e-12, max_sweeps=2)


def blobs():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.3, (30, 2)), rng.normal(4, 0.3, (30, 2))]
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    return X, y


def test_estimator_spreads_two_labels():
    X, y = blobs()
    partial = np.full(60, -1)
    partial[[0, 30]] = [0, 1]
    model = LabelSpreader().fit(X, partial)
    assert (model.transduction_ == y).all()
    assert model.label_distributions_.shape == (60, 2)
    assert (model.predict(X) == y).all()
    np.testing.assert_allclose(model.predict_proba(X).sum(1), 1.0)


def test_string_class_minus_one_is_a_class():
    X, _ = blobs()
    y = np.array([None] * 60, dtype=object)
    y[0], y[30] = "-1", "unlabeled"
    model = LabelSpreader().fit(X, y)
    assert sorted(model.classes_) == ["-1", "unlabeled"]
    assert model.transduction_[:30].tolist() == ["-1"] * 30


def test_one_class_and_all_labeled():
    X, y = blobs()
    one = np.full(60, -1)
    one[0] = 7
    assert (LabelSpreader().fit(X, one).transduction_ == 7).all()
    assert (LabelSpreader().fit(X, y).transduction_ == y).all()


def test_zero_labels_is_a_clear_error():
    X, _ = blobs()
    with pytest.raises(ValueError, match="no labeled sample"):
        LabelSpreader().fit(X, np.full(60, -1))


EXPECTED_FAILURES = {
    "check_classifiers_classes": "-1 marks unlabeled samples (the semi-supervised convention), "
    "so a numeric class -1 cannot exist; string '-1' is tested above",
}


@parametrize_with_checks([LabelSpreader()], expected_failed_checks=lambda e: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_float32_state_matches_closed_form():
    Y = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    state = SpreadingState(normalized_affinity(PATH), alpha=0.9, dtype=np.float32)
    state.set_targets(Y)
    F = state.solve(tol=1e-5)
    assert F.dtype == np.float32
    np.testing.assert_allclose(F, closed_form(PATH, Y, 0.9), atol=1e-4)


def test_distributions_unreached_rows_with_forbidden_classes():
    F = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.3, 0.1, 0.0], [0.0, 0.0, 0.0]])
    P = distributions(F, forbidden=[(0, 1), (1, 0), (1, 1), (1, 2), (2, 0)])
    np.testing.assert_allclose(P[0], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(P[1:3], [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(P[3], [1 / 3] * 3)


@pytest.mark.parametrize("hard_clamp", [False, True])
def test_reordered_state_matches_item_order(hard_clamp):
    rng = np.random.default_rng(0)
    A = sp.random(40, 40, density=0.1, random_state=0)
    S = normalized_affinity((A + A.T).tocsr())
    codes = np.full(40, -1)
    codes[rng.choice(40, 6, replace=False)] = [0, 1, 2, 0, 1, 2]
    states = [SpreadingState(S, alpha=0.9, hard_clamp=hard_clamp, reorder=r) for r in (0, 1)]
    assert states[1].order is not None and sorted(states[1].order) == list(range(40))
    for state in states:
        state.set_targets(targets_from_codes(codes, 3), clamped=codes >= 0)
        state.solve(tol=1e-10)
        state.change_targets(np.array([5, 7]), np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]]))
    plain, reordered = (state.solve(tol=1e-10) for state in states)
    np.testing.assert_allclose(reordered, plain, atol=1e-9)
    np.testing.assert_allclose(states[1].solution(), plain, atol=1e-9)
    assert states[1].rows(states[1].order).tolist() == list(range(40))


def test_local_relaxation_stops_at_work_budget():
    Y = targets_from_codes(np.array([0, -1, -1, 1]), 2)
    state = SpreadingState(normalized_affinity(PATH), alpha=0.9)
    state.set_targets(Y)
    # The labeled rows 0 and 3 carry the first residual, their neighbours 1 and 2 the next.
    assert state.relax_local(threshold=1e-12, max_steps=100, max_rows=4, max_work=1) == 0
    assert state.relax_local(threshold=1e-12, max_steps=100, max_rows=4, max_work=2) == 1
    assert state.relax_local(threshold=1e-12, max_steps=10_000, max_rows=4, max_work=10**9) > 1
    np.testing.assert_allclose(state.F, closed_form(PATH, Y, 0.9), atol=1e-9)
