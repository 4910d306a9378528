"""Data checks: what ``propensity check`` reports about each source, with a severity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from propensity.engine import Engine
from propensity.errors import PropensityError
from propensity.modeling.metrics import roc_auc_score
from propensity.sources.reading import (
    Source,
    _check_columns,
    _derive,
    _read,
    feature_columns,
    open_sources,
    parse_time,
    resolve_path,
)
from propensity.spec import Spec

__all__ = ["CheckReport", "Finding", "run_checks"]

Severity = Literal["error", "warning", "info"]

HIGH_NULL_SHARE = 0.5
LEAKAGE_AUC = 0.95
_LEAKAGE_SAMPLE = 500_000
_LEAKAGE_MIN_CLASS = 20


@dataclass(frozen=True)
class Finding:
    """One thing ``check`` noticed."""

    severity: Severity
    source: str
    check: str
    message: str


@dataclass
class CheckReport:
    """Everything ``check`` found, per source; computed once, rendered as text or JSON."""

    findings: list[Finding] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        """Findings that stop the workflow."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings worth a look that do not stop anything."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def add(self, severity: Severity, source: str, check: str, message: str) -> None:
        """Record a finding."""
        self.findings.append(Finding(severity, source, check, message))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``check --json`` prints)."""
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "sources": self.sources,
            "findings": [f.__dict__ for f in self.findings],
        }


def run_checks(engine: Engine, spec: Spec, root: Path) -> CheckReport:
    """Check every source of a project against its spec.

    Errors (missing files or columns, null or duplicated entity keys, times that cannot be
    read at all) stop the workflow; warnings are printed and the workflow goes on.
    """
    report = CheckReport()
    readable = True
    for name, src in spec.sources.items():
        path = resolve_path(root, src.path)
        try:
            raw = _derive(_read(engine, name, src, path), name, src)
            _check_columns(name, src, path, raw, spec.entity.key)
        except PropensityError as exc:
            report.add("error", name, "readable", str(exc))
            readable = False
    if not readable:
        return report
    sources = open_sources(engine, spec, root)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for source in sources.values():
        _check_source(engine, spec, source, report, now)
    entity = spec.entity_source()
    if entity is not None:
        ent = sources[entity[0]]
        for source in sources.values():
            if source.spec.kind == "events":
                _check_against_entity(engine, spec, ent, source, report)
    if report.ok:
        try:
            _check_leakage(engine, spec, sources, report)
        except PropensityError as exc:
            report.add("error", "target", "labels", str(exc))
    return report


def _check_source(
    engine: Engine, spec: Spec, source: Source, report: CheckReport, now: dt.datetime
) -> None:
    src = source.spec
    name = source.name
    key = spec.entity.key
    raw = source.raw
    aggs: dict[str, ir.Value] = {"rows": raw.count(), "null_keys": raw[key].isnull().sum()}
    if src.kind in ("entity", "table"):
        aggs["distinct_keys"] = raw[key].nunique()
    if src.time:
        parsed = parse_time(raw[src.time], f"sources.{name}.time")
        aggs["unreadable"] = (raw[src.time].notnull() & parsed.isnull()).sum()
        aggs["time_min"] = parsed.min()
        aggs["time_max"] = parsed.max()
        aggs["future"] = (parsed > now).sum()
    columns = [c for c in raw.columns if c != key]
    for col in columns:
        aggs[f"null::{col}"] = raw[col].isnull().sum()
        if not raw[col].type().is_nested():
            aggs[f"nunique::{col}"] = raw[col].approx_nunique()
    stats = engine.to_pandas(raw.aggregate(**aggs)).iloc[0].to_dict()
    # rows the pipeline uses: with a key, a readable time, and passing `where`
    used_rows = int(engine.to_pandas(source.table.aggregate(n=source.table.count()))["n"].iloc[0])
    if src.measures:
        # measures are summed after the source's `where`, so count negatives after it too
        kept = source.table
        negatives = kept.aggregate(
            **{f"neg::{m}": (kept[m].cast("float64") < 0).sum() for m in src.measures}
        )
        stats.update(engine.to_pandas(negatives).iloc[0].to_dict())
    rows = int(stats["rows"])
    info: dict[str, Any] = {
        "kind": src.kind,
        "path": src.path,
        "rows": rows,
        "used_rows": used_rows,
    }
    if rows == 0:
        report.add("error", name, "empty", f"{src.path} has no rows")
        report.sources[name] = info
        return
    null_keys = int(stats["null_keys"])
    if null_keys:
        severity: Severity = "error" if src.kind in ("entity", "table") else "warning"
        report.add(
            severity,
            name,
            "null_keys",
            f"{null_keys:,} of {rows:,} rows ({null_keys / rows:.1%}) have no {key}; "
            + (
                "every customer row needs one: fill or drop them"
                if severity == "error"
                else "they are ignored (guests or unmatched rows)"
            ),
        )
    if "distinct_keys" in stats:
        dupes = rows - null_keys - int(stats["distinct_keys"])
        if dupes > 0:
            example = engine.to_pandas(
                raw.filter(raw[key].notnull())
                .group_by(key)
                .aggregate(n=ibis._.count())
                .filter(ibis._.n > 1)
                .order_by(ibis.desc("n"))
                .limit(1)
            )
            report.add(
                "error",
                name,
                "duplicate_keys",
                f"{dupes:,} rows repeat a {key} already seen (e.g. {_show(example[key].iloc[0])} "
                f"appears {int(example['n'].iloc[0])} times); keep one row per customer",
            )
    if src.time:
        bad = int(stats["unreadable"] or 0)
        if bad:
            parsed = parse_time(raw[src.time], f"sources.{name}.time")
            example = _show(
                engine.to_pandas(
                    raw.filter(raw[src.time].notnull() & parsed.isnull())
                    .select(raw[src.time].cast("string").name("v"))
                    .limit(1)
                )["v"].iloc[0]
            )
            readable = rows - int(stats[f"null::{src.time}"]) - bad
            severity = "error" if readable == 0 else "warning"
            report.add(
                severity,
                name,
                "unreadable_times",
                f"{src.time}: {bad:,} values cannot be read as times (e.g. {example}); "
                "write ISO times such as 2024-01-31 10:00:00"
                + ("" if severity == "error" else "; those rows are ignored"),
            )
        if stats["time_min"] is not None and str(stats["time_min"]) != "NaT":
            info["time_min"] = str(stats["time_min"])
            info["time_max"] = str(stats["time_max"])
        future = int(stats["future"] or 0)
        if future:
            report.add(
                "warning",
                name,
                "future_rows",
                f"{src.time}: {future:,} rows are dated after now ({now:%Y-%m-%d %H:%M} UTC, "
                f"latest {stats['time_max']}); check the time zone or the source",
            )
    for m in src.measures:
        neg = int(stats[f"neg::{m}"] or 0)
        if neg:
            report.add(
                "warning",
                name,
                "negative_measure",
                f"{m}: {neg:,} rows ({neg / rows:.1%}) are negative (returns or refunds?); "
                "they are summed as they are; filter them with `where` if they are not purchases",
            )
    used = _used_columns(source, key)
    for col in columns:
        nulls = int(stats[f"null::{col}"])
        if col in used and nulls / rows > HIGH_NULL_SHARE:
            report.add(
                "warning",
                name,
                "high_null",
                f"{col}: {nulls / rows:.0%} of values are missing",
            )
        distinct = stats.get(f"nunique::{col}")
        if col in used and distinct is not None and int(distinct) <= 1 and nulls == 0:
            report.add(
                "warning",
                name,
                "constant_column",
                f"{col}: holds a single value; it carries no signal (add it to "
                f"sources.{name}.exclude)",
            )
    report.sources[name] = info


def _used_columns(source: Source, key: str) -> set[str]:
    spec = source.spec
    if spec.kind == "events":
        return {*spec.measures, *spec.categories}
    return set(feature_columns(source, key))


def _check_against_entity(
    engine: Engine, spec: Spec, entity: Source, events: Source, report: CheckReport
) -> None:
    key = spec.entity.key
    ent_keys = entity.table.select(key).distinct()
    ev = events.table
    orphans = int(
        engine.to_pandas(ev.anti_join(ent_keys, key).aggregate(n=ibis._.count()))["n"].iloc[0]
    )
    if orphans:
        report.add(
            "warning",
            events.name,
            "orphan_events",
            f"{orphans:,} rows have a {key} that is not in {entity.spec.path}; they count "
            "for no customer",
        )
    if entity.spec.time and events.spec.time:
        signup = entity.table.select(key, __signup=entity.table[entity.spec.time])
        joined = ev.inner_join(signup, key)
        before = int(
            engine.to_pandas(
                joined.aggregate(n=(joined[events.spec.time].date() < joined.__signup.date()).sum())
            )["n"].iloc[0]
            or 0
        )
        if before:
            report.add(
                "warning",
                events.name,
                "outside_lifetime",
                f"{before:,} rows are dated before their customer's {entity.spec.time}; "
                "check both time columns and their time zones",
            )


def _check_leakage(
    engine: Engine, spec: Spec, sources: dict[str, Source], report: CheckReport
) -> None:
    """Flag raw columns that alone predict the label too well to be honest."""
    from propensity.snapshots.frame import plan_frame, slug
    from propensity.snapshots.table import table_frame

    key = spec.entity.key
    if spec.table_mode:
        expr = table_frame(engine, spec, sources)
        (source,) = sources.values()
    else:
        entity = spec.entity_source()
        if entity is None:
            return
        source = sources[entity[0]]
        expr = plan_frame(engine, spec, sources, with_features=False).expr
    # the frame's name for each raw column (see plan_frame: slugged, maybe prefixed)
    renamed: dict[str, str] = {}
    for c in feature_columns(source, key):
        names = (c, slug(c), f"{slug(source.name)}_{slug(c)}", f"days_since_{slug(c)}")
        found = next((n for n in names if n in expr.columns), None)
        if found is not None:
            renamed[c] = found
    if not renamed:
        return
    labeled = expr.filter(expr.label.notnull())
    frame = engine.to_pandas(
        labeled.select("cutoff", "label", *renamed.values()).limit(_LEAKAGE_SAMPLE)
    )
    # judged cutoff by cutoff: a column written after the outcome matches the label best at
    # the cutoffs whose windows it describes, and pooling all cutoffs would dilute that
    groups = [g for _, g in frame.groupby("cutoff", dropna=False)] if len(frame) else []
    for original, col in renamed.items():
        worst: tuple[float, Any] | None = None
        for group in groups:
            y = group["label"].to_numpy(dtype=float)
            if min(int((y == 1).sum()), int((y == 0).sum())) < _LEAKAGE_MIN_CLASS:
                continue
            auc = _separation(group[col], y)
            if auc is not None and (worst is None or auc > worst[0]):
                worst = (auc, group["cutoff"].iloc[0])
        if worst is not None and worst[0] > LEAKAGE_AUC:
            at = "" if pd.isna(worst[1]) else f" at cutoff {str(worst[1])[:10]}"
            report.add(
                "warning",
                source.name,
                "leakage_suspect",
                f"{original}: predicts the label alone with ROC-AUC {worst[0]:.3f}{at}; "
                "a column known only after the outcome leaks the future: add it to "
                f"sources.{source.name}.exclude unless it is truly known in advance",
            )


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    item = getattr(value, "item", None)
    return str(item() if callable(item) else value)


def _separation(values: pd.Series, y: np.ndarray) -> float | None:
    """ROC-AUC of one column against the label, in the better direction.

    Text columns are target-encoded out of fold (even rows encode odd rows and back), so
    that an identifier-like column cannot look predictive by memorising the label.
    """
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        x = values.astype(float).to_numpy()
        lowest = np.nanmin(x) if np.isfinite(x).any() else 0.0
        x = np.where(np.isnan(x), lowest - 1.0, x)
    elif pd.api.types.is_datetime64_any_dtype(values):
        x = values.astype("int64").to_numpy().astype(float)
    else:
        text = values.astype("string").fillna("<missing>").to_numpy()
        x = np.empty(len(text))
        half = np.arange(len(text)) % 2 == 0
        prior = float(y.mean())
        for fit, apply in ((half, ~half), (~half, half)):
            means = pd.Series(y[fit]).groupby(text[fit]).agg(["sum", "count"])
            smooth = (means["sum"] + prior * 10) / (means["count"] + 10)
            x[apply] = pd.Series(text[apply]).map(smooth).fillna(prior).to_numpy()
    if np.unique(x).size < 2:
        return None
    auc = roc_auc_score(y, x)
    return max(auc, 1.0 - auc)
