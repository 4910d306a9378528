"""The cutoff schedule: the dates at which a prediction would have been made."""

from __future__ import annotations

import datetime as dt

from propensity.errors import DataError
from propensity.spec import CutoffsSection

__all__ = ["EPOCH", "day_number", "from_day_number", "schedule"]

EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01: the integer time axis the snapshot windows run on."""
    return (day - EPOCH).days


def from_day_number(n: int) -> dt.date:
    """Inverse of :func:`day_number`."""
    return EPOCH + dt.timedelta(days=n)


def schedule(cutoffs: CutoffsSection, horizon_days: int, observed_end: dt.date) -> list[dt.date]:
    """Every cutoff from ``start`` stepping by ``every``.

    Parameters
    ----------
    cutoffs
        The ``[cutoffs]`` section.
    horizon_days
        Length of the label window.
    observed_end
        The first day not fully observed in the data (the day of the last event): a label
        window ``[t, t + horizon)`` is fully observed when ``t + horizon <= observed_end``.

    Returns
    -------
    list of date
        Up to ``end`` when it is set; otherwise up to the last cutoff whose label window is
        fully observed.
    """
    last_labeled = observed_end - dt.timedelta(days=horizon_days)
    end = cutoffs.end if cutoffs.end is not None else last_labeled
    out: list[dt.date] = []
    i = 0
    while (day := cutoffs.every.step(cutoffs.start, i)) <= end:
        out.append(day)
        i += 1
    if not out:
        raise DataError(
            f"cutoffs: no cutoff from {cutoffs.start} to {end}; the data is observed until "
            f"{observed_end}, so with a {horizon_days}-day horizon the last labelled cutoff is "
            f"{last_labeled}: set cutoffs.start earlier"
        )
    return out
