"""The per-segment candidate: new and established customers each get their own trees."""

import json

import numpy as np
import pandas as pd
import pytest

from propensity.modeling.bundle import load_bundle, save_bundle
from propensity.modeling.calibration import NoCalibration
from propensity.modeling.candidates import (
    LightGBMCandidate,
    SegmentedCandidate,
    Setting,
    candidate_names,
    compact,
    feature_columns,
)
from propensity.modeling.metrics import classification_report
from propensity.modeling.training import default_candidates
from propensity.spec import Spec
from tests.conftest import shop_spec

KEY = "customer_id"
CUTOFFS = [pd.Timestamp(f"2024-{m:02d}-01") for m in range(1, 7)]


def shop_frame(n=3000, seed=0, base=-0.6, cutoffs=CUTOFFS, tenure=True):
    """Orders (the target's source), tickets and a plan; new customers churn differently.

    New customers (under 90 days) churn when they order little; established ones when
    they raise many tickets per order. ``base`` sets the rate (-5: about 1 %).
    """
    rng = np.random.default_rng(seed)
    parts = []
    for i, cutoff in enumerate(cutoffs):
        first = rng.integers(5, 400, n).astype(float)
        orders_365 = rng.poisson(1 + np.minimum(first, 365) / 40).astype(float)
        orders_30 = rng.binomial(orders_365.astype(int), 0.1).astype(float)
        tickets_365 = rng.poisson(0.3 * orders_365 + 0.5).astype(float)
        tickets_30 = rng.binomial(tickets_365.astype(int), 0.1).astype(float)
        active_365 = np.minimum(orders_365, rng.poisson(orders_365 * 0.8) + (orders_365 > 0))
        amount_365 = orders_365 * rng.lognormal(3, 0.5, n)
        new = first < 90
        per_order = tickets_365 / np.maximum(orders_365, 1)
        logit = base + np.where(new, -0.8 * (orders_365 - 2), 2.5 * (per_order - 0.4))
        frame = pd.DataFrame(
            {
                KEY: np.arange(n) + 100_000 * i,
                "cutoff": cutoff,
                "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float),
                "orders_count_30d": orders_30,
                "orders_count_365d": orders_365,
                "orders_active_days_30d": np.minimum(orders_30, active_365),
                "orders_active_days_365d": active_365.astype(float),
                "orders_amount_sum_30d": orders_30 * rng.lognormal(3, 0.5, n),
                "orders_amount_sum_365d": amount_365,
                "orders_days_since_first": first,
                "orders_days_since_last": rng.uniform(0, 1, n) * first,
                "tickets_count_30d": tickets_30,
                "tickets_count_365d": tickets_365,
                "tickets_days_since_last": rng.uniform(0, 400, n),
                "plan": pd.Series(rng.choice(["basic", "plus", "pro"], n), dtype="string"),
            }
        )
        if tenure:
            frame["tenure_days"] = first + rng.integers(0, 30, n)
        parts.append(frame)
    return compact(pd.concat(parts, ignore_index=True), KEY)


class FrameRecords:
    """A frame's rows as the service's records (:class:`~.base.Records`)."""

    def __init__(self, frame):
        self._frame = frame.reset_index(drop=True)

    def __len__(self):
        return len(self._frame)

    def numbers(self, columns):
        out = np.full((len(self._frame), len(columns)), np.nan)
        for j, c in enumerate(columns):
            if pd.api.types.is_numeric_dtype(self._frame[c]):
                values = self._frame[c].to_numpy(dtype=np.float32, na_value=np.nan)
                out[:, j] = values.astype(float)
        return out

    def texts(self, column):
        return [None if pd.isna(v) else v for v in self._frame[column].astype(object)]

    def frame(self):
        return self._frame


def setting(frame, **kw):
    return Setting(
        key=KEY,
        task="binary",
        columns=frozenset(frame.columns),
        target_kind="inactivity",
        source="orders",
        horizon=30.0,
        **kw,
    )


@pytest.fixture(scope="module")
def frame():
    return shop_frame()


@pytest.fixture(scope="module")
def fitted(frame):
    train = frame[frame.cutoff < CUTOFFS[-1]]
    inner, stop = train[train.cutoff < CUTOFFS[-2]], train[train.cutoff == CUTOFFS[-2]]
    model = SegmentedCandidate.make(setting(frame))
    assert isinstance(model, SegmentedCandidate)
    return model.fit_round(train, inner, stop)


def test_it_is_listed_and_follows_train_candidates(frame):
    assert "segmented" in candidate_names("binary")
    assert "segmented" not in candidate_names("regression")
    spec = Spec.from_dict(shop_spec(train={"candidates": ["lightgbm", "segmented"]}))
    made, skipped = default_candidates(spec, frame)
    assert [c.name for c in made] == ["lightgbm", "segmented"]
    assert skipped == {}
    # an option: without train.candidates it is not run, and the leaderboard says why
    every, skipped = default_candidates(Spec.from_dict(shop_spec()), frame)
    assert "segmented" not in [c.name for c in every]
    assert "lightgbm" in [c.name for c in every]
    assert "train.candidates" in skipped["segmented"]


