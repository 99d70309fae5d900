"""A small part of the benchmark suite: fails if the defaults regress against a peer
measured in the same run (never against a fixed time)."""

import json

import numpy as np
import pytest

from sslcore import suite
from sslcore.cli import main


def test_defaults_beat_label_spreading_on_moons_from_random_labels():
    for seed in (0, 1):
        record = suite.run_unit(
            "moons", "random", seed, budgets=(10, 30), peers=("label_spreading_knn",)
        )
        for point in record["points"]:
            assert point["accuracy"] >= point["label_spreading_knn"] - 0.005, point
            assert 0.0 <= point["ece"] <= 1.0 and 0.0 <= point["bulk_coverage"] <= 1.0
            if point["bulk_accepted"]:
                assert point["bulk_right"] / point["bulk_accepted"] >= 0.98


def test_suite_has_ten_offline_datasets_of_the_kinds_asked_for():
    assert len(suite.DATASETS) >= 10
    X, y = suite.load("imbalanced")
    assert np.mean(y == "1") == pytest.approx(0.1, abs=0.03)
    X, y = suite.load("classes25")
    assert len(set(y)) == 25
    X, _ = suite.load("topics")
    assert X.shape[1] > 1000 and (X == 0).mean() > 0.95


def test_summary_pools_bulk_precision_and_names_the_best_peer(tmp_path):
    records = [
        {"dataset": "d", "mode": "random", "seed": s, "points": [
            {"labels": 10, "accuracy": 0.9, "ece": 0.1, "ece_floor": 0.01,
             "mean_confidence": 0.8, "bulk_accepted": a, "bulk_right": r, "bulk_coverage": 0.1,
             "label_spreading_knn": 0.8, "label_spreading_rbf": 0.95,
             "label_propagation_rbf": 0.7, "self_training_logistic": 0.6}]}
        for s, (a, r) in enumerate([(10, 10), (30, 27)])
    ]  # fmt: skip
    (row,) = suite.summarize(records)
    assert row["bulk_precision"] == pytest.approx(37 / 40)
    assert row["best_peer"] == "label_spreading_rbf" and row["gap"] == pytest.approx(-0.05)
    assert "✗" in suite.markdown([row])
    target = tmp_path / "benchmarks.md"
    target.write_text("# Benchmarks\n\nintro\n")
    suite.write_table("| table |", target)
    suite.write_table("| new |", target)
    text = target.read_text()
    assert "intro" in text and "| new |" in text and "| table |" not in text


def test_processes_sharing_results_never_run_a_unit_twice(tmp_path):
    # Two processes share a results file. This one reads it, and while it runs its first
    # unit the other finishes the second and lets go of its claim: this one must take the
    # other's record, not run the unit again (seen: 150 records for 110 units).
    results = tmp_path / "results.jsonl"
    other = suite.run_unit("iris", "random", 1, budgets=(10,), peers=())
    ran = []

    def progress(message):
        ran.append(message)
        if len(ran) == 1:
            with open(results, "a") as handle:
                handle.write(json.dumps(other) + "\n")

    records = suite.run(datasets=["iris"], modes=["random"], seeds=2, budgets=(10,),
                        results=results, progress=progress)  # fmt: skip
    assert ran == ["iris / random / seed 0"]
    assert sorted(r["seed"] for r in records) == [0, 1]
    assert len(suite.read_results(results)) == 2


def test_cli_bench_suite_json_and_unknown_dataset(capsys, tmp_path):
    code = main(["bench", "suite", "--datasets", "iris", "--modes", "random", "--seeds", "1",
                 "--budgets", "10", "--json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and rows[0]["dataset"] == "iris" and rows[0]["labels"] == 10
    assert main(["bench", "suite", "--datasets", "nope"]) == 2
    assert "unknown suite dataset(s) or mode(s): nope" in capsys.readouterr().err
