"""The point-in-time frame: population, labels and features at every cutoff, as Ibis.

How it stays honest and fast
----------------------------
Time runs on whole days. Every window a cutoff ``t`` needs is ``[t - a, t - b)`` for a few
offsets: ``[t - w, t)`` for a window ``w``, ``[t - 2w, t - w)`` for its trend, ``[t, t +
horizon)`` for the label, ``[t - active_within, t)`` for the population, ``[t - 365, t -
365 + horizon)`` one year earlier. Their ends (``t - d``, one per offset ``d``) are the
*edges*; with a few more *boundaries* (so that none is more than 62 days from the next)
they cut the time axis into *segments*, each labelled by its end. Events are rolled up
once per (customer, segment), straight from the event table: counts, sums, the largest
value, and the segment's active days as a 62-bit mask (whose bit count is the number of
active days and whose two lowest bits are the last two of them).

Then, per customer and in the order of the segments' ends, one window pass turns each
segment into *cumulative* totals: ``C(e)``, the totals of every day before the edge
``e``, is the row of the latest segment ending at or before ``e`` (an as-of lookup, done
as an equi-join: each segment row is repeated once for each edge it is the latest row
for, and joined to the cutoffs on that edge). A window's sum is then ``C(t - b) - C(t -
a)``: two lookups, whatever the window's length, and one lookup per edge serves every
column. Differences of float sums that vanish to rounding (``a + (-a)``) are snapped to an
exact 0, as a direct sum gives. The largest value in a window is not a difference of
anything: each segment is joined to the cutoffs whose longest window holds it, and the
maxima are one grouped aggregate.

A feature therefore never sees a day at or after its cutoff, and a label never sees a day
outside ``[t, t + horizon)``. The events are scanned once whatever the number of cutoffs;
a source's rows exist only for (customer, cutoff) pairs where it has events, the rest of
the population gets the zeros and nulls of an empty window when the sources are joined.
Everything is plain Ibis (window functions, joins, an ``unnest`` of an integer range, and
the ``bit_or`` and ``bit_count`` functions that DuckDB and Spark both have).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from propensity.engine import Engine
from propensity.errors import DataError, SpecError
from propensity.snapshots.calendar import calendar_features, calendar_on
from propensity.snapshots.cutoffs import day_number, schedule
from propensity.snapshots.features import FeatureInfo
from propensity.sources.filters import compile_where
from propensity.sources.reading import Source, feature_columns
from propensity.spec import Duration, Spec

__all__ = ["FramePlan", "plan_at", "plan_frame", "slug"]

_O = "__o"  # the day number a row sits at: a segment's end, or a cutoff
_SEG_DAYS = 62  # the longest segment: its active days fit one 64-bit mask
_YEAR = 365
#: counts and day numbers inside the plan: half the memory of 64 bits (features are int64)
_COUNT = "int32"
#: families whose value for a customer without events in the window is 0, not null
_ZERO_FAMILIES = {"count", "active_days", "sum", "level_count", "count_year_ago", "sum_year_ago"}
#: a difference of float sums smaller than this times the sums is rounding: exactly 0
_ROUNDING = 1e-13


def _one_integer(x: int) -> int:  # type: ignore[empty-body]
    """The signature of the engines' built-in ``bit_count`` and ``bit_or``."""


#: the number of set bits, and the bitwise or of a group: DuckDB and Spark both have them
_BIT_COUNT: Any = ibis.udf.scalar.builtin(_one_integer, name="bit_count")
_BIT_OR: Any = ibis.udf.agg.builtin(_one_integer, name="bit_or")


def slug(text: str) -> str:
    """A name that reads as a word in a feature name: ``Unit Price`` -> ``unit_price``."""
    out = re.sub(r"[^0-9a-zA-Z]+", "_", str(text)).strip("_").lower()
    return out or "blank"


@dataclass(frozen=True)
class FramePlan:
    """What :func:`plan_frame` decided, with the expression that computes the frame."""

    expr: ir.Table
    key: str
    cutoffs: list[dt.date]
    features: list[str]
    observed_start: dt.date
    observed_end: dt.date
    labeled: list[dt.date] = field(default_factory=list)
    #: what each feature means, by name
    info: dict[str, FeatureInfo] = field(default_factory=dict)


