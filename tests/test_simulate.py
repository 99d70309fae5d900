from pathlib import Path

import numpy as np
import pytest

from sslcore.errors import DataError
from sslcore.simulate import STRATEGIES, simulate

SMS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sms_spam.tsv"


def test_output_shape_on_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.3, (40, 2)), rng.normal(3, 0.3, (40, 2))]
    y = np.r_[["a"] * 40, ["-1"] * 40]
    path = tmp_path / "toy.npz"
    np.savez(path, X=X, y=y)
    result = simulate(str(path), strategy="margin", budgets=[2, 6], seeds=2)
    assert set(result) == {
        "dataset", "features", "deep_features", "method", "strategy", "n_items", "seeds", "curve"
    }  # fmt: skip
    assert result["method"] == "graph" and result["deep_features"] is None
    assert result["n_items"] == 80 and result["seeds"] == 2
    assert [p["labels"] for p in result["curve"]] == [2, 6]
    assert result["curve"][-1]["accuracy"] > 0.95


def test_curve_points_report_calibration_and_bulk_accept(tmp_path, capsys):
    import json

    from sslcore.cli import main

    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(0, 0.5, (150, 2)), rng.normal(4, 0.5, (150, 2))]
    y = np.r_[["a"] * 150, ["b"] * 150]
    path = tmp_path / "two.npz"
    np.savez(path, X=X, y=y)
    assert (
        main(["simulate", "--dataset", str(path), "--budgets", "10,40", "--seeds", "2", "--json"])
        == 0
    )
    curve = json.loads(capsys.readouterr().out)["curve"]
    for point in curve:
        assert {"ece", "bulk_precision", "bulk_coverage"} <= set(point)
        assert 0.0 <= point["ece"] <= 1.0 and 0.0 <= point["bulk_coverage"] <= 1.0
        # Two separated blobs: every suggestion is right, so any bulk accept is exact.
        assert point["bulk_precision"] is None or point["bulk_precision"] == pytest.approx(1.0)
    # 40 held-out labels all right bound the precision at about 93% (95% level): too little
    # evidence to promise 98%, so nothing qualifies yet.
    assert curve[-1]["bulk_coverage"] == pytest.approx(0.0)


def test_deterministic():
    a = simulate("moons", strategy="random", budgets=[5], seeds=2)
    assert a == simulate("moons", strategy="random", budgets=[5], seeds=2)


def test_unknown_strategy_and_bad_npz(tmp_path):
    with pytest.raises(ValueError, match="choose one of"):
        simulate("moons", strategy="magic", budgets=[5], seeds=1)
    path = tmp_path / "bad.npz"
    np.savez(path, A=np.zeros(3))
    with pytest.raises(DataError, match="arrays 'X' and 'y'"):
        simulate(str(path), strategy="margin", budgets=[2], seeds=1)


def test_strategies_listed():
    assert "random" in STRATEGIES and "margin" in STRATEGIES


@pytest.mark.skipif(not SMS.exists(), reason="SMS spam set not found in ../shared/datasets")
def test_sms_runs():
    result = simulate(str(SMS), strategy="margin", budgets=[10], seeds=1, label_column="Label")
    assert result["n_items"] > 5000
