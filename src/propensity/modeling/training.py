"""Training: backtest the candidates, pick one, calibrate it, refit it, save a bundle."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError, SpecError
from propensity.modeling.backtest import Fold, rolling_folds
from propensity.modeling.bundle import reference_profile, save_bundle
from propensity.modeling.calibration import choose_calibrator
from propensity.modeling.candidates import (
    BGNBDCandidate,
    Candidate,
    LightGBMCandidate,
    LogisticCandidate,
    PriorCandidate,
    RecencyCandidate,
    feature_columns,
)
from propensity.modeling.evaluate import FoldResult, evaluate, fold_frames
from propensity.modeling.metrics import classification_report
from propensity.spec import Spec

__all__ = ["TrainResult", "default_candidates", "train_frame"]

log = logging.getLogger(__name__)

LOSSES = {"log_loss", "brier", "ece"}
KNOWN = ("prior", "recency", "bgnbd", "logistic", "lightgbm")
_PACKAGES = ("propensity", "numpy", "pandas", "scikit-learn", "lightgbm", "scipy", "duckdb")


@dataclass(frozen=True)
class TrainResult:
    """The leaderboard, the choice and where the bundle went."""

    bundle: Path
    chosen: str
    reason: str
    leaderboard: list[dict[str, Any]]
    calibration: dict[str, Any]
    test: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``train --json`` prints)."""
        return {
            "bundle": str(self.bundle),
            "chosen": self.chosen,
            "reason": self.reason,
            "leaderboard": self.leaderboard,
            "calibration": self.calibration,
            "test": self.test,
        }


def default_candidates(spec: Spec, frame: pd.DataFrame) -> list[Candidate]:
    """The candidates that fit this project, filtered by ``[train] candidates``."""
    if spec.target is None:
        raise SpecError("target: training needs a target (table mode is not supported yet)")
    key = spec.entity.key
    source = spec.target.source
    recency = f"{source}_days_since_last"
    made: dict[str, Candidate] = {"prior": PriorCandidate(key=key)}
    if recency in frame.columns:
        made["recency"] = RecencyCandidate(key=key, column=recency)
    if spec.target.kind == "inactivity" and f"{source}_active_days_all" in frame.columns:
        made["bgnbd"] = BGNBDCandidate(key=key, source=source, horizon=spec.target.horizon.days)
    made["logistic"] = LogisticCandidate(key=key, seed=spec.train.seed)
    made["lightgbm"] = LightGBMCandidate(key=key, seed=spec.train.seed)
    wanted = spec.train.candidates
    if wanted is None:
        return list(made.values())
    unknown = [w for w in wanted if w not in KNOWN]
    if unknown:
        raise SpecError(
            f"train.candidates: {', '.join(map(repr, unknown))} unknown; choose from "
            f"{', '.join(KNOWN)}"
        )
    return [made[w] for w in wanted if w in made]


