"""Reason codes: feature names read into sentences, and contributions that add up."""

import doctest
import time

import numpy as np
import pandas as pd
import pytest

from propensity.decisions import reasons
from propensity.decisions.reasons import (
    contributions,
    describe,
    global_drivers,
    label,
    reason_codes,
    typical_values,
)
from propensity.errors import DataError
from propensity.modeling.bundle import load_bundle, reference_profile, save_bundle
from propensity.modeling.calibration import NoCalibration
from propensity.modeling.candidates import (
    BGNBDCandidate,
    Candidate,
    LightGBMCandidate,
    LinearCandidate,
    LogisticCandidate,
    PriorCandidate,
    RecencyCandidate,
    compact,
)
from propensity.spec import Spec
from tests.conftest import shop_spec

KEY = "customer_id"


@pytest.fixture(scope="module")
def spec():
    orders = {
        "path": "data/orders.parquet",
        "kind": "events",
        "time": "order_time",
        "measures": ["amount"],
        "categories": ["category"],
    }
    return Spec.from_dict(
        shop_spec(
            sources={
                "customers": {"path": "data/customers.csv", "kind": "entity", "time": "signup"},
                "orders": orders,
                # a source whose name starts with another's: read by the longest prefix
                "orders_returns": {**orders, "path": "data/returns.csv", "categories": []},
                "support_tickets": {
                    "path": "data/tickets.csv",
                    "kind": "events",
                    "time": "opened",
                    "categories": ["satisfaction"],
                },
            },
            target={"kind": "inactivity", "source": "orders", "horizon": "90d"},
        )
    )


