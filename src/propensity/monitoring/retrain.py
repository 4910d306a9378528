"""``propensity retrain``: a challenger trained on the latest data, promoted only if better.

The triggers (``[retrain]``) are checked first unless forced: the drift verdict, the
realized checks of the serving model's past scores, a realized ROC-AUC below a floor, the
production model's age. The challenger is trained as
``train`` always does; both models are then judged on the same rows, the latest labelled
cutoff: the challenger by its own backtest scores there (out of sample: its test round),
the champion by scoring those rows now. The challenger becomes production only when the
champion did not learn from that cutoff (it would be judged in sample, with an unfair
advantage) and the challenger ranks better (ROC-AUC higher by ``[retrain] margin``) or
ranks as well with better probabilities (log loss lower by ``log_loss_margin``). The
decision and the figures are written to ``.propensity/retrain/`` and the registry's
history either way.

These are plain functions of the ``[retrain]`` section, bundles, a monitoring result and
rows; :meth:`propensity.project.Project.retrain` runs them with the registry around.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from propensity.monitoring.drift import LEVELS
from propensity.spec import RetrainSection

if TYPE_CHECKING:
    from propensity.modeling.bundle import Bundle
    from propensity.modeling.manifest import BundleManifest

__all__ = ["decision", "judge", "needs_monitoring", "triggers"]


def needs_monitoring(spec: RetrainSection) -> bool:
    """Whether any trigger reads a monitoring result (drift or realized outcomes)."""
    return spec.on_drift != "never" or spec.on_outcomes != "never" or spec.auc_floor is not None


def triggers(
    spec: RetrainSection, manifest: BundleManifest, monitored: dict[str, Any] | None
) -> list[str]:
    """Why a retrain is due, in words (empty: it is not).

    Parameters
    ----------
    spec
        The ``[retrain]`` section.
    manifest
        The champion's bundle manifest (its age).
    monitored
        The champion's :func:`~propensity.monitoring.check.monitor` result, or None when
        :func:`needs_monitoring` says no trigger reads one.
    """
    found = []
    if spec.max_age is not None and manifest.created_at:
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(manifest.created_at)
        if age.days >= spec.max_age.days:
            found.append(f"the model is {age.days} days old (max_age {spec.max_age})")
    if monitored is None:
        return found
    drift = monitored["drift"]["verdict"]
    if _reaches(drift, spec.on_drift):
        found.append(f"drift says {drift} (on_drift {spec.on_drift})")
    for run in monitored["realized"]:
        if not run["current"]:  # scored by another model
            continue
        if _reaches(run["verdict"], spec.on_outcomes):
            failed = ", ".join(k for k, v in run["checks"].items() if v != "ok")
            found.append(
                f"the outcomes of the run as of {run['as_of']} say {run['verdict']} "
                f"({failed}; on_outcomes {spec.on_outcomes})"
            )
        auc = run["realized"]["roc_auc"]
        if spec.auc_floor is not None and auc < spec.auc_floor:
            found.append(
                f"realized ROC-AUC {auc:.4f} of the run as of {run['as_of']} is below "
                f"auc_floor {spec.auc_floor}"
            )
    return found


def _reaches(verdict: str, level: str) -> bool:
    """Whether a verdict is at or above a trigger level ("never" is never reached)."""
    return level != "never" and LEVELS.index(verdict) >= LEVELS.index(level)


def judge(
    champion: Bundle, holdout: pd.DataFrame, rows: pd.DataFrame, key: str, spec: RetrainSection
) -> dict[str, Any]:
    """Judge both models on ``rows``, the labelled rows of the challenger's test cutoff.

    The challenger by its own out-of-sample backtest scores there (``holdout``, its
    bundle's test round), the champion by scoring the rows now. Returns the figures, the
    margins, whether the champion learned from that cutoff (``champion_in_sample``),
    ``promoted`` and, when promoted, ``why``.
    """
    from propensity.modeling.metrics import log_loss, roc_auc_score

    cutoff = holdout["cutoff"].iloc[0]
    day = cutoff.date() if hasattr(cutoff, "date") else cutoff
    rows = rows[rows["label"].notna()].reset_index(drop=True)
    y = rows["label"].to_numpy(dtype=float)
    champion_p = champion.predict(rows)
    order = (
        rows[[key]]
        .astype(str)
        .merge(holdout.assign(**{key: holdout[key].astype(str)}), on=key, how="left")
    )
    challenger_p = order["score"].to_numpy(dtype=float)
    figures = {
        "champion_roc_auc": roc_auc_score(y, champion_p),
        "challenger_roc_auc": roc_auc_score(y, challenger_p),
        "champion_log_loss": log_loss(y, champion_p),
        "challenger_log_loss": log_loss(y, challenger_p),
    }
    trained_to = champion.info.last_cutoff
    in_sample = bool(trained_to and str(day) <= str(trained_to))
    why_better = _better(figures, spec.margin, spec.log_loss_margin)
    return {
        "cutoff": str(day),
        "customers": len(rows),
        **figures,
        "margin": spec.margin,
        "log_loss_margin": spec.log_loss_margin,
        "champion_in_sample": in_sample,
        "promoted": bool(not in_sample and why_better),
        "why": why_better,
    }


def decision(champion: str, challenger: str, judged: dict[str, Any]) -> str:
    """The decision :func:`judge` came to, in words."""
    day = judged["cutoff"]
    if judged["promoted"]:
        return f"promoted {challenger}: {judged['why']} on {day}"
    if judged["champion_in_sample"]:
        return (
            f"kept {champion}: it was trained on {day}, the latest labelled cutoff, so it "
            "would be judged on outcomes it learned from; retrain once newer outcomes have "
            "arrived, or promote the challenger by hand (`propensity promote`)"
        )
    return (
        f"kept {champion}: on {day} the challenger's ROC-AUC is "
        f"{judged['challenger_roc_auc']:.4f} against {judged['champion_roc_auc']:.4f} "
        f"and its log loss {judged['challenger_log_loss']:.4f} against "
        f"{judged['champion_log_loss']:.4f}: not better by the margins"
    )


def _better(figures: dict[str, float], margin: float, log_loss_margin: float) -> str | None:
    """Why the challenger is better, in words, or None.

    Better ranks better by ``margin`` of ROC-AUC; or ranks as well (within ``margin``)
    with a log loss lower by ``log_loss_margin``: its probabilities are closer to the
    outcomes, which is what expected values and capacity cuts are made of.
    """
    auc = figures["challenger_roc_auc"], figures["champion_roc_auc"]
    loss = figures["challenger_log_loss"], figures["champion_log_loss"]
    if not all(np.isfinite(v) for v in (*auc, *loss)):
        return None
    if auc[0] >= auc[1] + margin:
        return f"ROC-AUC {auc[0]:.4f} against {auc[1]:.4f} (margin {margin})"
    if auc[0] >= auc[1] - margin and loss[0] <= loss[1] - log_loss_margin:
        return (
            f"log loss {loss[0]:.4f} against {loss[1]:.4f} (margin {log_loss_margin}) with "
            f"ROC-AUC {auc[0]:.4f} against {auc[1]:.4f}"
        )
    return None
