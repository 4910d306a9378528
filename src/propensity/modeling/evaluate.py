"""Backtest candidates round by round and collect their metrics.

A round is one judged set of rows with the rows a model may learn from before it: in time
mode a rolling-origin fold by cutoff, in table mode a stratified holdout.
"""

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
from propensity.modeling.metrics import classification_report, regression_report

__all__ = [
    "FoldResult",
    "Round",
    "evaluate",
    "fold_frames",
    "holdout_rounds",
    "run_rounds",
    "sample_rows",
    "time_rounds",
]


@dataclass(frozen=True)
class FoldResult:
    """One candidate on one round."""

    candidate: str
    valid: str
    metrics: dict[str, float]
    seconds: float
    predictions: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Round:
    """Rows to learn from, rows to stop early on, and the rows judged.

    ``name`` is the judged cutoff (time mode) or ``holdout N`` (table mode); ``test`` marks
    the final round, which only reports and never chooses.
    """

    name: str
    train: pd.DataFrame = field(repr=False)
    stop: pd.DataFrame | None = field(repr=False)
    judged: pd.DataFrame = field(repr=False)
    test: bool = False


def sample_rows(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows drawn uniformly (in their original order); all when fewer."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(frame), max_rows, replace=False))
    return frame.iloc[keep]


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


def time_rounds(
    frame: pd.DataFrame,
    split: Split,
    horizon_days: int,
    *,
    max_rows: int | None = None,
    seed: int = 0,
) -> list[Round]:
    """The rolling-origin folds of ``split`` as rounds, the test fold last."""
    labeled = frame[frame["label"].notna()]
    rounds = []
    for fold in (*split.folds, split.test):
        train, stop, judged = fold_frames(labeled, fold, horizon_days)
        rounds.append(
            Round(
                str(fold.valid),
                sample_rows(train, max_rows, seed),
                stop,
                judged,
                test=fold is split.test,
            )
        )
    return rounds


def _stratified_parts(y: np.ndarray, parts: int, rng: np.random.Generator) -> np.ndarray:
    """A part number per row, each class spread evenly over the parts."""
    out = np.empty(len(y), dtype=np.int64)
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        out[rows] = np.arange(len(rows)) % parts
    return out


def holdout_rounds(
    frame: pd.DataFrame,
    *,
    folds: int,
    task: str,
    seed: int = 0,
    max_rows: int | None = None,
) -> list[Round]:
    """Stratified holdouts for a table without time: ``folds`` validation rounds and a test.

    A fifth of the labelled rows is the test; the rest is cut into ``folds + 1`` parts and
    each validation round judges one part after learning from the others. Early stopping
    uses a tenth of the learning rows. Time is not respected: a row may be judged by a model
    that learned from later rows.
    """
    labeled = frame[frame["label"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    y = labeled["label"].to_numpy(dtype=float)
    # regression: stratify on quantile bins of the amount so each part sees the tail
    strata = y if task == "binary" else np.searchsorted(np.quantile(y, [0.5, 0.8, 0.95]), y)
    test_mask = _stratified_parts(strata, 5, rng) == 0
    if test_mask.all() or not test_mask.any():
        raise DataError(f"backtest: {len(labeled)} labelled rows are too few for a holdout")
    rest = np.flatnonzero(~test_mask)
    part = _stratified_parts(strata[rest], folds + 1, rng)

    def make(name: str, learn: np.ndarray, judged: np.ndarray, test: bool) -> Round:
        stop_mask = _stratified_parts(strata[learn], 10, rng) == 0
        train = sample_rows(labeled.iloc[learn[~stop_mask]], max_rows, seed)
        return Round(name, train, labeled.iloc[learn[stop_mask]], labeled.iloc[judged], test)

    rounds = [
        make(f"holdout {i + 1}", rest[part != i], rest[part == i], False) for i in range(folds)
    ]
    rounds.append(make("test", rest, np.flatnonzero(test_mask), True))
    return rounds


def run_rounds(
    candidates: Sequence[Candidate],
    rounds: Sequence[Round],
    *,
    task: str = "binary",
    on_fit: Callable[[str, str], None] | None = None,
) -> list[FoldResult]:
    """Fit and judge every candidate on every round."""
    report = classification_report if task == "binary" else regression_report
    results: list[FoldResult] = []
    for rnd in rounds:
        y = rnd.judged["label"].to_numpy(dtype=float)
        for candidate in candidates:
            if on_fit is not None:
                on_fit(candidate.name, rnd.name)
            started = time.perf_counter()
            candidate.fit(rnd.train, rnd.stop)
            p = candidate.predict(rnd.judged)
            metrics: dict[str, Any] = report(y, p)
            results.append(
                FoldResult(candidate.name, rnd.name, metrics, time.perf_counter() - started, p)
            )
    return results


def evaluate(
    candidates: Sequence[Candidate],
    frame: pd.DataFrame,
    split: Split,
    horizon_days: int,
    on_fit: Callable[[str, str], None] | None = None,
) -> list[FoldResult]:
    """Fit and judge every candidate on every fold of ``split``, the test fold last.

    Only rows with a label take part.
    """
    return run_rounds(candidates, time_rounds(frame, split, horizon_days), on_fit=on_fit)
