"""`train` beyond yes/no churn: amount targets, table mode, tuning, derived BG/NBD features."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from propensity.demo.project import init_project
from propensity.modeling.bundle import load_bundle
from propensity.modeling.derived import add_derived, plan_derived
from propensity.project import Project
from tests.conftest import SHARED_DATA, to_toml


def small_demo(root, extra=""):
    init_project(root, demo=True, customers=1200, seed=5, force=True)
    text = (root / "propensity.toml").read_text()
    text = text.replace('start = "2024-01-01"', 'start = "2024-10-01"')
    text = text.replace('windows = ["30d", "90d", "365d"]', 'windows = ["30d", "90d"]')
    (root / "propensity.toml").write_text(text + "\n[backtest]\nfolds = 2\n" + extra)
    return root


@pytest.fixture(scope="module")
def amount_shop(tmp_path_factory):
    root = small_demo(
        tmp_path_factory.mktemp("amount"),
        '\n[train]\ncandidates = ["mean", "linear", "lightgbm"]\n',
    )
    text = (root / "propensity.toml").read_text()
    text = text.replace(
        'kind = "inactivity"\nsource = "orders"',
        'kind = "amount"\nsource = "orders"\nmeasure = "amount"',
    )
    (root / "propensity.toml").write_text(text)
    return root


def test_amount_target_trains_regressors_and_scores_amounts(amount_shop, tmp_path):
    project = Project.load(amount_shop)
    result = project.train()
    summary = result.summary()
    assert summary["task"] == "regression"
    assert summary["metric"] == "rmse"
    board = {row["candidate"]: row for row in summary["leaderboard"]}
    assert list(board) == ["mean", "linear", "lightgbm"]
    for row in board.values():
        assert set(row["test"]) == {"mae", "rmse", "r2", "spearman"}
    # spend is predictable from past spend: both models beat the mean by a clear margin
    assert board["lightgbm"]["test"]["rmse"] < 0.95 * board["mean"]["test"]["rmse"]
    assert board["linear"]["test"]["r2"] > 0.05
    assert board["lightgbm"]["test"]["spearman"] > 0.3
    assert result.chosen in ("linear", "lightgbm")
    assert summary["calibration"]["method"].startswith("none")
    assert summary["test"]["rmse"] == pytest.approx(board[result.chosen]["test"]["rmse"])

    frame = pd.read_parquet(project.frame_path)
    frame["cutoff"] = pd.to_datetime(frame.cutoff).dt.date
    day = max(frame.cutoff)
    scored = project.score(day, tmp_path / "value.parquet")
    scores = pd.read_parquet(tmp_path / "value.parquet")
    assert list(scores.columns)[:4] == ["customer_id", "expected_amount", "rank", "decile"]
    # an amount is what reaching the customer is worth: expected value = amount - cost (5)
    np.testing.assert_allclose(scores.expected_value, scores.expected_amount - 5)
    assert "tier" not in scores.columns  # tiers are probability bands
    assert (scores.reason_1.head(10) != "").all()
    assert scored["column"] == "expected_amount"
    assert scores.expected_amount.is_monotonic_decreasing
    assert scores.expected_amount.max() > 1.0  # amounts, not probabilities
    bundle = load_bundle(result.bundle)
    at = frame[frame.cutoff == day]
    expected = pd.Series(bundle.predict(at), index=at.customer_id.to_numpy()).sort_index()
    got = scores.set_index("customer_id").expected_amount.sort_index()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_amount_metric_must_suit_the_target(amount_shop, tmp_path):
    from propensity.errors import SpecError

    text = (amount_shop / "propensity.toml").read_text()
    text = text.replace("[train]\n", '[train]\nmetric = "roc_auc"\n')
    (tmp_path / "propensity.toml").write_text(
        text.replace('path = "data/', f'path = "{amount_shop}/data/')
    )
    with pytest.raises(SpecError, match="'roc_auc' is not a metric of amount targets; choose"):
        Project.load(tmp_path).train()


def churn_table(n, seed):
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    contract = rng.choice(["month", "year", "two-year"], n, p=[0.5, 0.3, 0.2])
    charges = rng.normal(70, 20, n).round(2)
    logit = -0.05 * tenure + np.where(contract == "month", 1.5, -1.0) + 0.02 * (charges - 70)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    charges[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "tenure": tenure,
            "contract": contract,
            "charges": charges,
            "churn": np.where(churn, "Yes", "No"),
        }
    )


def test_table_mode_trains_on_a_stratified_holdout_and_warns(tmp_path):
    churn_table(3000, 1).to_csv(tmp_path / "table.csv", index=False)
    spec = {
        "project": {"name": "table"},
        "entity": {"key": "id"},
        "sources": {"t": {"path": "table.csv", "kind": "table", "label": "churn"}},
        "train": {"candidates": ["prior", "logistic", "lightgbm"]},
    }
    (tmp_path / "propensity.toml").write_text(to_toml(spec))
    done = subprocess.run(
        [sys.executable, "-m", "propensity.cli", "train", "--project", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert any("not by time" in w for w in summary["warnings"])
    board = {row["candidate"]: row for row in summary["leaderboard"]}
    assert sorted(board["logistic"]["folds"]) == ["holdout 1", "holdout 2", "holdout 3"]
    assert summary["skipped"] == {}  # recency and BG/NBD were not asked for
    assert board["logistic"]["test"]["roc_auc"] > 0.75
    # stratified: every holdout has the table's churn rate
    rate = (churn_table(3000, 1).churn == "Yes").mean()
    for metrics in board["prior"]["folds"].values():
        assert metrics["base_rate"] == pytest.approx(rate, abs=0.01)

    shown = subprocess.run(
        [sys.executable, "-m", "propensity.cli", "train", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"leaderboard: table \(roc_auc over \d+ validation folds\)", shown.stdout)
    # the leaderboard reads in an 80-column terminal: no row wraps, no name is cut
    rows = [line for line in shown.stdout.splitlines() if line[:1] in "┃│┏┡└"]
    assert rows
    assert max(len(line) for line in rows) <= 80, shown.stdout
    assert not any("…" in line for line in rows), shown.stdout
    assert any(line.startswith("│ logistic") for line in rows), shown.stdout
    assert "chosen: " in shown.stdout
    assert "calibration: " in shown.stdout
    assert "warning: table mode" in shown.stderr
    assert "Traceback" not in shown.stderr

    human = subprocess.run(
        [
            sys.executable,
            "-m",
            "propensity.cli",
            "score",
            "--project",
            str(tmp_path),
            "--out",
            str(tmp_path / "s.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert human.returncode == 0, human.stderr
    scores = pd.read_csv(tmp_path / "s.csv")
    assert len(scores) == 3000
    assert list(scores.columns)[:4] == ["id", "probability", "rank", "decile"]
    # no [policy] in this spec: everyone is within capacity, no tiers, the default money
    assert scores.in_capacity.all()
    assert scores.tier.isna().all()  # empty, read back from the CSV as missing
    # table mode's reasons speak of the table's own columns
    assert scores.head(500).reason_1.str.contains("tenure|contract|charges").all()


def test_tuning_runs_on_the_earliest_fold_and_is_reported(tmp_path):
    root = small_demo(tmp_path, '\n[train]\ncandidates = ["prior", "lightgbm"]\ntune_trials = 3\n')
    result = Project.load(root).train()
    tuning = result.tuning
    assert tuning is not None
    assert tuning["trials"] == 3
    first_fold = min(result.leaderboard[0]["folds"])
    assert tuning["tuned_on"] == first_fold
    manifest = load_bundle(result.bundle).manifest
    assert manifest["tuning"]["params"] == tuning["params"]
    if result.chosen == "lightgbm":  # the saved trees were grown with the tuned parameters
        text = (result.bundle / "model.txt").read_text()
        assert f"[num_leaves: {tuning['params']['num_leaves']}]" in text


@pytest.mark.skipif(
    not (SHARED_DATA / "telco_churn.csv").exists(), reason="the shared data is not here"
)
def test_telco_table_mode_reaches_a_known_auc(tmp_path):
    spec = {
        "project": {"name": "telco"},
        "entity": {"key": "customerID"},
        "sources": {
            "t": {
                "path": str(SHARED_DATA / "telco_churn.csv"),
                "kind": "table",
                "label": "Churn",
                "types": {"TotalCharges": "float"},
            }
        },
        "train": {"candidates": ["prior", "logistic", "lightgbm"]},
    }
    (tmp_path / "propensity.toml").write_text(to_toml(spec))
    result = Project.load(tmp_path).train()
    # published results on this table are 0.83-0.85 ROC-AUC
    assert result.test["roc_auc"] > 0.82


def derived_frame(seed=0, n=300):
    rng = np.random.default_rng(seed)
    parts = []
    for month in range(1, 5):
        first = rng.integers(30, 400, n).astype(np.float32)
        active = 1 + rng.poisson(first / 60)
        last = np.where(active == 1, first, np.minimum(rng.integers(0, 200, n), first))
        parts.append(
            pd.DataFrame(
                {
                    "k": np.arange(n),
                    "cutoff": pd.Timestamp(2024, month, 1).date(),
                    "label": rng.integers(0, 2, n).astype(float),
                    "o_active_days_all": active.astype(np.float32),
                    "o_days_since_first": first,
                    "o_days_since_last": last.astype(np.float32),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_derived_bgnbd_features_are_point_in_time():
    frame = derived_frame()
    plan = plan_derived(list(frame.columns), "o", 90)
    assert plan == {"bgnbd": {"source": "o", "horizon": 90.0}}
    base = add_derived(frame, plan)
    at = base.cutoff == pd.Timestamp(2024, 2, 1).date()
    # other cutoffs' rows and every label change: the scores at this cutoff do not
    other = derived_frame(seed=1)
    other.loc[at.to_numpy(), :] = frame.loc[at.to_numpy(), :]
    other["label"] = 1 - frame["label"]
    changed = add_derived(other, plan)
    cols = ["o_bgnbd_p_alive", "o_bgnbd_expected", "o_bgnbd_p_no_event"]
    np.testing.assert_allclose(changed.loc[at, cols], base.loc[at, cols])
    assert not np.allclose(changed.loc[~at, cols], base.loc[~at, cols])
    # shuffled rows get the same scores: nothing depends on row order
    shuffled = frame.sample(frac=1, random_state=0)
    again = add_derived(shuffled, plan).sort_index()
    np.testing.assert_allclose(again[cols], base[cols], rtol=1e-5)
    assert base["o_bgnbd_p_alive"].between(0, 1).all()
    assert plan_derived(["k", "cutoff"], "o", 90) == {}
