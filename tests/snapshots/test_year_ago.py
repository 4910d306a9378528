"""Year-ago features: the coming horizon's window one year before the cutoff, point in time."""

import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from propensity.decisions.reasons import describe, label
from propensity.errors import SpecError
from propensity.project import Project
from propensity.snapshots.features import FeatureInfo
from propensity.snapshots.frame import year_ago_on
from propensity.spec import Spec
from tests.conftest import shop_spec
from tests.snapshots.test_oracle import SETTINGS, build_frame, make_tables

HORIZON = 30
NAMES = ["orders_count_next30d_year_ago", "orders_amount_sum_next30d_year_ago"]

events = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.integers(-430, 200),
        st.integers(0, 86_399),
        st.integers(-200, 800).map(lambda q: q / 4),
        st.sampled_from(["web", "app"]),
    ),
    min_size=1,
    max_size=60,
)


def at(frame, cutoff):
    return frame[frame.cutoff == cutoff].set_index("customer_id").sort_index()


@SETTINGS
@given(rows=events, pick=st.integers(0, 100), later=events)
def test_year_ago_features_never_see_the_cutoff_or_after_and_count_that_window(rows, pick, later):
    customers, orders, pings = make_tables(rows, [-450] * 4)
    full = build_frame(customers, orders, pings, "1mo")
    cutoffs = sorted(full.cutoff.unique())
    if not cutoffs:
        return
    t = cutoffs[pick % len(cutoffs)]
    # what happens at or after the cutoff is unknown at t: drop it, or add other events
    before = orders[orders.order_time < t]
    _, extra, _ = make_tables(later, [-450] * 4)
    extra = extra[extra.order_time.dt.floor("D") >= t]
    for other in (before, pd.concat([before, extra], ignore_index=True)):
        if other.empty:
            continue
        cut = build_frame(customers, other, pings, "1mo")
        if t not in set(cut.cutoff):
            continue
        a, b = at(full, t), at(cut, t)
        # the population at t depends only on what happened before t
        assert list(a.index) == list(b.index)
        pd.testing.assert_frame_equal(a[NAMES], b[NAMES])
    # and they are the count and the sum of the days [t - 365, t - 365 + horizon)
    day = orders.order_time.dt.floor("D")
    lo, hi = t - pd.Timedelta(days=365), t - pd.Timedelta(days=365 - HORIZON)
    window = orders[(day >= lo) & (day < hi)]
    for cid, row in at(full, t).iterrows():
        mine = window[window.customer_id == cid]
        assert row[NAMES[0]] == len(mine)
        assert row[NAMES[1]] == mine.amount.sum()


def test_year_ago_features_say_what_they_mean(make_project):
    tables = {
        "customers.csv": pd.DataFrame({"customer_id": [1], "signup_date": ["2022-01-01"]}),
        "orders.parquet": pd.DataFrame(
            {
                "customer_id": [1, 1, 1],
                "order_time": pd.to_datetime(["2023-02-10", "2024-01-20", "2024-02-20"]),
                "amount": [3.0, 4.0, 5.0],
                "channel": ["web", "web", "app"],
            }
        ),
    }
    spec = shop_spec(
        cutoffs={"start": "2024-02-01", "every": "1mo", "end": "2024-02-01"},
        features={"windows": ["30d"], "year_ago": True},
    )
    spec["sources"]["customers"].pop("pii")
    root = make_project(spec, tables)
    result = Project.load(root).build()
    frame = pd.read_parquet(result.frame_path)
    features = json.loads(result.manifest_path.read_text())["features"]
    info = {f["name"]: f["info"] for f in features}
    assert info["orders_count_next30d_year_ago"] == {
        "family": "count_year_ago",
        "source": "orders",
        "window": "30d",
    }
    assert info["orders_amount_sum_next30d_year_ago"]["family"] == "sum_year_ago"
    assert info["orders_amount_sum_next30d_year_ago"]["measure"] == "amount"
    # 2024-02-01 - 365 days = 2023-02-01: the order of 2023-02-10 is in [02-01, 03-03)
    assert frame.orders_count_next30d_year_ago.tolist() == [1]
    assert frame.orders_amount_sum_next30d_year_ago.tolist() == [3.0]
    # and reasons and chart labels say it in words
    infos = {n: FeatureInfo(name=n, **i) for n, i in info.items()}
    spec_ = Project.load(root).spec
    assert describe("orders_count_next30d_year_ago", 1, 0.0, spec_, infos) == (
        "1 order in the same 30 days last year (typical: 0)"
    )
    assert describe("orders_amount_sum_next30d_year_ago", 3.0, None, spec_, infos) == (
        "total amount of orders in the same 30 days last year: 3"
    )
    assert label("orders_count_next30d_year_ago", spec_, infos) == (
        "orders in the same 30 days last year"
    )


@pytest.mark.parametrize(
    ("setting", "horizon", "days", "on"),
    [
        ("auto", 90, 456, True),  # more than a year and a horizon of events
        ("auto", 90, 455, False),
        ("auto", 400, 2000, False),  # a window a year before would reach past the cutoff
        (True, 90, 10, True),
        (False, 90, 2000, False),
        (True, 365, 10, True),
    ],
)
def test_when_year_ago_features_are_on(setting, horizon, days, on):
    start = dt.date(2023, 1, 1)
    assert year_ago_on(setting, horizon, start, start + dt.timedelta(days=days)) is on


def test_year_ago_needs_a_horizon_within_a_year():
    start = dt.date(2023, 1, 1)
    with pytest.raises(SpecError, match=r"features\.year_ago: true needs a horizon of at most"):
        year_ago_on(True, 400, start, start + dt.timedelta(days=2000))


def test_the_year_ago_key():
    assert Spec.from_dict(shop_spec()).features.year_ago == "auto"
    assert Spec.from_dict(shop_spec(features={"year_ago": False})).features.year_ago is False
    with pytest.raises(
        SpecError, match=r"features\.year_ago: 'often' is not allowed; write true, false or"
    ):
        Spec.from_dict(shop_spec(features={"year_ago": "often"}))
