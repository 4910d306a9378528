"""Features derived from the frame itself at training and scoring time: BG/NBD per cutoff.

The buy-till-you-die model knows things trees find hard to learn from windows alone: how
likely a customer is still active given their whole purchase rhythm, and how many events
to expect. Its fit at a cutoff reads only that cutoff's point-in-time columns (active days,
days since first and last event), never a label, so the scores are as point-in-time as the
columns they come from, and the other candidates may use them as features.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from propensity.modeling.bgnbd import bgnbd_features, fit_at
from propensity.snapshots.features import FeatureInfo

__all__ = [
    "add_derived",
    "derived_columns",
    "derived_info",
    "derived_inputs",
    "freeze_derived",
    "plan_derived",
]

log = logging.getLogger(__name__)


def _inputs(source: str) -> list[str]:
    return [
        f"{source}_active_days_all",
        f"{source}_days_since_first",
        f"{source}_days_since_last",
    ]


def plan_derived(columns: list[str], source: str | None, horizon_days: float) -> dict[str, Any]:
    """What to derive for a frame with these columns: BG/NBD of the target's events source.

    Returns an empty plan when the frame lacks the columns (table mode, entity targets).
    """
    if source is None or not all(c in columns for c in _inputs(source)):
        return {}
    return {"bgnbd": {"source": source, "horizon": float(horizon_days)}}


def derived_inputs(plan: dict[str, Any]) -> list[str]:
    """The frame columns a plan reads."""
    return _inputs(plan["bgnbd"]["source"]) if "bgnbd" in plan else []


def derived_columns(plan: dict[str, Any]) -> list[str]:
    """The columns a plan adds."""
    if "bgnbd" not in plan:
        return []
    source = plan["bgnbd"]["source"]
    return [f"{source}_bgnbd_p_alive", f"{source}_bgnbd_expected", f"{source}_bgnbd_p_no_event"]


def derived_info(plan: dict[str, Any]) -> dict[str, FeatureInfo]:
    """What the plan's columns mean."""
    if "bgnbd" not in plan:
        return {}
    source = plan["bgnbd"]["source"]
    families = ("bgnbd_p_alive", "bgnbd_expected", "bgnbd_p_no_event")
    return {
        name: FeatureInfo(name=name, family=family, source=source)
        for name, family in zip(derived_columns(plan), families, strict=True)
    }


def add_derived(frame: pd.DataFrame, plan: dict[str, Any]) -> pd.DataFrame:
    """Return ``frame`` with the plan's columns added (float32), fitted cutoff by cutoff.

    The frame must hold every customer of each cutoff it contains: the BG/NBD fit at a
    cutoff uses all of that cutoff's rows.
    """
    if "bgnbd" not in plan:
        return frame
    source, horizon = plan["bgnbd"]["source"], plan["bgnbd"]["horizon"]
    cutoff = frame["cutoff"]
    if cutoff.isna().all():
        return frame
    inputs = frame[["cutoff", *_inputs(source)]].reset_index(drop=True)
    scores = bgnbd_features(inputs, source, horizon)
    log.debug("derived BG/NBD features of %s over %d rows", source, len(frame))
    added = pd.DataFrame(
        {col: scores[col].to_numpy(dtype=np.float32) for col in scores.columns}, index=frame.index
    )
    return pd.concat([frame, added], axis=1)


def freeze_derived(frame: pd.DataFrame, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan with the model fitted at the frame's latest cutoff, for one record at a time.

    Batch scoring fits BG/NBD on every customer eligible at the date; a service scoring one
    record cannot, so it uses the population of the latest cutoff the bundle saw (stored
    under ``frozen``). Returns the plan unchanged when there is nothing to fit.
    """
    if "bgnbd" not in plan or frame["cutoff"].isna().all():
        return plan
    source = plan["bgnbd"]["source"]
    latest = frame["cutoff"].max()
    model = fit_at(frame[frame["cutoff"] == latest], source, latest)
    if model is None:
        return plan
    frozen = {"cutoff": str(pd.Timestamp(latest).date()), "model": model.to_dict()}
    return {**plan, "bgnbd": {**plan["bgnbd"], "frozen": frozen}}
