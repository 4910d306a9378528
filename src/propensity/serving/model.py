"""The model a service answers with: a verified bundle made ready for one record at a time.

Everything that does not depend on the request is worked out once, when the bundle is
loaded: the request schema, the column order, the category codes, the policy's cut-off
for "within capacity". A request then costs a dictionary walk, a small NumPy matrix and
one call into the model; LightGBM gets that matrix directly, with no DataFrame.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity.decisions.policy import Policy, assign_tiers
from propensity.errors import PropensityError
from propensity.modeling.bundle import Bundle, load_bundle
from propensity.modeling.candidates import LightGBMCandidate
from propensity.modeling.derived import add_frozen, derived_columns, derived_inputs
from propensity.spec import Spec

__all__ = ["Input", "ServedModel", "base_rate", "fallback_model", "load_served"]


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
    _codes: dict[str, dict[str, int]] = field(default_factory=dict)

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
        m = self.bundle.manifest
        frozen = (m.get("derived") or {}).get("bgnbd", {}).get("frozen", {})
        return {
            "version": self.version,
            "fallback": False,
            "created_at": m.get("created_at"),
            "task": self.task,
            "model": m.get("chosen"),
            "reason": m.get("reason"),
            "metric": m.get("metric"),
            "test": m.get("test"),
            "calibration": (m.get("calibration") or {}).get("method"),
            "training_window": m.get("training_window"),
            "inputs": len(self.inputs),
            "derived_fitted_at": frozen.get("cutoff"),
            "capacity_cut": None if math.isinf(self.cut) else self.cut,
            "policy": self.policy.describe(),
        }

    # -- scoring -------------------------------------------------------------------------

    def scores(self, records: list[dict[str, Any]]) -> np.ndarray:
        """Calibrated scores of validated records (fields missing from a record are NaN)."""
        if self.bundle is None:
            return np.full(len(records), float(self.fallback_score or 0.0))
        candidate = self.bundle.candidate
        if isinstance(candidate, LightGBMCandidate):
            raw = candidate.model_.predict(
                self._matrix(records, candidate), num_iteration=candidate.rounds_, num_threads=1
            )
        else:
            raw = candidate.predict(self.bundle.prepare(self.frame(records)))
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
        frame = pd.DataFrame(columns)
        assert self.bundle is not None
        plan = self.bundle.manifest.get("derived") or {}
        return add_frozen(frame, plan) if plan else frame

    def _matrix(self, records: list[dict[str, Any]], model: LightGBMCandidate) -> np.ndarray:
        x = np.full((len(records), len(model.features_)), np.nan)
        position = {name: i for i, name in enumerate(model.features_)}
        for j, item in enumerate(self.inputs):
            i = position.get(item.name)
            if i is None:
                continue
            if item.numeric:
                for r, record in enumerate(records):
                    value = record.get(item.name)
                    if value is not None:
                        x[r, i] = np.float32(value)  # as in training: float32 values
            else:
                codes = self._codes[item.name]
                for r, record in enumerate(records):
                    code = codes.get(str(record.get(item.name)))
                    if code is not None:
                        x[r, i] = code
            del j
        assert self.bundle is not None
        plan = self.bundle.manifest.get("derived") or {}
        if plan:
            names = derived_inputs(plan)
            inputs = pd.DataFrame(x[:, [position[n] for n in names]], columns=names)
            added = add_frozen(inputs, plan)
            for name in derived_columns(plan):
                if name in position:
                    x[:, position[name]] = added[name].to_numpy(dtype=float)
        return x

    def decide(self, scores: np.ndarray) -> list[dict[str, Any]]:
        """Tier, action, expected value and capacity flag for each score."""
        out: list[dict[str, Any]] = []
        if self.task == "binary":
            tiers, actions = assign_tiers(scores, self.policy.tiers)
            worth = scores * self.policy.benefit - self.policy.cost
        else:
            tiers = actions = np.full(len(scores), "", dtype=object)
            worth = scores - self.policy.cost
        for n, score in enumerate(scores):
            out.append(
                {
                    self.score_name: float(score),
                    "tier": str(tiers[n]) or None,
                    "action": str(actions[n]) or None,
                    "expected_value": float(worth[n]),
                    "in_capacity": bool(not self.fallback and score >= self.cut),
                }
            )
        return out

    def reasons(self, records: list[dict[str, Any]]) -> list[list[str]]:
        """Up to three reasons per record, in words (exact for trees and linear models)."""
        from propensity.decisions.reasons import contributions, reason_codes

        if self.bundle is None or self.bundle.candidate.name in ("keras", "prior", "mean"):
            return [[] for _ in records]  # nothing to explain, or no exact decomposition
        rows = self.bundle.prepare(self.frame(records))
        contribs, _ = contributions(self.bundle, rows)
        return reason_codes(contribs, rows, self._typical, self.spec)


def base_rate(workspace: Path) -> float | None:
    """The share of positive labels in the built frame: the default fallback score."""
    path = workspace / "frames" / "frame.json"
    if not path.is_file():
        return None
    rate = json.loads(path.read_text()).get("label_rate")
    return None if rate is None else float(rate)


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


class NotServable(PropensityError, ValueError):
    """A bundle that loads but cannot answer single records (trained before serving)."""


def load_served(
    spec: Spec, workspace: Path, version: str, reference: np.ndarray | None = None
) -> ServedModel:
    """Load, verify and prepare a bundle; raises if any file fails its checksum.

    ``reference`` is the population whose ranks define "within capacity" (the latest score
    run of this version); without it, the scores of the bundle's test cutoff.
    """
    bundle = load_bundle(workspace / "bundles" / version)
    plan = bundle.manifest.get("derived") or {}
    if "bgnbd" in plan and "frozen" not in plan["bgnbd"]:
        raise NotServable(
            f"bundle {version}: trained before serving was possible (no frozen BG/NBD "
            "model); retrain it with `propensity train`"
        )
    inputs = [
        Input(
            name=f["name"],
            numeric="levels" not in f,
            levels=tuple(str(v) for v in f.get("levels", [])),
        )
        for f in bundle.manifest.get("features", [])
    ]
    codes: dict[str, dict[str, int]] = {}
    if isinstance(bundle.candidate, LightGBMCandidate):
        codes = {
            c: {str(level): n for n, level in enumerate(levels)}
            for c, levels in bundle.candidate.levels_.items()
        }
    policy = Policy.from_spec(spec.policy)
    if reference is None:
        try:
            reference = bundle.holdout()["score"].to_numpy(dtype=float)
        except PropensityError:
            reference = np.array([])
    cut = -math.inf
    if len(reference):
        limit = policy.limit(len(reference))
        ranked = np.sort(reference)[::-1]
        cut = math.inf if limit == 0 else float(ranked[limit - 1]) if limit < len(ranked) else cut
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
        _codes=codes,
    )
