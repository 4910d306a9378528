"""Hyperparameter search for the LightGBM candidate with Optuna, bounded by trials and time.

Optuna is optional: it is imported only when :func:`tune_lightgbm` runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from propensity.errors import DataError, MissingExtraError, SpecError
from propensity.modeling import metrics
from propensity.modeling.candidates import Candidate, LightGBMCandidate

if TYPE_CHECKING:
    import optuna

__all__ = ["METRICS", "TuningResult", "tune_lightgbm"]

logger = logging.getLogger(__name__)

Metric = Callable[[np.ndarray, np.ndarray], float]

#: metric name (as the leaderboard reports name them) -> (function, task, greater is better)
METRICS: dict[str, tuple[Metric, str, bool]] = {
    "roc_auc": (metrics.roc_auc_score, "binary", True),
    "pr_auc": (metrics.pr_auc_score, "binary", True),
    "log_loss": (metrics.log_loss, "binary", False),
    "brier": (metrics.brier_loss, "binary", False),
    "ece": (metrics.expected_calibration_error, "binary", False),
    "mae": (metrics.mae, "regression", False),
    "rmse": (metrics.rmse, "regression", False),
    "r2": (metrics.r2_score, "regression", True),
    "spearman": (metrics.spearman_score, "regression", True),
}
TASKS = ("binary", "regression")

#: searched values that are keyword arguments of ``LightGBMCandidate``; the rest go to
#: its ``params`` dict, which is passed to LightGBM as is
CANDIDATE_ARGS = ("learning_rate", "num_leaves", "min_child_samples")


@dataclass(frozen=True)
class TuningResult:
    """The best settings found and how the search went.

    Attributes
    ----------
    params
        Keyword arguments for ``LightGBMCandidate``: ``learning_rate``, ``num_leaves``,
        ``min_child_samples`` and ``params`` (further LightGBM parameters).
    score
        The best trial's metric value on the scoring half of ``valid``.
    metric
        The metric's name.
    greater_is_better
        Whether the search maximised ``metric`` (scores) or minimised it (losses).
    trials
        Trials actually run: fewer than asked when the time ran out.
    seconds
        Wall time of the whole search.
    history
        One dict per trial: ``number``, ``params`` (as in :attr:`params`), ``value``,
        ``state`` and ``rounds`` (the rounds early stopping chose).
    """

    params: dict[str, Any]
    score: float
    metric: str
    greater_is_better: bool
    trials: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The search space, as flat names; :func:`_candidate_kwargs` nests them."""
    return {
        # below 0.02 early stopping needs thousands of rounds; above 0.2 it overshoots
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
        # the main guard against fitting noise in small segments
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 500, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        "min_split_gain": trial.suggest_float("min_split_gain", 0.0, 1.0),
    }


def _candidate_kwargs(flat: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in flat.items() if k in CANDIDATE_ARGS}
    kwargs["params"] = {k: v for k, v in flat.items() if k not in CANDIDATE_ARGS}
    return kwargs


