"""Agreement figures against hand-computed examples and scikit-learn's cohen_kappa_score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from sslcore.agreement import (
    agreement_with,
    agreement_with_consensus,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    per_class_alpha,
)


def long_votes(matrix: dict[str, list]) -> pd.DataFrame:
    """Annotator -> labels per item (None: no vote) as the long table the functions take."""
    rows = [
        (item, who, label)
        for who, labels in matrix.items()
        for item, label in enumerate(labels)
        if label is not None
    ]
    return pd.DataFrame(rows, columns=["item_id", "annotator", "class_name"])


def test_cohen_kappa_by_hand():
    # Agreement 4/5; "a" is 3/5 of the first's labels and 2/5 of the second's, "b" the rest:
    # chance = 3/5*2/5 + 2/5*3/5 = 12/25; kappa = (4/5 - 12/25) / (1 - 12/25) = 8/13.
    assert cohen_kappa(list("aabba"), list("abbba")) == pytest.approx(8 / 13)


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_equals_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    first = rng.choice(["cat", "dog", "-1"], size=60)
    second = np.where(rng.random(60) < 0.6, first, rng.choice(["cat", "dog", "-1"], size=60))
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))


def test_cohen_kappa_undefined_cases():
    assert np.isnan(cohen_kappa([], []))
    assert np.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # one class only: 0 / 0
    with pytest.raises(ValueError, match="aligned labels: 2 vs 1"):
        cohen_kappa(["a", "b"], ["a"])


def test_fleiss_kappa_on_fleiss_worked_example():
    # 10 items, 14 raters each, 5 classes: P-bar = 0.378, P_e = 0.213, kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    assert fleiss_kappa(counts) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_kappa_refuses_uneven_votes():
    with pytest.raises(ValueError, match="as many on every item"):
        fleiss_kappa([[2, 0], [1, 0]])


def test_krippendorff_alpha_on_krippendorffs_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units,
    # missing values; nominal alpha = 0.743.
    votes = long_votes(
        {
            "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
            "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
            "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
        }
    )
    assert krippendorff_alpha(votes) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_is_one_for_perfect_and_nan_without_pairs():
    perfect = long_votes({"a": list("xyx"), "b": list("xyx")})
    assert krippendorff_alpha(perfect) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha(long_votes({"a": list("xy"), "b": [None, None]})))


def test_per_class_alpha_by_hand():
    # Items: (x, x), (x, y), (y, y), (z, z). For "x or not": pairs (1,1) (1,0) (0,0) (0,0),
    # so o11 = 2, o10 = o01 = 1, o00 = 4; n1 = 3, n0 = 5, n = 8;
    # alpha = 1 - 7 * 2 / (2 * 3 * 5) = 1 - 14/30.
    votes = long_votes({"a": list("xxyz"), "b": list("xyyz")})
    alphas = per_class_alpha(votes)
    assert alphas["x"] == pytest.approx(1 - 14 / 30)
    assert alphas["y"] == pytest.approx(1 - 14 / 30)
    assert alphas["z"] == pytest.approx(1.0)


def test_pairwise_kappa_equals_scikit_learns_on_common_items():
    rng = np.random.default_rng(7)
    truth = rng.choice(list("abc"), size=40)
    matrix = {
        who: [t if rng.random() < 0.7 else rng.choice(list("abc")) for t in truth]
        for who in ["ann", "bob", "cy"]
    }
    matrix["cy"][:10] = [None] * 10  # cy missed the first ten items
    table = pairwise_kappa(long_votes(matrix)).set_index(["first", "second"])
    assert table.loc[("ann", "bob"), "items"] == 40
    assert table.loc[("ann", "cy"), "items"] == 30
    expected = cohen_kappa_score(matrix["ann"][10:], matrix["cy"][10:])
    assert table.loc[("ann", "cy"), "kappa"] == pytest.approx(expected)
    expected = cohen_kappa_score(matrix["ann"], matrix["bob"])
    assert table.loc[("ann", "bob"), "kappa"] == pytest.approx(expected)


def test_consensus_leaves_the_annotator_out_and_a_resolution_wins():
    votes = long_votes({"a": list("xxy"), "b": list("xyy"), "c": list("yyy")})
    # For a: item 0 others (x, y) no majority -> out; item 1 (y, y) -> y; item 2 -> y.
    table = agreement_with_consensus(votes).set_index("annotator")
    assert table.loc["a", "items"] == 2 and table.loc["a", "agreement"] == pytest.approx(0.5)
    # For c: item 0 others (x, x) -> x, item 1 (x, y) -> out, item 2 -> y: agrees on 1 of 2.
    assert table.loc["c", "items"] == 2 and table.loc["c", "agreement"] == pytest.approx(0.5)
    resolved = agreement_with_consensus(votes, resolved={1: "y"}).set_index("annotator")
    assert resolved.loc["c", "items"] == 3
    assert resolved.loc["c", "agreement"] == pytest.approx(2 / 3)


def test_agreement_with_the_model():
    votes = long_votes({"a": list("xxy"), "b": list("xyy")})
    model = {0: "x", 1: "x", 2: "y"}
    table = agreement_with(votes, model).set_index("annotator")
    assert table.loc["a", "agreement"] == 1.0 and table.loc["a", "kappa"] == pytest.approx(1.0)
    assert table.loc["b", "kappa"] == pytest.approx(cohen_kappa_score(list("xyy"), list("xxy")))