@dataclass
class _SourcePlan:
    name: str
    prefix: str
    source: Source
    levels: dict[str, list[object]]
    level_names: dict[str, list[str]] = field(default_factory=dict)
    index: int = 0
    #: edge offset d (the edge is t - d) -> the cumulative columns looked up there
    lookups: dict[int, list[str]] = field(default_factory=dict)
    #: the columns that are sums (summed cumulatively), and which of them are floats
    sums: list[str] = field(default_factory=list)
    floats: set[str] = field(default_factory=set)
    #: the edges (day numbers) this source looks up, in order
    edges: list[int] = field(default_factory=list)
    #: the cumulative column the label sums (the target source only)
    label: str | None = None
    #: how many cutoffs (each offset has one edge per cutoff)
    cutoffs: int = 0

    def need(self, offset: int, *columns: str) -> None:
        cols = self.lookups.setdefault(offset, [])
        cols += [c for c in columns if c not in cols]


@dataclass(frozen=True)
class _Context:
    key: str
    windows: list[Duration]
    trends: bool
    year_ago: bool
    horizon: Duration
    active: Duration | None
    with_features: bool
    pop_source: str
    target_source: str
    label_col: str
    population_col: str | None


def plan_at(
    engine: Engine, spec: Spec, sources: dict[str, Source], as_of: dt.date | None
) -> FramePlan:
    """The frame of one date, as ``score`` and ``monitor`` see it, computed table by table.

    None means the day after the last event (every event seen). A date outside the data
    is refused with the range it must lie in.
    """
    if as_of is None:  # now, as far as the data knows: after the last event
        as_of = event_span(engine, sources)[1] + dt.timedelta(days=1)
    plan = plan_frame(engine, spec, sources, cutoffs=[as_of], materialize=True)
    first, last = plan.observed_start, plan.observed_end
    if not first < as_of <= last + dt.timedelta(days=1):
        raise DataError(
            f"as_of: {as_of} is outside the data, which runs from {first} to {last}; "
            "pick a date in between (or the day after the end)",
            option="as_of",
        )
    return plan


def event_span(engine: Engine, sources: dict[str, Source]) -> tuple[dt.date, dt.date]:
    """The days of the first and the last event in any events source.

    The last is the first day not fully observed: label windows must end on or before it.
    """
    parts = [
        s.table.aggregate(lo=s.table[s.spec.time].min(), hi=s.table[s.spec.time].max())
        for s in sources.values()
        if s.spec.kind == "events" and s.spec.time
    ]
    if not parts:
        raise DataError('sources: no events source; add one with kind = "events"')
    result = engine.to_pandas(ibis.union(*parts))
    first, last = result["lo"].min(), result["hi"].max()
    if pd.isna(last):
        raise DataError("sources: the events sources have no rows with a readable time")
    return first.date(), last.date()


def year_ago_on(setting: bool | str, horizon_days: int, start: dt.date, end: dt.date) -> bool:
    """Whether ``[features] year_ago`` adds the year-ago features to this frame.

    ``"auto"`` turns them on when the events span more than a year and a horizon, so that
    the latest cutoffs have a year-ago window inside the data; either way they need a
    horizon of at most 365 days (the window must end before the cutoff).
    """
    if setting == "auto":
        return horizon_days <= _YEAR and (end - start).days > _YEAR + horizon_days
    if setting and horizon_days > _YEAR:
        raise SpecError(
            f"features.year_ago: true needs a horizon of at most 365 days, and "
            f"target.horizon is {horizon_days} days; the window a year before would reach "
            'past the cutoff. Set year_ago = false (or "auto")'
        )
    return bool(setting)


