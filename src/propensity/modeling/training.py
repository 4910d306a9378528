"""Training: backtest the candidates, pick one, calibrate it, refit it, save a bundle."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError, SpecError
from propensity.modeling.backtest import Fold, rolling_folds
from propensity.modeling.bundle import reference_profile, save_bundle
from propensity.modeling.calibration import Calibrator, NoCalibration, choose_calibrator
from propensity.modeling.candidates import (
    Candidate,
    LightGBMCandidate,
    Setting,
    candidate_class,
    candidate_names,
    compact,
    feature_columns,
)
from propensity.modeling.candidates.ensemble import (
    MEMBERS,
    EnsembleCandidate,
    blend,
    learn_weights,
)
from propensity.modeling.derived import (
    add_derived,
    derived_columns,
    freeze_derived,
    plan_derived,
)
from propensity.modeling.evaluate import (
    FoldResult,
    Round,
    cutoff_dates,
    fold_positions,
    holdout_rounds,
    run_rounds,
    sample_positions,
    sample_rows,
    time_rounds,
)
from propensity.modeling.metrics import classification_report, regression_report
from propensity.snapshots.features import FeatureInfo
from propensity.snapshots.reading import read_frame
from propensity.spec import Spec
from propensity.workspace import Workspace

__all__ = [
    "TrainResult",
    "default_candidates",
    "metric_of",
    "read_frame",
    "task_of",
    "train_frame",
]

log = logging.getLogger(__name__)

LOSSES = {"log_loss", "brier", "ece", "mae", "rmse"}
#: metrics in the target's own units: their tolerance is relative to the best value
RELATIVE = {"mae", "rmse"}
_PACKAGES = (
    "propensity",
    "numpy",
    "pandas",
    "scikit-learn",
    "lightgbm",
    "scipy",
    "duckdb",
    "tensorflow-cpu",
    "keras",
)
TABLE_WARNING = (
    "table mode: the holdout is drawn at random, not by time, so a row may be judged by a "
    "model that learned from later rows; expect the figures to be optimistic if the "
    "customers change over time"
)


@dataclass(frozen=True)
class TrainResult:
    """The leaderboard, the choice and where the bundle went."""

    bundle: Path
    chosen: str
    reason: str
    leaderboard: list[dict[str, Any]]
    calibration: dict[str, Any]
    test: dict[str, float]
    task: str = "binary"
    metric: str = "roc_auc"
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    tuning: dict[str, Any] | None = None
    seconds: float = 0.0
    #: what each choice rule would have picked, and its regret on the test round
    rules: list[dict[str, Any]] = field(default_factory=list)
    #: how the rows were split (time mode: cutoffs, the fallback step and its note)
    split: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``train --json`` prints)."""
        return {
            "bundle": str(self.bundle),
            "task": self.task,
            "metric": self.metric,
            "chosen": self.chosen,
            "reason": self.reason,
            "leaderboard": self.leaderboard,
            "rules": self.rules,
            "split": self.split,
            "skipped": self.skipped,
            "calibration": self.calibration,
            "test": self.test,
            "tuning": self.tuning,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 2),
        }


def task_of(spec: Spec) -> str:
    """``regression`` for amount targets, else ``binary`` (table mode labels are yes/no)."""
    return "regression" if spec.target is not None and spec.target.kind == "amount" else "binary"


def metric_of(spec: Spec, task: str) -> str:
    """The metric that picks the winner, checked against the task's metrics."""
    known = (
        sorted(classification_report([0, 1], [0.2, 0.8]))
        if task == "binary"
        else sorted(regression_report([0.0, 1.0], [0.0, 1.0]))
    )
    known = [m for m in known if m != "base_rate"]  # the same for every candidate
    metric = spec.train.metric or ("roc_auc" if task == "binary" else "rmse")
    if metric not in known:
        kind = "yes/no" if task == "binary" else "amount"
        raise SpecError(
            f"train.metric: {metric!r} is not a metric of {kind} targets; choose from "
            f"{', '.join(known)}"
        )
    return metric


