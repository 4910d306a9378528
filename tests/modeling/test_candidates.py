"""Candidates and the backtest on a synthetic frame with a known signal."""

import datetime as dt
import json
import os

import numpy as np
import pandas as pd
import pytest

from propensity.errors import DataError
from propensity.modeling.backtest import rolling_folds
from propensity.modeling.bundle import load_bundle, save_bundle
from propensity.modeling.calibration import NoCalibration
from propensity.modeling.candidates import (
    BGNBDCandidate,
    LightGBMCandidate,
    LogisticCandidate,
    PriorCandidate,
    RecencyCandidate,
    Setting,
    feature_columns,
)
from propensity.modeling.candidates.trees import positive_weight, unweight
from propensity.modeling.evaluate import evaluate, fold_frames
from propensity.modeling.metrics import classification_report
from propensity.modeling.training import default_candidates
from propensity.spec import Spec
from tests.conftest import shop_spec
from tests.modeling.test_segmented import CUTOFFS as SHOP_CUTOFFS
from tests.modeling.test_segmented import FrameRecords, shop_frame

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


# -- rare targets, ratios and encodings in the trees ---------------------------------------


def test_unweighting_undoes_the_prior_shift_exactly():
    y = np.array([1.0] * 2 + [0.0] * 198)  # a rate of 1 %
    weight = positive_weight(y)
    assert weight == pytest.approx((0.05 / 0.95) / (0.01 / 0.99))
    weighted_rate = weight * 0.01 / (weight * 0.01 + 0.99)
    assert weighted_rate == pytest.approx(0.05)  # the weighted rows have the rare rate
    assert unweight(np.array([weighted_rate]), weight)[0] == pytest.approx(0.01)
    assert positive_weight(np.array([1.0, 0.0, 0.0])) == 1.0  # not rare: no weight
    q = np.linspace(0.01, 0.99, 9)
    odds = unweight(q, 3.0) / (1 - unweight(q, 3.0))
    np.testing.assert_allclose(odds, q / (1 - q) / 3.0)


def _rounds(frame, cutoffs):
    train = frame[frame.cutoff < cutoffs[-1]]
    inner, stop = train[train.cutoff < cutoffs[-2]], train[train.cutoff == cutoffs[-2]]
    return train, inner, stop, frame[frame.cutoff == cutoffs[-1]]


def test_rare_targets_weight_the_positives_and_stay_probabilities():
    frame = shop_frame(n=6000, base=-4.5)  # about 2 % churn
    train, inner, stop, judged = _rounds(frame, SHOP_CUTOFFS)
    weighted = LightGBMCandidate(key="customer_id", source="orders").fit_round(train, inner, stop)
    plain = LightGBMCandidate(key="customer_id", source="orders", rare_rate=0.0)
    plain.fit_round(train, inner, stop)
    assert weighted.positive_weight_ > 2.0
    assert plain.positive_weight_ == 1.0
    assert weighted.to_dict()["positive_weight"] == weighted.positive_weight_
    p = weighted.predict(judged)
    rate = judged["label"].mean()
    assert abs(p.mean() - rate) < 0.25 * rate  # calibrated back to the base rate
    found = classification_report(judged["label"], p)
    base = classification_report(judged["label"], plain.predict(judged))
    assert found["roc_auc"] > base["roc_auc"] - 0.01
    # TreeSHAP stays exact on the weighted scale; the bias absorbs the shift
    contribs = weighted.contributions(judged, {})
    x = weighted._x(judged)
    bias = weighted.model_.predict(x, pred_contrib=True)[:, -1]
    z = contribs.sum(axis=1).to_numpy() + bias - np.log(weighted.positive_weight_)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), p, rtol=1e-6)


def test_trees_read_ratios_and_encodings_the_same_way_in_bundles_and_records(tmp_path):
    frame = shop_frame(n=1500, base=-4.0)
    rng = np.random.default_rng(3)
    frame["zip"] = pd.Series([f"z{v}" for v in rng.integers(0, 40, len(frame))], dtype="string")
    frame.loc[frame.index[:50], "zip"] = pd.NA
    train, inner, stop, judged = _rounds(frame, SHOP_CUTOFFS)
    made = LightGBMCandidate.make(
        Setting(key="customer_id", task="binary", source="orders", columns=frozenset(frame))
    )
    assert isinstance(made, LightGBMCandidate)
    model = made.fit_round(train, inner, stop)
    assert [r.name for r in model.ratios_] == [
        "tickets_per_orders_30d",
        "tickets_per_orders_365d",
        "orders_amount_per_active_day_30d",
        "orders_amount_per_active_day_365d",
    ]
    assert list(model.encodings_) == ["zip"]
    assert model.categorical_ == ["plan"]
    assert model.positive_weight_ > 1.0
    assert model.features() == feature_columns(frame, "customer_id")  # the frame's columns
    contribs = model.contributions(judged, {})
    assert list(contribs.columns) == model.features()
    raw = model.model_.predict(model._x(judged), raw_score=True)
    bias = model.model_.predict(model._x(judged), pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contribs.sum(axis=1) + bias, raw, atol=1e-6)
    folder = save_bundle(tmp_path / "v1", model, NoCalibration(), {"version": "v1", "key": "x"})
    saved = json.loads((folder / "model.json").read_text())
    assert set(saved["encodings"]["zip"]) == {"values", "prior", "weight"}
    loaded = load_bundle(folder).candidate
    np.testing.assert_array_equal(loaded.predict(judged), model.predict(judged))
    judged = judged.assign(zip=judged["zip"].where(np.arange(len(judged)) % 7 > 0, "unseen"))
    for rows in (judged.iloc[:3], judged):  # the service's few records and a batch
        np.testing.assert_allclose(
            loaded.score_records(FrameRecords(rows)), model.predict(rows), rtol=1e-9
        )
    # a bundle saved before ratios, encodings and weights: none of them, same trees
    old = {k: v for k, v in saved.items() if k not in ("ratios", "encodings", "positive_weight")}
    again = LightGBMCandidate.from_text(old, model.model_text())
    assert again.ratios_ == []
    assert again.encodings_ == {}
    assert again.positive_weight_ == 1.0
