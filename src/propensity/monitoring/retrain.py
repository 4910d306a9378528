"""``propensity retrain``: a challenger trained on the latest data, promoted only if better.

The triggers (``[retrain]``) are checked first unless forced: monitoring's verdict, a
realized ROC-AUC below a floor, the production model's age. The challenger is trained as
``train`` always does; both models are then judged on the same rows, the latest labelled
cutoff: the challenger by its own backtest scores there (out of sample: its test round),
the champion by scoring those rows now. The challenger becomes production only when its
ROC-AUC is higher by ``[retrain] margin`` and the champion did not learn from that cutoff
(it would be judged in sample, with an unfair advantage); the decision and the figures
are written to ``.propensity/retrain/`` and the registry's history either way.
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
    if spec.on_drift != "never" or spec.auc_floor is not None:
        result = project.monitor(None, champion)
        if spec.on_drift != "never" and LEVELS.index(result["verdict"]) >= LEVELS.index(
            spec.on_drift
        ):
            found.append(f"monitoring says {result['verdict']} (on_drift {spec.on_drift})")
        if spec.auc_floor is not None:
            for run in result["realized"]:
                auc = run["realized"]["roc_auc"]
                if auc < spec.auc_floor:
                    found.append(
                        f"realized ROC-AUC {auc:.4f} of the run as of {run['as_of']} is below "
                        f"auc_floor {spec.auc_floor}"
                    )
    return found


def retrain(project: Project, *, force: bool = False) -> dict[str, Any]:
    """Check the triggers, train a challenger, compare, promote only when it is better."""
    from propensity.modeling.metrics import roc_auc_score
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
    champion_auc = roc_auc_score(y, old.predict(rows))
    order = (
        rows[[key]]
        .astype(str)
        .merge(holdout.assign(**{key: holdout[key].astype(str)}), on=key, how="left")
    )
    challenger_auc = roc_auc_score(y, order["score"].to_numpy(dtype=float))
    trained_to = (old.manifest.get("training_window") or {}).get("last_cutoff")
    margin = project.spec.retrain.margin
    in_sample = bool(trained_to and str(day) <= str(trained_to))
    better = bool(
        not in_sample and np.isfinite(challenger_auc) and challenger_auc >= champion_auc + margin
    )
    record.update(
        challenger=challenger,
        cutoff=str(day),
        customers=len(rows),
        champion_roc_auc=champion_auc,
        challenger_roc_auc=challenger_auc,
        margin=margin,
        champion_in_sample=in_sample,
        promoted=better,
    )
    if better:
        reason = (
            f"retrain: challenger ROC-AUC {challenger_auc:.4f} vs champion "
            f"{champion_auc:.4f} on {day} (margin {margin})"
        )
        registry.move(PRODUCTION, challenger, reason=reason, who="retrain")
        record["decision"] = f"promoted {challenger}"
    elif in_sample:
        record["decision"] = (
            f"kept {champion}: it was trained on {day}, the latest labelled cutoff, so it "
            "would be judged on outcomes it learned from; retrain once newer outcomes have "
            "arrived, or promote the challenger by hand (`propensity promote`)"
        )
    else:
        record["decision"] = f"kept {champion}: the challenger is not better by {margin} on {day}"
    return _write(project, record)


def _write(project: Project, record: dict[str, Any]) -> dict[str, Any]:
    stamp = record["at"].replace(":", "").replace("-", "")
    path = project.workspace / "retrain" / f"{stamp}.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return {**record, "path": str(path)}