def test_it_splits_on_tenure_else_on_the_first_event():
    with_tenure = SegmentedCandidate.make(setting(shop_frame(n=10)))
    assert isinstance(with_tenure, SegmentedCandidate)
    assert (with_tenure.column, with_tenure.threshold) == ("tenure_days", 90.0)
    without = shop_frame(n=10, tenure=False)
    found = SegmentedCandidate.make(setting(without))
    assert isinstance(found, SegmentedCandidate)
    assert found.column == "orders_days_since_first"
    long = Setting(key=KEY, task="binary", columns=frozenset(without.columns), horizon=180.0)
    reason = SegmentedCandidate.make(long)  # no target source: nothing to split on
    assert isinstance(reason, str)
    assert "tenure_days" in reason


def test_each_segment_gets_its_own_model_and_scores_its_rows(frame, fitted):
    assert fitted.segmented_
    assert set(fitted.models_) == {"new", "established"}
    judged = frame[frame.cutoff == CUTOFFS[-1]]
    p = fitted.predict(judged)
    new = (judged["tenure_days"] < 90).to_numpy()
    np.testing.assert_allclose(p[new], fitted.models_["new"].predict(judged[new]))
    np.testing.assert_allclose(p[~new], fitted.models_["established"].predict(judged[~new]))
    # the service's path: the same scores
    np.testing.assert_allclose(fitted.score_records(FrameRecords(judged)), p, rtol=1e-6)
    single = LightGBMCandidate.make(setting(frame))
    train = frame[frame.cutoff < CUTOFFS[-1]]
    single.fit_round(train, train[train.cutoff < CUTOFFS[-2]], train[train.cutoff == CUTOFFS[-2]])
    auc = classification_report(judged.label, p)["roc_auc"]
    assert auc > classification_report(judged.label, single.predict(judged))["roc_auc"] - 0.01


def test_contributions_come_from_the_model_that_scored_the_row(frame, fitted):
    judged = frame[frame.cutoff == CUTOFFS[-1]].iloc[:400]
    contribs = fitted.contributions(judged, {})
    assert list(contribs.columns) == feature_columns(frame, KEY)
    assert contribs.index.equals(judged.index)
    new = (judged["tenure_days"] < 90).to_numpy()
    for name, rows in (("new", new), ("established", ~new)):
        tree = fitted.models_[name]
        x = tree._x(judged[rows])
        raw = tree.model_.predict(x, raw_score=True)
        bias = tree.model_.predict(x, pred_contrib=True)[:, -1]
        np.testing.assert_allclose(contribs[rows].sum(axis=1) + bias, raw, atol=1e-6)


@pytest.mark.parametrize("why", ["few rows", "one class"])
def test_it_falls_back_to_one_model(frame, why):
    train = frame[frame.cutoff < CUTOFFS[-1]].copy()
    if why == "few rows":
        train = train[(train["tenure_days"] >= 90) | (np.arange(len(train)) % 50 == 0)]
    else:
        train.loc[train["tenure_days"] < 90, "label"] = 0.0
    model = SegmentedCandidate.make(setting(frame))
    assert isinstance(model, SegmentedCandidate)
    model.fit_round(train, train[train.cutoff < CUTOFFS[-2]], train[train.cutoff == CUTOFFS[-2]])
    assert not model.segmented_
    assert list(model.models_) == ["all"]
    judged = frame[frame.cutoff == CUTOFFS[-1]]
    np.testing.assert_allclose(model.predict(judged), model.models_["all"].predict(judged))


def test_the_refit_keeps_each_segments_size(frame, fitted):
    sizes = {name: m.rounds_ for name, m in fitted.models_.items()}
    fitted.refit(frame, frame, None)
    assert {name: m.rounds_ for name, m in fitted.models_.items()} == sizes


def test_bundles_round_trip_it(tmp_path, frame, fitted):
    folder = save_bundle(tmp_path / "v1", fitted, NoCalibration(), {"version": "v1", "key": KEY})
    names = {p.name for p in folder.iterdir()}
    assert {"model_new.txt", "model_established.txt"} <= names
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"model_new.txt", "model_established.txt"} <= set(manifest["files"])
    loaded = load_bundle(folder).candidate
    assert isinstance(loaded, SegmentedCandidate)
    judged = frame[frame.cutoff == CUTOFFS[-1]]
    np.testing.assert_array_equal(loaded.predict(judged), fitted.predict(judged))
    np.testing.assert_array_equal(
        loaded.score_records(FrameRecords(judged.iloc[:5])), fitted.predict(judged.iloc[:5])
    )
