"""Curves of scores against outcomes, against hand-worked values and the metrics' own figures."""

import math

import numpy as np
import pytest

from propensity.errors import DataError
from propensity.modeling import curves
from propensity.modeling.curves import (
    calibration_points,
    gain_points,
    lift_points,
    pr_points,
    roc_points,
)
from propensity.modeling.metrics import roc_auc_score

NAN = math.nan
Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]  # ranked: 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg)


def close(points: list[tuple[float, float]], expected: list[tuple[float, float]]) -> bool:
    return np.shape(points) == np.shape(expected) and np.allclose(points, expected)


def area(points: list[tuple[float, float]]) -> float:
    xs, ys = np.array(points).T
    return float(np.trapezoid(ys, xs))


def test_roc_through_the_corner_on_perfect_separation():
    y = np.r_[np.zeros(5000), np.ones(5000)]
    p = np.r_[np.linspace(0, 0.4, 5000), np.linspace(0.6, 1, 5000)]
    assert roc_points(y, p) == [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]


def test_roc_on_random_scores_hugs_the_diagonal():
    rng = np.random.default_rng(1)
    y, p = rng.random(20_000) < 0.3, rng.random(20_000)
    points = roc_points(y, p)
    assert points[0] == (0.0, 0.0)
    assert points[-1] == (1.0, 1.0)
    assert area(points) == pytest.approx(0.5, abs=0.05)
    assert max(abs(a - b) for a, b in points) < 0.05


@pytest.mark.parametrize("decimals", [None, 2])
def test_roc_area_is_the_auc_before_and_after_thinning(decimals):
    rng = np.random.default_rng(2)
    y = rng.random(20_000) < 0.2
    p = 1 / (1 + np.exp(-(rng.normal(size=20_000) + 1.2 * y)))
    if decimals is not None:
        p = p.round(decimals)  # ties: each is one diagonal step
    auc = roc_auc_score(y, p)
    fpr, tpr = curves._roc_curve(y, p)
    assert float(np.trapezoid(tpr, fpr)) == pytest.approx(auc, abs=1e-9)
    points = roc_points(y, p)
    assert len(points) <= curves.MAX_POINTS
    assert area(points) == pytest.approx(auc, abs=1e-3)


def test_pr_points_by_hand():
    # recall 1/2 at precision 1, then 1/2 at 1/2, then 1 at 2/3, then 1 at 1/2
    assert close(pr_points(Y, P), [(0.5, 1.0), (0.5, 0.5), (1.0, 2 / 3), (1.0, 0.5)])
    # a tie of a positive and a negative is one threshold
    assert pr_points([1, 0], [0.5, 0.5]) == [(1.0, 0.5)]


def test_gain_points_by_hand():
    assert close(gain_points(Y, P), [(0.0, 0.0), (0.25, 0.5), (0.5, 0.5), (0.75, 1.0), (1.0, 1.0)])
    # tied scores are contacted together: a straight line through the tie
    assert close(
        gain_points([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]),
        [(0.0, 0.0), (0.25, 0.5), (0.75, 1.0), (1.0, 1.0)],
    )


def test_lift_points_by_hand():
    assert close(lift_points(Y, P, steps=4), [(0.25, 2.0), (0.5, 1.0), (0.75, 4 / 3), (1.0, 1.0)])
    # half way through a tie, half its positives are counted
    assert close(lift_points([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1], steps=2), [(0.5, 1.5), (1.0, 1.0)])


def test_calibration_points_by_hand():
    assert close(
        calibration_points([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], bins=2), [(0.15, 0.0), (0.35, 1.0)]
    )
    # ties stay in one bin; bins left without rows are dropped
    y, p = [0, 1, 0, 1, 1], [0.2, 0.2, 0.2, 0.2, 0.9]
    assert close(calibration_points(y, p, bins=4), [(0.2, 0.5), (0.9, 1.0)])
    y, p = [0, 1, 0, 1, 1], [0.1, 0.9, 0.9, 0.9, 0.9]
    assert close(calibration_points(y, p, bins=4), [(0.1, 0.0), (0.9, 0.75)])


def test_thinning_caps_every_curve():
    rng = np.random.default_rng(3)
    y, p = rng.random(50_000) < 0.1, rng.random(50_000)
    for curve in (roc_points, pr_points, gain_points):
        points = curve(y, p)
        assert 100 < len(points) <= curves.MAX_POINTS
    assert len(calibration_points(y, p)) == 10
    assert len(lift_points(y, p)) == 20


def test_curves_skip_nan_rows():
    y = [0, 1, NAN, 1, 0]
    p = [0.2, 0.9, 0.5, NAN, 0.1]
    assert roc_points(y, p) == roc_points([0, 1, 0], [0.2, 0.9, 0.1])


@pytest.mark.parametrize("curve", [roc_points, pr_points, gain_points, lift_points])
@pytest.mark.parametrize(("y", "p"), [([], []), ([0, 0], [0.1, 0.2]), ([NAN], [0.5])])
def test_curves_without_positives_are_empty(curve, y, p):
    assert curve(y, p) == []


def test_roc_without_negatives_is_empty_and_calibration_of_nothing_too():
    assert roc_points([1, 1], [0.2, 0.3]) == []
    assert calibration_points([], []) == []


def test_curves_check_their_input():
    with pytest.raises(DataError, match="roc_points: 3 labels but 2 scores"):
        roc_points([0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="gain_points: labels must be 0 or 1, got 2"):
        gain_points([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match="lift_points: steps must be at least 1, got 0"):
        lift_points([0, 1], [0.1, 0.2], steps=0)
    with pytest.raises(DataError, match="calibration_points: bins must be at least 1"):
        calibration_points([0, 1], [0.1, 0.2], bins=0)
