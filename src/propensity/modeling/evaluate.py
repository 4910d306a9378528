"""Backtest candidates round by round and collect their metrics.

A round is one judged set of rows with the rows a model may learn from before it: in time
mode a rolling-origin fold by cutoff (or, when the history is short, a fold judging held-out
customers), in table mode a stratified holdout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError
from propensity.modeling.backtest import (
    PARTS,
    STOPPING,
    Fold,
    Split,
    customer_draws,
    customer_parts,
    inner_split,
)
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
    reach the stopping rows ``stop`` (time mode), or the stopping customers' rows (time
    mode with no later cutoff to stop on), or the stopping rows (table mode).

    ``name`` is the judged cutoff (time mode; followed by ``validation customers`` or
    ``test customers`` when the round judges a held-out part of the customers) or
    ``holdout N`` (table mode); ``test`` marks the final round, which only reports and
    never chooses. Rounds hold row positions, not copies, so that only one round's rows are
    in memory at a time.
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
    cutoffs: np.ndarray,
    fold: Fold,
    horizon_days: int,
    *,
    keys: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Positions of a fold's learning, inner learning, early-stopping and judged rows.

    ``horizon_days`` includes any gap. The stopping rows are the latest training cutoff's
    when an earlier cutoff's label window ends by it (:func:`inner_split`); otherwise, with
    ``keys``, a tenth of the learning customers (:data:`STOPPING`), never learned from
    before stopping. Without ``keys`` there is then nothing to stop on (``None``). A fold
    by customers needs ``keys``; ``seed`` salts the customer draws.
    """
    customers = None if keys is None else _Customers.of(keys, seed)
    return _positions(cutoffs, fold, horizon_days, customers)


@dataclass(frozen=True)
class _Customers:
    """Per row: the held-out part of its customer, and whether it is among the stoppers."""

    part: np.ndarray
    stopping: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray, seed: int) -> _Customers:
        return cls(customer_parts(keys, seed), customer_draws(keys, seed, "stopping") < STOPPING)


def _positions(
    cutoffs: np.ndarray, fold: Fold, horizon_days: int, customers: _Customers | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    judged = cutoffs == np.datetime64(fold.valid, "D")
    learn = np.isin(cutoffs, np.array(list(fold.train), dtype="datetime64[D]"))
    if fold.leave_out:
        if customers is None:
            raise ValueError(f"fold {fold.name}: a fold by customers needs the customer keys")
        if fold.judge is not None:
            judged &= customers.part == PARTS[fold.judge]
        learn &= ~np.isin(customers.part, [PARTS[p] for p in fold.leave_out])
    train, at = np.flatnonzero(learn), np.flatnonzero(judged)
    fit_on, stop_at = inner_split(list(fold.train), horizon_days)
    if stop_at is not None:
        days = np.array(fit_on, dtype="datetime64[D]")
        inner = np.flatnonzero(learn & np.isin(cutoffs, days))
        stop = np.flatnonzero(learn & (cutoffs == np.datetime64(stop_at, "D")))
        return train, inner, stop, at
    if customers is None:
        return train, train, None, at
    # no later cutoff to stop on: stop on customers the inner rows never include
    inner = np.flatnonzero(learn & ~customers.stopping)
    stop = np.flatnonzero(learn & customers.stopping)
    if not len(inner) or not len(stop):
        return train, train, None, at
    return train, inner, stop, at


def fold_frames(
    frame: pd.DataFrame, fold: Fold, horizon_days: int, *, key: str | None = None, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Inner learning rows, early-stopping rows and judged rows of one fold."""
    keys = None if key is None else frame[key].to_numpy()
    _, inner, stop, judged = fold_positions(
        cutoff_dates(frame), fold, horizon_days, keys=keys, seed=seed
    )
    return frame.iloc[inner], None if stop is None else frame.iloc[stop], frame.iloc[judged]


def time_rounds(
    frame: pd.DataFrame,
    split: Split,
    horizon_days: int,
    *,
    max_rows: int | None = None,
    seed: int = 0,
    key: str | None = None,
) -> list[Round]:
    """The folds of ``split`` as rounds over ``frame``, the test fold last.

    ``frame`` must hold labelled rows only; ``horizon_days`` includes any gap. ``key``, the
    customer key column, lets the rounds hold customers out: the folds of a split that
    fell back to held-out customers need it, and short folds stop early on a tenth of the
    learning customers (:func:`fold_positions`). ``seed`` salts the customer draws and the
    row sample (at most ``max_rows`` learning rows per round).

    Raises
    ------
    DataError
        When a fold by customers has no judged or learning rows, or its judged rows (or
        its learning rows) lack one of the two labels of a yes/no target.
    """
    cutoffs = cutoff_dates(frame)
    if key is None and split.step != "time":
        raise ValueError(f"time_rounds: the split is by {split.step!r}; pass the customer key")
    customers = None if key is None else _Customers.of(frame[key].to_numpy(), seed)
    y = frame["label"].to_numpy(dtype=float)
    rounds = []
    for fold in (*split.folds, split.test):
        train, inner, stop, judged = _positions(cutoffs, fold, horizon_days, customers)
        if fold.judge is not None:
            _check_customers(fold, y, train, judged, frame, key)
        rounds.append(
            Round(
                fold.name,
                sample_positions(train, max_rows, seed),
                sample_positions(inner, max_rows, seed),
                stop,
                judged,
                test=fold is split.test,
            )
        )
    return rounds


def _check_customers(
    fold: Fold,
    y: np.ndarray,
    train: np.ndarray,
    judged: np.ndarray,
    frame: pd.DataFrame,
    key: str | None,
) -> None:
    """Refuse a fold by customers that cannot judge: too few customers, or one label."""
    customers = frame[key].nunique() if key is not None else 0
    fix = (
        f"the frame has {customers} customers; add customers, or cutoffs spanning more "
        "time (set cutoffs.start earlier) so that folds can be made by time"
    )
    yes_no = bool(np.isin(y, (0.0, 1.0)).all())
    for what, rows in (("judged", judged), ("learning", train)):
        found = np.unique(y[rows])
        if not len(rows):
            seen = "no row"
        elif len(rows) == 1:
            seen = "only 1 row"
        elif yes_no and len(found) < 2:
            seen = f"{len(rows)} rows, every one labelled {found[0]:g}"
        else:
            continue
        raise DataError(
            f"backtest: the history is too short for folds by time, so rounds judge held-out "
            f"customers, but the {what} rows of {fold.name} have {seen}; {fix}"
        )


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
    *,
    key: str | None = None,
    seed: int = 0,
) -> list[FoldResult]:
    """Fit and judge every candidate on every fold of ``split``, the test fold last.

    Only rows with a label take part; ``key`` and ``seed`` as in :func:`time_rounds`.
    """
    labeled = frame[frame["label"].notna()]
    rounds = time_rounds(labeled, split, horizon_days, key=key, seed=seed)
    return run_rounds(candidates, rounds, labeled, on_fit=on_fit)
