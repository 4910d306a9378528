"""Reason codes: the drivers of each customer's score, in words a sales team reads.

Contributions are computed per customer and per feature: exact TreeSHAP for LightGBM
(built into LightGBM), coefficient x standardized value for the linear models, the model's
own inputs for the recency rule and BG/NBD, and a linear approximation of anything else
(clearly labelled). The strongest positive ones become sentences such as
"no orders in 94 days (typical: 21)".
"""

from __future__ import annotations

import calendar
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from propensity.errors import DataError
from propensity.modeling.candidates import Candidate, LinearCandidate, feature_columns
from propensity.modeling.candidates.base import logit, require
from propensity.snapshots.features import FeatureInfo

if TYPE_CHECKING:
    from propensity.modeling.bundle import Bundle
    from propensity.spec import Spec

__all__ = [
    "contributions",
    "describe",
    "global_drivers",
    "label",
    "reason_codes",
    "typical_values",
]

log = logging.getLogger(__name__)

SURROGATE = "surrogate (approximate)"
#: rows the surrogate regression is fitted on; the rest are only explained
SURROGATE_ROWS = 50_000

_WINDOW = re.compile(r"^(\d+)(d|w|mo|y)$")
_UNITS = {"d": "day", "w": "week", "mo": "month", "y": "year"}
_FIXED = (
    "days_since_last",
    "days_since_first",
    "mean_gap_days",
    "last_gap_days",
    "bgnbd_p_alive",
    "bgnbd_expected",
    "bgnbd_p_no_event",
)
_AGGREGATES = ("sum_trend", "sum", "mean", "max")


# -- parsing feature names -----------------------------------------------------------------


@dataclass(frozen=True)
class _Feature:
    """What a feature name means: its family and the words that fill the sentence."""

    name: str
    family: str
    source: str = ""  # events source, in words ("support tickets")
    one: str = ""  # one of its events ("support ticket")
    what: str = ""  # measure, category or entity column, in words
    level: str = ""
    window: str = ""  # "30d", "12w", "all"...
    horizon: str = "the horizon"


def _slug(text: str) -> str:
    # the rule feature names are built with (propensity.snapshots.frame.slug), kept here
    # so that reading a name does not import the frame builder and its engines
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(text)).strip("_").lower() or "blank"


def _words(name: str) -> str:
    return name.replace("_", " ")


def _singular(words: str) -> str:
    """One of a source's events: "support tickets" -> "support ticket" (English plurals)."""
    head, _, last = words.rpartition(" ")
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 1:
        last = last[:-1]
    return f"{head} {last}" if head else last


def _horizon(spec: Spec) -> str:
    if spec.target is None:
        return "the horizon"
    days = spec.target.horizon.days
    return f"the next {days} day{'s' if days != 1 else ''}"


def _meaning(feature: str, spec: Spec, info: Mapping[str, FeatureInfo] | None) -> _Feature:
    """What a feature means, from the planner's :class:`FeatureInfo`.

    Bundles trained before the planner said so (before 0.2) carry none: their feature
    names are read with the spec instead (:func:`_parse`).
    """
    found = None if info is None else info.get(feature)
    if found is None:
        return _parse(feature, spec)
    family = found.family
    if family == "tenure":
        return _Feature(feature, "tenure")
    if family == "days_since":
        return _Feature(feature, "days_since", what=_words(_slug(found.column or feature)))
    if family == "column":
        return _Feature(feature, "column", what=_words(feature))
    if family == "calendar":
        return _Feature(feature, "calendar", what=found.column or "")
    source = _words(_slug(found.source or ""))
    one = _singular(source)
    if family in ("sum", "mean", "max", "sum_trend", "sum_year_ago"):
        what = _words(_slug(found.measure or ""))
    elif family in ("level_count", "level_share"):
        what = _words(_slug(found.category or ""))
    else:
        what = ""
    return _Feature(
        feature,
        family,
        source,
        one,
        what,
        found.level or "",
        found.window or "",
        horizon=_horizon(spec),
    )


