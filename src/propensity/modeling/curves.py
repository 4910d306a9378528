"""Curves of a model's scores against outcomes, as points to draw: ROC, PR, gain, lift, calibration.

Pure NumPy, beside :mod:`propensity.modeling.metrics` (whose figures are the areas and points
of these curves). Each function turns outcomes and scores into at most ``MAX_POINTS``
``(x, y)`` points, so that a page drawing them stays small.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from propensity.errors import DataError

__all__ = [
    "MAX_POINTS",
    "calibration_points",
    "gain_points",
    "lift_points",
    "pr_points",
    "roc_points",
]

Point = tuple[float, float]

MAX_POINTS = 200


def _scored(y: npt.ArrayLike, p: npt.ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores as floats, rows with a NaN in either left out."""
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(p, dtype=float).ravel()
    if y_arr.shape != p_arr.shape:
        raise DataError(
            f"{where}: {y_arr.size} labels but {p_arr.size} scores; pass one score per label"
        )
    keep = np.isfinite(y_arr) & np.isfinite(p_arr)
    y_arr, p_arr = y_arr[keep], p_arr[keep]
    odd = np.unique(y_arr[(y_arr != 0) & (y_arr != 1)])
    if odd.size:
        shown = ", ".join(f"{v:g}" for v in odd[:5])
        raise DataError(f"{where}: labels must be 0 or 1, got {shown}")
    return y_arr, p_arr


def _steps(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and rows taken at each distinct score, highest first (ties go together)."""
    order = np.argsort(-p, kind="mergesort")
    ps = p[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    return np.cumsum(y[order])[last], last + 1.0


def _thin(xs: np.ndarray, ys: np.ndarray, most: int = MAX_POINTS) -> list[Point]:
    """The curve in at most ``most`` points; the first and last are always kept.

    Points on a straight line between their neighbours go first (a perfect ROC curve is
    three points); then points evenly spaced along the curve's length are kept.
    """
    if len(xs) > 2:
        dx, dy = np.diff(xs), np.diff(ys)
        cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
        back = dx[:-1] * dx[1:] + dy[:-1] * dy[1:] < 0  # a turn back is a corner too
        scale = max(float(np.ptp(xs)) * float(np.ptp(ys)), 1.0)
        keep = np.r_[True, (np.abs(cross) > 1e-12 * scale) | back, True]
        xs, ys = xs[keep], ys[keep]
    if len(xs) > most:
        span_x, span_y = float(np.ptp(xs)) or 1.0, float(np.ptp(ys)) or 1.0
        length = np.r_[0.0, np.cumsum(np.hypot(np.diff(xs) / span_x, np.diff(ys) / span_y))]
        at = np.searchsorted(length, np.linspace(0.0, length[-1], most)[:-1])
        idx = np.unique(np.r_[at, len(xs) - 1])
        xs, ys = xs[idx], ys[idx]
    return [(float(a), float(b)) for a, b in zip(xs, ys, strict=True)]


def _roc_curve(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Every corner of the ROC curve, unthinned; empty when a class is missing."""
    y_arr, p_arr = _scored(y, p, "roc_points")
    pos = float(y_arr.sum())
    neg = len(y_arr) - pos
    if pos == 0 or neg == 0:
        return np.empty(0), np.empty(0)
    tp, n = _steps(y_arr, p_arr)
    return np.r_[0.0, (n - tp) / neg], np.r_[0.0, tp / pos]


def roc_points(y: npt.ArrayLike, p: npt.ArrayLike) -> list[Point]:
    """The ROC curve: (false positive rate, true positive rate) from (0, 0) to (1, 1).

    Tied scores make one diagonal step, so the area under the points is the ROC-AUC with
    ties counted one half. Empty when only one class is present.

    Examples
    --------
    >>> roc_points([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    """
    return _thin(*_roc_curve(y, p))


def pr_points(y: npt.ArrayLike, p: npt.ArrayLike) -> list[Point]:
    """Precision against recall at each distinct score, highest first: (recall, precision).

    Empty when there is no positive.
    """
    y_arr, p_arr = _scored(y, p, "pr_points")
    pos = float(y_arr.sum())
    if pos == 0:
        return []
    tp, n = _steps(y_arr, p_arr)
    return _thin(tp / pos, tp / n)


def calibration_points(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> list[Point]:
    """(mean predicted, observed rate) in each of ``bins`` equal-count bins of the scores.

    Tied scores stay in one bin, so a bin can be left without rows: it is left out.
    Empty when there are no rows.
    """
    if bins < 1:
        raise DataError(f"calibration_points: bins must be at least 1, got {bins}")
    y_arr, p_arr = _scored(y, p, "calibration_points")
    if not len(y_arr):
        return []
    order = np.argsort(p_arr, kind="mergesort")
    p_arr, y_arr = p_arr[order], y_arr[order]
    by_rank = np.arange(len(p_arr)) * bins // len(p_arr)
    # A tie goes whole into the bin of its last row, so one score never lands in two bins.
    changes = np.diff(p_arr) != 0
    last = np.r_[np.flatnonzero(changes), len(p_arr) - 1]
    which = by_rank[last][np.r_[0, np.cumsum(changes)]]
    rows = np.bincount(which, minlength=bins)
    mean_p = np.bincount(which, weights=p_arr, minlength=bins)
    hits = np.bincount(which, weights=y_arr, minlength=bins)
    keep = rows > 0
    return [
        (float(a), float(b))
        for a, b in zip(mean_p[keep] / rows[keep], hits[keep] / rows[keep], strict=True)
    ]


def _gain_curve(y: npt.ArrayLike, p: npt.ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    y_arr, p_arr = _scored(y, p, where)
    pos = float(y_arr.sum())
    if pos == 0:
        return np.empty(0), np.empty(0)
    tp, n = _steps(y_arr, p_arr)
    return np.r_[0.0, n / len(y_arr)], np.r_[0.0, tp / pos]


def gain_points(y: npt.ArrayLike, p: npt.ArrayLike) -> list[Point]:
    """Cumulative gain: (share contacted, share of positives found), likeliest first.

    Tied scores are contacted together (a straight step). Empty when there is no positive.
    """
    return _thin(*_gain_curve(y, p, "gain_points"))


def lift_points(y: npt.ArrayLike, p: npt.ArrayLike, steps: int = 20) -> list[Point]:
    """(share contacted, lift over random) at ``steps`` equal shares, likeliest first.

    A lift of 2 finds twice the positives that random contacts would; within tied scores
    the positives are taken to be spread evenly. Empty when there is no positive.
    """
    if steps < 1:
        raise DataError(f"lift_points: steps must be at least 1, got {steps}")
    share, found = _gain_curve(y, p, "lift_points")
    if not len(share):
        return []
    at = np.arange(1, steps + 1) / steps
    lift = np.interp(at, share, found) / at
    return [(float(a), float(b)) for a, b in zip(at, lift, strict=True)]