def default_candidates(
    spec: Spec, frame: pd.DataFrame, task: str | None = None
) -> tuple[list[Candidate], dict[str, str]]:
    """The candidates that fit this project, filtered by ``[train] candidates``.

    Returns the candidates and, for each one left out, why.
    """
    task = task or task_of(spec)
    target = spec.target
    setting = Setting(
        key=spec.entity.key,
        task=task,
        seed=spec.train.seed,
        threads=spec.engine.thread_count(),
        columns=frozenset(frame.columns),
        target_kind=None if target is None else target.kind,
        source=None if target is None else target.source,
        horizon=0.0 if target is None else float(target.horizon.days),
    )
    known = candidate_names(task)
    made: dict[str, Candidate] = {}
    skipped: dict[str, str] = {}
    for name in known:
        found = candidate_class(name).make(setting)
        if isinstance(found, str):
            skipped[name] = found
        else:
            made[name] = found
    wanted = spec.train.candidates
    if wanted is None:
        optional = [n for n, c in made.items() if not type(c).by_default]
        for name in optional:
            skipped[name] = "an option: list it in train.candidates to run it"
        return [c for n, c in made.items() if n not in optional], skipped
    unknown = [w for w in wanted if w not in known]
    if unknown:
        kind = "yes/no" if task == "binary" else "amount"
        raise SpecError(
            f"train.candidates: {', '.join(map(repr, unknown))} unknown for {kind} targets; "
            f"choose from {', '.join(known)}"
        )
    chosen = [made[w] for w in wanted if w in made]
    if not chosen:
        raise SpecError(
            f"train.candidates: none of {', '.join(wanted)} can run here "
            f"({'; '.join(f'{k}: {v}' for k, v in skipped.items() if k in wanted)})"
        )
    return chosen, {k: v for k, v in skipped.items() if k in wanted}


