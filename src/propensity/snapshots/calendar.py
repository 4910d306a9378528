"""Calendar features of each cutoff: the season, and the days to and from declared holidays.

They depend on the cutoff alone, never on events, so they are point in time by
construction; they let a model trained on last year's cutoffs see that this cutoff falls in
the peak season (or just before Christmas) and shift its probabilities accordingly.

Features
--------
``[features] calendar`` (true, false or "auto": on when the events span more than a year,
see :func:`calendar_on`) adds the season:

* ``cutoff_month`` (1-12), ``cutoff_quarter`` (1-4), ``cutoff_day_of_year`` (1-366);
* ``cutoff_month_sin`` and ``cutoff_month_cos``: the month on a circle, so that December
  and January are neighbours (``sin(2 pi (month - 1) / 12)``, and the cosine).

``[features] holidays`` (a list of dates), when it lists any, adds:

* ``days_to_next_holiday``: days from the cutoff to the first listed date on or after it
  (0 when the cutoff is a holiday); null when none is listed after it;
* ``days_since_last_holiday``: days from the last listed date strictly before the cutoff
  (at least 1); null when none is listed before it.

Each listed date is one date, not a yearly rule: list every year the cutoffs need
(``["2023-12-25", "2024-12-25", ...]``), which also covers holidays that move (Easter).
A holiday after the cutoff is not a leak: the calendar is known in advance.

How the frame planner adds them
-------------------------------
In :func:`propensity.snapshots.frame.plan_frame`, with features, compute them on the small
table of cutoffs (one row per cutoff, columns ``__o`` and ``cutoff``), where they cost
nothing, and bring them in with the join that already adds ``cutoff``::

    season = calendar_on(spec.features.calendar, start, end)  # start, end = event_span(...)
    cal, cal_info = calendar_features(
        cut_table[_O], season=season, holidays=spec.features.holidays
    )
    ...
    frame = frame.inner_join(cut_table.mutate(**cal), _O)  # instead of cut_table alone
    features += list(cal)
    info.update(cal_info)

(before the entity columns are renamed, so that an entity column of the same name gets the
source prefix). The expressions use date parts and integer comparisons that DuckDB and
Spark both run through Ibis.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

from propensity.snapshots.cutoffs import EPOCH, day_number
from propensity.snapshots.features import FeatureInfo

__all__ = [
    "HOLIDAY_FEATURES",
    "SEASON_FEATURES",
    "calendar_features",
    "calendar_on",
    "calendar_values",
]

#: the season's features, with the calendar part each one gives (its info's ``column``)
SEASON_FEATURES = {
    "cutoff_month": "month",
    "cutoff_quarter": "quarter",
    "cutoff_day_of_year": "day_of_year",
    "cutoff_month_sin": "month_sin",
    "cutoff_month_cos": "month_cos",
}
#: the holiday features, with their part
HOLIDAY_FEATURES = {
    "days_to_next_holiday": "days_to_next_holiday",
    "days_since_last_holiday": "days_since_last_holiday",
}

#: more than this many days between the first and the last event turns "auto" on
_AUTO_SPAN_DAYS = 365


def calendar_on(spec_value: bool | Literal["auto"], first_day: dt.date, last_day: dt.date) -> bool:
    """Whether the season features are added, for ``[features] calendar``.

    Parameters
    ----------
    spec_value
        The setting: true, false or "auto".
    first_day, last_day
        The days of the first and the last event
        (:func:`propensity.snapshots.frame.event_span`).

    Returns
    -------
    bool
        The setting itself when it is true or false; for "auto", whether the events span
        more than a year (365 days), the least that shows a model one season twice.

    Examples
    --------
    >>> calendar_on("auto", dt.date(2010, 12, 1), dt.date(2011, 12, 9))
    True
    >>> calendar_on("auto", dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    False
    >>> calendar_on(True, dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    True
    """
    if spec_value == "auto":
        return (last_day - first_day).days > _AUTO_SPAN_DAYS
    return bool(spec_value)


def calendar_features(
    day: ir.IntegerValue,
    *,
    season: bool = True,
    holidays: Sequence[dt.date] = (),
) -> tuple[dict[str, ir.Value], dict[str, FeatureInfo]]:
    """Ibis expressions of the calendar features of a cutoff, and what each means.

    Parameters
    ----------
    day
        The cutoff as a day number (days since 1970-01-01), e.g. the frame's ``__o``.
    season
        Add the month, quarter, day of the year and the month's sine and cosine
        (:func:`calendar_on` decides it from ``[features] calendar``).
    holidays
        Dates, each one day (not a yearly rule); with any, the days to the next and since
        the last of them are added.

    Returns
    -------
    tuple of dict and dict
        The expressions by feature name (in the frame's column order; empty when neither
        part is asked for), and their :class:`FeatureInfo` (family ``calendar``, the part
        in ``column``).
    """
    out: dict[str, ir.Value] = {}
    if season:
        date = ibis.literal(EPOCH) + day.as_interval("D")
        month = date.month().cast("int64")
        angle = (month - 1).cast("float64") * (2 * math.pi / 12)
        out["cutoff_month"] = month
        out["cutoff_quarter"] = date.quarter().cast("int64")
        out["cutoff_day_of_year"] = date.day_of_year().cast("int64")
        out["cutoff_month_sin"] = angle.sin()
        out["cutoff_month_cos"] = angle.cos()
    marks = sorted({day_number(h) for h in holidays})
    if marks:
        none = ibis.null("int64")
        # sorted: the first branch that holds is the nearest holiday on that side
        ahead = [(day <= h, h - day) for h in marks]
        behind = [(day > h, day - h) for h in reversed(marks)]
        out["days_to_next_holiday"] = ibis.cases(*ahead, else_=none).cast("int64")
        out["days_since_last_holiday"] = ibis.cases(*behind, else_=none).cast("int64")
    parts = SEASON_FEATURES | HOLIDAY_FEATURES
    info = {name: FeatureInfo(name=name, family="calendar", column=parts[name]) for name in out}
    return out, info


def calendar_values(day: dt.date, holidays: Sequence[dt.date] = ()) -> dict[str, float | None]:
    """The calendar features of one day, in plain Python: what the service fills in.

    The same values as :func:`calendar_features` computes in the engine, for every season
    and holiday feature (the holiday ones None when no listed date lies on that side).

    Examples
    --------
    >>> v = calendar_values(dt.date(2024, 12, 1), [dt.date(2024, 12, 25)])
    >>> v["cutoff_month"], v["cutoff_quarter"], v["days_to_next_holiday"]
    (12, 4, 24)
    >>> v["days_since_last_holiday"] is None
    True
    """
    angle = (day.month - 1) * (2 * math.pi / 12)
    ahead = [(h - day).days for h in holidays if h >= day]
    behind = [(day - h).days for h in holidays if h < day]
    return {
        "cutoff_month": day.month,
        "cutoff_quarter": (day.month - 1) // 3 + 1,
        "cutoff_day_of_year": day.timetuple().tm_yday,
        "cutoff_month_sin": math.sin(angle),
        "cutoff_month_cos": math.cos(angle),
        "days_to_next_holiday": min(ahead) if ahead else None,
        "days_since_last_holiday": min(behind) if behind else None,
    }
