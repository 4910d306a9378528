"""The ensemble: convex weights in log-odds, learned out of time, saved without pickles."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propensity.modeling.bundle import load_bundle, save_bundle
from propensity.modeling.calibration import Calibrator
from propensity.modeling.candidates import LightGBMCandidate, LogisticCandidate
from propensity.modeling.candidates.ensemble import EnsembleCandidate, blend, learn_weights
from propensity.modeling.training import _pick, regret


def expit(z):
    return 1 / (1 + np.exp(-z))


def test_the_weights_go_to_the_member_that_knows():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 20_000)
    y = (rng.random(z.size) < expit(z)).astype(float)
    knows, guesses = expit(z), expit(rng.normal(0, 1.5, z.size))
    w = learn_weights([guesses, knows], y, "binary")
    assert w[0] < 0.05 < 0.95 < w[1]
    assert sum(w) == pytest.approx(1.0)
    # two halves of the truth blend better than either
    a, b = rng.normal(0, 1, z.size), rng.normal(0, 1, z.size)
    y = (rng.random(z.size) < expit(a + b)).astype(float)
    w = learn_weights([expit(2 * a), expit(2 * b)], y, "binary")
    assert w == pytest.approx([0.5, 0.5], abs=0.05)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.01, 0.99), min_size=3, max_size=30),
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=4),
)
def test_a_blend_lies_between_its_members_in_log_odds(p, raw):
    weights = np.asarray(raw) + 1e-3
    weights = list(weights / weights.sum())
    members = [np.clip(np.roll(p, i), 0.01, 0.99) for i in range(len(weights))]
    out = blend(members, weights, "binary")
    stacked = np.column_stack(members)
    assert (out >= stacked.min(axis=1) - 1e-9).all()
    assert (out <= stacked.max(axis=1) + 1e-9).all()
    amounts = blend([m * 100 for m in members], weights, "regression")
    np.testing.assert_allclose(amounts, (stacked * 100) @ np.asarray(weights))


def _frame(n, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < expit(1.5 * x1 - x2)).astype(float)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "cutoff": pd.Timestamp("2024-01-01"),
            "label": y,
            "x1": x1.astype(np.float32),
            "x2": x2.astype(np.float32),
        }
    )


def test_the_ensemble_saves_scores_and_explains_like_its_members(tmp_path):
    train, stop, judged = _frame(3000, 1), _frame(800, 2), _frame(500, 3)
    members = [
        LogisticCandidate(key="id"),
        LightGBMCandidate(key="id", seed=0, threads=1, max_rounds=50),
    ]
    ensemble = EnsembleCandidate(key="id", members=members).fit_round(train, train, stop)
    assert ensemble.weights_ is not None
    assert sum(ensemble.weights_) == pytest.approx(1.0)
    p = ensemble.predict(judged)
    kept = [(m, w) for m, w in zip(members, ensemble.weights_, strict=True) if w > 0]
    np.testing.assert_allclose(
        p, blend([m.predict(judged) for m, _ in kept], [w for _, w in kept], "binary")
    )
    parts = ensemble.contributions(judged, {})
    assert parts is not None
    assert set(parts.columns) == {"x1", "x2"}
    # the blend is linear in the members' log-odds: so are its contributions
    expected = sum(w * m.contributions(judged, {}) for m, w in kept)
    np.testing.assert_allclose(parts.to_numpy(), expected[parts.columns].to_numpy())

    info = {"task": "binary", "key": "id", "features": [], "chosen": "ensemble"}
    folder = save_bundle(tmp_path / "b", ensemble, Calibrator(), info, {}, None)
    loaded = load_bundle(folder)
    np.testing.assert_allclose(loaded.candidate.predict(judged), p, rtol=1e-6)
    assert not list(folder.glob("*.pkl"))


def test_the_choice_weighs_log_loss_and_reports_the_regret():
    def row(name, complexity, mean, log_loss, test_auc, test_ll):
        return {
            "candidate": name,
            "complexity": complexity,
            "mean": mean,
            "log_loss": log_loss,
            "pooled": mean,
            "test": {"roc_auc": test_auc, "log_loss": test_ll},
        }

    board = [
        row("recency", 1, 0.700, 0.60, 0.69, 0.61),
        row("logistic", 3, 0.797, 0.58, 0.78, 0.59),  # close on ranking, poor probabilities
        row("lightgbm", 4, 0.800, 0.52, 0.80, 0.53),
    ]
    best, reason = _pick(board, "roc_auc", 0.005)
    assert best["candidate"] == "lightgbm"
    assert "logistic set aside for a mean log loss" in reason
    old, _ = _pick(board, "roc_auc", 0.005, weigh_log_loss=False)
    assert old["candidate"] == "logistic"
    rules = regret(board, [], "roc_auc", 0.005, "lightgbm")
    by = {r["rule"]: r for r in rules}
    assert rules[0]["candidate"] == "lightgbm"
    assert rules[0]["regret"] == 0
    alone = by["simplest within the tolerance on roc_auc alone"]
    assert alone["candidate"] == "logistic"
    assert alone["regret"] == pytest.approx(0.02)
    assert alone["regret_log_loss"] == pytest.approx(0.06)