def train_frame(
    spec: Spec,
    frame: pd.DataFrame,
    bundles: Path,
    *,
    frame_sha256: str = "",
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Backtest, choose, calibrate, refit on every labelled cutoff, and save a bundle.

    Parameters
    ----------
    spec
        The project.
    frame
        The point-in-time frame (``build``'s output).
    bundles
        The folder that receives the new bundle.
    frame_sha256
        The frame's fingerprint, recorded in the manifest.
    progress
        Called with a short description of each step.
    """
    say = progress or (lambda _m: None)
    if spec.target is None:
        raise SpecError("target: training needs a target (table mode is not supported yet)")
    if spec.target.kind == "amount":
        raise SpecError("target.kind: training amount targets is not supported yet")
    horizon = spec.target.horizon.days
    gap = spec.backtest.gap.days if spec.backtest.gap else 0
    frame = frame.copy()
    frame["cutoff"] = pd.to_datetime(frame["cutoff"]).dt.date
    labeled = frame[frame["label"].notna()]
    if labeled["label"].nunique() < 2:
        raise DataError("train: every labelled row has the same label; there is nothing to learn")
    cutoffs = sorted(labeled["cutoff"].unique())
    split = rolling_folds(cutoffs, horizon, folds=spec.backtest.folds, gap_days=gap)
    candidates = default_candidates(spec, frame)
    results = evaluate(candidates, labeled, split, horizon + gap, lambda c, v: say(f"{c} on {v}"))
    metric = spec.train.metric
    board = _leaderboard(candidates, results, metric, str(split.test.valid))
    chosen, reason = _choose(board, candidates, metric, spec.train.tolerance)
    say(f"calibrating {chosen.name}")
    last = str(split.folds[-1].valid)
    valid_scores = next(r for r in results if r.candidate == chosen.name and r.valid == last)
    valid_y = labeled[labeled["cutoff"].astype(str) == last]["label"].to_numpy(float)
    calibrator, calibration = choose_calibrator(valid_scores.predictions, valid_y)
    test_scores = next(
        r for r in results if r.candidate == chosen.name and r.valid == str(split.test.valid)
    )
    test_y = labeled[labeled["cutoff"] == split.test.valid]["label"].to_numpy(float)
    calibrated = calibrator.predict(test_scores.predictions)
    test = classification_report(test_y, calibrated)
    say(f"refitting {chosen.name} on every labelled cutoff")
    # size the model on the latest cutoff no other training window reaches, then learn from
    # every labelled cutoff with that size
    everything = Fold(tuple(cutoffs), cutoffs[-1] + dt.timedelta(days=horizon + gap))
    train, valid, _ = fold_frames(labeled, everything, horizon + gap)
    chosen.fit(train, valid)
    if isinstance(chosen, LightGBMCandidate):
        chosen.rounds = chosen.rounds_
    chosen.fit(labeled)
    features = feature_columns(frame, spec.entity.key)
    latest = labeled[labeled["cutoff"] == cutoffs[-1]]
    reference = reference_profile(latest, features, calibrator.predict(chosen.predict(latest)))
    now = dt.datetime.now(dt.UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    info = {
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "spec_hash": spec.spec_hash(),
        "frame_sha256": frame_sha256,
        "target": spec.target.model_dump(mode="json"),
        "key": spec.entity.key,
        "training_window": {"first_cutoff": str(cutoffs[0]), "last_cutoff": str(cutoffs[-1])},
        "features": _schema(frame, features),
        "chosen": chosen.name,
        "reason": reason,
        "leaderboard": board,
        "calibration": calibration,
        "test": test,
        "packages": _versions(),
    }
    say("saving the bundle")
    path = save_bundle(bundles / version, chosen, calibrator, info, reference)
    (bundles / "LATEST").write_text(version + "\n")
    return TrainResult(path, chosen.name, reason, board, calibration, test)


def _leaderboard(
    candidates: list[Candidate], results: list[FoldResult], metric: str, test_valid: str
) -> list[dict[str, Any]]:
    board = []
    for candidate in candidates:
        mine = [r for r in results if r.candidate == candidate.name]
        folds = [r for r in mine if r.valid != test_valid]
        values = [r.metrics[metric] for r in folds if metric in r.metrics]
        if not values:
            raise SpecError(
                f"train.metric: {metric!r} is not a metric; choose from "
                f"{', '.join(sorted(mine[0].metrics))}"
            )
        test = next(r for r in mine if r.valid == test_valid)
        board.append(
            {
                "candidate": candidate.name,
                "complexity": candidate.complexity,
                "metric": metric,
                "mean": float(np.mean(values)),
                "std": float(np.std(values)),
                "folds": {r.valid: r.metrics for r in folds},
                "test": test.metrics,
                "seconds": round(sum(r.seconds for r in mine), 2),
            }
        )
    return board


def _choose(
    board: list[dict[str, Any]], candidates: list[Candidate], metric: str, tolerance: float
) -> tuple[Candidate, str]:
    sign = -1.0 if metric in LOSSES else 1.0
    best = max(board, key=lambda row: sign * row["mean"])
    close = [row for row in board if sign * (best["mean"] - row["mean"]) <= tolerance]
    simplest = min(close, key=lambda row: row["complexity"])
    if simplest is best:
        reason = f"best mean {metric} over the validation folds ({best['mean']:.4f})"
    else:
        reason = (
            f"{simplest['candidate']} ({simplest['mean']:.4f}) is within {tolerance} of the best, "
            f"{best['candidate']} ({best['mean']:.4f}), and simpler"
        )
    chosen = next(c for c in candidates if c.name == simplest["candidate"])
    return chosen, reason


def _schema(frame: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    out = []
    for col in features:
        entry: dict[str, Any] = {"name": col, "dtype": str(frame[col].dtype)}
        if not pd.api.types.is_numeric_dtype(frame[col]):
            entry["levels"] = sorted(frame[col].dropna().astype(str).unique().tolist())[:1000]
        out.append(entry)
    return out


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