def make_frame(n=4000, seed=0, noise=0):
    """Customers whose outcome depends on recency, engagement and plan only."""
    rng = np.random.default_rng(seed)
    first = rng.integers(30, 600, n).astype(float)
    active = 1 + rng.poisson(first / 60)
    since_last = np.where(active == 1, first, np.minimum(rng.exponential(40, n), first))
    engagement = rng.normal(0, 1, n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    logit = -1.0 + 0.03 * since_last - 0.8 * engagement + 0.7 * (plan == "basic")
    frame = pd.DataFrame(
        {
            KEY: np.arange(n),
            "cutoff": pd.Timestamp("2024-06-01"),
            "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float),
            "orders_days_since_last": since_last,
            "orders_days_since_first": first,
            "orders_active_days_all": active.astype(float),
            "orders_count_90d": rng.poisson(2, n).astype(float),
            "engagement": np.where(rng.random(n) < 0.05, np.nan, engagement),
            "plan": plan,
            "tenure_days": first + rng.integers(0, 100, n),
        }
    )
    noisy = pd.DataFrame(rng.normal(0, 1, (n, noise)), columns=[f"noise_{j}" for j in range(noise)])
    return pd.concat([frame, noisy], axis=1)


@pytest.fixture(scope="module")
def frame():
    return make_frame()


# -- sentences ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "value", "typical", "expected"),
    [
        ("orders_days_since_last", 94.0, 21.0, "no orders in 94 days (typical: 21)"),
        ("orders_days_since_last", np.nan, 21.0, "no orders yet"),
        ("orders_count_90d", 3, 1.0, "3 orders in the last 90 days (typical: 1)"),
        ("orders_count_all", 12, 5.5, "12 orders ever (typical: 5.5)"),
        ("orders_active_days_30d", 1, 2.0, "orders on 1 day in the last 30 days (typical: 2)"),
        (
            "orders_amount_sum_90d",
            np.float32(120.456),
            80.0,
            "total amount of orders in the last 90 days: 120.46 (typical: 80)",
        ),
        ("orders_amount_mean_30d", np.nan, 12.0, "no orders in the last 30 days"),
        (
            "orders_category_books_share_90d",
            np.float32(0.4),
            0.1,
            "40% of orders were category = books in the last 90 days (typical: 10%)",
        ),
        (
            "support_tickets_satisfaction_1_count_90d",
            2,
            0.0,
            "2 support tickets with satisfaction = 1 in the last 90 days (typical: 0)",
        ),
        (
            "orders_count_trend_90d",
            0.5,
            1.0,
            "orders in the last 90 days at 0.5x the 90 days before (typical: 1.0x)",
        ),
        (
            "orders_amount_sum_trend_1y",
            2.25,
            None,
            "amount of orders in the last year at 2.2x the year before",
        ),
        ("orders_count_trend_90d", None, 1.0, "no orders in the 90 days before to compare with"),
        ("orders_days_since_first", 400, 300.0, "first order 400 days ago (typical: 300)"),
        ("orders_mean_gap_days", 30, 21.0, "orders every 30 days on average (typical: 21)"),
        ("orders_last_gap_days", None, 20.0, "fewer than two days with orders"),
        ("orders_returns_count_30d", 2, 0.0, "2 orders returns in the last 30 days (typical: 0)"),
        ("orders_count_30d", 0, 2.0, "no orders in the last 30 days (typical: 2)"),
        ("support_tickets_count_all", 1, None, "1 support ticket ever"),
        (
            "support_tickets_satisfaction_1_count_30d",
            1.0,
            0.0,
            "1 support ticket with satisfaction = 1 in the last 30 days (typical: 0)",
        ),
        ("orders_active_days_90d", 0, 2.0, "no orders in the last 90 days (typical: 2)"),
        ("tenure_days", 400, 365.0, "customer for 400 days (typical: 365)"),
        ("days_since_last_login", 5, 2.0, "last login 5 days ago (typical: 2)"),
        ("days_since_cancel_date", None, None, "no cancel date yet"),
        ("monthly_price", np.float32(49.9), 29.9, "monthly price: 49.9 (typical: 29.9)"),
        ("plan", "basic", "pro", "plan: basic (most common: pro)"),
        ("plan", None, "pro", "plan: unknown (most common: pro)"),
        (
            "orders_bgnbd_p_alive",
            0.35,
            0.8,
            "chance still active, by the rhythm of orders: 35% (typical: 80%)",
        ),
        (
            "orders_bgnbd_p_no_event",
            0.6,
            None,
            "chance of no orders in the next 90 days: 60%",
        ),
        (
            "orders_bgnbd_expected",
            1.234,
            2.0,
            "expected orders in the next 90 days: 1.23 (typical: 2)",
        ),
        ("orders_weird_thing", 3, 1.0, "orders_weird_thing: 3 (typical: 1)"),
        ("monthly_price", 1234567.0, None, "monthly price: 1,234,567"),
    ],
)
def test_describe(spec, feature, value, typical, expected):
    assert describe(feature, value, typical, spec) == expected


def test_label_names_chart_axes(spec):
    assert label("orders_count_90d", spec) == "orders in the last 90 days"
    assert label("support_tickets_satisfaction_1_share_30d", spec) == (
        "share of support tickets with satisfaction = 1 in the last 30 days"
    )
    assert label("monthly_price", spec) == "monthly price"


def test_docstring_examples_hold():
    assert doctest.testmod(reasons).failed == 0


# -- contributions -----------------------------------------------------------------------


