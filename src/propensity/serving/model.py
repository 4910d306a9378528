"""The model a service answers with: a verified bundle made ready for one record at a time.

Everything that does not depend on the request is worked out once, when the bundle is
loaded: the request schema, the column order, the category codes, the policy's cut-off
for "within capacity". A request then costs a dictionary walk, a small NumPy matrix and
one call into the model; LightGBM gets that matrix directly, with no DataFrame.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity.decisions.policy import Policy
from propensity.errors import NotServable, PropensityError
from propensity.modeling.bgnbd import BGNBD
from propensity.modeling.bundle import Bundle, load_bundle
from propensity.modeling.derived import derived_columns, derived_inputs
from propensity.snapshots.calendar import calendar_values
from propensity.snapshots.features import FeatureInfo
from propensity.snapshots.manifest import FrameManifest
from propensity.spec import Spec
from propensity.workspace import Workspace

__all__ = [
    "Input",
    "ServedModel",
    "base_rate",
    "fallback_model",
    "fill_calendar",
    "load_served",
]


@dataclass(frozen=True)
class Input:
    """One field of the request: a feature the bundle was trained on."""

    name: str
    numeric: bool
    levels: tuple[str, ...] = ()


@dataclass
class ServedModel:
    """A bundle ready to answer, or the fallback when no bundle could be loaded."""

    version: str | None
    bundle: Bundle | None
    inputs: list[Input]
    key: str
    policy: Policy
    cut: float
    fallback_score: float | None
    unknown_category: str
    spec: Spec
    error: str | None = None
    _typical: dict[str, object] = field(default_factory=dict)
    _info: dict[str, FeatureInfo] = field(default_factory=dict)
    _bgnbd: BGNBD | None = None
    _bgnbd_horizon: float = 0.0
    _derived_names: list[str] = field(default_factory=list)
    _layouts: dict[int, Any] = field(default_factory=dict)
    _history_names: tuple[str, str, str] = ("", "", "")

    @property
    def fallback(self) -> bool:
        """True when there is no model and answers are the fallback score."""
        return self.bundle is None

    @property
    def task(self) -> str:
        """``binary`` or ``regression``."""
        return "binary" if self.bundle is None else self.bundle.task

    @property
    def score_name(self) -> str:
        """The name of the score in answers."""
        return "probability" if self.task == "binary" else "expected_amount"

    def summary(self) -> dict[str, Any]:
        """What ``GET /v1/models`` shows."""
        if self.bundle is None:
            return {
                "version": None,
                "fallback": True,
                "fallback_score": self.fallback_score,
                "error": self.error,
            }
        m = self.bundle.info
        frozen = m.derived.get("bgnbd", {}).get("frozen", {})
        return {
            "version": self.version,
            "fallback": False,
            "created_at": m.created_at,
            "task": self.task,
            "model": m.chosen,
            "reason": m.reason,
            "metric": m.metric,
            "test": m.test,
            "calibration": m.calibration.get("method"),
            "training_window": m.training_window,
            "inputs": len(self.inputs),
            "derived_fitted_at": frozen.get("cutoff"),
            "capacity_cut": None if math.isinf(self.cut) else self.cut,
            "policy": self.policy.describe(),
        }

    # -- scoring -------------------------------------------------------------------------

    def with_calendar(
        self, records: list[dict[str, Any]], day: dt.date | None = None
    ) -> list[dict[str, Any]]:
        """The records with the calendar features they leave out set to ``day``'s.

        A bundle trained with ``[features] calendar`` (or ``holidays``) reads the cutoff's
        month and days to holidays; a record sent to the service is scored now, so what it
        does not say is the calendar of the request's day (UTC).
        """
        names = [n for n, f in self._info.items() if f.family == "calendar"]
        if not names:
            return records
        today = day if day is not None else dt.datetime.now(dt.UTC).date()
        return fill_calendar(records, names, today, self.spec.features.holidays)

    def scores(self, records: list[dict[str, Any]]) -> np.ndarray:
        """Calibrated scores of validated records (fields missing from a record are NaN)."""
        if self.bundle is None:
            return np.full(len(records), float(self.fallback_score or 0.0))
        raw = self.bundle.candidate.score_records(_Records(self, records))
        return np.asarray(self.bundle.calibrator.predict(np.asarray(raw, dtype=float)))

    def frame(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        """The records as the model's frame: float32 numbers, text levels, derived columns."""
        columns: dict[str, Any] = {}
        for item in self.inputs:
            values = [r.get(item.name) for r in records]
            if item.numeric:
                columns[item.name] = np.array(
                    [np.nan if v is None else v for v in values], dtype=np.float32
                )
            else:
                columns[item.name] = pd.Series(values, dtype=object)
        if self._bgnbd is not None:  # the same values the scores used
            derived = self._derived(records)
            for j, name in enumerate(self._derived_names):
                columns[name] = derived[:, j].astype(np.float32)
        return pd.DataFrame(columns)

    def _layout(self, columns: list[str]) -> tuple[np.ndarray, list[str], list[tuple[int, int]]]:
        """Where each plain numeric column and each derived one goes (worked out once)."""
        found = self._layouts.get(id(columns))
        if found is None:
            text = {item.name for item in self.inputs if not item.numeric}
            derived = self._derived_names
            plain = [(i, n) for i, n in enumerate(columns) if n not in derived and n not in text]
            found = (
                np.array([i for i, _ in plain], dtype=np.intp),
                [n for _, n in plain],
                [(i, derived.index(n)) for i, n in enumerate(columns) if n in derived],
            )
            self._layouts[id(columns)] = found
        return found

    def _numbers(self, records: list[dict[str, Any]], columns: list[str]) -> np.ndarray:
        """Numeric columns as training saw them (float32 values), derived ones computed."""
        positions, names, derived = self._layout(columns)
        x = np.full((len(records), len(columns)), np.nan)
        for r, record in enumerate(records):  # values are rounded to float32 as in training
            x[r, positions] = np.array(list(map(record.get, names)), dtype=np.float32)
        if derived and self._bgnbd is not None:
            scores = self._derived(records)
            for i, j in derived:
                x[:, i] = scores[:, j]
        return x

    def _history(self, record: dict[str, Any]) -> tuple[float, float, float] | None:
        """(active days, days since first, days since last) as float32 values, if all given."""
        values = [record.get(name) for name in self._history_names]
        if any(v is None for v in values):
            return None
        active, first, last = (float(np.float32(v)) for v in values)
        return active, first, last

    def history_problems(self, records: list[dict[str, Any]], many: bool) -> list[dict[str, Any]]:
        """Histories BG/NBD cannot read: a last event before the first, and the like."""
        if self._bgnbd is None:
            return []
        problems = []
        active_name, first_name, last_name = self._history_names
        for n, record in enumerate(records):
            found = self._history(record)
            if found is None or found[0] <= 0:
                continue
            active, first, last = found
            reason = None
            if active < 1 or active != int(active):
                reason = (
                    f"{active_name} is {active:g}: a count of days, a whole number, at least 1 "
                    "for a customer with events"
                )
            elif not 0 <= last <= first:
                reason = (
                    f"{last_name} ({last:g}) must lie between 0 and {first_name} ({first:g}): "
                    "the last event cannot come before the first"
                )
            elif active == 1 and last != first:
                reason = (
                    f"{active_name} is 1, so {first_name} and {last_name} must be equal "
                    f"(got {first:g} and {last:g})"
                )
            if reason is not None:
                entry: dict[str, Any] = {
                    "field": last_name if "lie between" in reason else active_name,
                    "reason": reason,
                    "type": "inconsistent_history",
                }
                if many:
                    entry["record"] = n
                problems.append(entry)
        return problems

    def _derived(self, records: list[dict[str, Any]]) -> np.ndarray:
        """BG/NBD P(alive), expected events, P(no event) with the frozen model (float32)."""
        assert self._bgnbd is not None
        out = np.full((len(records), 3), np.nan)
        for n, record in enumerate(records):
            found = self._history(record)
            if found is None or found[0] <= 0:
                continue  # no event yet: no BG/NBD score, as in training
            active, first, last = found
            out[n] = self._bgnbd.score_one(active - 1, first - last, first, self._bgnbd_horizon)
        return out.astype(np.float32).astype(float)

    def decide(self, scores: np.ndarray) -> list[dict[str, Any]]:
        """Tier, action, expected value and capacity flag for each score.

        The same rules as :func:`~propensity.decisions.policy.assign_tiers`, in plain
        Python: a request holds a handful of scores, where NumPy costs more than it saves.
        """
        binary = self.task == "binary"
        tiers = sorted(self.policy.tiers, key=lambda t: -t[1]) if binary else []
        benefit, cost = (self.policy.benefit if binary else 1.0), self.policy.cost
        out: list[dict[str, Any]] = []
        for value in scores.tolist():
            tier = next((t for t in tiers if value >= t[1]), None)
            out.append(
                {
                    self.score_name: value,
                    "tier": None if tier is None else tier[0],
                    "action": (tier[2] or "no action") if tier else "no action" if binary else None,
                    "expected_value": value * benefit - cost,
                    "in_capacity": bool(not self.fallback and value >= self.cut),
                }
            )
        return out

    def reasons(self, records: list[dict[str, Any]]) -> list[list[str]]:
        """Up to three reasons per record, in words (exact for trees and linear models)."""
        from propensity.decisions.reasons import contributions, reason_codes

        bundle = self.bundle
        if bundle is None or bundle.candidate.explanation is None:
            return [[] for _ in records]  # no model, or no exact decomposition
        if not bundle.candidate.features():
            return [[] for _ in records]  # nothing drives a constant
        rows = bundle.prepare(self.frame(records))
        contribs, _ = contributions(bundle, rows)
        return reason_codes(contribs, rows, self._typical, self.spec, info=self._info)


