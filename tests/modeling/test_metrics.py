"""Every metric against values worked out by hand on tiny inputs."""

import math

import numpy as np
import pytest

from propensity.errors import DataError
from propensity.modeling import metrics as m

Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]


def test_roc_auc_counts_pairs_and_ties():
    # positives 0.35 and 0.8 beat 3 of the 4 negatives' pairs
    assert m.roc_auc_score(Y, P) == pytest.approx(0.75)
    assert m.roc_auc_score([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert m.roc_auc_score([0, 1, 1], [0.2, 0.2, 0.9]) == pytest.approx(0.75)
    assert math.isnan(m.roc_auc_score([1, 1], [0.2, 0.3]))


def test_pr_auc_is_average_precision():
    # ranked: 0.8 (pos, precision 1), 0.4 (neg), 0.35 (pos, precision 2/3)
    assert m.pr_auc_score(Y, P) == pytest.approx((1 + 2 / 3) / 2)
    # a tie of a positive and a negative at the top is one threshold: precision 1/2
    assert m.pr_auc_score([1, 0], [0.5, 0.5]) == pytest.approx(0.5)


def test_log_loss_and_brier():
    assert m.log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert m.brier_loss([1, 0], [0.8, 0.3]) == pytest.approx(0.065)
    assert m.log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))


def test_expected_calibration_error():
    # bins: {0.1, 0.15} -> |0.5 - 0.125| x 1/2; {0.85} -> 0.15 x 1/4; {0.9} -> 0.9 x 1/4
    y = [0, 1, 1, 0]
    p = [0.1, 0.15, 0.85, 0.9]
    assert m.expected_calibration_error(y, p) == pytest.approx(0.1875 + 0.0375 + 0.225)
    assert m.expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)


def test_top_fraction_metrics():
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    p = np.linspace(1.0, 0.1, 10)
    assert m.precision_at(y, p, 0.2) == pytest.approx(0.5)
    assert m.recall_at(y, p, 0.2) == pytest.approx(1 / 3)
    assert m.lift_at(y, p, 0.2) == pytest.approx(0.5 / 0.3)
    assert m.precision_at(y, p, 0.05) == pytest.approx(1.0)  # at least one row
    assert m.base_rate(y) == pytest.approx(0.3)


def test_classification_report_names():
    report = m.classification_report(Y, P)
    assert set(report) == {
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
        "base_rate",
        "lift_top5",
        "precision_top5",
        "recall_top5",
        "lift_top10",
        "precision_top10",
        "recall_top10",
        "lift_top20",
        "precision_top20",
        "recall_top20",
    }
    assert report["roc_auc"] == pytest.approx(0.75)


def test_regression_metrics():
    y, pred = [3, -0.5, 2, 7], [2.5, 0.0, 2, 8]
    assert m.mae(y, pred) == pytest.approx(0.5)
    assert m.rmse(y, pred) == pytest.approx(math.sqrt(0.375))
    assert m.r2_score(y, pred) == pytest.approx(1 - 1.5 / 29.1875)
    # ranks of [5, 6, 7, 8, 7] are [1, 2, 3.5, 5, 3.5]
    assert m.spearman_score([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert m.regression_report(y, pred)["mae"] == pytest.approx(0.5)
    assert math.isnan(m.r2_score([1, 1], [1, 2]))


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "2 labels but 1 scores"),
        ([0, 2], [0.5, 0.5], "labels must be 0 or 1"),
        ([0, 1], [0.5, float("nan")], "scores must be finite"),
        ([], [], "no rows"),
    ],
)
def test_bad_inputs(y, p, message):
    with pytest.raises(DataError, match=message):
        m.roc_auc_score(y, p)
