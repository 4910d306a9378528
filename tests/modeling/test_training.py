"""`train` end to end on a small demo shop: leaderboard, choice, calibration, bundle."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from propensity.demo.project import init_project
from propensity.errors import SpecError
from propensity.modeling.bundle import load_bundle
from propensity.project import Project


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    init_project(root, demo=True, customers=1500, seed=3, force=True)
    text = (root / "propensity.toml").read_text()
    # a short history keeps the test quick: 9 monthly cutoffs, two validation folds
    text = text.replace('start = "2024-01-01"', 'start = "2024-10-01"')
    text = text.replace('windows = ["30d", "90d", "365d"]', 'windows = ["30d", "90d"]')
    text += "\n[backtest]\nfolds = 2\n"
    (root / "propensity.toml").write_text(text)
    return root


def test_train_via_the_cli(shop):
    done = subprocess.run(
        [sys.executable, "-m", "propensity.cli", "train", "--project", str(shop), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    names = [row["candidate"] for row in summary["leaderboard"]]
    assert names[:5] == ["prior", "recency", "bgnbd", "logistic", "lightgbm"]
    assert "ensemble" in names
    assert "segmented" not in names  # an option, listed in train.candidates to run
    assert "train.candidates" in summary["skipped"]["segmented"]
    board = {row["candidate"]: row for row in summary["leaderboard"]}
    if importlib.util.find_spec("tensorflow") is None:
        assert "pip install" in summary["skipped"]["keras"]
    else:
        assert "keras" in names
        assert board["keras"]["test"]["roc_auc"] > 0.7
    # the ensemble blends BG/NBD, logistic regression and LightGBM with convex weights
    weights = board["ensemble"]["weights"]
    assert set(weights) == {"test", "final"}
    for w in weights.values():
        assert set(w) == {"bgnbd", "logistic", "lightgbm"}
        assert min(w.values()) >= 0
        assert sum(w.values()) == pytest.approx(1.0)
    # what each choice rule would have picked, and its regret on the test round
    rules = summary["rules"]
    assert rules[0]["candidate"] == summary["chosen"]
    assert all(r["regret"] >= -1e-12 and r["candidate"] in board for r in rules)
    assert summary["split"]["step"] == "time"
    # every candidate is judged on both validation folds and the test fold
    assert all(len(row["folds"]) == 2 for row in summary["leaderboard"])
    assert summary["task"] == "binary"
    assert summary["metric"] == "roc_auc"
    assert board["prior"]["mean"] == pytest.approx(0.5)
    assert board[summary["chosen"]]["mean"] >= max(r["mean"] for r in board.values()) - 0.005
    assert summary["test"]["roc_auc"] > 0.75  # the demo's drivers are learnable
    cal = summary["calibration"]
    assert cal["method"] in ("none", "platt", "slope", "isotonic")
    assert cal["after"]["log_loss"] <= cal["before"]["log_loss"] + 1e-9

    bundle = load_bundle(__import__("pathlib").Path(summary["bundle"]))
    manifest = bundle.manifest
    assert manifest["chosen"] == summary["chosen"]
    assert manifest["spec_hash"] == Project.load(shop).spec.spec_hash()
    assert manifest["training_window"]["last_cutoff"] <= "2025-10-01"
    assert {f["name"] for f in manifest["features"]} >= {"orders_days_since_last", "plan"}
    # BG/NBD scores are derived per cutoff and offered to the other candidates
    frozen = manifest["derived"]["bgnbd"].pop("frozen")
    assert manifest["derived"] == {"bgnbd": {"source": "orders", "horizon": 90.0}}
    # for single records (the service): the BG/NBD model of the frame's latest cutoff
    assert frozen["cutoff"] >= manifest["training_window"]["last_cutoff"]
    assert set(frozen["model"]["params"]) == {"r", "alpha", "a", "b"}
    if summary["chosen"] == "lightgbm":
        assert (
            "orders_bgnbd_p_alive"
            in json.loads((bundle.path / "model.json").read_text())["features"]
        )
    assert set(manifest["files"]) >= {"model.json", "calibrator.json", "reference.json"}
    # the bundle scores the frame it was trained from, as calibrated probabilities
    frame = pd.read_parquet(Project.load(shop).frame_path)
    scores = bundle.predict(frame.head(500))
    assert ((scores >= 0) & (scores <= 1)).all()
    assert np.std(scores) > 0.05


def test_unknown_candidate_is_refused(shop, tmp_path):
    spec = (
        (shop / "propensity.toml")
        .read_text()
        .replace("[backtest]", '[train]\ncandidates = ["prior", "xgboost"]\n\n[backtest]')
    )
    (tmp_path / "propensity.toml").write_text(
        spec.replace('path = "data/', f'path = "{shop}/data/')
    )
    with pytest.raises(
        SpecError, match="'xgboost' unknown for yes/no targets; choose from prior, recency"
    ):
        Project.load(tmp_path).train()


def test_score_matches_the_frame_at_a_training_cutoff(shop, tmp_path):
    from propensity.errors import DataError

    project = Project.load(shop)
    project.train()
    version = (project.workspace / "bundles" / "LATEST").read_text().strip()
    bundle = load_bundle(project.workspace / "bundles" / version)
    frame = pd.read_parquet(project.frame_path)
    frame["cutoff"] = pd.to_datetime(frame.cutoff).dt.date
    day = max(frame.cutoff)
    at = frame[frame.cutoff == day]

    result = project.score(day, tmp_path / "scores.parquet")
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(scores.columns) == [
        "customer_id",
        "probability",
        "rank",
        "decile",
        "tier",
        "action",
        "expected_value",
        "in_capacity",
        "reason_1",
        "reason_2",
        "reason_3",
    ]
    # the demo's policy: capacity 500, benefit 120, cost 5, tiers at 0.6 and 0.3
    assert scores.in_capacity.sum() == min(500, len(scores))
    assert scores[scores.in_capacity]["rank"].max() == scores.in_capacity.sum()
    np.testing.assert_allclose(scores.expected_value, scores.probability * 120 - 5)
    high = scores.probability >= 0.6
    assert (scores.tier[high] == "high").all()
    assert (scores.action[high] == "call within a week").all()
    assert (scores.tier[(scores.probability < 0.6) & (scores.probability >= 0.3)] == "medium").all()
    top = scores.head(20)
    assert (top.reason_1 != "").all()
    assert top.reason_1.str.contains("typical").mean() > 0.5
    assert result["rows"] == len(scores) == len(at)
    assert sorted(scores["rank"]) == list(range(1, len(scores) + 1))
    assert scores.probability.is_monotonic_decreasing
    assert set(scores.decile) == set(range(1, 11))
    # features at the as-of date are the frame's features at that cutoff: same scores
    expected = pd.Series(bundle.predict(at), index=at.customer_id.to_numpy())
    got = scores.set_index("customer_id").probability
    np.testing.assert_allclose(got.sort_index(), expected.sort_index(), rtol=1e-9)

    project.score(day, tmp_path / "scores.csv")
    assert pd.read_csv(tmp_path / "scores.csv").shape == scores.shape
    # reasons cost more than scores: by default the first 10,000 by rank get them
    few = project.score(day, tmp_path / "few.parquet", reasons_for=5)
    assert few["with_reasons"] == 5
    explained = pd.read_parquet(tmp_path / "few.parquet").reason_1 != ""
    assert explained.tolist()[:5] == [True] * 5
    assert not explained.iloc[5:].any()
    # no date: the day after the last event, the latest state of every customer
    latest = project.score(None, tmp_path / "now.csv")
    assert latest["as_of"] > str(day)
    assert latest["rows"] == len(pd.read_csv(tmp_path / "now.csv")) > 0
    with pytest.raises(DataError, match="is outside the data"):
        project.score(pd.Timestamp("2030-01-01").date(), tmp_path / "x.csv")
    with pytest.raises(DataError, match=r"must end in \.csv or \.parquet"):
        project.score(day, tmp_path / "x.xlsx")
