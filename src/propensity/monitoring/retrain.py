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
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np

from propensity._io import atomic_path
from propensity.errors import DataError
from propensity.monitoring.drift import LEVELS
from propensity.registry import PRODUCTION, Registry

if TYPE_CHECKING:
    from propensity.project import Project

__all__ = ["retrain", "triggers"]


def triggers(project: Project, champion: str, manifest: dict[str, Any]) -> list[str]:
    """Why a retrain is due, in words (empty: it is not); ``manifest`` is the champion's."""
    spec = project.spec.retrain
    found = []
    if spec.max_age is not None and manifest.get("created_at"):
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(manifest["created_at"])
        if age.days >= spec.max_age.days:
            found.append(f"the model is {age.days} days old (max_age {spec.max_age})")
    if spec.on_drift != "never" or spec.on_outcomes != "never" or spec.auc_floor is not None:
        result = project.monitor(None, champion)
        drift = result["drift"]["verdict"]
        if _reaches(drift, spec.on_drift):
            found.append(f"drift says {drift} (on_drift {spec.on_drift})")
        for run in result["realized"]:
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


def retrain(project: Project, *, force: bool = False) -> dict[str, Any]:
    """Check the triggers, train a challenger, compare, promote only when it is better."""
    from propensity.modeling.metrics import log_loss, roc_auc_score
    from propensity.modeling.training import read_frame

    registry = Registry(project.workspace)
    champion = registry.serving()
    if champion is None:
        raise DataError("retrain: no model yet; run `propensity train` first")
    old = project.load_bundle(champion, verb="retrain")
    why = triggers(project, champion, old.manifest)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record: dict[str, Any] = {"at": now, "champion": champion, "triggers": why, "forced": force}
    if not why and not force:
        record["decision"] = "no trigger: nothing retrained"
        return _write(project, record)
    if project.spec.target is None or project.spec.target.kind == "amount":
        raise DataError("retrain: compares yes/no models by ROC-AUC; amount targets are not yet")
    if registry.alias(PRODUCTION) is None:
        # with no production alias the latest bundle serves; pin the champion first, or the
        # challenger would serve as soon as it is written, whatever the comparison says
        registry.move(
            PRODUCTION,
            champion,
            reason="retrain: the model serving when the challenger was trained",
            who="retrain",
        )
    trained = project.train()
    challenger = trained.bundle.name
    registry.move("challenger", challenger, reason="retrain: " + ("; ".join(why) or "forced"))
    new = project.load_bundle(challenger, verb="retrain")
    holdout = new.holdout()
    cutoff = holdout["cutoff"].iloc[0]
    day = cutoff.date() if hasattr(cutoff, "date") else cutoff
    key = project.spec.entity.key
    rows = read_frame(project.frame_path, key, cutoff=day)
    rows = rows[rows["label"].notna()].reset_index(drop=True)
    y = rows["label"].to_numpy(dtype=float)
    champion_p = old.predict(rows)
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
    trained_to = (old.manifest.get("training_window") or {}).get("last_cutoff")
    in_sample = bool(trained_to and str(day) <= str(trained_to))
    why_better = _better(figures, project.spec.retrain.margin, project.spec.retrain.log_loss_margin)
    better = bool(not in_sample and why_better)
    record.update(
        challenger=challenger,
        cutoff=str(day),
        customers=len(rows),
        **figures,
        margin=project.spec.retrain.margin,
        log_loss_margin=project.spec.retrain.log_loss_margin,
        champion_in_sample=in_sample,
        promoted=better,
    )
    if better:
        registry.move(
            PRODUCTION, challenger, reason=f"retrain: {why_better} on {day}", who="retrain"
        )
        record["decision"] = f"promoted {challenger}: {why_better} on {day}"
    elif in_sample:
        record["decision"] = (
            f"kept {champion}: it was trained on {day}, the latest labelled cutoff, so it "
            "would be judged on outcomes it learned from; retrain once newer outcomes have "
            "arrived, or promote the challenger by hand (`propensity promote`)"
        )
    else:
        record["decision"] = (
            f"kept {champion}: on {day} the challenger's ROC-AUC is "
            f"{figures['challenger_roc_auc']:.4f} against {figures['champion_roc_auc']:.4f} "
            f"and its log loss {figures['challenger_log_loss']:.4f} against "
            f"{figures['champion_log_loss']:.4f}: not better by the margins"
        )
    return _write(project, record)


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


def _write(project: Project, record: dict[str, Any]) -> dict[str, Any]:
    stamp = record["at"].replace(":", "").replace("-", "")
    path = project.workspace / "retrain" / f"{stamp}.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return {**record, "path": str(path)}
