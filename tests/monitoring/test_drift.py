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