def fill_calendar(
    records: list[dict[str, Any]],
    names: Sequence[str],
    day: dt.date,
    holidays: Sequence[dt.date] = (),
) -> list[dict[str, Any]]:
    """Each record with the calendar features it leaves out set to those of ``day``.

    A field sent as null counts as left out; a value a record sends is kept.
    """
    values = calendar_values(day, holidays)
    out = []
    for record in records:
        missing = {n: values.get(n) for n in names if record.get(n) is None}
        out.append({**record, **missing} if missing else record)
    return out


def base_rate(workspace: Path) -> float | None:
    """The share of positive labels in the built frame: the default fallback score."""
    path = Workspace(workspace).frame_info
    if not path.is_file():
        return None
    try:
        return FrameManifest.read(path).label_rate
    except PropensityError:  # a damaged manifest: no default, as with none
        return None


def _fallback_score(spec: Spec, workspace: Path) -> float | None:
    return (
        spec.serve.fallback_score if spec.serve.fallback_score is not None else base_rate(workspace)
    )


def fallback_model(spec: Spec, workspace: Path, error: str) -> ServedModel:
    """The model that answers when no bundle can be loaded: a constant, flagged as such."""
    return ServedModel(
        version=None,
        bundle=None,
        inputs=[],
        key=spec.entity.key,
        policy=Policy.from_spec(spec.policy),
        cut=math.inf,
        fallback_score=_fallback_score(spec, workspace),
        unknown_category=spec.serve.unknown_category,
        spec=spec,
        error=error,
    )


