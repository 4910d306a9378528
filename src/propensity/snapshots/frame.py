"""The point-in-time frame: population, labels and features at every cutoff, as Ibis.

How it stays honest and fast
----------------------------
Time runs on whole days. The cutoffs and every window edge (``t - w``, ``t - 2w``,
``t + horizon``, ``t - active_within``) are *boundaries*; the days between two neighbouring
boundaries form a *segment*. Events are rolled up once per (customer, day), then once per
(customer, segment), labelled by the segment's end. Every window a cutoff needs is a union
of whole segments, so each feature is one range-window aggregate over that small table,
evaluated at a "probe" row placed at the cutoff:

* features at ``t``: segments ending in ``[t - w + 1, t]``, i.e. days in ``[t - w, t)``;
* all history at ``t``: segments ending at or before ``t``, i.e. days before ``t``;
* the label at ``t``: segments ending in ``[t + 1, t + horizon]``, i.e. days in
  ``[t, t + horizon)``.

A feature therefore never sees a day at or after its cutoff, and a label never sees a day
outside its window. The events are scanned once whatever the number of cutoffs; the work
after the roll-up grows with customers x cutoffs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from propensity.engine import Engine
from propensity.errors import DataError
from propensity.snapshots.cutoffs import day_number, schedule
from propensity.snapshots.features import FeatureInfo
from propensity.sources.filters import compile_where
from propensity.sources.reading import Source, feature_columns
from propensity.spec import Duration, Spec

__all__ = ["FramePlan", "plan_at", "plan_frame", "slug"]

_O = "__o"  # the day number a row sits at: a segment's end, or a probe's cutoff
_PROBE = "__probe"


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
    values: dict[str, str] = field(default_factory=dict)  # segment column -> ibis type


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
        Runs the few small queries planning needs (last event, category levels).
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

    windows = sorted(set(spec.features.windows), key=lambda d: d.days)
    active = spec.population.active_within
    pop_source = spec.population.source or target.source

    bounds: set[int] = set()
    for c in cut:
        t = day_number(c)
        bounds |= {t, t + horizon}
        for w in windows:
            bounds.add(t - w.days)
            if spec.features.trends:
                bounds.add(t - 2 * w.days)
        if active is not None:
            bounds.add(t - active.days)
    ordered = sorted(bounds)

    events = {n: s for n, s in sources.items() if s.spec.kind == "events"}
    plans = [_plan_source(engine, n, s, spec.features.max_levels) for n, s in events.items()]
    calendar = _calendar(engine, ordered)

    segments = []
    for plan in plans:
        label_where = target.where if plan.name == target.source else None
        label_measure = target.measure if plan.name == target.source else None
        segments.append(_segments(plan, key, calendar, ordered[0], label_where, label_measure))
    entity = spec.entity_source()
    candidates = _candidates(key, sources, entity[0] if entity else None)
    cut_table = engine.register_arrow(
        pa.table(
            {
                _O: pa.array([day_number(c) for c in cut], pa.int64()),
                "cutoff": pa.array(cut, pa.date32()),
            }
        ),
        "__cutoffs",
    )
    probes = candidates.cross_join(cut_table).mutate(**{_PROBE: ibis.literal(True)})

    # One window pass per source, over its own segments and one probe row per (customer,
    # cutoff): each pass carries only its own columns, then the passes are joined.
    population_col = None
    if active is not None or entity is None or entity[1].time is None:
        population_col = "__active"
    frame: ir.Table | None = None
    features: list[str] = []
    info: dict[str, FeatureInfo] = {}
    for seg, plan in zip(segments, plans, strict=True):
        if not with_features and plan.name not in (pop_source, target.source):
            continue  # contributes neither population nor label
        columns = [key, _O, _PROBE, *plan.values]
        stacked = ibis.union(
            probes.mutate(**{c: ibis.null(t) for c, t in plan.values.items()}).select(columns),
            seg.mutate(**{_PROBE: ibis.literal(False)}).select(columns),
            distinct=False,
        )
        aggs: dict[str, ir.Value] = {}
        if with_features:
            _window_aggregates(plan, key, windows, spec.features.trends, aggs)
        if plan.name == pop_source and population_col is not None:
            lower = None if active is None else -(active.days - 1)
            win = ibis.window(group_by=key, order_by=_O, range=(lower, 0))
            aggs[population_col] = stacked[f"{plan.prefix}__n"].sum().over(win)
        if plan.name == target.source:
            label_win = ibis.window(group_by=key, order_by=_O, range=(1, horizon))
            label_col = "__label_amount" if target.kind == "amount" else "__label_n"
            aggs["__label_value"] = stacked[f"{plan.prefix}{label_col}"].sum().over(label_win)
        probed = stacked.mutate(**aggs).filter(stacked[_PROBE])
        specials = [c for c in (population_col, "__label_value") if c in aggs]
        if with_features:
            probed, names = _derive(probed, [plan], windows, spec.features.trends, info)
            features += names
        else:
            names = []
        part = probed.select(key, _O, *specials, *names)
        if on_source is not None:
            on_source(plan.name)
        if materialize:
            part = engine.materialize(part, f"__features_{plan.prefix}")
        frame = part if frame is None else frame.inner_join(part, [key, _O])
    if frame is None:
        raise DataError('sources: no events source; add one with kind = "events"')
    frame = frame.inner_join(cut_table, _O)

    # population and label
    if population_col is not None:
        frame = frame.filter(frame[population_col].fill_null(0) > 0)
    entity_feats: list[str] = []
    if entity is not None:
        ent_name, ent_spec = entity
        ent = sources[ent_name].table
        ent_cols = feature_columns(sources[ent_name], key)
        keep = [key, *ent_cols]
        if ent_spec.time:
            keep.append(ent_spec.time)
        ent = ent.select(keep).distinct(on=key, keep="first") if ent_cols or ent_spec.time else ent
        frame = frame.inner_join(ent, key)
        if ent_spec.time:
            signup = frame[ent_spec.time].epoch_seconds() // 86400
            # signed up strictly before the cutoff day
            frame = frame.filter(signup.notnull() & (frame[_O] > signup))
            signup = frame[ent_spec.time].epoch_seconds() // 86400
            frame = frame.mutate(tenure_days=(frame[_O] - signup).cast("int64"))
            entity_feats.append("tenure_days")
            info["tenure_days"] = FeatureInfo(
                name="tenure_days", family="tenure", source=ent_name, column=ent_spec.time
            )
        renamed = {}
        for col in ent_cols:
            value = frame[col]
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
            renamed[name] = value
            entity_feats.append(name)
            info[name] = FeatureInfo(name=name, family=family, source=ent_name, column=col)
        frame = frame.mutate(**renamed) if renamed else frame
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


def _plan_source(engine: Engine, name: str, source: Source, max_levels: int) -> _SourcePlan:
    table = source.table
    levels: dict[str, list[object]] = {}
    for col in source.spec.categories:
        counts = engine.to_pandas(
            table.filter(table[col].notnull())
            .group_by(col)
            .aggregate(n=ibis._.count())
            .order_by([ibis.desc("n"), col])
            .limit(max_levels)
        )
        levels[col] = list(counts[col])
    return _SourcePlan(
        name, slug(name), source, levels, {c: _unique_slugs(v) for c, v in levels.items()}
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


def _calendar(engine: Engine, bounds: list[int]) -> ir.Table:
    """Each day from the day before the first boundary to the last, with its segment's end."""
    days: list[int] = []
    ends: list[int] = []
    days.append(bounds[0] - 1)
    ends.append(bounds[0])
    for lo, hi in itertools.pairwise(bounds):
        days.extend(range(lo, hi))
        ends.extend([hi] * (hi - lo))
    table = pa.table({"__day": pa.array(days, pa.int64()), _O: pa.array(ends, pa.int64())})
    return engine.register_arrow(table, "__calendar")


