"""Rolling-origin folds by cutoff: never train on a label window that reaches a judged cutoff."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from propensity.errors import DataError

__all__ = ["Fold", "Split", "inner_split", "rolling_folds"]


@dataclass(frozen=True)
class Fold:
    """Train on ``train`` cutoffs, judge on ``valid``.

    Every training cutoff's label window ``[t, t + horizon)``, plus the gap, ends on or
    before ``valid``: nothing the model learns from was observed after the moment it is
    judged at.
    """

    train: tuple[dt.date, ...]
    valid: dt.date


@dataclass(frozen=True)
class Split:
    """The validation folds, oldest first, and the final test fold (the last labelled cutoff).

    Every validation fold's own label window ends on or before the test cutoff: the choice
    of model and its calibration use no outcome observed after the moment the test judges.
    """

    folds: tuple[Fold, ...]
    test: Fold


def rolling_folds(
    cutoffs: list[dt.date], horizon_days: int, folds: int = 3, gap_days: int = 0
) -> Split:
    """Split labelled cutoffs into rolling-origin folds.

    Parameters
    ----------
    cutoffs
        The cutoffs that have labels.
    horizon_days
        Length of the label window.
    folds
        How many validation folds, each judged on one of the latest cutoffs before the test.
    gap_days
        Extra days between the end of a training label window and the judged cutoff.

    Raises
    ------
    DataError
        When there are too few cutoffs for the test and at least one validation fold.
    """
    ordered = sorted(set(cutoffs))
    reach = dt.timedelta(days=horizon_days + gap_days)

    def fold(at: dt.date) -> Fold:
        return Fold(tuple(t for t in ordered if t + reach <= at), at)

    if not ordered:
        raise DataError("backtest: no labelled cutoff; build the frame first")
    test = fold(ordered[-1])
    if not test.train:
        raise DataError(
            f"backtest: the last labelled cutoff {ordered[-1]} has no earlier cutoff whose "
            f"{horizon_days}-day label window{' plus the gap' if gap_days else ''} ends "
            "before it; add cutoffs (set cutoffs.start earlier or cutoffs.every shorter)"
        )
    candidates = [fold(t) for t in ordered[:-1] if t + reach <= ordered[-1]]
    usable = [f for f in candidates if f.train]
    if not usable:
        raise DataError(
            "backtest: no validation cutoff has both training cutoffs before it and a label "
            f"window ({horizon_days + gap_days} days with the gap) that ends before the test "
            f"cutoff {ordered[-1]}; you need cutoffs spanning at least "
            f"{2 * (horizon_days + gap_days)} days (set cutoffs.start earlier)"
        )
    return Split(tuple(usable[-folds:]), test)


def inner_split(
    train: list[dt.date], horizon_days: int, gap_days: int = 0
) -> tuple[list[dt.date], dt.date | None]:
    """Inside a fold's training cutoffs: the cutoffs to fit on and the one to stop early on.

    The stopping cutoff is the latest training cutoff; the fitting cutoffs are those whose
    label window (plus the gap) ends by it, so early stopping never scores rows whose
    outcome window overlaps the rows it learned from. ``None`` when no cutoff qualifies.
    """
    ordered = sorted(set(train))
    if not ordered:
        return [], None
    last = ordered[-1]
    reach = dt.timedelta(days=horizon_days + gap_days)
    inner = [t for t in ordered if t + reach <= last]
    return (inner, last) if inner else (ordered, None)