def plan_frame(
    engine: Engine,
    spec: Spec,
    sources: dict[str, Source],
    *,
    cutoffs: list[dt.date] | None = None,
    with_features: bool = True,
    materialize: bool = False,
    on_source: Callable[[str], None] | None = None,
) -> FramePlan:
    """Plan the point-in-time frame of a project.

    Parameters
    ----------
    engine
        Runs the few small queries planning needs (first and last event, category levels).
    spec
        The project.
    sources
        The opened sources (:func:`propensity.sources.open_sources`).
    cutoffs
        Cutoffs to use instead of the spec's schedule (e.g. one as-of date for scoring).
        Labels are null where the label window is not fully observed.
    with_features
        False plans only the population, the label and the entity's own columns (what
        ``check`` needs to look for leakage), which is much cheaper.
    materialize
        Compute each source's features into a temporary table as soon as it is planned,
        one source at a time, so that peak memory is that of the largest source rather
        than of all of them at once. The returned expression then reads those tables.
    on_source
        Called with each events source's name as its features are computed.
    """
    if spec.target is None or spec.cutoffs is None:
        raise DataError("target: the project is in table mode; it has no point-in-time frame")
    key = spec.entity.key
    target = spec.target
    horizon = target.horizon.days
    start, end = event_span(engine, sources)
    cut = cutoffs if cutoffs is not None else schedule(spec.cutoffs, horizon, end)
    end_n = day_number(end)
    labeled = [c for c in cut if day_number(c) + horizon <= end_n]

    entity = spec.entity_source()
    active = spec.population.active_within
    population_col = None
    if active is not None or entity is None or entity[1].time is None:
        population_col = "__active"
    ctx = _Context(
        key=key,
        windows=sorted(set(spec.features.windows), key=lambda d: d.days),
        trends=spec.features.trends,
        year_ago=with_features and year_ago_on(spec.features.year_ago, horizon, start, end),
        horizon=target.horizon,
        active=active,
        with_features=with_features,
        pop_source=spec.population.source or target.source,
        target_source=target.source,
        label_col="__label_amount" if target.kind == "amount" else "__label_n",
        population_col=population_col,
    )
    events = {n: s for n, s in sources.items() if s.spec.kind == "events"}
    if not events:
        raise DataError('sources: no events source; add one with kind = "events"')
    max_levels = spec.features.max_levels if with_features else 0
    plans = [
        _plan_source(engine, n, s, max_levels, i)
        for i, (n, s) in enumerate(events.items())
        if with_features or n in (ctx.pop_source, ctx.target_source)
    ]
    cut_days = [day_number(c) for c in cut]
    for plan in plans:
        _plan_lookups(plan, ctx, target.where, target.measure, cut_days)
    bounds = _boundaries({e for p in plans for e in p.edges}, day_number(start))
    tables = _tables(engine, plans, bounds, cut_days, ctx)
    cut_table = engine.register_arrow(
        pa.table(
            {
                _O: pa.array(cut_days, pa.int64()),
                "cutoff": pa.array(cut, pa.date32()),
            }
        ),
        "__cutoffs",
    )

    # per source: its segments, their running totals, and one small table per edge offset
    # with a row for each (customer, cutoff) whose edge has a segment at or before it
    found: dict[str, dict[int, ir.Table]] = {}
    peaks: dict[str, ir.Table] = {}
    for plan in plans:
        seg = _segments(plan, key, tables["calendar"], target.where, target.measure)
        if materialize:
            seg = engine.materialize(seg, f"__segments_{plan.prefix}")
        cum = _cumulative(plan, seg, tables["ranks"], ctx)
        if materialize:
            cum = engine.materialize(cum, f"__cumulative_{plan.prefix}")
        found[plan.name] = _lookups(plan, cum, tables["edges"], ctx)
        if with_features and plan.source.spec.measures:
            peaks[plan.name] = _maxima(plan, seg, tables["members"], ctx)
            if materialize:
                peaks[plan.name] = engine.materialize(peaks[plan.name], f"__maxima_{plan.prefix}")
        if on_source is not None:
            on_source(plan.name)

    # the rows: the pop source's lookup at the cutoff (those with an event before it), or
    # every candidate (the entity's rows) at every cutoff; with the cutoff's date and the
    # entity's own columns joined to them first, on a plain table
    recent = None
    if population_col is not None:
        pop = next(p for p in plans if p.name == ctx.pop_source)
        root = found[pop.name][0]
        if ctx.active is not None and ctx.active.days in found[pop.name]:
            # active within the window: filtered before anything else is joined to them
            recent = found[pop.name][ctx.active.days]
            n = f"{pop.prefix}__n"
            both = root.left_join(recent, [key, _O])
            root = both.select(
                *[root[c] for c in root.columns],
                *[recent[c] for c in recent.columns if c not in (key, _O)],
                __recent=root[f"{n}#0"] - recent[f"{n}#{ctx.active.days}"].fill_null(0),
            )
            root = root.filter(root.__recent > 0).drop("__recent")
    else:
        pop = None
        root = _candidates(key, sources, entity[0] if entity else None).cross_join(
            cut_table.select(_O)
        )
    # the calendar features depend on the cutoff alone: computed on the table of cutoffs,
    # one row each, and joined with the cutoff's date
    cal: dict[str, ir.Value] = {}
    cal_info: dict[str, FeatureInfo] = {}
    if with_features:
        cal, cal_info = calendar_features(
            cut_table[_O],
            season=calendar_on(spec.features.calendar, start, end),
            holidays=spec.features.holidays,
        )
        cut_table = cut_table.mutate(**cal)
    base = root.inner_join(cut_table, _O)
    ent_cols: list[str] = []
    own: dict[str, ir.Value] = {}
    if entity is not None:
        ent_name, ent_spec = entity
        ent = sources[ent_name].table
        ent_cols = feature_columns(sources[ent_name], key)
        keep = [key, *ent_cols]
        if ent_spec.time:
            keep.append(ent_spec.time)
        ent = ent.select(keep).distinct(on=key, keep="first") if ent_cols or ent_spec.time else ent
        base = base.inner_join(ent, key)
        own = {f"__ent{i}": ent[c] for i, c in enumerate(ent_cols)}
        if ent_spec.time:
            own["__signup"] = (ent[ent_spec.time].epoch_seconds() // 86400).cast("int64")
    base = base.select(
        *[root[c] for c in root.columns],
        cut_table["cutoff"],
        *[cut_table[c] for c in cal],
        **own,
    )
    if "__signup" in own:
        # signed up strictly before the cutoff day
        base = base.filter(base.__signup.notnull() & (base[_O] > base.__signup))
    if pop is not None:
        found[pop.name][0] = base
        if recent is not None and ctx.active is not None:
            found[pop.name][ctx.active.days] = base

    # every lookup and maximum joined to the rows in one chain: each join adds a narrow
    # table to a stream of rows, and whatever is missing is an empty window
    joined = base
    for plan in plans:
        for table in found[plan.name].values():
            if table is not base:
                joined = joined.left_join(table, [key, _O])
        if plan.name in peaks:
            joined = joined.left_join(peaks[plan.name], [key, _O])
    # first the window totals (each a difference of two lookups), then the features
    # from them: the totals are computed once, however many features read them
    totals = {}
    for plan in plans:
        totals.update(_window_totals(plan, found[plan.name], peaks.get(plan.name), ctx))
    carried = [base[c] for c in (key, _O, "cutoff", *cal, *own)]
    frame = joined.select(*carried, **totals)
    if population_col is not None and recent is None:
        frame = frame.filter(frame[population_col] > 0)
    values: dict[str, ir.Value] = {"__label_value": frame["__label_value"]}
    features: list[str] = []
    info: dict[str, FeatureInfo] = {}
    if with_features:
        for plan in plans:
            derived = _derive(frame, plan, ctx, info)
            values.update(derived)
            features += list(derived)
        values.update({name: frame[name] for name in cal})
        features += list(cal)
        info.update(cal_info)

    entity_feats: list[str] = []
    if entity is not None:
        ent_name, ent_spec = entity
        if ent_spec.time:
            values["tenure_days"] = (frame[_O] - frame.__signup).cast("int64")
            entity_feats.append("tenure_days")
            info["tenure_days"] = FeatureInfo(
                name="tenure_days", family="tenure", source=ent_name, column=ent_spec.time
            )
        for i, col in enumerate(ent_cols):
            value = frame[f"__ent{i}"]
            name = slug(col)
            family = "column"
            if value.type().is_temporal():
                # a date is a feature only as "days since", and only once it has happened:
                # a date at or after the cutoff (a cancellation date...) is unknown at t
                day = (value.cast("timestamp").epoch_seconds() // 86400).cast("int64")
                value = ibis.ifelse(day < frame[_O], frame[_O] - day, ibis.null("int64"))
                name = f"days_since_{name}"
                family = "days_since"
            if name in features or name in entity_feats or name in {key, "cutoff", "label"}:
                name = f"{slug(ent_name)}_{name}"
            values[name] = value
            entity_feats.append(name)
            info[name] = FeatureInfo(name=name, family=family, source=ent_name, column=col)
    frame = frame.select(key, _O, "cutoff", **values)
    value = frame["__label_value"].fill_null(0)
    if target.kind == "inactivity":
        label: ir.Value = (value == 0).cast("int8")
    elif target.kind == "event":
        label = (value > 0).cast("int8")
    else:
        label = value.cast("float64")
    observed = (frame[_O] + horizon) <= end_n
    frame = frame.mutate(label=ibis.ifelse(observed, label, ibis.null(label.type())))
    all_features = features + entity_feats
    out = frame.select(key, "cutoff", "label", *all_features)
    return FramePlan(
        out, key, cut, all_features, start, end, labeled, {n: info[n] for n in all_features}
    )


def _plan_source(
    engine: Engine, name: str, source: Source, max_levels: int, index: int
) -> _SourcePlan:
    table = source.table
    levels: dict[str, list[object]] = {}
    for col in source.spec.categories if max_levels else []:
        counts = engine.to_pandas(
            table.filter(table[col].notnull())
            .group_by(col)
            .aggregate(n=ibis._.count())
            .order_by([ibis.desc("n"), col])
            .limit(max_levels)
        )
        levels[col] = list(counts[col])
    return _SourcePlan(
        name,
        slug(name),
        source,
        levels,
        {c: _unique_slugs(v) for c, v in levels.items()},
        index,
    )


def _unique_slugs(values: list[object]) -> list[str]:
    """Feature-name words for category levels; ``A-B`` and ``a b`` do not collide."""
    out: list[str] = []
    for value in values:
        base = name = slug(str(value))
        i = 2
        while name in out:
            name = f"{base}_{i}"
            i += 1
        out.append(name)
    return out


def _plan_lookups(
    plan: _SourcePlan,
    ctx: _Context,
    label_where: str | None,
    label_measure: str | None,
    cut_days: list[int],
) -> None:
    """Decide which cumulative columns each edge offset of a source needs."""
    p = plan.prefix
    n = f"{p}__n"
    measures = plan.source.spec.measures if ctx.with_features else []
    msums = [f"{p}__{slug(m)}__sum" for m in measures]
    plan.sums = [n]
    if ctx.with_features:
        plan.sums += [f"{p}__days"]
        for m in measures:
            plan.sums += [f"{p}__{slug(m)}__sum", f"{p}__{slug(m)}__cnt"]
        for c, levels in plan.levels.items():
            plan.sums += [f"{p}__{slug(c)}__{i}" for i in range(len(levels))]
    plan.floats = set(msums)
    plan.need(0, n)
    if ctx.with_features:
        plan.need(0, *plan.sums, f"{p}__first", f"{p}__last", f"{p}__prev")
        for w in ctx.windows:
            plan.need(w.days, *plan.sums)
        if ctx.trends:
            for w in ctx.windows:
                plan.need(2 * w.days, n, *msums)
        if ctx.year_ago:
            plan.need(_YEAR, n, *msums)
            plan.need(_YEAR - ctx.horizon.days, n, *msums)
    if plan.name == ctx.pop_source and ctx.population_col is not None:
        plan.need(ctx.active.days if ctx.active is not None else 0, n)
    if plan.name == ctx.target_source:
        label = f"{p}{ctx.label_col}"
        if ctx.label_col == "__label_n" and label_where is None:
            label = n  # every event counts: the label is the count itself
        elif label not in plan.sums:
            plan.sums.append(label)
            if ctx.label_col == "__label_amount":
                plan.floats.add(label)
        plan.label = label
        plan.need(0, label)
        plan.need(-ctx.horizon.days, label)
    plan.edges = sorted({t - d for d in plan.lookups for t in cut_days})
    plan.cutoffs = len(cut_days)


def _boundaries(edges: set[int], first_day: int) -> list[int]:
    """The edges, with boundaries added so that no segment is longer than 62 days.

    The first boundary is at or before the first event's day: every event falls in a
    segment, and every segment fits one 62-bit mask of active days.
    """
    out = sorted(edges)
    before = []
    lo = out[0]
    while lo > first_day:
        lo -= _SEG_DAYS
        before.append(lo)
    out = before[::-1] + out
    filled = [out[0]]
    for b in out[1:]:
        while b - filled[-1] > _SEG_DAYS:
            filled.append(filled[-1] + _SEG_DAYS)
        filled.append(b)
    return filled


def _tables(
    engine: Engine,
    plans: list[_SourcePlan],
    bounds: list[int],
    cut_days: list[int],
    ctx: _Context,
) -> dict[str, ir.Table]:
    """The small lookup tables the plan needs, registered with the engine.

    * ``calendar``: each day from the first boundary to the last, with its segment's end;
    * ``ranks``: for each source, segment end ``o`` and edge offset (``__r0``, ``__r1``...),
      the index of the first of that offset's edges at or after ``o`` (a segment ending at
      ``o`` is the as-of row for the edges from there to the next segment's);
    * ``edges``: for each source, offset and edge index, the cutoff the edge belongs to;
    * ``members``: each segment end in the longest window of a cutoff, with whether it is
      in each window (for the maxima).
    """
    days: list[int] = []
    ends: list[int] = []
    for lo, hi in itertools.pairwise(bounds):
        days.extend(range(lo, hi))
        ends.extend([hi] * (hi - lo))
    calendar = pa.table({"__day": pa.array(days, pa.int64()), _O: pa.array(ends, pa.int64())})
    width = max(len(plan.lookups) for plan in plans)
    ranks: dict[str, list[int]] = {"__src": [], _O: [], **{f"__r{i}": [] for i in range(width)}}
    edges: dict[str, list[int]] = {"__src": [], "__i": [], "__e": [], "__t": []}
    for plan in plans:
        at = [sorted(t - d for t in cut_days) for d in plan.lookups]
        for o in bounds[1:]:
            ranks["__src"].append(plan.index)
            ranks[_O].append(o)
            for i in range(width):
                ranks[f"__r{i}"].append(bisect.bisect_left(at[i], o) if i < len(at) else 0)
        for i, d in enumerate(plan.lookups):
            for e, edge in enumerate(at[i]):
                edges["__src"].append(plan.index)
                edges["__i"].append(i)
                edges["__e"].append(e)
                edges["__t"].append(edge + d)
    members: dict[str, list[int]] = {"__seg": [], "__t": []}
    windows = ctx.windows if ctx.with_features else []
    for w in windows:
        members[f"__in{w.days}"] = []
    if windows:
        longest = windows[-1].days
        for o in bounds[1:]:
            for t in cut_days:
                if t - longest < o <= t:
                    members["__seg"].append(o)
                    members["__t"].append(t)
                    for w in windows:
                        members[f"__in{w.days}"].append(int(o > t - w.days))
    out = {
        "calendar": engine.register_arrow(calendar, "__calendar"),
        "ranks": engine.register_arrow(_int_table(ranks), "__ranks"),
        "edges": engine.register_arrow(_int_table(edges), "__edges"),
    }
    if windows:
        out["members"] = engine.register_arrow(_int_table(members), "__members")
    return out


def _int_table(columns: dict[str, list[int]]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.int64()) for k, v in columns.items()})


