"""Point-in-time honesty, proven on small random event logs (Hypothesis)."""

import datetime as dt
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
HORIZON = 30
ACTIVE = 60
SENTINEL = pd.Timestamp("2024-12-31")  # a heartbeat event: the data is observed until then

events = st.lists(
    st.tuples(
        st.integers(1, 5),  # customer
        st.integers(-40, 200),  # day offset from ORIGIN
        st.integers(0, 86_399),  # second of the day
        st.floats(-50, 200, allow_nan=False).map(lambda x: round(x, 2)),
        st.sampled_from(["web", "app", "shop"]),
    ),
    min_size=1,
    max_size=60,
)
signups = st.lists(st.integers(-60, 150), min_size=5, max_size=5)
schedules = st.sampled_from(["1mo", "3w", "2w"])

# No "explain" phase: its line tracer makes every build through sqlglot a hundred times slower.
SETTINGS = settings(
    max_examples=25,
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
            "customer_id": range(1, 6),
            "signup_date": [
                (ORIGIN + pd.Timedelta(days=d)).date().isoformat() for d in signup_days
            ],
        }
    )
    pings = pd.DataFrame({"customer_id": [1], "ping_time": [SENTINEL]})
    return customers, orders, pings


def spec(every):
    return {
        "project": {"name": "prop"},
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
        "features": {"windows": ["14d", "30d"], "max_levels": 5},
    }


def build_frame(customers, orders, pings, every, only=None):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        customers.to_csv(root / "data" / "customers.csv", index=False)
        orders.to_parquet(root / "data" / "orders.parquet", index=False)
        pings.to_parquet(root / "data" / "pings.parquet", index=False)
        text = spec(every)
        if only is not None:  # one cutoff alone
            text["cutoffs"] = {
                "start": only.date().isoformat(),
                "every": every,
                "end": only.date().isoformat(),
            }
        (root / "propensity.toml").write_text(to_toml(text))
        try:
            result = Project.load(root).build()
        except DataError as exc:
            if "the frame has no rows" not in str(exc):
                raise
            return pd.DataFrame({"customer_id": [], "cutoff": [], "label": []})
        frame = pd.read_parquet(result.frame_path)
    frame["cutoff"] = pd.to_datetime(frame.cutoff)
    return frame.sort_values(["cutoff", "customer_id"]).reset_index(drop=True)


def at(frame, cutoff):
    return frame[frame.cutoff == cutoff].set_index("customer_id").sort_index()


def assert_same_features(full, cut, cutoff):
    a, b = at(full, cutoff), at(cut, cutoff)
    assert list(a.index) == list(b.index)  # the same population
    features = [c for c in a.columns if c not in ("cutoff", "label")]
    for col in features:
        if col in b.columns:
            pd.testing.assert_series_equal(a[col], b[col], check_dtype=False, obj=col)
        else:
            # a category level seen only later: the column exists, but is empty at the cutoff
            assert (a[col].fillna(0) == 0).all(), col


@SETTINGS
@given(rows=events, signup_days=signups, every=schedules, pick=st.integers(0, 100))
def test_features_ignore_events_at_or_after_the_cutoff(rows, signup_days, every, pick):
    customers, orders, pings = make_tables(rows, signup_days)
    full = build_frame(customers, orders, pings, every)
    cutoffs = sorted(full.cutoff.unique())
    if not cutoffs:
        return
    t = cutoffs[pick % len(cutoffs)]
    before = orders[orders.order_time < t]
    if before.empty:
        return
    cut = build_frame(customers, before, pings, every)
    assert_same_features(full, cut, t)


@SETTINGS
@given(rows=events, signup_days=signups, every=schedules, pick=st.integers(0, 100))
def test_a_cutoff_alone_gets_the_same_row_as_in_the_schedule(rows, signup_days, every, pick):
    # scoring computes one as-of date alone: it must see what training saw at that cutoff
    customers, orders, pings = make_tables(rows, signup_days)
    full = build_frame(customers, orders, pings, every)
    cutoffs = sorted(full.cutoff.unique())
    if not cutoffs:
        return
    t = cutoffs[pick % len(cutoffs)]
    alone = build_frame(customers, orders, pings, every, only=t)
    a, b = at(full, t), at(alone, t)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@SETTINGS
@given(rows=events, signup_days=signups, every=schedules, pick=st.integers(0, 100))
def test_labels_ignore_events_after_the_horizon(rows, signup_days, every, pick):
    customers, orders, pings = make_tables(rows, signup_days)
    full = build_frame(customers, orders, pings, every)
    cutoffs = sorted(full.cutoff.unique())
    if not cutoffs:
        return
    t = cutoffs[pick % len(cutoffs)]
    kept = orders[orders.order_time < t + pd.Timedelta(days=HORIZON)]
    if kept.empty:
        return
    cut = build_frame(customers, kept, pings, every)
    assert_same_features(full, cut, t)
    pd.testing.assert_series_equal(at(full, t).label, at(cut, t).label)


@SETTINGS
@given(rows=events, signup_days=signups, every=schedules)
def test_population_and_label_windows(rows, signup_days, every):
    customers, orders, pings = make_tables(rows, signup_days)
    frame = build_frame(customers, orders, pings, every)
    signup = dict(zip(customers.customer_id, pd.to_datetime(customers.signup_date), strict=True))
    day = orders.order_time.dt.floor("D")
    for t in sorted(frame.cutoff.unique()):
        window = orders[(day < t) & (day >= t - pd.Timedelta(days=ACTIVE))]
        expected = sorted(c for c in window.customer_id.unique() if signup[c] < t)
        assert sorted(at(frame, t).index) == expected
        # labels exist only where [t, t + horizon) is fully observed (data runs to SENTINEL)
        observed = t + pd.Timedelta(days=HORIZON) <= SENTINEL
        assert at(frame, t).label.notna().all() if observed else at(frame, t).label.isna().all()
        for cid, label in at(frame, t).label.items():
            mine = day[orders.customer_id == cid]
            ordered = ((mine >= t) & (mine < t + pd.Timedelta(days=HORIZON))).any()
            assert label == int(not ordered)


def test_unobserved_label_windows_get_no_label(tmp_path):
    customers, orders, pings = make_tables(
        [(1, d, 0, 10.0, "web") for d in range(0, 200, 5)], [-10] * 5
    )
    frame = build_frame(customers, orders, pings.iloc[0:0], "1mo")
    last_event = orders.order_time.max().floor("D")
    for t, group in frame.groupby("cutoff"):
        observed = t + pd.Timedelta(days=HORIZON) <= last_event
        assert group.label.notna().all() == observed
        assert group.label.isna().all() == (not observed)
    assert np.isin([dt.date(2024, 7, 1)], frame.cutoff.dt.date.to_numpy()).all()
