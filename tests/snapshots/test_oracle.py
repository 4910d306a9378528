"""The frame against a straightforward pandas computation, feature by feature (Hypothesis).

The planner computes window sums as differences of running totals and looks them up at
each window's edges; this test computes every feature the obvious way instead (filter the
events to the window, then count, sum, take the maximum), on random logs, and asks for the
same frame: the same rows, the same values, nulls in the same places. Amounts are whole
quarters, so that every sum is exact in floating point and equality can be exact too.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.project import Project
from tests.conftest import to_toml

ORIGIN = pd.Timestamp("2024-01-01")
HORIZON, ACTIVE, WINDOWS = 30, 60, (14, 30)
SENTINEL = pd.Timestamp("2024-12-31")  # a heartbeat event: the data is observed until then
CHANNELS = ["web", "app", "shop"]

events = st.lists(
    st.tuples(
        st.integers(1, 4),  # customer
        st.integers(-430, 200),  # day offset from ORIGIN: more than a year before the cutoffs
        st.integers(0, 86_399),  # second of the day
        st.integers(-200, 800).map(lambda q: q / 4),  # whole quarters: exact sums
        st.sampled_from(CHANNELS),
    ),
    min_size=1,
    max_size=70,
)
signups = st.lists(st.integers(-450, 150), min_size=4, max_size=4)

# No "explain" phase: its line tracer makes every build through sqlglot far slower.
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


def make_tables(rows, signup_days):
    orders = pd.DataFrame(rows, columns=["customer_id", "day", "second", "amount", "channel"])
    orders["order_time"] = (
        ORIGIN
        + pd.to_timedelta(orders.pop("day"), unit="D")
        + pd.to_timedelta(orders.pop("second"), unit="s")
    )
    customers = pd.DataFrame(
        {
            "customer_id": range(1, 5),
            "signup_date": [
                (ORIGIN + pd.Timedelta(days=d)).date().isoformat() for d in signup_days
            ],
        }
    )
    pings = pd.DataFrame({"customer_id": [1], "ping_time": [SENTINEL]})
    return customers, orders, pings


def spec(every):
    return {
        "project": {"name": "oracle"},
        "entity": {"key": "customer_id"},
        "sources": {
            "customers": {"path": "data/customers.csv", "kind": "entity", "time": "signup_date"},
            "orders": {
                "path": "data/orders.parquet",
                "kind": "events",
                "time": "order_time",
                "measures": ["amount"],
                "categories": ["channel"],
            },
            "pings": {"path": "data/pings.parquet", "kind": "events", "time": "ping_time"},
        },
        "target": {"kind": "inactivity", "source": "orders", "horizon": f"{HORIZON}d"},
        "population": {"active_within": f"{ACTIVE}d"},
        "cutoffs": {"start": "2024-02-01", "every": every, "end": "2024-07-01"},
        "features": {"windows": [f"{w}d" for w in WINDOWS], "max_levels": 5, "year_ago": True},
    }


def build_frame(customers, orders, pings, every):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        customers.to_csv(root / "data" / "customers.csv", index=False)
        orders.to_parquet(root / "data" / "orders.parquet", index=False)
        pings.to_parquet(root / "data" / "pings.parquet", index=False)
        (root / "propensity.toml").write_text(to_toml(spec(every)))
        try:
            result = Project.load(root).build()
        except DataError as exc:
            if "the frame has no rows" not in str(exc):
                raise
            return pd.DataFrame(columns=["customer_id", "cutoff", "label"])
        frame = pd.read_parquet(result.frame_path)
    frame["cutoff"] = pd.to_datetime(frame.cutoff)
    return frame


def ratio(a, b):
    return a / b if b else np.nan


def oracle(customers, orders, cutoffs):
    """Every orders feature at every cutoff, by filtering and counting."""
    day = orders.order_time.dt.floor("D")
    signup = dict(zip(customers.customer_id, pd.to_datetime(customers.signup_date), strict=True))
    levels = orders.channel.value_counts().sort_index().sort_values(ascending=False, kind="stable")
    rows = []
    for t in cutoffs:
        for cid in sorted(signup):
            mine = orders[orders.customer_id == cid]
            d = day[orders.customer_id == cid]
            past = mine[d < t]
            if signup[cid] >= t or not (d[d < t] >= t - pd.Timedelta(days=ACTIVE)).any():
                continue
            row = {"customer_id": cid, "cutoff": t}
            row["label"] = int(not ((d >= t) & (d < t + pd.Timedelta(days=HORIZON))).any())

            def within(lo, hi, mine=mine, d=d, t=t):
                """The events on days [t - lo, t - hi)."""
                return mine[(d >= t - pd.Timedelta(days=lo)) & (d < t - pd.Timedelta(days=hi))]

            for w in WINDOWS:
                win, before = within(w, 0), within(2 * w, w)
                n = len(win)
                row[f"orders_count_{w}d"] = n
                row[f"orders_active_days_{w}d"] = win.order_time.dt.floor("D").nunique()
                row[f"orders_amount_sum_{w}d"] = win.amount.sum()
                row[f"orders_amount_mean_{w}d"] = win.amount.mean() if n else np.nan
                row[f"orders_amount_max_{w}d"] = win.amount.max() if n else np.nan
                for level in levels.index:
                    k = int((win.channel == level).sum())
                    row[f"orders_channel_{level}_count_{w}d"] = k
                    row[f"orders_channel_{level}_share_{w}d"] = ratio(k, n)
                row[f"orders_count_trend_{w}d"] = ratio(n, len(before))
                row[f"orders_amount_sum_trend_{w}d"] = ratio(win.amount.sum(), before.amount.sum())
            days = past.order_time.dt.floor("D").drop_duplicates().sort_values()
            row["orders_count_all"] = len(past)
            row["orders_active_days_all"] = len(days)
            row["orders_days_since_last"] = (t - days.iloc[-1]).days
            row["orders_days_since_first"] = (t - days.iloc[0]).days
            gaps = len(days) > 1
            row["orders_mean_gap_days"] = (
                (days.iloc[-1] - days.iloc[0]).days / (len(days) - 1) if gaps else np.nan
            )
            row["orders_last_gap_days"] = (days.iloc[-1] - days.iloc[-2]).days if gaps else np.nan
            ago = within(365, 365 - HORIZON)
            row[f"orders_count_next{HORIZON}d_year_ago"] = len(ago)
            row[f"orders_amount_sum_next{HORIZON}d_year_ago"] = ago.amount.sum()
            row["tenure_days"] = (t - signup[cid]).days
            rows.append(row)
    return pd.DataFrame(rows)


@SETTINGS
@given(rows=events, signup_days=signups, every=st.sampled_from(["1mo", "3w"]))
def test_every_feature_equals_the_obvious_computation(rows, signup_days, every):
    customers, orders, pings = make_tables(rows, signup_days)
    frame = build_frame(customers, orders, pings, every)
    cutoffs = sorted(pd.date_range("2024-02-01", "2024-07-01", freq=pd.DateOffset(months=1)))
    if every == "3w":
        cutoffs = list(pd.date_range("2024-02-01", "2024-07-01", freq="21D"))
    expected = oracle(customers, orders, cutoffs)
    if expected.empty:
        assert frame.empty
        return
    got = frame.sort_values(["cutoff", "customer_id"]).reset_index(drop=True)
    want = expected.sort_values(["cutoff", "customer_id"]).reset_index(drop=True)
    assert list(zip(got.customer_id, got.cutoff, strict=True)) == list(
        zip(want.customer_id, want.cutoff, strict=True)
    )
    for col in want.columns:
        if col in ("customer_id", "cutoff"):
            continue
        if col not in got.columns:
            # a level seen only in other customers' orders is still a column; one never
            # seen is not: then the oracle's column is all zeros and nulls
            assert want[col].fillna(0).eq(0).all(), col
            continue
        a = got[col].astype(float).to_numpy()
        b = want[col].astype(float).to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        assert np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)]), col


def test_count_columns_are_integers_and_absent_windows_are_zero_or_null():
    customers, orders, pings = make_tables(
        [
            (1, 0, 0, 10.0, "web"),
            (1, 40, 0, 5.0, "app"),
            (2, -400, 0, 2.5, "web"),
            (2, 20, 0, 1.0, "web"),
        ],
        [-450] * 4,
    )
    frame = build_frame(customers, orders, pings, "1mo")
    assert frame["orders_count_14d"].dtype == "int64"
    assert frame["orders_count_next30d_year_ago"].dtype == "int64"
    assert frame["orders_amount_sum_next30d_year_ago"].dtype == "float64"
    first = frame[(frame.customer_id == 1) & (frame.cutoff == pd.Timestamp("2024-02-01"))].iloc[0]
    assert first.orders_count_14d == 0
    assert first.orders_amount_sum_14d == 0.0
    assert pd.isna(first.orders_amount_max_14d)
    assert pd.isna(first.orders_amount_mean_14d)
    # customer 1 pings only at the end: the pings source gives the zeros and nulls of no
    # events, like customers who never pinged
    assert first.pings_count_all == 0
    assert pd.isna(first.pings_days_since_last)
    counts = [c for c in frame.columns if c.endswith(("_count_14d", "_count_all"))]
    assert all(frame[c].dtype == "int64" for c in counts)
