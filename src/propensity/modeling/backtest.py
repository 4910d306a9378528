"""Backtest splits by cutoff: never train on a label window that reaches a judged cutoff.

When the history is too short for folds by time alone, the split falls back step by step
(:data:`STEPS`) to folds that judge customers the model never learned from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from propensity.errors import DataError

__all__ = [
    "HELD_OUT",
    "PARTS",
    "STEPS",
    "STOPPING",
    "Fold",
    "Split",
    "customer_draws",
    "customer_parts",
    "inner_split",
    "rolling_folds",
]

#: the fallback steps, most honest first: folds by time; validation on held-out customers
#: (the test still by time); validation and test both on held-out customers
STEPS = ("time", "customers", "no test")
#: the held-out parts of the customers, by code in :func:`customer_parts` (0: learned from)
PARTS = {"validation": 1, "test": 2}
#: the share of the customers in each held-out part
HELD_OUT = 0.2
#: the share of a round's learning customers that early stopping scores when no later
#: cutoff can be stopped on
STOPPING = 0.1


@dataclass(frozen=True)
class Fold:
    """Learn from the ``train`` cutoffs, judge the ``valid`` cutoff.

    A fold by time (``judge`` None) judges every customer at ``valid`` and every training
    cutoff's label window ``[t, t + horizon)``, plus the gap, ends on or before ``valid``:
    nothing the model learns from was observed after the moment it is judged at.

    A fold by customers judges only the customers of the held-out part ``judge``
    (``"validation"`` or ``"test"``, see :func:`customer_parts`) and learns from no
    customer of the parts in ``leave_out`` (which holds ``judge``), at any cutoff: a
    judged customer is never learned from, so no label window it learned from overlaps
    the one it is judged on. Its training cutoffs end at ``valid``.
    """

    train: tuple[dt.date, ...]
    valid: dt.date
    judge: str | None = None
    leave_out: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [p for p in (self.judge, *self.leave_out) if p is not None and p not in PARTS]
        if unknown:
            raise ValueError(f"Fold: unknown customer part {unknown[0]!r}; parts are {PARTS}")
        if self.judge is not None and self.judge not in self.leave_out:
            raise ValueError(f"Fold: the judged part {self.judge!r} must be left out of learning")

    @property
    def name(self) -> str:
        """The round's name: the judged cutoff, and which customers when not all of them."""
        return str(self.valid) if self.judge is None else f"{self.valid} {self.judge} customers"


@dataclass(frozen=True)
class Split:
    """The validation folds, oldest first, the final test fold, and how they were made.

    ``step`` is one of :data:`STEPS`:

    - ``"time"``: the test fold is the last labelled cutoff and every validation fold's own
      label window ends on or before it, so the choice of model and its calibration use no
      outcome observed after the moment the test judges.
    - ``"customers"``: no validation cutoff fits between the training cutoffs and the test
      cutoff; validation judges the held-out ``validation`` customers at the latest
      training cutoffs of the test fold, learning from the other customers only. The test
      fold is still by time.
    - ``"no test"``: no cutoff has an earlier one whose label window ends by it; validation
      and test judge two held-out parts of the customers, and the test figure is
      optimistic (:attr:`optimistic`).

    ``note`` says in one plain sentence what was done and why.
    """

    folds: tuple[Fold, ...]
    test: Fold
    step: str = "time"
    note: str = ""

    @property
    def optimistic(self) -> bool:
        """Whether the test figure is optimistic: no cutoff was tested on a later one."""
        return self.step == "no test"


def customer_draws(keys: object, seed: int = 0, purpose: str = "parts") -> np.ndarray:
    """A stable uniform draw in ``[0, 1)`` per row, the same for every row of a customer.

    A hash of the key (as text) salted with ``seed`` and ``purpose``: it depends on nothing
    else, so a customer keeps its draw whatever rows, order or other customers come along.
    """
    codes, uniques = pd.factorize(np.asarray(keys), use_na_sentinel=False)
    text = np.asarray([str(u) for u in uniques], dtype=object)
    salt = hashlib.blake2b(f"{purpose}:{seed}".encode(), digest_size=8).hexdigest()
    hashed = pd.util.hash_array(text, hash_key=salt, categorize=False)
    draws = (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)
    return np.asarray(draws[codes])


