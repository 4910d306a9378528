"""Drift from binned reference statistics, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from propensity.monitoring import Thresholds, compare, feature_drift, psi, verdict

T = Thresholds()


def test_psi_by_hand():
    ref, cur = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(ref, cur) == pytest.approx(expected)
    assert psi(ref, ref) == 0.0
    # an empty reference bin counts as 1e-4, not zero: large, not infinite
    assert psi(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(
        -0.5 * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    )


def test_verdicts():
    assert [verdict(v, 0.1, 0.25) for v in (0.05, 0.1, 0.2, 0.25, float("nan"))] == [
        "ok",
        "warn",
        "warn",
        "alert",
        "ok",
    ]


def _numeric_entry(x: np.ndarray) -> dict:
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
    counts = np.histogram(x, bins=edges)[0]
    return {
        "kind": "numeric",
        "missing": 0.0,
        "edges": edges.tolist(),
        "shares": (counts / len(x)).tolist(),
        "mean": float(x.mean()),
        "rows": len(x),
    }


def test_numeric_drift_sees_a_shift_and_not_noise():
    rng = np.random.default_rng(0)
    entry = _numeric_entry(rng.normal(0, 1, 20_000))
    same = feature_drift(pd.Series(rng.normal(0, 1, 20_000)), entry, T)
    shifted = feature_drift(pd.Series(rng.normal(1, 1, 20_000)), entry, T)
    assert same["verdict"] == "ok"
    assert same["psi"] < 0.01
    assert same["ks_p"] > 0.01
    assert shifted["verdict"] == "alert"
    assert shifted["psi"] > 0.25
    assert shifted["ks"] > 0.3
    assert shifted["ks_p"] < 1e-6
    # values beyond the reference's range count in the end bins, not nowhere
    beyond = feature_drift(pd.Series(np.full(1000, 99.0)), entry, T)
    assert beyond["psi"] > 5


def test_missing_values_and_new_levels_are_flagged():
    entry = {"kind": "category", "missing": 0.0, "levels": {"a": 0.5, "b": 0.5}}
    values = pd.Series(["a"] * 45 + ["b"] * 45 + ["c"] * 5 + [None] * 5)
    found = feature_drift(values, entry, T)
    assert found["new_levels"] == ["c"]
    assert found["missing_change"] == pytest.approx(0.05)
    assert found["psi"] > 0.25  # a tenth of the rows where the reference had none
    assert found["verdict"] == "alert"
    assert found["chi2_p"] < 0.05
    gaps = _numeric_entry(np.arange(100.0))
    holes = pd.Series([np.nan] * 30 + list(np.arange(70.0)))
    assert feature_drift(holes, gaps, T)["verdict"] == "alert"  # 30 % more missing


def test_compare_ranks_features_and_judges_score_and_size():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 5000)
    reference = {
        "rows": 5000,
        "features": {"steady": _numeric_entry(base), "moving": _numeric_entry(base)},
        "score": {"edges": np.linspace(0, 1, 21).tolist(), "shares": [0.05] * 20, "mean": 0.5},
    }
    frame = pd.DataFrame({"steady": rng.normal(0, 1, 2000), "moving": rng.normal(2, 1, 2000)})
    result = compare(frame, rng.uniform(0, 1, 2000), reference, T)
    assert list(result["features"]) == ["moving", "steady"]
    assert result["score"]["verdict"] == "ok"
    assert result["population"] == {
        "rows": 2000,
        "reference_rows": 5000,
        "change": -0.6,
        "verdict": "alert",
    }
    assert result["verdict"] == "alert"


def test_rate_shift_by_hand():
    from propensity.monitoring.check import rate_shift

    y = np.r_[np.ones(800), np.zeros(1200)]
    p = np.full(2000, 0.35)
    shift, z = rate_shift(y, p)
    assert shift == pytest.approx(math.log(0.4 / 0.6) - math.log(0.35 / 0.65))
    assert z == pytest.approx((800 - 700) / math.sqrt(2000 * 0.35 * 0.65))
    # the same gap on 50 customers is within chance; no gap is no shift
    assert abs(rate_shift(y[::40], p[::40])[1]) < 3.0
    assert rate_shift(y, np.full(2000, 0.4)) == pytest.approx((0.0, 0.0), abs=1e-9)
    # rare outcomes: 2.4 % against 2 % is about the 0.2 log-odds of 40 % against 35 %
    rare = np.r_[np.ones(240), np.zeros(9760)]
    assert rate_shift(rare, np.full(10_000, 0.02))[0] == pytest.approx(0.1866, abs=1e-3)


def test_retrain_promotes_on_ranking_or_on_probabilities_with_the_same_ranking():
    from propensity.monitoring.retrain import _better

    def figures(auc, champion_auc, loss, champion_loss):
        return {
            "challenger_roc_auc": auc,
            "champion_roc_auc": champion_auc,
            "challenger_log_loss": loss,
            "champion_log_loss": champion_loss,
        }

    assert _better(figures(0.81, 0.80, 0.50, 0.49), 0.005, 0.01).startswith("ROC-AUC 0.8100")
    # as good a ranking, truer probabilities
    why = _better(figures(0.798, 0.80, 0.45, 0.49), 0.005, 0.01)
    assert why.startswith("log loss 0.4500 against 0.4900")
    # truer probabilities but a worse ranking, or the same ranking and probabilities: kept
    assert _better(figures(0.79, 0.80, 0.45, 0.49), 0.005, 0.01) is None
    assert _better(figures(0.802, 0.80, 0.485, 0.49), 0.005, 0.01) is None
    assert _better(figures(float("nan"), 0.80, 0.45, 0.49), 0.005, 0.01) is None


def test_only_the_monitored_models_own_runs_judge_it():
    from propensity.monitoring.check import overall
    from propensity.reporting.monitoring import monitoring_html

    def run(bundle, verdict):
        return {"bundle": bundle, "verdict": verdict, "as_of": "2025-01-01"}

    # an earlier model's bad run stays on record but does not judge the new one
    runs = [run("old", "alert"), run("new", "ok")]
    assert overall("ok", runs, "new") == "ok"
    assert [r["current"] for r in runs] == [False, True]
    assert overall("ok", [run("old", "ok"), run("new", "alert")], "new") == "alert"
    assert overall("warn", [run("old", "alert")], "new") == "warn"
    assert overall("ok", [run("new", "warn"), run("new", "alert")], "new") == "alert"

    # the page says when none of the runs is the monitored model's
    def realized(bundle, verdict):
        return {
            "bundle": bundle,
            "verdict": verdict,
            "as_of": "2025-01-01",
            "customers": 100,
            "outcome_rate": 0.4,
            "mean_score": 0.3,
            "realized": {"roc_auc": 0.8, "ece": 0.1, "lift_top10": 2.0},
            "promised": {"roc_auc": 0.8, "ece": 0.02},
        }

    drift = {
        "features": {},
        "population": {"rows": 100, "reference_rows": 100, "change": 0.0, "verdict": "ok"},
        "score": {"psi": 0.0, "verdict": "ok"},
        "verdict": "warn",
    }
    past = [realized("old", "alert")]
    result = {"as_of": "2025-06-01", "bundle": "new", "drift": drift, "realized": past}
    result["verdict"] = overall(drift["verdict"], past, "new")
    page = monitoring_html(result, "shop")
    assert "None of these runs was scored by <code>new</code>" in page
    assert "(by an earlier model)" in page
    assert "Watch: something moved" in page  # drift alone judges it: no 'came true' claim