def train_frame(
    spec: Spec,
    frame: pd.DataFrame,
    workspace: Workspace,
    *,
    frame_sha256: str = "",
    feature_info: Mapping[str, FeatureInfo] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Backtest, choose, calibrate, refit on every labelled row, and save a bundle.

    Parameters
    ----------
    spec
        The project.
    frame
        The point-in-time frame (``build``'s output).
    workspace
        The workspace whose registry receives the new bundle (and its "latest" pointer).
    frame_sha256
        The frame's fingerprint, recorded in the manifest.
    feature_info
        What each feature means (the frame manifest's), recorded in the bundle's.
    progress
        Called with a short description of each step.
    """
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    task = task_of(spec)
    metric = metric_of(spec, task)
    key, seed, max_rows = spec.entity.key, spec.train.seed, spec.train.max_rows
    frame = compact(frame, key)
    horizon = spec.target.horizon.days if spec.target is not None else 0
    source = spec.target.source if spec.target is not None else None
    derived = plan_derived(list(frame.columns), source, horizon)
    if derived:
        say("fitting BG/NBD at every cutoff")
        derived = freeze_derived(frame, derived)
        frame = add_derived(frame, derived)
    has_label = frame["label"].notna().to_numpy()
    # one copy of the rows that can be learned from; rounds hold positions into it
    labeled = frame if has_label.all() else frame[has_label].reset_index(drop=True)
    features = feature_columns(frame, key)
    del frame
    if not len(labeled):
        raise DataError("train: no row has a label; build the frame with labelled cutoffs")
    if task == "binary" and labeled["label"].nunique() < 2:
        raise DataError("train: every labelled row has the same label; there is nothing to learn")
    warnings: list[str] = []
    gap = spec.backtest.gap.days if spec.backtest.gap else 0
    fold_count = spec.backtest.fold_count(len(labeled), table=spec.table_mode)
    if spec.table_mode:
        warnings.append(TABLE_WARNING)
        log.warning(TABLE_WARNING)
        tuning_round, *rounds = holdout_rounds(
            labeled, folds=fold_count, task=task, seed=seed, max_rows=max_rows
        )
        window: dict[str, Any] = {"rows": len(labeled)}
    else:
        days = cutoff_dates(labeled)
        cutoffs = [d.astype(object) for d in np.unique(days)]
        split = rolling_folds(cutoffs, horizon, folds=fold_count, gap_days=gap)
        rounds = time_rounds(labeled, split, horizon + gap, max_rows=max_rows, seed=seed, key=key)
        tuning_round = rounds[0]
        if split.step != "time":  # a short history: the folds hold customers out
            warnings.append(split.note)
            log.warning(split.note)
        window = {
            "first_cutoff": str(cutoffs[0]),
            "last_cutoff": str(cutoffs[-1]),
            "step": split.step,
            "note": split.note,
            "optimistic": split.optimistic,
        }
    candidates, skipped = default_candidates(spec, labeled, task)
    tuning = _tune(spec, candidates, tuning_round, labeled, task, metric, say)
    ensemble, members = _ensemble_of(candidates, skipped)
    fitted = [c for c in candidates if c is not ensemble]
    results = run_rounds(fitted, rounds, labeled, task=task, on_fit=lambda c, v: say(f"{c} on {v}"))
    y = labeled["label"].to_numpy(dtype=float)
    if ensemble is not None:
        say(f"blending {', '.join(m.name for m in members)}")
        found, weights = _blend_rounds(members, rounds, results, y, labeled[key], task)
        results += found
        ensemble = ensemble.with_members(members)
        ensemble.weights_ = weights["final"]
        ensemble.weights_test = weights["test"]
        candidates = [ensemble if c.name == ensemble.name else c for c in candidates]
    test_round = rounds[-1]
    board = _leaderboard(candidates, results, metric, test_round.name, rounds, y)
    if ensemble is not None:
        row = next(r for r in board if r["candidate"] == ensemble.name)
        names = [m.name for m in members]
        row["weights"] = {k: dict(zip(names, w, strict=True)) for k, w in weights.items()}
    chosen, reason = _choose(board, candidates, metric, spec.train.tolerance)
    rules = regret(board, candidates, metric, spec.train.tolerance, chosen.name)
    last = [r for r in rounds if not r.test][-1]
    seasonal = None
    if not spec.table_mode:
        seasonal = _season_round(labeled, test_round, horizon + gap, key, seed, max_rows)
    mine = {r.valid: r.predictions for r in results if r.candidate == chosen.name}
    calibrator: Calibrator
    if task == "binary":
        say(f"calibrating {chosen.name}")
        earlier = [(mine[r.name], y[r.judged]) for r in rounds if not r.test and r is not last]
        calibrator, calibration = choose_calibrator(
            mine[last.name],
            y[last.judged],
            seed=seed,
            history=earlier,
            target=mine[test_round.name],
            season=None if seasonal is None else _season_scores(chosen, seasonal, labeled),
        )
        test = classification_report(
            y[test_round.judged], calibrator.predict(mine[test_round.name])
        )
    else:
        calibrator = NoCalibration()
        calibration = {"method": "none (an amount is not a probability)"}
        test = regression_report(y[test_round.judged], mine[test_round.name])
    say(f"refitting {chosen.name} on every labelled row")
    _refit(chosen, spec, labeled, horizon, seed, max_rows)
    # out of sample: the test round's rows and the calibrated scores the model gave them;
    # in-sample scores of the refit model would be sharper and fake a drift later
    reference = reference_profile(
        labeled.iloc[test_round.judged],
        features,
        calibrator.predict(mine[test_round.name]),
        task=task,
    )
    now = dt.datetime.now(dt.UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    inputs = [f for f in features if f not in derived_columns(derived)]
    info = {
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "spec_hash": spec.spec_hash(),
        "frame_hash": spec.frame_hash(),
        "frame_sha256": frame_sha256,
        "task": task,
        "metric": metric,
        "target": None if spec.target is None else spec.target.model_dump(mode="json"),
        "table_mode": spec.table_mode,
        "key": key,
        "training_window": window,
        "features": _schema(labeled, inputs, feature_info or {}),
        "derived": derived,
        "chosen": chosen.name,
        "reason": reason,
        "leaderboard": board,
        "rules": rules,
        "folds": fold_count,
        "skipped": skipped,
        "calibration": calibration,
        "test": test,
        "tuning": tuning,
        "warnings": warnings,
        "packages": _versions(),
    }
    judged = labeled.iloc[test_round.judged]
    holdout = pd.DataFrame(
        {
            key: judged[key].to_numpy(),
            "cutoff": judged["cutoff"].to_numpy(),
            "label": y[test_round.judged],
            "score": calibrator.predict(mine[test_round.name]),
            "raw": mine[test_round.name],
        }
    )
    say("saving the bundle")
    path = save_bundle(workspace.bundle(version), chosen, calibrator, info, reference, holdout)
    workspace.set_latest(version)
    return TrainResult(
        path,
        chosen.name,
        reason,
        board,
        calibration,
        test,
        task=task,
        metric=metric,
        skipped=skipped,
        warnings=warnings,
        tuning=tuning,
        seconds=time.perf_counter() - started,
        rules=rules,
        split=window,
    )


def _tune(
    spec: Spec,
    candidates: list[Candidate],
    first: Round,
    labeled: pd.DataFrame,
    task: str,
    metric: str,
    say: Callable[[str], None],
) -> dict[str, Any] | None:
    """Tune LightGBM on rows no judged round's outcome depends on.

    In time mode the earliest round: every judged cutoff comes after its label windows. In
    table mode the part of the rows that no round judges.
    """
    trials = spec.train.tune_trials
    index = next((i for i, c in enumerate(candidates) if isinstance(c, LightGBMCandidate)), None)
    if not trials or index is None:
        return None
    _, train, stop, _ = first.frames(labeled)
    if stop is None:
        log.warning("train.tune_trials: no early-stopping rows in the first fold; not tuning")
        return {"skipped": "the first fold has no early-stopping cutoff (too few cutoffs)"}
    from propensity.modeling.tuning import METRICS, tune_lightgbm

    key, seed, threads = spec.entity.key, spec.train.seed, spec.engine.thread_count()
    source = spec.target.source if spec.target is not None else None
    if metric not in METRICS:  # top-k figures are too coarse to steer a search
        metric = "roc_auc" if task == "binary" else "rmse"
    say(f"tuning lightgbm ({trials} trials, at most {spec.train.tune_seconds:.0f} s)")
    result = tune_lightgbm(
        train,
        stop,
        key=key,
        task=task,
        metric=metric,
        trials=trials,
        timeout_s=spec.train.tune_seconds,
        seed=seed,
        make=lambda **kw: LightGBMCandidate(
            key=key, task=task, seed=seed, threads=threads, source=source, **kw
        ),
    )
    candidates[index] = LightGBMCandidate(
        key=key, task=task, seed=seed, threads=threads, source=source, **result.params
    )
    return {
        "trials": result.trials,
        "seconds": round(result.seconds, 2),
        "metric": result.metric,
        "best": result.score,
        "params": result.params,
        "tuned_on": first.name,
    }


def _refit(
    chosen: Candidate,
    spec: Spec,
    labeled: pd.DataFrame,
    horizon: int,
    seed: int,
    max_rows: int,
) -> None:
    """Fit the winner on every labelled row, sized (rounds, epochs) on the latest rows.

    The size is chosen on the latest cutoff, learning from the cutoffs whose label windows
    end by it (time mode; when none does, on a tenth of the customers, learning from the
    others), or on a random tenth (table mode); LightGBM then learns from everything with
    that size. A network keeps its best epoch instead.
    """
    stop: pd.DataFrame | None
    if spec.table_mode:
        rng = np.random.default_rng(seed)
        stop_mask = rng.random(len(labeled)) < 0.1
        inner, stop = labeled[~stop_mask], labeled[stop_mask]
    else:
        gap = spec.backtest.gap.days if spec.backtest.gap else 0
        days = cutoff_dates(labeled)
        last = days.max().astype(object)
        cutoffs = [d.astype(object) for d in np.unique(days)]
        everything = Fold(tuple(cutoffs), last + dt.timedelta(days=horizon + gap))
        keys = labeled[spec.entity.key].to_numpy()
        _, at, found, _ = fold_positions(days, everything, horizon + gap, keys=keys, seed=seed)
        inner = labeled.iloc[at]
        stop = None if found is None else labeled.iloc[found]
    rows = sample_rows(labeled, max_rows, seed)
    inner = sample_rows(inner, max_rows, seed)
    chosen.refit(rows, inner, stop)


def _ensemble_of(
    candidates: list[Candidate], skipped: dict[str, str]
) -> tuple[EnsembleCandidate | None, list[Candidate]]:
    """The ensemble among ``candidates`` and the members it blends (two at least).

    Without two members it is dropped from ``candidates`` and said why in ``skipped``.
    """
    found = next((c for c in candidates if isinstance(c, EnsembleCandidate)), None)
    if found is None:
        return None, []
    members = [c for c in candidates if c.name in MEMBERS]
    if len(members) < 2:
        candidates.remove(found)
        skipped[found.name] = (
            f"blends two or more of {', '.join(MEMBERS)}; {len(members)} of them run here"
        )
        return None, []
    return found, members


#: how far from a year before the test cutoff a cutoff may be to stand for its season
SEASON_DAYS = 16


def _season_round(
    labeled: pd.DataFrame,
    test_round: Round,
    reach: int,
    key: str,
    seed: int,
    max_rows: int | None,
) -> Round | None:
    """The cutoff a year before the test cutoff, with the cutoffs whose labels end by it.

    None when the data has no cutoff within :data:`SEASON_DAYS` of that day, or none
    before it whose label window (``reach`` days, the gap included) ends by it.
    """
    try:
        test = dt.date.fromisoformat(test_round.name)
    except ValueError:
        return None
    days = cutoff_dates(labeled)
    cutoffs = [d.astype(object) for d in np.unique(days)]
    aim = test - dt.timedelta(days=365)
    near = [c for c in cutoffs if abs((c - aim).days) <= SEASON_DAYS]
    if not near:
        return None
    at = min(near, key=lambda c: abs((c - aim).days))
    fold = Fold(tuple(t for t in cutoffs if t + dt.timedelta(days=reach) <= at), at)
    if not fold.train:
        return None
    keys = labeled[key].to_numpy()
    train, inner, stop, judged = fold_positions(days, fold, reach, keys=keys, seed=seed)
    if len(np.unique(labeled["label"].to_numpy()[judged])) < 2:
        return None
    return Round(
        str(at),
        sample_positions(train, max_rows, seed),
        sample_positions(inner, max_rows, seed),
        stop,
        judged,
    )


def _season_scores(
    chosen: Candidate, seasonal: Round, labeled: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """The chosen model's scores on the season round, learned from its earlier cutoffs.

    The ensemble's members learn there and are blended with the test round's weights.
    """
    train, inner, stop, judged = seasonal.frames(labeled)
    y = judged["label"].to_numpy(dtype=float)
    if isinstance(chosen, EnsembleCandidate):
        weights = chosen.weights_test or chosen.weights_ or []
        scores = [m.fit_round(train, inner, stop).predict(judged) for m in chosen.members]
        return blend(scores, weights, chosen.task), y
    return chosen.fit_round(train, inner, stop).predict(judged), y


def _halves(keys: pd.Series) -> np.ndarray:
    """Two customer-disjoint halves of judged rows: a stable hash of the key, per row."""
    hashed = pd.util.hash_pandas_object(keys.reset_index(drop=True), index=False)
    return np.asarray(hashed.to_numpy() % 2 == 0)


def _blend_rounds(
    members: list[Candidate],
    rounds: list[Round],
    results: list[FoldResult],
    y: np.ndarray,
    keys: pd.Series,
    task: str,
) -> tuple[list[FoldResult], dict[str, list[float]]]:
    """The ensemble's judged predictions on every round, from its members' predictions.

    Its weights never see the outcomes they are judged on: on a validation round they
    are learned on one half of the round's customers and judge the other half (both
    ways: no member learned from either); on the test round they are learned on every
    validation round, whose label windows all end by the test cutoff. The saved blend's
    weights are learned on every judged round.
    """
    report = classification_report if task == "binary" else regression_report
    by = {(r.candidate, r.valid): r.predictions for r in results}
    out: list[FoldResult] = []
    pooled: list[list[np.ndarray]] = [[] for _ in members]
    pooled_y: list[np.ndarray] = []
    weights: dict[str, list[float]] = {}
    for rnd in rounds:
        started = time.perf_counter()
        scores = [by[(m.name, rnd.name)] for m in members]
        judged_y = y[rnd.judged]
        if rnd.test:
            w = learn_weights([np.concatenate(p) for p in pooled], np.concatenate(pooled_y), task)
            weights["test"] = w
            p = blend(scores, w, task)
        else:
            p = np.empty(len(judged_y))
            half = _halves(keys.iloc[rnd.judged])
            for fit in (half, ~half):
                if not fit.any() or fit.all():
                    w = [1.0 / len(members)] * len(members)
                else:
                    w = learn_weights([q[fit] for q in scores], judged_y[fit], task)
                p[~fit] = blend([q[~fit] for q in scores], w, task)
        for i, q in enumerate(scores):
            pooled[i].append(q)
        pooled_y.append(judged_y)
        seconds = time.perf_counter() - started
        out.append(FoldResult(EnsembleCandidate.name, rnd.name, report(judged_y, p), seconds, p))
    weights["final"] = learn_weights(
        [np.concatenate(p) for p in pooled], np.concatenate(pooled_y), task
    )
    return out, weights


def _leaderboard(
    candidates: list[Candidate],
    results: list[FoldResult],
    metric: str,
    test_valid: str,
    rounds: list[Round] | None = None,
    y: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Each candidate's figures: per fold, mean and spread, pooled, and on the test round.

    ``pooled`` is the metric over every validation fold's judged rows at once (given the
    rounds and the labels), which weighs the folds by their rows.
    """
    judged = {r.name: r.judged for r in rounds or []}
    board = []
    for candidate in candidates:
        mine = [r for r in results if r.candidate == candidate.name]
        folds = [r for r in mine if r.valid != test_valid]
        values = [r.metrics[metric] for r in folds if metric in r.metrics]
        finite = [v for v in values if np.isfinite(v)]
        if not values:
            raise SpecError(
                f"train.metric: {metric!r} is not a metric; choose from "
                f"{', '.join(sorted(mine[0].metrics))}"
            )
        test = next(r for r in mine if r.valid == test_valid)
        losses = [r.metrics["log_loss"] for r in folds if "log_loss" in r.metrics]
        pooled = float("nan")
        if y is not None and folds and all(r.valid in judged for r in folds):
            labels_ = np.concatenate([y[judged[r.valid]] for r in folds])
            scores = np.concatenate([r.predictions for r in folds])
            report = classification_report if "log_loss" in folds[0].metrics else regression_report
            pooled = float(report(labels_, scores).get(metric, float("nan")))
        board.append(
            {
                "candidate": candidate.name,
                "complexity": candidate.complexity,
                "metric": metric,
                "mean": float(np.mean(finite)) if finite else float("nan"),
                "std": float(np.std(finite)) if finite else float("nan"),
                "pooled": pooled,
                "log_loss": float(np.mean(losses)) if losses else float("nan"),
                "folds_counted": len(finite),
                "folds": {r.valid: r.metrics for r in folds},
                "test": test.metrics,
                "seconds": round(sum(r.seconds for r in mine), 2),
            }
        )
    return board


#: how much worse a candidate's mean validation log loss may be than the best of those
#: close on the metric, and still be preferred for being simpler
LOG_LOSS_SLACK = 0.005


def _pick(
    board: list[dict[str, Any]], metric: str, tolerance: float, weigh_log_loss: bool = True
) -> tuple[dict[str, Any], str]:
    """The rule: best mean metric; within tolerance, the best log loss; then the simplest.

    Ranking alone would pick a simpler model whose probabilities are worse; so among the
    candidates within ``tolerance`` of the best on the metric, those more than
    :data:`LOG_LOSS_SLACK` behind the best mean validation log loss are set aside, and
    the simplest of the rest wins.
    """
    sign = -1.0 if metric in LOSSES else 1.0
    usable = [row for row in board if np.isfinite(row["mean"])]
    if not usable:
        raise DataError(
            f"train: {metric} could not be computed on any validation fold (a fold with one "
            "class, or labels that do not vary); add cutoffs or choose another train.metric"
        )
    best = max(usable, key=lambda row: sign * row["mean"])
    # amounts are in the customer's currency: there the tolerance is a share of the best
    slack = tolerance * abs(best["mean"]) if metric in RELATIVE else tolerance
    close = [row for row in usable if sign * (best["mean"] - row["mean"]) <= slack]
    within = f"{tolerance:.1%} of" if metric in RELATIVE else f"{tolerance} of"
    note = ""
    losses = [r.get("log_loss", float("nan")) for r in close]
    if weigh_log_loss and metric != "log_loss" and len(close) > 1 and np.isfinite(losses).all():
        least = min(losses)
        kept = [r for r, v in zip(close, losses, strict=True) if v <= least + LOG_LOSS_SLACK]
        if len(kept) < len(close):
            dropped = [r["candidate"] for r in close if r not in kept]
            note = (
                f"; {', '.join(dropped)} set aside for a mean log loss more than "
                f"{LOG_LOSS_SLACK} above {least:.4f}"
            )
        close = kept
    simplest = min(close, key=lambda row: row["complexity"])
    if simplest is best:
        reason = f"best mean {metric} over the validation folds ({best['mean']:.4f}){note}"
    elif not note:
        reason = (
            f"{simplest['candidate']} ({simplest['mean']:.4f}) is within {within} the best, "
            f"{best['candidate']} ({best['mean']:.4f}), and simpler"
        )
    else:
        reason = (
            f"{simplest['candidate']} ({simplest['mean']:.4f}, log loss "
            f"{simplest['log_loss']:.4f}) is within {within} the best on {metric}, "
            f"{best['candidate']} ({best['mean']:.4f}){note}"
        )
    return simplest, reason


def _choose(
    board: list[dict[str, Any]], candidates: list[Candidate], metric: str, tolerance: float
) -> tuple[Candidate, str]:
    row, reason = _pick(board, metric, tolerance)
    chosen = next(c for c in candidates if c.name == row["candidate"])
    return chosen, reason


def regret(
    board: list[dict[str, Any]],
    candidates: list[Candidate],
    metric: str,
    tolerance: float,
    chosen: str,
) -> list[dict[str, Any]]:
    """What each choice rule would have picked on the validation folds, and what it cost.

    The regret of a rule is how far its pick falls behind the best candidate on the test
    round (raw scores, before calibration), on the metric and on log loss. The rules:
    the one in use; the best mean metric alone; the simplest within the tolerance on the
    metric alone (the rule before log loss was weighed); the best pooled metric; the best
    mean log loss (yes/no targets).
    """
    sign = -1.0 if metric in LOSSES else 1.0
    rows = {r["candidate"]: r for r in board}
    finite = [r for r in board if np.isfinite(r["mean"])]
    if not finite:
        return []

    def test_of(row: dict[str, Any], name: str) -> float:
        return float(row["test"].get(name, float("nan")))

    tests = [test_of(r, metric) for r in board if np.isfinite(test_of(r, metric))]
    best_test = max(tests, key=lambda v: sign * v) if tests else float("nan")
    lls = [test_of(r, "log_loss") for r in board if np.isfinite(test_of(r, "log_loss"))]
    best_ll = min(lls) if lls else float("nan")
    picks: list[tuple[str, str]] = [
        ("in use: best, within the tolerance the best log loss, then the simplest", chosen),
        (
            f"best mean validation {metric}",
            max(finite, key=lambda r: sign * r["mean"])["candidate"],
        ),
        (
            f"simplest within the tolerance on {metric} alone",
            _pick(board, metric, tolerance, weigh_log_loss=False)[0]["candidate"],
        ),
    ]
    pooled = [r for r in finite if np.isfinite(r.get("pooled", float("nan")))]
    if pooled:
        picks.append(
            (
                f"best pooled validation {metric}",
                max(pooled, key=lambda r: sign * r["pooled"])["candidate"],
            )
        )
    with_ll = [r for r in finite if np.isfinite(r.get("log_loss", float("nan")))]
    if with_ll and metric != "log_loss":
        picks.append(
            (
                "best mean validation log loss",
                min(with_ll, key=lambda r: r["log_loss"])["candidate"],
            )
        )
    out = []
    for rule, name in picks:
        row = rows[name]
        value, ll = test_of(row, metric), test_of(row, "log_loss")
        entry: dict[str, Any] = {
            "rule": rule,
            "candidate": name,
            "test": value,
            "regret": float(sign * (best_test - value)),
        }
        if np.isfinite(ll):
            entry["test_log_loss"] = ll
            entry["regret_log_loss"] = float(ll - best_ll)
        out.append(entry)
    return out


def _schema(
    frame: pd.DataFrame, features: list[str], meaning: Mapping[str, FeatureInfo]
) -> list[dict[str, Any]]:
    out = []
    for col in features:
        entry: dict[str, Any] = {"name": col, "dtype": str(frame[col].dtype)}
        if not pd.api.types.is_numeric_dtype(frame[col]):
            entry["levels"] = sorted(frame[col].dropna().astype(str).unique().tolist())[:1000]
        if col in meaning:
            entry["info"] = meaning[col].entry()
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