def _parse(feature: str, spec: Spec) -> _Feature:
    """Read a feature name with the spec's source, measure and category names.

    Only for bundles and frames from before the planner wrote a :class:`FeatureInfo` per
    feature (:func:`_meaning`).

    Source names are tried longest first, and a shorter one still when the longer does not
    read (``orders_returns_count_30d`` with sources ``orders`` and ``orders_returns``).
    """
    horizon = _horizon(spec)
    events = sorted(
        ((_slug(n), s) for n, s in spec.sources.items() if s.kind == "events"),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    matched = False
    for prefix, src in events:
        if not feature.startswith(prefix + "_"):
            continue
        matched = True
        rest = feature[len(prefix) + 1 :]
        source = _words(prefix)
        one = _singular(source)
        if rest in _FIXED:
            return _Feature(feature, rest, source, one, horizon=horizon)
        head, _, window = rest.rpartition("_")
        if window != "all" and not _WINDOW.match(window):
            continue
        if head in ("count", "active_days", "count_trend"):
            return _Feature(feature, head, source, one, window=window)
        for measure in sorted((_slug(m) for m in src.measures), key=len, reverse=True):
            for agg in _AGGREGATES:
                if head == f"{measure}_{agg}":
                    return _Feature(feature, agg, source, one, _words(measure), window=window)
        for category in sorted((_slug(c) for c in src.categories), key=len, reverse=True):
            if head.startswith(category + "_"):
                level, _, kind = head[len(category) + 1 :].rpartition("_")
                if level and kind in ("count", "share"):
                    return _Feature(
                        feature, f"level_{kind}", source, one, _words(category), level, window
                    )
    if matched:
        return _Feature(feature, "unknown")
    if feature == "tenure_days":
        return _Feature(feature, "tenure")
    if feature.startswith("days_since_") and len(feature) > len("days_since_"):
        return _Feature(feature, "days_since", what=_words(feature[len("days_since_") :]))
    return _Feature(feature, "column", what=_words(feature))


# -- numbers in words ------------------------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and value == "<missing>"  # reference.json's missing level


def _num(value: object) -> str:
    """Whole numbers without decimals, others with at most two (money-ish)."""
    if _missing(value):
        return "unknown"
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "unknown"
    if abs(x - round(x)) < 1e-6:
        return f"{round(x):,}"
    if abs(x) < 0.01:
        return f"{x:.2g}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _pct(value: object) -> str:
    if _missing(value):
        return "unknown"
    return f"{float(value) * 100:.0f}%"  # type: ignore[arg-type]


def _ratio(value: object) -> str:
    if _missing(value):
        return "unknown"
    return f"{float(value):.1f}x"  # type: ignore[arg-type]


def _days(value: object) -> str:
    text = _num(value)
    return f"{text} day" if text == "1" else f"{text} days"


def _count(value: object, f: _Feature) -> str:
    """A number of events in words: "no orders", "1 order", "3 orders"."""
    text = "0" if _missing(value) else _num(value)
    if text == "0":
        return f"no {f.source}"
    return f"1 {f.one}" if text == "1" else f"{text} {f.source}"


def _typical(typical: object, fmt: Callable[[object], str] = _num) -> str:
    if _missing(typical):
        return ""
    return f" (typical: {fmt(typical)})"


def _span(window: str) -> str:
    """``30d`` -> "30 days", ``1y`` -> "year"."""
    match = _WINDOW.match(window)
    if match is None:
        return window
    n, unit = int(match.group(1)), _UNITS[match.group(2)]
    return unit if n == 1 else f"{n} {unit}s"


def _when(window: str) -> str:
    return "ever" if window == "all" else f"in the last {_span(window)}"


# -- sentences ---------------------------------------------------------------------------


def _render(f: _Feature, value: object, typical: object) -> str:
    family, s = f.family, f.source
    if family == "days_since_last":
        if _missing(value):
            return f"no {s} yet"
        return f"no {s} in {_days(value)}{_typical(typical)}"
    if family == "days_since_first":
        if _missing(value):
            return f"no {s} yet"
        return f"first {f.one} {_days(value)} ago{_typical(typical)}"
    if family == "mean_gap_days":
        if _missing(value):
            return f"fewer than two days with {s}"
        return f"{s} every {_days(value)} on average{_typical(typical)}"
    if family == "last_gap_days":
        if _missing(value):
            return f"fewer than two days with {s}"
        return f"{_days(value)} between the last two days with {s}{_typical(typical)}"
    if family == "bgnbd_p_alive":
        return f"chance still active, by the rhythm of {s}: {_pct(value)}{_typical(typical, _pct)}"
    if family == "bgnbd_expected":
        return f"expected {s} in {f.horizon}: {_num(value)}{_typical(typical)}"
    if family == "bgnbd_p_no_event":
        return f"chance of no {s} in {f.horizon}: {_pct(value)}{_typical(typical, _pct)}"
    if family == "count_year_ago":
        return f"{_count(value, f)} in the same {_span(f.window)} last year{_typical(typical)}"
    if family == "sum_year_ago":
        if _missing(value):
            return f"no {s} in the same {_span(f.window)} last year"
        return (
            f"total {f.what} of {s} in the same {_span(f.window)} last year: "
            f"{_num(value)}{_typical(typical)}"
        )
    when = _when(f.window)
    if family == "count":
        return f"{_count(value, f)} {when}{_typical(typical)}"
    if family == "active_days":
        if _missing(value) or _num(value) == "0":
            return f"no {s} {when}{_typical(typical)}"
        return f"{s} on {_days(value)} {when}{_typical(typical)}"
    if family in ("count_trend", "sum_trend"):
        thing = s if family == "count_trend" else f"{f.what} of {s}"
        if _missing(value):
            return f"no {thing} in the {_span(f.window)} before to compare with"
        return (
            f"{thing} {when} at {_ratio(value)} the {_span(f.window)} before"
            f"{_typical(typical, _ratio)}"
        )
    if family in ("sum", "mean", "max"):
        if _missing(value):
            return f"no {s} {when}"
        word = {"sum": "total", "mean": "average", "max": "largest"}[family]
        return f"{word} {f.what} of {s} {when}: {_num(value)}{_typical(typical)}"
    if family == "level_count":
        return f"{_count(value, f)} with {f.what} = {f.level} {when}{_typical(typical)}"
    if family == "level_share":
        if _missing(value):
            return f"no {s} {when}"
        return f"{_pct(value)} of {s} were {f.what} = {f.level} {when}{_typical(typical, _pct)}"
    if family == "tenure":
        if _missing(value):
            return "time as a customer unknown"
        return f"customer for {_days(value)}{_typical(typical)}"
    if family == "days_since":
        if _missing(value):
            return f"no {f.what} yet"
        return f"{f.what} {_days(value)} ago{_typical(typical)}"
    if family == "calendar":
        return _calendar_sentence(f.what, value, typical)
    shown = f.what if family == "column" else f.name
    if isinstance(value, str) or isinstance(typical, str):
        text = "unknown" if _missing(value) else str(value)
        common = "" if _missing(typical) else f" (most common: {typical})"
        return f"{shown}: {text}{common}"
    return f"{shown}: {_num(value)}{_typical(typical)}"


def describe(
    feature: str,
    value: object,
    typical: object,
    spec: Spec,
    info: Mapping[str, FeatureInfo] | None = None,
) -> str:
    """One feature's value in business words, with what is typical.

    Parameters
    ----------
    feature
        A feature name as ``build`` writes it (``orders_count_90d``, ``tenure_days``...).
    value
        The customer's value; missing values read as "no orders yet" where that is what
        they mean, else as "unknown".
    typical
        The typical value (a median or the most common level); None leaves it out.
    spec
        The project (its horizon, and its names, for features without an info).
    info
        What each feature means (:meth:`Bundle.feature_info`, a frame's manifest).

    Returns
    -------
    str
        A short sentence. Names that do not read fall back to ``name: value (typical: t)``.

    Examples
    --------
    >>> from propensity.spec import Spec
    >>> spec = Spec.model_validate({
    ...     "project": {"name": "shop"}, "entity": {"key": "id"},
    ...     "sources": {"orders": {"path": "o.csv", "kind": "events", "time": "at"}},
    ...     "target": {"kind": "inactivity", "source": "orders", "horizon": "90d"},
    ...     "cutoffs": {"start": "2024-01-01", "every": "1mo"}})
    >>> describe("orders_days_since_last", 94.0, 21.0, spec)
    'no orders in 94 days (typical: 21)'
    >>> describe("orders_count_90d", 2, 5.5, spec)
    '2 orders in the last 90 days (typical: 5.5)'
    """
    return _render(_meaning(feature, spec, info), value, typical)


_CALENDAR_LABELS = {
    "month": "month of the cutoff",
    "quarter": "quarter of the cutoff",
    "day_of_year": "day of the year of the cutoff",
    "month_sin": "time of year (sine of the month)",
    "month_cos": "time of year (cosine of the month)",
    "days_to_next_holiday": "days to the next holiday",
    "days_since_last_holiday": "days since the last holiday",
}


def _calendar_sentence(part: str, value: object, typical: object) -> str:
    """The cutoff's calendar in words; no "typical" month: a median month means little."""
    if part == "days_to_next_holiday":
        if _missing(value):
            return "no holiday listed after the cutoff"
        if _num(value) == "0":
            return "the cutoff is a holiday"
        return f"next holiday in {_days(value)}{_typical(typical)}"
    if part == "days_since_last_holiday":
        if _missing(value):
            return "no holiday listed before the cutoff"
        return f"last holiday {_days(value)} ago{_typical(typical)}"
    if _missing(value):
        return f"{_CALENDAR_LABELS.get(part, part)} unknown"
    if part == "month":
        return f"cutoff in {calendar.month_name[int(float(str(value)))]}"
    if part == "quarter":
        return f"cutoff in quarter {_num(value)}"
    if part == "day_of_year":
        return f"cutoff on day {_num(value)} of the year"
    return f"time of year (month on a circle): {_num(value)}"


def label(feature: str, spec: Spec, info: Mapping[str, FeatureInfo] | None = None) -> str:
    """A short name for a feature, for chart axes: "orders in the last 90 days"."""
    f = _meaning(feature, spec, info)
    s = f.source
    fixed = {
        "days_since_last": f"days since the last {f.one}",
        "days_since_first": f"days since the first {f.one}",
        "mean_gap_days": f"mean days between {s}",
        "last_gap_days": f"days between the last two {s}",
        "bgnbd_p_alive": f"chance still active ({s} rhythm)",
        "bgnbd_expected": f"expected {s} in {f.horizon}",
        "bgnbd_p_no_event": f"chance of no {s} in {f.horizon}",
        "tenure": "days as a customer",
        "days_since": f"days since {f.what}",
        "column": f.what,
        "calendar": _CALENDAR_LABELS.get(f.what, feature),
        "unknown": feature,
    }
    if f.family in fixed:
        return fixed[f.family]
    when = _when(f.window)
    return {
        "count": f"{s} {when}",
        "active_days": f"days with {s} {when}",
        "count_trend": f"change in {s} {when}",
        "sum": f"total {f.what} of {s} {when}",
        "mean": f"average {f.what} of {s} {when}",
        "max": f"largest {f.what} of {s} {when}",
        "sum_trend": f"change in {f.what} of {s} {when}",
        "level_count": f"{s} with {f.what} = {f.level} {when}",
        "level_share": f"share of {s} with {f.what} = {f.level} {when}",
        "count_year_ago": f"{s} in the same {_span(f.window)} last year",
        "sum_year_ago": f"total {f.what} of {s} in the same {_span(f.window)} last year",
    }.get(f.family, feature)


# -- contributions ---------------------------------------------------------------------------


def _model_features(candidate: Candidate, frame: pd.DataFrame) -> list[str]:
    return candidate.features() or feature_columns(frame, candidate.key)


def _surrogate(candidate: Candidate, frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """A ridge regression of the model's own score (log-odds) on its features.

    It uses the linear model's preparation (median imputation with flags, scaling, one-hot
    of frequent text levels), so its contributions read like the linear model's.
    """
    features = _model_features(candidate, frame)
    require(frame, features, candidate.name)
    score = np.asarray(candidate.predict(frame), dtype=float)
    target = logit(score) if task == "binary" else score
    rows = frame[features].assign(label=target)
    surrogate = LinearCandidate(key=candidate.key, C=1.0, max_rows=SURROGATE_ROWS)
    surrogate.fit(rows)
    found = surrogate.contributions(rows, {})
    assert found is not None  # a linear model always decomposes
    values = found
    if len(target) > 1 and np.var(target) > 0:
        fitted = values.to_numpy().sum(axis=1) + surrogate.intercept_
        r2 = 1 - np.mean((target - fitted) ** 2) / np.var(target)
        log.info(
            "the surrogate explains %.0f%% of the %s scores' variance", 100 * r2, candidate.name
        )
    return values


def contributions(model: Bundle | Candidate, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per row and feature, the contribution to the score, and how it was computed.

    Parameters
    ----------
    model
        A bundle (the frame is prepared with :meth:`Bundle.prepare` first, and the typical
        values at training are the reference of the recency rule and BG/NBD) or a fitted
        candidate (the frame must be prepared already).
    frame
        The rows to explain.

    Returns
    -------
    tuple of pandas.DataFrame and str
        The contributions, one row per row of ``frame`` (same index and order) and one
        column per input feature of the model; larger means "pushes towards the outcome".
        They are in log-odds for yes/no models and in the target's units for amount models.
        Then the method: ``treeshap`` (LightGBM's exact TreeSHAP; the rows plus the bias
        sum to the raw score), ``linear`` (coefficient x standardized value; flags and
        one-hot levels summed onto their column; the rows plus the intercept sum to the
        log-odds), ``recency`` and ``bgnbd`` (the model's inputs, relative to the typical
        customer), ``prior`` or ``mean`` (no columns: nothing drives a constant) and
        ``surrogate (approximate)``: a ridge regression fitted to the model's own scores,
        for models that have no exact decomposition (the network).
    """
    from propensity.modeling.bundle import Bundle

    typical: dict[str, object] = {}
    if isinstance(model, Bundle):
        candidate, task = model.candidate, model.task
        frame = model.prepare(frame)
        if candidate.uses_typical:
            typical = model.typical()
    else:
        candidate = model
        task = str(
            getattr(model, "task", "regression" if "binary" not in model.tasks else "binary")
        )
    found = candidate.contributions(frame, typical)
    if found is not None and candidate.explanation is not None:
        return found, candidate.explanation
    return _surrogate(candidate, frame, task), SURROGATE


# -- reasons and drivers ---------------------------------------------------------------------


def typical_values(frame: pd.DataFrame, features: list[str]) -> dict[str, object]:
    """The median of each numeric feature and the most common level of each text one.

    Features with no known value are left out.
    """
    out: dict[str, object] = {}
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=float, na_value=np.nan)
            values = values[np.isfinite(values)]
            if len(values):
                out[name] = float(np.median(values))
        else:
            counts = column.dropna().astype(str).value_counts()
            if len(counts):
                out[name] = str(counts.index[0])
    return out


def reason_codes(
    contribs: pd.DataFrame,
    frame: pd.DataFrame,
    typical: dict[str, object],
    spec: Spec,
    k: int = 3,
    info: Mapping[str, FeatureInfo] | None = None,
) -> list[list[str]]:
    """For each row, the ``k`` features pushing its score up the most, in words.

    Parameters
    ----------
    contribs
        Contributions from :func:`contributions`.
    frame
        The rows they explain, in the same order (the values are read from here).
    typical
        Typical values by feature (:meth:`Bundle.typical` or :func:`typical_values`).
    spec
        The project (its horizon, and its names, for features without an info).
    k
        Reasons per row at most.
    info
        What each feature means (:meth:`Bundle.feature_info`).

    Returns
    -------
    list of list of str
        Per row, up to ``k`` sentences, strongest first; only features with a positive
        contribution (towards the outcome: a higher probability or a larger amount).
    """
    n = len(contribs)
    if len(frame) != n:
        raise DataError(
            f"reasons: {n} rows of contributions but {len(frame)} rows of features; "
            "pass the frame the contributions were computed on"
        )
    width = contribs.shape[1]
    if n == 0 or width == 0 or k <= 0:
        return [[] for _ in range(n)]
    values = contribs.to_numpy(dtype=float)
    take = min(2 * k, width)  # spares: two features can read the same ("no logins yet")
    if take < width:
        top = np.argpartition(-values, take - 1, axis=1)[:, :take]
    else:
        top = np.broadcast_to(np.arange(width), (n, width)).copy()
    top_values = np.take_along_axis(values, top, axis=1)
    order = np.argsort(-top_values, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    positive = np.take_along_axis(top_values, order, axis=1) > 0  # NaN is not positive
    counts = positive.sum(axis=1)
    names = [str(c) for c in contribs.columns]
    used = np.unique(top[positive])
    parsed = {j: _meaning(names[j], spec, info) for j in used}
    typical_of = {j: typical.get(names[j]) for j in used}
    columns = {j: frame[names[j]].to_numpy(dtype=object) for j in used if names[j] in frame.columns}
    absent = np.full(n, None, dtype=object)
    out: list[list[str]] = []
    for i in range(n):
        reasons: list[str] = []
        for r in range(counts[i]):
            j = top[i, r]
            text = _render(parsed[j], columns.get(j, absent)[i], typical_of[j])
            if text not in reasons:
                reasons.append(text)
            if len(reasons) == k:
                break
        out.append(reasons)
    return out


def global_drivers(contribs: pd.DataFrame, top: int = 10) -> list[tuple[str, float]]:
    """Mean absolute contribution per feature, largest first.

    Parameters
    ----------
    contribs
        Contributions from :func:`contributions`.
    top
        How many features to return at most.
    """
    if contribs.shape[1] == 0 or not len(contribs):
        return []
    means = contribs.abs().mean(axis=0).sort_values(ascending=False, kind="stable")
    return [(str(n), float(v)) for n, v in means.iloc[:top].items()]
