"""Our metrics (NumPy, no scikit-learn at scoring time) agree with scikit-learn and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn import metrics as sk

from propensity.modeling import metrics as ours
from propensity.modeling.calibration import IsotonicCalibrator


def _case(seed: int, n: int = 500, ties: bool = False):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    if ties:  # scores on a coarse grid: many ties, as a rule or a tree gives
        p = np.clip(np.round(p, 1), 0.05, 0.95)  # never 0 or 1: the log-loss clips differ
    y = (rng.random(n) < 0.2 + 0.6 * p).astype(float)
    return y, p


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_classification_metrics_match_scikit_learn(seed, ties):
    y, p = _case(seed, ties=ties)
    assert ours.roc_auc_score(y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert ours.pr_auc_score(y, p) == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert ours.log_loss(y, p) == pytest.approx(sk.log_loss(y, p), rel=1e-9)
    assert ours.brier_loss(y, p) == pytest.approx(sk.brier_score_loss(y, p), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_match_scikit_learn_and_scipy(seed):
    rng = np.random.default_rng(seed)
    y = np.round(rng.gamma(2.0, 30.0, 400), 0)  # amounts with ties
    pred = y * rng.normal(1, 0.3, 400) + rng.normal(0, 5, 400)
    assert ours.mae(y, pred) == pytest.approx(sk.mean_absolute_error(y, pred), rel=1e-12)
    assert ours.rmse(y, pred) == pytest.approx(np.sqrt(sk.mean_squared_error(y, pred)), rel=1e-12)
    assert ours.r2_score(y, pred) == pytest.approx(sk.r2_score(y, pred), rel=1e-9)
    assert ours.spearman_score(y, pred) == pytest.approx(spearmanr(y, pred).statistic, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_isotonic_calibration_is_scikit_learns_and_saves_as_numbers(seed):
    from sklearn.isotonic import IsotonicRegression

    y, p = _case(seed, n=2000, ties=seed == 1)
    ours_map = IsotonicCalibrator().fit(p, y)
    reference = IsotonicRegression(out_of_bounds="clip").fit(p, y)
    grid = np.linspace(-0.1, 1.1, 301)
    expected = np.clip(reference.predict(grid), 1e-4, 1 - 1e-4)
    got = ours_map.predict(grid)
    np.testing.assert_allclose(got, np.clip(expected, got.min(), got.max()), atol=1e-12)
    data = ours_map.to_dict()
    assert data["kind"] == "isotonic"
    assert all(isinstance(v, float) for v in data["x"])
