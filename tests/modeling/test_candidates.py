"""Candidates and the backtest on a synthetic frame with a known signal."""

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest

from propensity.errors import DataError
from propensity.modeling.backtest import rolling_folds
from propensity.modeling.candidates import (
    BGNBDCandidate,
    LightGBMCandidate,
    LogisticCandidate,
    PriorCandidate,
    RecencyCandidate,
)
from propensity.modeling.evaluate import evaluate, fold_frames
from propensity.modeling.training import default_candidates
from propensity.spec import Spec
from tests.conftest import shop_spec

CUTOFFS = [dt.date(2024, m, 1) for m in range(1, 11)]


def synthetic_frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for i, cutoff in enumerate(CUTOFFS):
        first = rng.integers(30, 400, n).astype(float)
        since_last = np.minimum(rng.exponential(40, n), first)
        active = 1 + rng.poisson(first / 60)
        since_last = np.where(active == 1, first, since_last)  # one active day: first = last
        engagement = rng.normal(0, 1, n)
        plan = rng.choice(["basic", "plus", "premium"], n)
        logit = -1.0 + 0.02 * since_last - 0.8 * engagement + (plan == "basic") * 0.6
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": np.arange(n) + 10_000 * i,
                    "cutoff": cutoff,
                    "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float),
                    "orders_days_since_last": since_last,
                    "orders_days_since_first": first,
                    "orders_active_days_all": active,
                    "engagement": np.where(rng.random(n) < 0.05, np.nan, engagement),
                    "plan": plan,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def results():
    frame = synthetic_frame()
    split = rolling_folds(CUTOFFS, 60, folds=2)
    candidates = [
        PriorCandidate(key="customer_id"),
        RecencyCandidate(key="customer_id", column="orders_days_since_last"),
        BGNBDCandidate(key="customer_id", source="orders", horizon=60),
        LogisticCandidate(key="customer_id"),
        LightGBMCandidate(key="customer_id", learning_rate=0.1),
    ]
    return evaluate(candidates, frame, split, 60), candidates


def auc(results, name):
    return np.mean([r.metrics["roc_auc"] for r in results if r.candidate == name])


def test_every_candidate_is_judged_on_every_fold(results):
    rows, _ = results
    assert {(r.candidate, r.valid) for r in rows} == {
        (c, v)
        for c in ("prior", "recency", "bgnbd", "logistic", "lightgbm")
        # validation cutoffs whose 60-day label windows end by the 10-01 test cutoff
        for v in ("2024-07-01", "2024-08-01", "2024-10-01")
    }
    assert all(r.predictions.min() >= 0 and r.predictions.max() <= 1 for r in rows)


def test_models_find_the_signal_and_baselines_do_what_they_say(results):
    rows, candidates = results
    assert auc(rows, "prior") == pytest.approx(0.5)
    assert auc(rows, "recency") > 0.6  # recency is one of the drivers
    assert auc(rows, "logistic") > auc(rows, "recency") + 0.05  # it also sees engagement
    assert auc(rows, "lightgbm") > auc(rows, "recency") + 0.05
    lightgbm = candidates[-1]
    assert 1 <= lightgbm.rounds_ < lightgbm.max_rounds  # it stopped early


def test_fold_frames_keep_label_windows_apart():
    frame = synthetic_frame(n=50)
    split = rolling_folds(CUTOFFS, 60, folds=1)
    train, valid, judged = fold_frames(frame, split.test, 60)
    reach = dt.timedelta(days=60)
    assert set(judged.cutoff) == {split.test.valid}
    assert max(valid.cutoff) + reach <= split.test.valid
    assert max(train.cutoff) + reach <= min(valid.cutoff)


def test_unlabelled_rows_are_refused():
    frame = synthetic_frame(n=50)
    frame.loc[0, "label"] = np.nan
    with pytest.raises(DataError, match="rows without a label"):
        PriorCandidate(key="customer_id").fit(frame)


@pytest.mark.parametrize(("threads", "expected"), [(1, 1), (None, os.cpu_count() or 1)])
def test_engine_threads_reach_lightgbm(threads, expected):
    """One ``[engine] threads`` for every engine: the trained booster records it."""
    engine = {} if threads is None else {"threads": threads}
    spec = Spec.from_dict(shop_spec(engine=engine))
    assert spec.engine.thread_count() == expected
    frame = synthetic_frame(n=200)
    made, _ = default_candidates(spec, frame)
    (lightgbm,) = [c for c in made if isinstance(c, LightGBMCandidate)]
    lightgbm.rounds = 5
    text = lightgbm.fit(frame).model_text()
    assert f"[num_threads: {expected}]" in text