def test_treeshap_adds_up_to_the_raw_score_and_finds_the_driver(spec):
    frame = make_frame(n=4000, seed=1)
    # only recency matters
    frame["label"] = (frame["orders_days_since_last"] > 60).astype(float)
    model = LightGBMCandidate(key=KEY, rounds=60, min_child_samples=20).fit(frame)
    contribs, method = contributions(model, frame)
    assert method == "treeshap"
    assert list(contribs.columns) == model.features_
    assert contribs.index.equals(frame.index)
    x = model._x(frame)
    raw = model.model_.predict(x, raw_score=True)
    bias = model.model_.predict(x, pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contribs.sum(axis=1) + bias, raw, atol=1e-6)

    high = np.argsort(-raw)[: len(raw) // 5]
    first = contribs.to_numpy()[high].argmax(axis=1)
    assert np.mean(contribs.columns[first] == "orders_days_since_last") > 0.95
    codes = reason_codes(
        contribs.iloc[high], frame.iloc[high], typical_values(frame, model.features_), spec
    )
    assert all(c[0].startswith("no orders in ") for c in codes)


def test_treeshap_of_amounts_is_in_the_target_units(frame):
    amounts = frame.assign(label=5.0 * frame["orders_count_90d"] + (frame["plan"] == "pro") * 20)
    model = LightGBMCandidate(key=KEY, task="regression", rounds=20).fit(amounts)
    contribs, method = contributions(model, amounts)
    assert method == "treeshap"
    bias = model.model_.predict(model._x(amounts), pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contribs.sum(axis=1) + bias, model.predict(amounts), atol=1e-6)
    assert {n for n, _ in global_drivers(contribs, top=2)} == {"orders_count_90d", "plan"}


def test_linear_adds_up_to_the_decision_function(frame):
    model = LogisticCandidate(key=KEY).fit(frame)
    contribs, method = contributions(model, frame)
    assert method == "linear"
    features = [c for c in frame.columns if c not in (KEY, "cutoff", "label")]
    assert list(contribs.columns) == features  # the frame's order, text columns included
    z = model.preparation_.transform(frame) @ np.asarray(model.coef_) + model.intercept_
    np.testing.assert_allclose(contribs.sum(axis=1) + model.intercept_, z, rtol=0, atol=1e-8)
    p = model.predict(frame)
    np.testing.assert_allclose(z, np.log(p / (1 - p)), atol=1e-6)
    # each plan's one-hot coefficient lands on "plan" (its "other" column is never hot)
    prep = model.preparation_
    start = prep.block("plan").start
    for i, level in enumerate(prep.levels["plan"]):
        rows = frame["plan"] == level
        np.testing.assert_allclose(contribs.loc[rows, "plan"], model.coef_[start + i])
    # a missing engagement: its flag and its imputed value, both on "engagement"
    assert "engagement" in prep.flags
    assert contribs["engagement"].notna().all()


def test_linear_regression_contributions_are_in_the_target_units(frame):
    amounts = frame.assign(label=3.0 * frame["orders_count_90d"] + 10)
    model = LinearCandidate(key=KEY).fit(amounts)
    contribs, method = contributions(model, amounts)
    assert method == "linear"
    np.testing.assert_allclose(
        contribs.sum(axis=1) + model.intercept_, model.predict(amounts), atol=1e-8
    )
    assert global_drivers(contribs, top=1)[0][0] == "orders_count_90d"


class CurvedCandidate(Candidate):
    """A model that is neither linear nor a tree: a bump in engagement, nothing else."""

    name = "curved"

    def fit(self, train, valid=None):
        self.features_ = ["orders_count_90d", "engagement", "plan", "tenure_days"]
        return self

    def features(self):
        return self.features_

    def predict(self, frame):
        e = np.nan_to_num(frame["engagement"].to_numpy(dtype=float))
        return 1 / (1 + np.exp(-(np.tanh(2 * e) * 2 + 0.3 * e**3 - 1)))


def test_other_models_get_a_labelled_approximation(frame, spec):
    model = CurvedCandidate(key=KEY).fit(frame)
    contribs, method = contributions(model, frame)
    assert "approximate" in method
    assert list(contribs.columns) == model.features_
    drivers = global_drivers(contribs)
    assert drivers[0][0] == "engagement"
    assert drivers[0][1] > 10 * drivers[1][1]
    top = np.argsort(-model.predict(frame))[:100]
    codes = reason_codes(
        contribs.iloc[top], frame.iloc[top], typical_values(frame, model.features_), spec
    )
    assert all(c and c[0].startswith("engagement: ") for c in codes)


def test_recency_and_bgnbd_use_their_own_inputs(frame):
    recency = RecencyCandidate(key=KEY, column="orders_days_since_last").fit(frame)
    contribs, method = contributions(recency, frame)
    assert method == "recency"
    assert list(contribs.columns) == ["orders_days_since_last"]
    median = frame["orders_days_since_last"].median()
    z = np.log(recency.predict(frame) / (1 - recency.predict(frame)))
    z_typical = recency.coef_ * np.log1p(median) + recency.intercept_
    np.testing.assert_allclose(contribs["orders_days_since_last"], z - z_typical, atol=1e-9)

    bgnbd = BGNBDCandidate(key=KEY, source="orders", horizon=90).fit(frame)
    newcomers = frame.copy()
    newcomers.loc[:9, ["orders_days_since_last", "orders_days_since_first"]] = np.nan
    newcomers.loc[:9, "orders_active_days_all"] = 0.0
    contribs, method = contributions(bgnbd, newcomers)
    assert method == "bgnbd"
    assert list(contribs.columns) == [
        "orders_days_since_last",
        "orders_active_days_all",
        "orders_days_since_first",
    ]
    p = bgnbd.predict(newcomers)
    logit = np.log(p / (1 - p))
    typical = np.log(np.median(p) / (1 - np.median(p)))
    np.testing.assert_allclose(contribs.sum(axis=1), logit - typical, atol=1e-9)
    assert (contribs["orders_days_since_first"] == 0).all()
    # no history: all of it on recency, which reads "no orders yet"
    assert (contribs.loc[:9, "orders_active_days_all"] == 0).all()
    # each share leans with the total: nothing pulls against it
    signs = np.sign(contribs.sum(axis=1).to_numpy())[:, None]
    assert (contribs.iloc[:, :2].to_numpy() * signs >= -1e-12).all()


def test_constant_models_have_no_drivers(frame, spec):
    contribs, method = contributions(PriorCandidate(key=KEY).fit(frame), frame)
    assert method == "prior"
    assert contribs.shape == (len(frame), 0)
    assert global_drivers(contribs) == []
    assert reason_codes(contribs, frame, {}, spec) == [[]] * len(frame)


def test_a_bundle_is_prepared_and_its_typical_values_are_the_reference(tmp_path, frame):
    data = compact(frame, KEY)
    model = RecencyCandidate(key=KEY, column="orders_days_since_last").fit(data)
    reference = reference_profile(data, ["orders_days_since_last"], model.predict(data))
    folder = save_bundle(
        tmp_path / "b", model, NoCalibration(), {"key": KEY, "derived": {}}, reference
    )
    bundle = load_bundle(folder)
    contribs, method = contributions(bundle, frame)  # float64 in, float32 inside
    assert method == "recency"
    typical = bundle.typical()["orders_days_since_last"]
    days = frame["orders_days_since_last"].to_numpy(dtype=np.float32).astype(float)
    expected = model.coef_ * (np.log1p(days) - np.log1p(typical))
    np.testing.assert_allclose(contribs["orders_days_since_last"], expected, atol=1e-9)
    # one customer alone is still compared with the typical customer at training
    alone, _ = contributions(bundle, frame.head(1))
    assert alone.iloc[0, 0] == pytest.approx(expected[0])
    assert abs(expected[0]) > 0.01


def test_missing_columns_are_named(frame):
    model = LogisticCandidate(key=KEY).fit(frame)
    with pytest.raises(DataError, match="lacks engagement, which the logistic model reads"):
        contributions(model, frame.drop(columns="engagement"))


# -- reasons -------------------------------------------------------------------------------


def test_reason_codes_take_the_strongest_positive_contributions(spec):
    frame = pd.DataFrame(
        {
            "orders_days_since_last": [94.0, 3.0, 40.0],
            "orders_count_90d": [0.0, 9.0, 2.0],
            "plan": ["basic", "pro", None],
            "tenure_days": [30.0, 900.0, 400.0],
            "orders_category_books_share_90d": [np.nan, 0.5, 0.25],
        }
    )
    contribs = pd.DataFrame(
        {
            "orders_days_since_last": [0.9, -1.0, 0.0],
            "orders_count_90d": [0.4, -0.2, -0.1],
            "plan": [0.3, -0.1, 0.2],
            "tenure_days": [0.6, -0.3, -0.4],
            "orders_category_books_share_90d": [0.1, -0.05, np.nan],
        }
    )
    typical = typical_values(frame, list(frame.columns))
    assert typical == {
        "orders_days_since_last": 40.0,
        "orders_count_90d": 2.0,
        "plan": "basic",
        "tenure_days": 400.0,
        "orders_category_books_share_90d": 0.375,
    }
    codes = reason_codes(contribs, frame, typical, spec)
    assert codes == [
        [
            "no orders in 94 days (typical: 40)",
            "customer for 30 days (typical: 400)",
            "no orders in the last 90 days (typical: 2)",
        ],
        [],
        ["plan: unknown (most common: basic)"],
    ]
    assert reason_codes(contribs, frame, typical, spec, k=1)[0] == [codes[0][0]]
    assert len(reason_codes(contribs, frame, typical, spec, k=10)[0]) == 5
    with pytest.raises(DataError, match="3 rows of contributions but 2 rows of features"):
        reason_codes(contribs, frame.head(2), typical, spec)


def test_global_drivers_rank_by_mean_absolute_contribution():
    contribs = pd.DataFrame({"a": [1.0, -1.0], "b": [-3.0, 0.0], "c": [0.5, 0.5]})
    assert global_drivers(contribs) == [("b", 1.5), ("a", 1.0), ("c", 0.5)]
    assert global_drivers(contribs, top=1) == [("b", 1.5)]


def test_a_hundred_thousand_customers(spec):
    """Timing is printed for the record, never asserted (benchmarks/ measures speed)."""
    train = make_frame(n=20_000, seed=2, noise=45)
    # a small model keeps the suite quick: TreeSHAP's time grows with trees x leaves x depth^2
    model = LightGBMCandidate(key=KEY, rounds=30, num_leaves=15).fit(train)
    frame = make_frame(n=100_000, seed=3, noise=45)
    assert len(model.features_) == 52
    start = time.perf_counter()
    contribs, _ = contributions(model, frame)
    middle = time.perf_counter()
    codes = reason_codes(contribs, frame, typical_values(train, model.features_), spec)
    end = time.perf_counter()
    print(
        f"100,000 x {len(model.features_)}: contributions {middle - start:.1f} s, "
        f"reason codes {end - middle:.1f} s"
    )
    assert contribs.shape == (100_000, 52)
    assert len(codes) == 100_000
    positive = (contribs.to_numpy() > 0).sum(axis=1)
    assert [len(c) for c in codes] == np.minimum(positive, 3).tolist()


def test_reason_codes_never_repeat_a_phrase(spec):
    # no order at all: the last and the first order both read "no orders yet"
    frame = pd.DataFrame(
        {
            "orders_days_since_last": [np.nan],
            "orders_days_since_first": [np.nan],
            "orders_count_90d": [0.0],
            "tenure_days": [30.0],
        }
    )
    contribs = pd.DataFrame(
        {
            "orders_days_since_last": [0.9],
            "orders_days_since_first": [0.8],
            "orders_count_90d": [0.5],
            "tenure_days": [0.1],
        }
    )
    [codes] = reason_codes(contribs, frame, {"tenure_days": 400.0}, spec)
    assert codes[0] == "no orders yet"
    assert len(codes) == 3
    assert len(set(codes)) == 3
