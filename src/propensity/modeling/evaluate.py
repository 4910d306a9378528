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
from propensity.modeling.backtest import Fold, Split, inner_split
from propensity.modeling.candidates import Candidate
from propensity.modeling.metrics import classification_report, regression_report

__all__ = [
    "FoldResult",
    "Round",
    "cutoff_dates",
    "evaluate",
    "fit_candidate",
    "fold_frames",
    "fold_positions",
    "holdout_rounds",
    "run_rounds",
    "sample_positions",
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
    """Positions of the rows to learn from, to stop early on, and to judge.

    ``train`` holds every learning row; ``inner`` leaves out the rows whose label windows
    reach the stopping rows ``stop`` (time mode) or are the stopping rows (table mode).

    ``name`` is the judged cutoff (time mode) or ``holdout N`` (table mode); ``test`` marks
    the final round, which only reports and never chooses. Rounds hold row positions, not
    copies, so that only one round's rows are in memory at a time.
    """

    name: str
    train: np.ndarray = field(repr=False)
    inner: np.ndarray = field(repr=False)
    stop: np.ndarray | None = field(repr=False)
    judged: np.ndarray = field(repr=False)
    test: bool = False

    def frames(
        self, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
        """The round's rows of ``frame``.

        To learn from, to learn from before stopping early, to stop early on, and to judge.
        """
        stop = None if self.stop is None or not len(self.stop) else frame.iloc[self.stop]
        inner = frame.iloc[self.inner] if stop is not None else frame.iloc[self.train]
        return frame.iloc[self.train], inner, stop, frame.iloc[self.judged]


def fit_candidate(
    candidate: Candidate,
    train: pd.DataFrame,
    inner: pd.DataFrame,
    stop: pd.DataFrame | None,
) -> Candidate:
    """Fit a candidate on a round's rows, each kind the way that keeps stopping honest.

    LightGBM is sized by early stopping (learning from ``inner``, scoring ``stop``), then
    learns from all of ``train`` with that many rounds; a network keeps its best epoch on
    ``stop``; every other candidate learns from all of ``train``. ``inner`` leaves out the
    cutoffs whose label windows reach the stopping cutoff, which ``train`` keeps. Each
    candidate says how (:meth:`Candidate.fit_round`).
    """
    return candidate.fit_round(train, inner, stop)


def sample_positions(positions: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """At most ``max_rows`` of ``positions`` drawn uniformly, in their original order."""
    if max_rows is None or len(positions) <= max_rows:
        return positions
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(positions, max_rows, replace=False))


def sample_rows(frame: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows drawn uniformly (in their original order); all when fewer."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    return frame.iloc[sample_positions(np.arange(len(frame)), max_rows, seed)]


def cutoff_dates(frame: pd.DataFrame) -> np.ndarray:
    """The frame's cutoffs as ``datetime64[D]`` (fast to compare, whatever their dtype)."""
    return np.asarray(pd.to_datetime(frame["cutoff"]).to_numpy(dtype="datetime64[D]"))


def fold_positions(
    cutoffs: np.ndarray, fold: Fold, horizon_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Positions of a fold's learning, inner learning, early-stopping and judged rows.

    ``horizon_days`` includes any gap. See :func:`inner_split` for the stopping rows.
    """
    judged = np.flatnonzero(cutoffs == np.datetime64(fold.valid, "D"))
    days = np.array(list(fold.train), dtype="datetime64[D]")
    train = np.flatnonzero(np.isin(cutoffs, days))
    fit_on, stop_at = inner_split(list(fold.train), horizon_days)
    if stop_at is None:
        return train, train, None, judged
    inner = np.flatnonzero(np.isin(cutoffs, np.array(fit_on, dtype="datetime64[D]")))
    stop = np.flatnonzero(cutoffs == np.datetime64(stop_at, "D"))
    return train, inner, stop, judged


def fold_frames(
    frame: pd.DataFrame, fold: Fold, horizon_days: int
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Inner learning rows, early-stopping rows and judged rows of one fold."""
    _, inner, stop, judged = fold_positions(cutoff_dates(frame), fold, horizon_days)
    return frame.iloc[inner], None if stop is None else frame.iloc[stop], frame.iloc[judged]


def time_rounds(
    frame: pd.DataFrame,
    split: Split,
    horizon_days: int,
    *,
    max_rows: int | None = None,
    seed: int = 0,
) -> list[Round]:
    """The rolling-origin folds of ``split`` as rounds over ``frame``, the test fold last.

    ``frame`` must hold labelled rows only.
    """
    cutoffs = cutoff_dates(frame)
    rounds = []
    for fold in (*split.folds, split.test):
        train, inner, stop, judged = fold_positions(cutoffs, fold, horizon_days)
        rounds.append(
            Round(
                str(fold.valid),
                sample_positions(train, max_rows, seed),
                sample_positions(inner, max_rows, seed),
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

    A fifth of the rows is the test; the rest is cut into ``folds + 1`` parts and each
    validation round judges one of the first ``folds`` parts after learning from the others.
    Early stopping uses a tenth of the learning rows. Time is not respected: a row may be
    judged by a model that learned from later rows. ``frame`` must hold labelled rows only.

    The first round returned, named ``tuning``, is not a validation round: its ``stop``
    rows are the part no round judges, for hyper-parameter tuning only.
    """
    rng = np.random.default_rng(seed)
    y = frame["label"].to_numpy(dtype=float)
    # amounts: stratify on quantile bins so that every part sees the tail
    strata = y if task == "binary" else np.searchsorted(np.quantile(y, [0.5, 0.8, 0.95]), y)
    test_mask = _stratified_parts(strata, 5, rng) == 0
    if test_mask.all() or not test_mask.any():
        raise DataError(f"backtest: {len(frame)} labelled rows are too few for a holdout")
    rest = np.flatnonzero(~test_mask)
    part = _stratified_parts(strata[rest], folds + 1, rng)

    def make(name: str, learn: np.ndarray, judged: np.ndarray, test: bool) -> Round:
        stop_mask = _stratified_parts(strata[learn], 10, rng) == 0
        train = sample_positions(learn, max_rows, seed)
        inner = sample_positions(learn[~stop_mask], max_rows, seed)
        return Round(name, train, inner, learn[stop_mask], judged, test)

    rounds = [
        make(f"holdout {i + 1}", rest[part != i], rest[part == i], False) for i in range(folds)
    ]
    rounds.append(make("test", rest, np.flatnonzero(test_mask), True))
    # the last part is never judged: tuning scores its trials there (learning from the
    # others, as every validation round does), so no judged row steers the tuning
    spare = rest[part == folds]
    rounds.insert(0, Round("tuning", rest[part != folds], rest[part != folds], spare, spare))
    return rounds


def run_rounds(
    candidates: Sequence[Candidate],
    rounds: Sequence[Round],
    frame: pd.DataFrame,
    *,
    task: str = "binary",
    on_fit: Callable[[str, str], None] | None = None,
) -> list[FoldResult]:
    """Fit and judge every candidate on every round of ``frame``'s rows."""
    report = classification_report if task == "binary" else regression_report
    results: list[FoldResult] = []
    for rnd in rounds:
        train, inner, stop, judged = rnd.frames(frame)
        y = judged["label"].to_numpy(dtype=float)
        for candidate in candidates:
            if on_fit is not None:
                on_fit(candidate.name, rnd.name)
            started = time.perf_counter()
            fit_candidate(candidate, train, inner, stop)
            p = candidate.predict(judged)
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
    labeled = frame[frame["label"].notna()]
    rounds = time_rounds(labeled, split, horizon_days)
    return run_rounds(candidates, rounds, labeled, on_fit=on_fit)