def _split_by_key(valid: pd.DataFrame, key: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Half of the customers for early stopping, the other half for scoring the trial."""
    if key not in valid.columns:
        raise DataError(
            f"tune: key column {key!r} not found in valid; columns are: "
            f"{', '.join(map(str, valid.columns))}"
        )
    # sorted first so that the split depends on the seed, not on the row order
    keys = np.sort(valid[key].dropna().unique())
    if len(keys) < 2:
        raise DataError(
            f"tune: valid has {len(keys)} distinct {key!r}; at least 2 are needed to split it "
            "into an early-stopping half and a scoring half"
        )
    shuffled = np.random.default_rng(seed).permutation(keys)
    stop = valid[key].isin(shuffled[: len(keys) // 2])
    return valid[stop], valid[~stop]


def tune_lightgbm(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    key: str,
    task: str = "binary",
    metric: str = "roc_auc",
    trials: int = 30,
    timeout_s: float = 300.0,
    seed: int = 0,
    make: Callable[..., Candidate] | None = None,
) -> TuningResult:
    """Search LightGBM's settings with Optuna's TPE sampler.

    ``valid`` is split by customer (``key``) into two halves. Each trial early-stops on
    one half and is scored on the other: scoring on the rows that chose the number of
    rounds would favour settings that overfit them. The search stops after ``trials``
    trials or once ``timeout_s`` seconds have passed, whichever comes first; a trial in
    progress when the time runs out is finished.

    Search space: ``learning_rate`` log-uniform in [0.02, 0.2], ``num_leaves`` in
    [7, 127] and ``min_child_samples`` in [20, 500] (both integers, log scale), and as
    LightGBM ``params``: ``feature_fraction`` in [0.5, 1], ``lambda_l2`` log-uniform in
    [0.001, 30] and ``min_split_gain`` in [0, 1].

    Parameters
    ----------
    train
        Training rows as ``build`` writes them (key, ``cutoff``, ``label``, features).
    valid
        A later cutoff whose label window no training window reaches.
    key
        The customer column; ``valid`` is split on it.
    task
        ``"binary"`` or ``"regression"``; it decides which metrics are allowed.
    metric
        A name from :data:`METRICS`; losses are minimised, scores maximised.
    trials
        The most trials to run.
    timeout_s
        The most seconds to start new trials for.
    seed
        Seeds the sampler, the split of ``valid`` and the default candidate.
    make
        Builds a candidate from keyword arguments ``learning_rate``, ``num_leaves``,
        ``min_child_samples`` and ``params``; defaults to ``LightGBMCandidate(key=key,
        seed=seed, ...)``. A factory that sets its own LightGBM parameters (a regression
        objective, say) should merge them with the ``params`` it is given.

    Returns
    -------
    TuningResult
        The best trial's candidate arguments, its score and every trial's record.

    Raises
    ------
    SpecError
        When ``task``, ``metric``, ``trials`` or ``timeout_s`` is not valid.
    DataError
        When ``valid`` is empty or has fewer than two customers, or a trial's score is
        not a number (one class only in the scoring half, say).
    MissingExtraError
        When Optuna is not installed.
    """
    if task not in TASKS:
        raise SpecError(f"tune: task {task!r} is not known; choose one of: {', '.join(TASKS)}")
    allowed = [name for name, (_, t, _) in METRICS.items() if t == task]
    if metric not in allowed:
        raise SpecError(
            f"tune: metric {metric!r} is not known for task {task!r}; "
            f"choose one of: {', '.join(allowed)}"
        )
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise SpecError(f"tune: trials must be a whole number of at least 1, got {trials!r}")
    if not timeout_s > 0:
        raise SpecError(f"tune: timeout_s must be a positive number of seconds, got {timeout_s}")
    if not len(valid):
        raise DataError("tune: valid has no rows; tuning needs a later cutoff to score on")
    try:
        import optuna
    except ImportError:
        raise MissingExtraError(
            'train.tune_trials: tuning needs Optuna; pip install "propensity[tune]"'
        ) from None

    score_fn, _, greater_is_better = METRICS[metric]
    stop_half, score_half = _split_by_key(valid, key, seed)
    y = score_half["label"].to_numpy(dtype=float)
    build: Callable[..., Candidate] = make or (
        lambda **kw: LightGBMCandidate(key=key, seed=seed, **kw)
    )

    def objective(trial: optuna.Trial) -> float:
        kwargs = _candidate_kwargs(_suggest(trial))
        # fit refits on train + the early-stopping half; the scoring half stays unseen
        candidate = build(**kwargs).fit(train, stop_half)
        value = score_fn(y, candidate.predict(score_half))
        if not math.isfinite(value):
            raise DataError(
                f"tune: {metric} is {value} on the scoring half of valid "
                f"({len(score_half)} rows); it needs both outcomes (or varied values) there"
            )
        trial.set_user_attr("rounds", getattr(candidate, "rounds_", None))
        logger.debug("tune: trial %s %s=%.5f %s", trial.number, metric, value, kwargs)
        return value

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    try:
        study = optuna.create_study(
            direction="maximize" if greater_is_better else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        study.optimize(objective, n_trials=trials, timeout=timeout_s)
    finally:
        optuna.logging.set_verbosity(level)
    seconds = time.perf_counter() - start

    history = [
        {
            "number": t.number,
            "params": _candidate_kwargs(t.params),
            "value": t.value,
            "state": t.state.name,
            "rounds": t.user_attrs.get("rounds"),
        }
        for t in study.trials
    ]
    best = study.best_trial
    logger.info(
        "tune: %s trials in %.1f s, best %s=%.5f", len(history), seconds, metric, best.value
    )
    return TuningResult(
        params=_candidate_kwargs(best.params),
        score=float(best.value) if best.value is not None else math.nan,
        metric=metric,
        greater_is_better=greater_is_better,
        trials=len(history),
        seconds=seconds,
        history=history,
    )