def customer_parts(keys: object, seed: int = 0) -> np.ndarray:
    """Per row, the held-out part of its customer (:data:`PARTS`), or 0: learned from.

    A fifth of the customers (:data:`HELD_OUT`) is the ``test`` part, another fifth the
    ``validation`` part, chosen by :func:`customer_draws`.
    """
    draws = customer_draws(keys, seed, "parts")
    parts = np.zeros(len(draws), dtype=np.int8)
    parts[draws < 2 * HELD_OUT] = PARTS["validation"]
    parts[draws < HELD_OUT] = PARTS["test"]
    return parts


def rolling_folds(
    cutoffs: list[dt.date], horizon_days: int, folds: int = 3, gap_days: int = 0
) -> Split:
    """Split labelled cutoffs into rolling-origin folds, falling back when they are too few.

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

    Returns
    -------
    Split
        Folds by time when the cutoffs allow them, else by customers (see :class:`Split`).

    Raises
    ------
    DataError
        When there is no labelled cutoff at all.
    """
    ordered = sorted(set(cutoffs))
    if not ordered:
        raise DataError("backtest: no labelled cutoff; build the frame first")
    reach = dt.timedelta(days=horizon_days + gap_days)
    window = f"{horizon_days}-day label window" + (
        f" plus the {gap_days}-day gap" if gap_days else ""
    )
    last = ordered[-1]
    span = f"the labelled cutoffs {ordered[0]} to {last}"

    def by_time(at: dt.date) -> Fold:
        return Fold(tuple(t for t in ordered if t + reach <= at), at)

    test = by_time(last)
    if test.train:
        usable = [f for f in map(by_time, test.train) if f.train]
        if usable:
            chosen = tuple(usable[-folds:])
            note = (
                f"Validated on {_dates([f.valid for f in chosen])} and tested on {last}, each "
                f"judged by a model that learned only from cutoffs whose {window} ends by it."
            )
            return Split(chosen, test, "time", note)
        judged = test.train[-folds:]
        valid = tuple(
            Fold(tuple(t for t in test.train if t <= v), v, "validation", ("validation",))
            for v in judged
        )
        note = (
            f"With {span}, no validation cutoff fits between the training cutoffs and the test "
            f"cutoff (that needs cutoffs spanning {2 * reach.days} days), so candidates were "
            f"compared on a held-out {HELD_OUT:.0%} of the customers at {_dates(judged)}, "
            f"learning from the other customers only, and tested by time on {last}."
        )
        return Split(valid, test, "customers", note)
    latest = ordered[-folds:]
    valid = tuple(
        Fold(tuple(t for t in ordered if t <= v), v, "validation", ("validation", "test"))
        for v in latest
    )
    note = (
        f"With {span}, no cutoff has an earlier one whose {window} ends by it (that needs "
        f"cutoffs spanning {reach.days} days), so validation and test judge two held-out "
        f"parts of the customers ({HELD_OUT:.0%} each) at the same cutoffs, learning from the "
        "other customers only, and the test figure is optimistic."
    )
    return Split(valid, Fold(tuple(ordered), last, "test", ("test",)), "no test", note)


def _dates(days: list[dt.date] | tuple[dt.date, ...]) -> str:
    """Cutoffs in words: one date, or the first and last and how many."""
    if len(days) == 1:
        return str(days[0])
    return f"{len(days)} cutoffs ({days[0]} to {days[-1]})"


def inner_split(
    train: list[dt.date], horizon_days: int, gap_days: int = 0
) -> tuple[list[dt.date], dt.date | None]:
    """Inside a fold's training cutoffs: the cutoffs to fit on and the one to stop early on.

    The stopping cutoff is the latest training cutoff; the fitting cutoffs are those whose
    label window (plus the gap) ends by it, so early stopping never scores rows whose
    outcome window overlaps the rows it learned from. ``None`` when no cutoff qualifies
    (the rounds then stop on held-out customers instead, see ``evaluate.fold_positions``).
    """
    ordered = sorted(set(train))
    if not ordered:
        return [], None
    last = ordered[-1]
    reach = dt.timedelta(days=horizon_days + gap_days)
    inner = [t for t in ordered if t + reach <= last]
    return (inner, last) if inner else (ordered, None)