def _segments(
    plan: _SourcePlan,
    key: str,
    calendar: ir.Table,
    label_where: str | None,
    label_measure: str | None,
) -> ir.Table:
    """Roll a source's events up to one row per (customer, segment), straight from the events.

    The segment's active days are a bit mask: bit ``b`` is the day ``o - 1 - b`` before
    the segment's end ``o``. Its bit count is the number of active days; its second lowest
    bit is the active day before the last one, as long as the segment has two.
    """
    src = plan.source
    t = src.table
    p = plan.prefix
    day = (t[str(src.spec.time)].epoch_seconds() // 86400).cast("int64")
    t = t.mutate(__day=day)
    t = t.inner_join(calendar, "__day")
    # 2**62 >> (62 - b) is 2**b, as a 64-bit integer on every engine (a literal 1 is not)
    bit = ibis.literal(1 << _SEG_DAYS, "int64") >> (_SEG_DAYS - (t[_O] - 1 - t.__day))
    agg: dict[str, ir.Value] = {f"{p}__n": t.count().cast(_COUNT)}
    if f"{p}__label_n" in plan.sums:
        cond = compile_where(str(label_where), t, "target.where")
        agg[f"{p}__label_n"] = cond.cast("int64").sum().cast(_COUNT)
    if f"{p}__label_amount" in plan.sums:
        agg[f"{p}__label_amount"] = t[str(label_measure)].cast("float64").sum()
    for c in plan.sums:
        if c.endswith("__sum"):
            m = next(m for m in src.spec.measures if c == f"{p}__{slug(m)}__sum")
            col = t[m].cast("float64")
            agg[c] = col.sum()
            agg[f"{p}__{slug(m)}__cnt"] = col.count().cast(_COUNT)
            agg[f"{p}__{slug(m)}__max"] = col.max()
    for c, levels in plan.levels.items():
        for i, level in enumerate(levels):
            agg[f"{p}__{slug(c)}__{i}"] = (t[c] == level).cast("int64").sum().cast(_COUNT)
    agg[f"{p}__first"] = t.__day.min().cast(_COUNT)
    agg[f"{p}__last"] = t.__day.max().cast(_COUNT)
    agg["__mask"] = _BIT_OR(bit)
    seg = t.group_by([key, _O]).aggregate(**agg)
    mask = seg.__mask
    second = mask & (mask - 1)  # the last day's bit cleared
    inside = (seg[_O] - 1 - _BIT_COUNT((second & -second) - 1)).cast(_COUNT)
    return seg.mutate(
        **{f"{p}__days": _BIT_COUNT(mask).cast(_COUNT)},
        __inside=ibis.ifelse(second != 0, inside, ibis.null(_COUNT)),
    ).drop("__mask")


def _cumulative(plan: _SourcePlan, seg: ir.Table, ranks: ir.Table, ctx: _Context) -> ir.Table:
    """Each segment's running totals, in the order of the segments' ends, per customer.

    With each offset's edge ranks of the segment and of the next one (``__r{i}`` and
    ``__n{i}``): the segment is the latest one at or before that offset's edges between
    the two.
    """
    key, p = ctx.key, plan.prefix
    order = ibis.window(group_by=key, order_by=_O)
    running = ibis.window(group_by=key, order_by=_O, rows=(None, 0))
    cum = seg.mutate(
        **{
            c: seg[c].sum().over(running)
            if c in plan.floats
            else seg[c].sum().over(running).cast(_COUNT)
            for c in plan.sums
        },
        **{f"{p}__first": seg[f"{p}__first"].min().over(running)},
        __before=seg[f"{p}__last"].lag().over(order),
        __next=seg[_O].lead().over(order),
    )
    # the active day before the last: in the same segment if it has two, else the last
    # active day of the segment before
    cum = cum.mutate(**{f"{p}__prev": cum.__inside.fill_null(cum.__before)})
    offsets = range(len(plan.lookups))
    mine = ranks.filter(ranks.__src == plan.index).select(_O, *[f"__r{i}" for i in offsets])
    following = mine.rename({"__next": _O, **{f"__n{i}": f"__r{i}" for i in offsets}})
    joined = cum.inner_join(mine, _O).left_join(following, "__next")
    columns = sorted({c for cols in plan.lookups.values() for c in cols})
    return joined.select(
        cum[key],
        *[cum[c] for c in columns],
        *[mine[f"__r{i}"] for i in offsets],
        *[following[f"__n{i}"] for i in offsets],
    )


def _lookups(
    plan: _SourcePlan, cum: ir.Table, edges: ir.Table, ctx: _Context
) -> dict[int, ir.Table]:
    """For each edge offset ``d``: the running totals at ``t - d``, by (customer, cutoff).

    An as-of lookup as an equi-join: each segment row is repeated for each of the
    offset's edges it is the latest row for, and joined to the cutoff of that edge.
    """
    key = ctx.key
    mine = edges.filter(edges.__src == plan.index)
    out = {}
    for i, (d, cols) in enumerate(plan.lookups.items()):
        # past the last segment: every edge of the offset from there on
        span = ibis.range(cum[f"__r{i}"], cum[f"__n{i}"].fill_null(plan.cutoffs))
        rows = cum.select(key, *cols, __e=span.unnest())
        at = mine.filter(mine.__i == i).select("__e", "__t")
        rows = rows.inner_join(at, "__e")
        out[d] = rows.select(key, **{_O: rows.__t}, **{f"{c}#{d}": rows[c] for c in cols})
    return out


def _window_totals(
    plan: _SourcePlan, found: dict[int, ir.Table], peaks: ir.Table | None, ctx: _Context
) -> dict[str, ir.Value]:
    """Each window's totals, as differences of the running totals at its two edges."""
    p = plan.prefix

    def total(c: str, d: int) -> ir.Value:
        column = found[d][f"{c}#{d}"]
        return (column if c in plan.floats else column.cast("int64")).fill_null(0)

    def between(c: str, lo: int, hi: int) -> ir.Value:
        """The total of ``c`` over the days [t - lo, t - hi)."""
        a, b = total(c, hi), total(c, lo)
        if c not in plan.floats:
            return a - b
        diff = a - b
        scale = ibis.greatest(a.abs(), b.abs())
        return ibis.ifelse(diff.abs() <= scale * _ROUNDING, 0.0, diff)

    values: dict[str, ir.Value] = {}
    if ctx.with_features:
        msums = [c for c in plan.sums if c.endswith("__sum")]
        for w in ctx.windows:
            for c in plan.sums:
                if "__label_" not in c:
                    values[f"{c}@{w}"] = between(c, w.days, 0)
            if ctx.trends:
                for c in (f"{p}__n", *msums):
                    values[f"{c}@prev{w}"] = between(c, 2 * w.days, w.days)
        if ctx.year_ago:
            for c in (f"{p}__n", *msums):
                values[f"{c}@yearago"] = between(c, _YEAR, _YEAR - ctx.horizon.days)
        values[f"{p}__n@all"] = total(f"{p}__n", 0)
        values[f"{p}__days@all"] = total(f"{p}__days", 0)
        for c in ("first", "last", "prev"):
            values[f"{p}__{c}@all"] = found[0][f"{p}__{c}#0"]
        if peaks is not None:
            values.update({c: peaks[c] for c in peaks.columns if c not in (ctx.key, _O)})
    if plan.name == ctx.pop_source and ctx.population_col is not None:
        n = f"{p}__n"
        lower = ctx.active.days if ctx.active is not None else None
        values[ctx.population_col] = total(n, 0) if lower is None else between(n, lower, 0)
    if plan.name == ctx.target_source:
        values["__label_value"] = between(str(plan.label), 0, -ctx.horizon.days)
    return values


def _maxima(plan: _SourcePlan, seg: ir.Table, members: ir.Table, ctx: _Context) -> ir.Table:
    """The largest value of each measure in each window: one grouped aggregate.

    Each segment is joined to the cutoffs whose longest window holds it; the flags say
    which of the shorter windows hold it too.
    """
    key, p = ctx.key, plan.prefix
    rows = seg.inner_join(members, seg[_O] == members.__seg)
    aggs = {}
    for m in plan.source.spec.measures:
        peak = rows[f"{p}__{slug(m)}__max"]
        for w in ctx.windows:
            kept = ibis.ifelse(rows[f"__in{w.days}"] == 1, peak, ibis.null("float64"))
            aggs[f"{p}__{slug(m)}__max@{w}"] = kept.max()
    return rows.group_by([key, rows.__t]).aggregate(**aggs).rename({_O: "__t"})


def _derive(
    rows: ir.Table,
    plan: _SourcePlan,
    ctx: _Context,
    info: dict[str, FeatureInfo],
) -> dict[str, ir.Value]:
    """Turn the window totals into named features; say what each means in ``info``."""
    out: dict[str, ir.Value] = {}
    p = plan.prefix
    t = rows[_O]

    def put(name: str, value: ir.Value, family: str, **meaning: str | None) -> None:
        out[name] = value
        info[name] = FeatureInfo(name=name, family=family, source=plan.name, **meaning)

    measures = plan.source.spec.measures
    for w in ctx.windows:
        n = rows[f"{p}__n@{w}"].fill_null(0).cast("int64")
        put(f"{p}_count_{w}", n, "count", window=str(w))
        days = rows[f"{p}__days@{w}"].fill_null(0).cast("int64")
        put(f"{p}_active_days_{w}", days, "active_days", window=str(w))
        for m in measures:
            base = f"{p}__{slug(m)}"
            s = rows[f"{base}__sum@{w}"]
            k = rows[f"{base}__cnt@{w}"].fill_null(0)
            put(f"{p}_{slug(m)}_sum_{w}", s.fill_null(0), "sum", window=str(w), measure=m)
            mean = ibis.ifelse(k > 0, s / k, ibis.null("float64"))
            put(f"{p}_{slug(m)}_mean_{w}", mean, "mean", window=str(w), measure=m)
            peak = rows[f"{base}__max@{w}"]
            put(f"{p}_{slug(m)}_max_{w}", peak, "max", window=str(w), measure=m)
        for c, names in plan.level_names.items():
            for i, level_name in enumerate(names):
                cnt = rows[f"{p}__{slug(c)}__{i}@{w}"].fill_null(0).cast("int64")
                name = f"{p}_{slug(c)}_{level_name}"
                level = str(plan.levels[c][i])
                meaning = {"window": str(w), "category": c, "level": level}
                put(f"{name}_count_{w}", cnt, "level_count", **meaning)
                share = ibis.ifelse(n > 0, cnt.cast("float64") / n, ibis.null("float64"))
                put(f"{name}_share_{w}", share, "level_share", **meaning)
        if ctx.trends:
            prev = rows[f"{p}__n@prev{w}"].fill_null(0)
            trend = ibis.ifelse(prev > 0, n.cast("float64") / prev, ibis.null("float64"))
            put(f"{p}_count_trend_{w}", trend, "count_trend", window=str(w))
            for m in measures:
                base = f"{p}__{slug(m)}__sum"
                cur = rows[f"{base}@{w}"].fill_null(0)
                before = rows[f"{base}@prev{w}"].fill_null(0)
                ratio = ibis.ifelse(before != 0, cur / before, ibis.null("float64"))
                put(f"{p}_{slug(m)}_sum_trend_{w}", ratio, "sum_trend", window=str(w), measure=m)
    total_days = rows[f"{p}__days@all"].fill_null(0)
    first = rows[f"{p}__first@all"]
    last = rows[f"{p}__last@all"]
    put(f"{p}_count_all", rows[f"{p}__n@all"].fill_null(0).cast("int64"), "count", window="all")
    # with days_since_first/last, what the BG/NBD model needs (x = active days - 1)
    put(f"{p}_active_days_all", total_days.cast("int64"), "active_days", window="all")
    put(f"{p}_days_since_last", (t - last).cast("float64"), "days_since_last")
    put(f"{p}_days_since_first", (t - first).cast("float64"), "days_since_first")
    gap = ibis.ifelse(
        total_days > 1, (last - first).cast("float64") / (total_days - 1), ibis.null("float64")
    )
    put(f"{p}_mean_gap_days", gap, "mean_gap_days")
    put(f"{p}_last_gap_days", (last - rows[f"{p}__prev@all"]).cast("float64"), "last_gap_days")
    if ctx.year_ago:
        # the window of the coming horizon, one year earlier: [t - 365, t - 365 + horizon)
        h = str(ctx.horizon)
        n = rows[f"{p}__n@yearago"].fill_null(0).cast("int64")
        put(f"{p}_count_next{h}_year_ago", n, "count_year_ago", window=h)
        for m in measures:
            s = rows[f"{p}__{slug(m)}__sum@yearago"].fill_null(0)
            put(f"{p}_{slug(m)}_sum_next{h}_year_ago", s, "sum_year_ago", window=h, measure=m)
    return out


def _candidates(key: str, sources: dict[str, Source], entity: str | None) -> ir.Table:
    if entity is not None:
        return sources[entity].table.select(key).distinct()
    keys = [s.table.select(key) for s in sources.values() if s.spec.kind == "events"]
    return ibis.union(*keys).distinct()