def capacity_cut(policy: Policy, reference: np.ndarray) -> float:
    """The lowest score within capacity when ``reference`` is the population ranked.

    -inf when every customer fits (or there is no reference), +inf when none does.
    """
    if not len(reference):
        return -math.inf
    limit = policy.limit(len(reference))
    ranked = np.sort(reference)[::-1]
    if limit == 0:
        return math.inf
    return float(ranked[limit - 1]) if limit < len(ranked) else -math.inf


def load_served(
    spec: Spec, workspace: Path, version: str, reference: np.ndarray | None = None
) -> ServedModel:
    """Load, verify and prepare a bundle; raises if any file fails its checksum.

    ``reference`` is the population whose ranks define "within capacity" (the latest score
    run of this version); without it, the scores of the bundle's test cutoff.
    """
    bundle = load_bundle(Workspace(workspace).bundle(version))
    plan = bundle.info.derived
    if "bgnbd" in plan and "frozen" not in plan["bgnbd"]:
        raise NotServable(
            f"bundle {version}: trained before serving was possible (no frozen BG/NBD "
            "model); retrain it with `propensity train`"
        )
    inputs = [
        Input(
            name=f.name,
            numeric=f.levels is None,
            levels=tuple(str(v) for v in f.levels or []),
        )
        for f in bundle.info.features
    ]
    policy = Policy.from_spec(spec.policy)
    if reference is None:
        try:
            reference = bundle.holdout()["score"].to_numpy(dtype=float)
        except PropensityError:
            reference = np.array([])
    cut = capacity_cut(policy, reference)
    frozen = plan.get("bgnbd", {}).get("frozen")
    return ServedModel(
        version=version,
        bundle=bundle,
        inputs=inputs,
        key=spec.entity.key,
        policy=policy,
        cut=cut,
        fallback_score=_fallback_score(spec, workspace),
        unknown_category=spec.serve.unknown_category,
        spec=spec,
        _typical=bundle.typical(),
        _info=bundle.feature_info(),
        _bgnbd=None if frozen is None else BGNBD.from_dict(frozen["model"]),
        _history_names=tuple(derived_inputs(plan)) if frozen else ("", "", ""),  # type: ignore[arg-type]
        _bgnbd_horizon=float(plan.get("bgnbd", {}).get("horizon", 0.0)),
        _derived_names=derived_columns(plan),
    )


class _Records:
    """A request's records as a candidate reads them (``candidates.Records``)."""

    __slots__ = ("_model", "_records")

    def __init__(self, model: ServedModel, records: list[dict[str, Any]]) -> None:
        self._model, self._records = model, records

    def __len__(self) -> int:
        return len(self._records)

    def numbers(self, columns: list[str]) -> np.ndarray:
        return self._model._numbers(self._records, columns)

    def texts(self, column: str) -> list[Any]:
        return [r.get(column) for r in self._records]

    def frame(self) -> pd.DataFrame:
        assert self._model.bundle is not None
        return self._model.bundle.prepare(self._model.frame(self._records))
