"""``propensity monitor``: the population at a date and the outcomes that have arrived.

Two questions, answered from the data alone:

- does the population the model now scores look like the one it was judged on? (feature
  drift, score drift and size, against the bundle's reference);
- for every past ``score`` run whose label window has closed by the date, how good were
  the scores, now that the outcomes are known? (ROC-AUC, calibration and lift as realized,
  against what the backtest promised on its test cutoff: a ranking that got worse, or
  probabilities that no longer match the outcome rates, warn or alert).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from propensity._io import atomic_path
from propensity.engine import Engine
from propensity.errors import DataError
from propensity.modeling.manifest import BundleManifest
from propensity.monitoring.drift import Thresholds, compare, verdict, worst
from propensity.snapshots.frame import plan_at, plan_frame
from propensity.sources.reading import open_sources
from propensity.spec import MonitorSection, Spec
from propensity.store import connect
from propensity.workspace import ScoreRuns, Workspace

if TYPE_CHECKING:
    from propensity.modeling.bundle import Bundle

__all__ = ["monitor", "overall", "rate_shift"]


def _thresholds(m: MonitorSection) -> Thresholds:
    return Thresholds(
        psi_warn=m.psi_warn,
        psi_alert=m.psi_alert,
        missing_warn=m.missing_warn,
        missing_alert=m.missing_alert,
        size_warn=m.size_warn,
        size_alert=m.size_alert,
    )


def monitor(
    spec: Spec, root: Path, workspace: Path, model: Bundle, as_of: dt.date | None
) -> dict[str, Any]:
    """Drift at ``as_of`` (default: the day after the last event) and realized performance.

    Parameters
    ----------
    spec
        The project's spec: its sources, target, population and ``[monitor]`` thresholds.
    root
        The folder the spec's source paths are relative to.
    workspace
        The project's workspace (``.propensity/``): its score runs and scratch space.
    model
        The bundle judged: its reference profile and promised test figures.
    as_of
        The date the population is taken at; None: the day after the last event.

    Returns
    -------
    dict
        ``as_of``, ``bundle``, ``verdict``, ``drift`` and ``realized`` (one entry per past
        score run whose label window has closed). Writing it (JSON and page) is the
        caller's.
    """
    if spec.table_mode or spec.target is None:
        raise DataError(
            "monitor: this project has no time (one table) or no target; monitoring compares "
            "populations at dates and outcomes that arrive later"
        )
    reference = json.loads((model.path / "reference.json").read_text())
    key = spec.entity.key
    horizon = dt.timedelta(days=spec.target.horizon.days)
    engine = Engine(spec.engine, Workspace(workspace).tmp)
    try:
        sources = open_sources(engine, spec, root)
        plan = plan_at(engine, spec, sources, as_of)
        as_of, end = plan.cutoffs[0], plan.observed_end + dt.timedelta(days=1)
        with atomic_path(Workspace(workspace).tmp / "monitor_features.parquet") as tmp:
            engine.write_parquet(plan.expr, tmp)
            frame = pd.read_parquet(tmp)
        if not len(frame):
            raise DataError(f"monitor: no customer is eligible on {as_of}")
        frame = model.prepare(frame)
        scores = model.predict(frame)
        drift = compare(frame, scores, reference, _thresholds(spec.monitor))
        realized = _realized(spec, workspace, engine, sources, min(as_of, end), horizon, key)
    finally:
        engine.close()
    return {
        "as_of": str(as_of),
        "bundle": model.path.name,
        "verdict": overall(drift["verdict"], realized, model.path.name),
        "drift": drift,
        "realized": realized,
    }


def _realized(
    spec: Spec,
    workspace: Path,
    engine: Engine,
    sources: dict[str, Any],
    closed_by: dt.date,
    horizon: dt.timedelta,
    key: str,
) -> list[dict[str, Any]]:
    """Each past score run whose label window ends by ``closed_by``, joined to its outcomes."""
    from propensity.modeling.metrics import classification_report

    con = connect(workspace)
    runs = ScoreRuns(con, workspace)
    try:
        closed = runs.closed_by(closed_by, horizon)
    finally:
        con.close()
    if not closed:
        return []
    # the outcomes of every closed run's date, in one pass over the data
    days = [dt.date.fromisoformat(str(run.as_of)) for run in closed]
    plan = plan_frame(engine, spec, sources, cutoffs=days, with_features=False)
    outcomes = engine.to_pandas(plan.expr.select(key, "cutoff", "label"))
    outcomes = outcomes[outcomes["label"].notna()]
    outcomes[key] = outcomes[key].astype(str)
    outcomes["cutoff"] = pd.to_datetime(outcomes["cutoff"]).dt.date
    by_day = {day: rows[[key, "label"]] for day, rows in outcomes.groupby("cutoff")}
    thresholds = spec.monitor
    out = []
    for run, day in zip(closed, days, strict=True):
        version, column, as_of_text = run.bundle, run.score_column, str(run.as_of)
        labels = by_day.get(day, pd.DataFrame(columns=[key, "label"]))
        scored = pd.read_parquet(runs.path(run), columns=[key, column])
        scored[key] = scored[key].astype(str)
        joined = scored.merge(labels, on=key, how="inner")
        if len(joined) < 20 or joined["label"].nunique() < 2:
            continue
        y = joined["label"].to_numpy(dtype=float)
        p = joined[column].to_numpy(dtype=float)
        report = classification_report(y, p)
        manifest = _manifest(Workspace(workspace).bundle(version))
        promised = {} if manifest is None else dict(manifest.test)
        trained_to = None if manifest is None else manifest.last_cutoff
        drop = (promised.get("roc_auc") or np.nan) - report["roc_auc"]
        rise = report["ece"] - (promised.get("ece") or np.nan)
        shift, z = rate_shift(y, p)
        checks = {
            "roc_auc": verdict(float(drop), thresholds.auc_drop_warn, thresholds.auc_drop_alert),
            "ece": verdict(float(rise), thresholds.ece_rise_warn, thresholds.ece_rise_alert),
            "rate": verdict(abs(shift), thresholds.rate_shift_warn, thresholds.rate_shift_alert)
            if abs(z) >= 3.0
            else "ok",
        }
        out.append(
            {
                "run": run.id,
                "scored_at": run.at,
                "as_of": as_of_text,
                "bundle": version,
                "customers": len(joined),
                "outcome_rate": float(y.mean()),
                "mean_score": float(p.mean()),
                "realized": {k: report[k] for k in ("roc_auc", "log_loss", "ece", "lift_top10")},
                "promised": {
                    k: promised.get(k) for k in ("roc_auc", "log_loss", "ece", "lift_top10")
                },
                "roc_auc_drop": float(drop),
                "ece_rise": float(rise),
                "rate_shift": shift,
                "rate_z": z,
                # scored at a date the model learned from: the outcomes are not news to it
                "in_sample": bool(trained_to and as_of_text <= str(trained_to)),
                "checks": checks,
                "verdict": worst(list(checks.values())),
            }
        )
    return out


def overall(drift: str, realized: list[dict[str, Any]], bundle: str) -> str:
    """The verdict of ``bundle``: the worst of the drift and of its own realized runs.

    Marks each run ``current`` (scored by ``bundle``); runs of other (earlier) models stay
    on record but no longer judge this one.
    """
    for run in realized:
        run["current"] = run["bundle"] == bundle
    return worst([drift, *(r["verdict"] for r in realized if r["current"])])


def rate_shift(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration in the large: the outcome rate against the mean score.

    Returns the shift in log-odds (positive: more outcomes than the scores said) and
    how many standard errors the count of outcomes lies from the sum of the scores (a
    z-score: with independent outcomes of those probabilities, beyond 3 is not chance).
    """
    eps = 1e-6
    observed = float(np.clip(y.mean(), eps, 1 - eps))
    expected = float(np.clip(p.mean(), eps, 1 - eps))
    shift = float(np.log(observed / (1 - observed)) - np.log(expected / (1 - expected)))
    spread = float(np.sqrt(np.sum(p * (1 - p))))
    z = float((y.sum() - p.sum()) / spread) if spread > 0 else 0.0
    return shift, z


def _manifest(folder: Path) -> BundleManifest | None:
    """A scored version's manifest (None once the bundle is gone or unreadable)."""
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        return BundleManifest.model_validate(json.loads(path.read_text()))
    except (ValueError, TypeError):  # a damaged manifest: judged without promises
        return None