def _segments(
    plan: _SourcePlan,
    key: str,
    calendar: ir.Table,
    first_bound: int,
    label_where: str | None,
    label_measure: str | None,
) -> ir.Table:
    """Roll a source's events up to one row per (customer, day), then per (customer, segment)."""
    src = plan.source
    t = src.table
    p = plan.prefix
    day = (t[str(src.spec.time)].epoch_seconds() // 86400).cast("int64")
    t = t.mutate(__real=day)
    daily: dict[str, ir.Value] = {f"{p}__n": t.count()}
    if label_where is not None:
        cond = compile_where(label_where, t, "target.where")
        daily[f"{p}__label_n"] = cond.cast("int64").sum()
    elif label_measure is None:
        daily[f"{p}__label_n"] = t.count()
    if label_measure is not None:
        daily[f"{p}__label_amount"] = t[label_measure].cast("float64").sum()
    for m in src.spec.measures:
        col = t[m].cast("float64")
        daily[f"{p}__{slug(m)}__sum"] = col.sum()
        daily[f"{p}__{slug(m)}__cnt"] = col.count()
        daily[f"{p}__{slug(m)}__max"] = col.max()
    for c, levels in plan.levels.items():
        for i, level in enumerate(levels):
            daily[f"{p}__{slug(c)}__{i}"] = (t[c] == level).cast("int64").sum()
    by_day = t.group_by([key, "__real"]).aggregate(**daily)
    # the day before each active day, for the gap between the last two active days
    by_day = by_day.mutate(
        __prev=by_day.__real.lag().over(ibis.window(group_by=key, order_by="__real"))
    )
    # days before the first boundary all fall into its segment (the calendar's first day)
    by_day = by_day.mutate(
        __day=ibis.ifelse(by_day.__real < first_bound, first_bound - 1, by_day.__real)
    ).inner_join(calendar, "__day")
    seg: dict[str, ir.Value] = {}
    for col in daily:
        if col.endswith("__max"):
            seg[col] = by_day[col].max()
        else:
            seg[col] = by_day[col].sum()
    seg[f"{p}__days"] = by_day.count()
    seg[f"{p}__first"] = by_day.__real.min()
    seg[f"{p}__last"] = by_day.__real.max()
    seg[f"{p}__prev"] = by_day.__prev.max()
    out = by_day.group_by([key, _O]).aggregate(**seg)
    plan.values = {c: str(out[c].type()) for c in seg}
    return out


def _window_aggregates(
    plan: _SourcePlan,
    key: str,
    windows: list[Duration],
    trends: bool,
    aggs: dict[str, ir.Value],
) -> None:
    """Add the range-window aggregates of one source to ``aggs``."""
    p = plan.prefix
    history = ibis.window(group_by=key, order_by=_O, range=(None, 0))
    sums = [c for c in plan.values if not c.endswith(("__max", "__first", "__last", "__prev"))]
    sums = [c for c in sums if "__label_" not in c]
    maxes = [c for c in plan.values if c.endswith("__max")]

    def col(name: str) -> ir.Value:
        return ibis._[name]

    for w in windows:
        win = ibis.window(group_by=key, order_by=_O, range=(-(w.days - 1), 0))
        for c in sums:
            aggs[f"{c}@{w}"] = col(c).sum().over(win)
        for c in maxes:
            aggs[f"{c}@{w}"] = col(c).max().over(win)
        if trends:
            prev = ibis.window(group_by=key, order_by=_O, range=(-(2 * w.days - 1), -w.days))
            aggs[f"{p}__n@prev{w}"] = col(f"{p}__n").sum().over(prev)
            for m in plan.source.spec.measures:
                c = f"{p}__{slug(m)}__sum"
                aggs[f"{c}@prev{w}"] = col(c).sum().over(prev)
    aggs[f"{p}__n@all"] = col(f"{p}__n").sum().over(history)
    aggs[f"{p}__days@all"] = col(f"{p}__days").sum().over(history)
    aggs[f"{p}__first@all"] = col(f"{p}__first").min().over(history)
    aggs[f"{p}__last@all"] = col(f"{p}__last").max().over(history)
    aggs[f"{p}__prev@all"] = col(f"{p}__prev").max().over(history)


def _derive(
    rows: ir.Table,
    plans: list[_SourcePlan],
    windows: list[Duration],
    trends: bool,
    info: dict[str, FeatureInfo],
) -> tuple[ir.Table, list[str]]:
    """Turn the window aggregates into named features; say what each means in ``info``."""
    out: dict[str, ir.Value] = {}
    t = rows[_O]
    for plan in plans:
        p = plan.prefix

        def put(name: str, value: ir.Value, family: str, **meaning: str | None) -> None:
            out[name] = value
            info[name] = FeatureInfo(name=name, family=family, source=plan.name, **meaning)  # noqa: B023

        for w in windows:
            n = rows[f"{p}__n@{w}"].fill_null(0).cast("int64")
            put(f"{p}_count_{w}", n, "count", window=str(w))
            days = rows[f"{p}__days@{w}"].fill_null(0).cast("int64")
            put(f"{p}_active_days_{w}", days, "active_days", window=str(w))
            for m in plan.source.spec.measures:
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
            if trends:
                prev = rows[f"{p}__n@prev{w}"].fill_null(0)
                trend = ibis.ifelse(prev > 0, n.cast("float64") / prev, ibis.null("float64"))
                put(f"{p}_count_trend_{w}", trend, "count_trend", window=str(w))
                for m in plan.source.spec.measures:
                    base = f"{p}__{slug(m)}__sum"
                    cur = rows[f"{base}@{w}"].fill_null(0)
                    before = rows[f"{base}@prev{w}"].fill_null(0)
                    ratio = ibis.ifelse(before != 0, cur / before, ibis.null("float64"))
                    put(
                        f"{p}_{slug(m)}_sum_trend_{w}", ratio, "sum_trend", window=str(w), measure=m
                    )
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
    return rows.mutate(**out), list(out)


def _candidates(key: str, sources: dict[str, Source], entity: str | None) -> ir.Table:
    if entity is not None:
        return sources[entity].table.select(key).distinct()
    keys = [s.table.select(key) for s in sources.values() if s.spec.kind == "events"]
    return ibis.union(*keys).distinct()
