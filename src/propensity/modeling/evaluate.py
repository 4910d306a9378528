"""Backtest candidates over rolling-origin folds and collect their metrics per fold."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError
from propensity.modeling.backtest import Fold, Split, rolling_folds
from propensity.modeling.candidates import Candidate
from propensity.modeling.metrics import classification_report

__all__ = ["FoldResult", "evaluate", "fold_frames"]


@dataclass(frozen=True)
class FoldResult:
    """One candidate on one fold."""

    candidate: str
    valid: str
    metrics: dict[str, float]
    seconds: float
    predictions: np.ndarray = field(repr=False)


def fold_frames(
    frame: pd.DataFrame, fold: Fold, horizon_days: int
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Training rows, early-stopping rows and judged rows of one fold.

    The early-stopping rows are the latest training cutoff that no other training window
    reaches (a fold inside the fold); with too few cutoffs there are none.
    """
    cut = pd.to_datetime(frame["cutoff"]).dt.date
    train_cutoffs = list(fold.train)
    judged = frame[cut == fold.valid]
    try:
        inner = rolling_folds(train_cutoffs, horizon_days, folds=1).test
    except DataError:
        return frame[cut.isin(train_cutoffs)], None, judged
    return frame[cut.isin(inner.train)], frame[cut == inner.valid], judged


def evaluate(
    candidates: Sequence[Candidate],
    frame: pd.DataFrame,
    split: Split,
    horizon_days: int,
    on_fit: Callable[[str, str], None] | None = None,
) -> list[FoldResult]:
    """Fit and judge every candidate on every fold, the test fold last.

    Only rows with a label take part.
    """
    labeled = frame[frame["label"].notna()]
    results: list[FoldResult] = []
    for fold in (*split.folds, split.test):
        train, valid, judged = fold_frames(labeled, fold, horizon_days)
        y = judged["label"].to_numpy(dtype=float)
        for candidate in candidates:
            if on_fit is not None:
                on_fit(candidate.name, str(fold.valid))
            started = time.perf_counter()
            candidate.fit(train, valid)
            p = candidate.predict(judged)
            metrics: dict[str, Any] = classification_report(y, p)
            results.append(
                FoldResult(
                    candidate.name, str(fold.valid), metrics, time.perf_counter() - started, p
                )
            )
    return results
