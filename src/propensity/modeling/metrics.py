"""Model metrics for probabilities and amounts, in NumPy: what the leaderboard reports."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from propensity.errors import DataError

__all__ = [
    "base_rate",
    "brier_loss",
    "classification_report",
    "expected_calibration_error",
    "lift_at",
    "log_loss",
    "mae",
    "pr_auc_score",
    "precision_at",
    "r2_score",
    "recall_at",
    "regression_report",
    "rmse",
    "roc_auc_score",
    "spearman_score",
]

ArrayLike = npt.ArrayLike
TOP_FRACTIONS = (0.05, 0.10, 0.20)


def _labels_and_scores(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(p, dtype=float).ravel()
    if y_arr.shape != p_arr.shape:
        raise DataError(f"metrics: {y_arr.size} labels but {p_arr.size} scores")
    if y_arr.size == 0:
        raise DataError("metrics: no rows to score")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise DataError("metrics: labels must be 0 or 1")
    if not np.isfinite(p_arr).all():
        raise DataError("metrics: scores must be finite numbers")
    return y_arr, p_arr


def _rank(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(values, method="average"), dtype=float)


def roc_auc_score(y: ArrayLike, p: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random positive outranks a random negative.

    Ties count one half. NaN when only one class is present.
    """
    y_arr, p_arr = _labels_and_scores(y, p)
    n_pos = float(y_arr.sum())
    n_neg = float(len(y_arr) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _rank(p_arr)
    return float((ranks[y_arr == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc_score(y: ArrayLike, p: ArrayLike) -> float:
    """Average precision: the mean of the precision at each positive, ranked by score.

    Tied scores form one threshold. NaN when there is no positive.
    """
    y_arr, p_arr = _labels_and_scores(y, p)
    n_pos = y_arr.sum()
    if n_pos == 0:
        return math.nan
    order = np.argsort(-p_arr, kind="mergesort")
    y_sorted, p_sorted = y_arr[order], p_arr[order]
    # evaluate only at the last row of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(p_sorted)), len(p_sorted) - 1]
    tp = np.cumsum(y_sorted)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def log_loss(y: ArrayLike, p: ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of the labels; probabilities are clipped to [eps, 1-eps]."""
    y_arr, p_arr = _labels_and_scores(y, p)
    q = np.clip(p_arr, eps, 1 - eps)
    return float(-np.mean(y_arr * np.log(q) + (1 - y_arr) * np.log(1 - q)))


def brier_loss(y: ArrayLike, p: ArrayLike) -> float:
    """Mean squared difference between probability and outcome."""
    y_arr, p_arr = _labels_and_scores(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def expected_calibration_error(y: ArrayLike, p: ArrayLike, bins: int = 10) -> float:
    """Mean gap between predicted and observed rates over equal-width probability bins.

    Each bin is weighted by its share of rows; the last bin includes 1.0.
    """
    y_arr, p_arr = _labels_and_scores(y, p)
    index = np.minimum((np.clip(p_arr, 0, 1) * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        mask = index == b
        total += mask.mean() * abs(y_arr[mask].mean() - p_arr[mask].mean())
    return float(total)


def base_rate(y: ArrayLike) -> float:
    """Share of positive labels."""
    y_arr = np.asarray(y, dtype=float)
    return float(y_arr.mean()) if y_arr.size else math.nan


def _top(y_arr: np.ndarray, p_arr: np.ndarray, fraction: float) -> np.ndarray:
    if not 0 < fraction <= 1:
        raise DataError(f"metrics: fraction {fraction} must be in (0, 1]")
    k = max(1, math.ceil(fraction * len(y_arr)))
    order = np.argsort(-p_arr, kind="mergesort")  # ties keep their input order
    return y_arr[order[:k]]


def precision_at(y: ArrayLike, p: ArrayLike, fraction: float) -> float:
    """Share of positives among the top ``fraction`` of rows by score."""
    y_arr, p_arr = _labels_and_scores(y, p)
    return float(_top(y_arr, p_arr, fraction).mean())


def recall_at(y: ArrayLike, p: ArrayLike, fraction: float) -> float:
    """Share of all positives found in the top ``fraction`` of rows by score."""
    y_arr, p_arr = _labels_and_scores(y, p)
    total = y_arr.sum()
    return float(_top(y_arr, p_arr, fraction).sum() / total) if total else math.nan


def lift_at(y: ArrayLike, p: ArrayLike, fraction: float) -> float:
    """Precision in the top ``fraction`` over the base rate: 2.0 finds twice as many as random."""
    rate = base_rate(y)
    return precision_at(y, p, fraction) / rate if rate else math.nan


def classification_report(y: ArrayLike, p: ArrayLike) -> dict[str, float]:
    """Every classification metric the leaderboard shows, by name."""
    out: dict[str, float] = {
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": pr_auc_score(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier_loss(y, p),
        "ece": expected_calibration_error(y, p),
        "base_rate": base_rate(y),
    }
    for fraction in TOP_FRACTIONS:
        pct = round(fraction * 100)
        out[f"lift_top{pct}"] = lift_at(y, p, fraction)
        out[f"precision_top{pct}"] = precision_at(y, p, fraction)
        out[f"recall_top{pct}"] = recall_at(y, p, fraction)
    return out


def _pairs(y: ArrayLike, pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(pred, dtype=float).ravel()
    if y_arr.shape != p_arr.shape or y_arr.size == 0:
        raise DataError(f"metrics: {y_arr.size} values but {p_arr.size} predictions")
    return y_arr, p_arr


def mae(y: ArrayLike, pred: ArrayLike) -> float:
    """Mean absolute error."""
    y_arr, p_arr = _pairs(y, pred)
    return float(np.mean(np.abs(y_arr - p_arr)))


def rmse(y: ArrayLike, pred: ArrayLike) -> float:
    """Root mean squared error."""
    y_arr, p_arr = _pairs(y, pred)
    return float(np.sqrt(np.mean((y_arr - p_arr) ** 2)))


def r2_score(y: ArrayLike, pred: ArrayLike) -> float:
    """Share of the variance explained; 0 for predicting the mean, negative when worse."""
    y_arr, p_arr = _pairs(y, pred)
    total = np.sum((y_arr - y_arr.mean()) ** 2)
    if total == 0:
        return math.nan
    return float(1 - np.sum((y_arr - p_arr) ** 2) / total)


def spearman_score(y: ArrayLike, pred: ArrayLike) -> float:
    """Rank correlation (ties get average ranks); NaN when either side is constant."""
    y_arr, p_arr = _pairs(y, pred)
    a, b = _rank(y_arr), _rank(p_arr)
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / denom) if denom else math.nan


def regression_report(y: ArrayLike, pred: ArrayLike) -> dict[str, Any]:
    """Every regression metric the leaderboard shows, by name."""
    return {
        "mae": mae(y, pred),
        "rmse": rmse(y, pred),
        "r2": r2_score(y, pred),
        "spearman": spearman_score(y, pred),
    }
