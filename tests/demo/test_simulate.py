import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propensity.demo.simulate import DemoData, Shift, simulate, write_demo
from propensity.errors import DataError
from propensity.modeling.metrics import roc_auc_score

START, END = dt.date(2023, 1, 1), dt.date(2025, 12, 31)
EVENTS = {"orders": "order_time", "logins": "login_time", "tickets": "opened_at"}
DAYS_56 = pd.Timedelta(days=56)
DAYS_90 = pd.Timedelta(days=90)


@pytest.fixture(scope="module")
def data() -> DemoData:
    return simulate(4000, seed=11)


def assert_same(a: DemoData, b: DemoData) -> None:
    for name in ("customers", "orders", "logins", "tickets"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    pd.testing.assert_series_equal(a.churned_at, b.churned_at)


def test_same_seed_same_data_and_another_seed_differs(data):
    assert_same(data, simulate(4000, seed=11))
    other = simulate(4000, seed=12)
    assert not other.customers.plan.equals(data.customers.plan)
    assert len(other.logins) != len(data.logins)


def test_columns_and_dtypes(data):
    expected = {
        "customers": {
            "customer_id": "int64",
            "signup_date": "str",
            "plan": "str",
            "channel": "str",
            "region": "str",
            "monthly_price": "float64",
            "email": "str",
            "name": "str",
        },
        "orders": {
            "order_id": "int64",
            "customer_id": "int64",
            "order_time": "datetime64[s]",
            "amount": "float64",
            "category": "str",
        },
        "logins": {"customer_id": "int64", "login_time": "datetime64[s]", "device": "str"},
        "tickets": {
            "ticket_id": "int64",
            "customer_id": "int64",
            "opened_at": "datetime64[s]",
            "topic": "str",
            "satisfaction": "int64",
        },
    }
    for name, columns in expected.items():
        frame = getattr(data, name)
        assert {c: str(t) for c, t in frame.dtypes.items()} == columns, name
    assert str(data.churned_at.dtype) == "datetime64[s]"
    assert data.churned_at.index.name == "customer_id"


def test_values_of_each_column(data):
    customers = data.customers
    ids = np.arange(1, 4001)
    assert np.array_equal(customers.customer_id, ids)
    assert set(customers.plan) == {"basic", "plus", "premium"}
    assert set(customers.channel) == {"web", "app", "referral", "partner"}
    assert set(customers.region) == {"north", "south", "east", "west"}
    assert customers.email.tolist() == [f"c{i}@example.com" for i in ids]
    assert customers.name.tolist() == [f"Customer {i}" for i in ids]
    signup = pd.to_datetime(customers.signup_date, format="%Y-%m-%d")
    assert signup.is_monotonic_increasing  # ids follow signup order
    assert signup.min() >= pd.Timestamp("2022-01-01")
    assert signup.max() <= pd.Timestamp("2025-12-01")
    assert (signup < pd.Timestamp(START)).mean() == pytest.approx(0.15, abs=0.03)
    price = customers.groupby("plan").monthly_price.median()
    assert price["basic"] < price["plus"] < price["premium"]

    orders = data.orders
    assert np.array_equal(orders.order_id, np.arange(1, len(orders) + 1))
    assert (orders.amount > 0).all()
    assert np.array_equal(orders.amount, orders.amount.round(2))
    assert set(orders.category) == {"grocery", "home", "fashion", "electronics", "beauty"}
    assert set(data.logins.device) == {"web", "ios", "android"}
    tickets = data.tickets
    assert np.array_equal(tickets.ticket_id, np.arange(1, len(tickets) + 1))
    assert set(tickets.topic) == {"billing", "delivery", "product", "account"}
    assert set(tickets.satisfaction) == {1, 2, 3, 4, 5}
    for name, time in EVENTS.items():
        frame = getattr(data, name)
        assert frame[time].is_monotonic_increasing, name
        assert frame.customer_id.between(1, 4000).all(), name


def test_sizes_are_about_a_hundred_events_per_customer_mostly_logins(data):
    events = {name: len(getattr(data, name)) for name in EVENTS}
    assert 70 < sum(events.values()) / 4000 < 140
    assert events["logins"] > 5 * events["orders"] > 5 * events["tickets"]


def assert_events_within_lives(data: DemoData, start: dt.date, end: dt.date) -> None:
    signup = pd.to_datetime(data.customers.set_index("customer_id").signup_date)
    assert (signup >= pd.Timestamp(start) - pd.Timedelta(days=365)).all()
    assert (signup <= pd.Timestamp(end) - pd.Timedelta(days=30)).all()
    churned = data.churned_at.dropna()
    assert (churned >= signup[churned.index]).all()
    assert (churned <= pd.Timestamp(end)).all()
    for name, time in EVENTS.items():
        frame = getattr(data, name)
        when = frame[time].to_numpy()
        assert (when >= np.datetime64(start)).all(), name
        assert (when < np.datetime64(end + dt.timedelta(days=1))).all(), name
        assert (when >= signup.reindex(frame.customer_id).to_numpy()).all(), name
        churn = data.churned_at.reindex(frame.customer_id).to_numpy()
        assert not (~np.isnat(churn) & (when >= churn)).any(), name


def test_no_event_before_signup_after_churn_or_after_the_end(data):
    assert_events_within_lives(data, START, END)


@settings(max_examples=15, deadline=None)
@given(
    customers=st.integers(1, 150),
    seed=st.integers(0, 2**32 - 1),
    start=st.dates(dt.date(2020, 1, 1), dt.date(2024, 12, 31)),
    days=st.integers(59, 700),
)
def test_events_stay_within_lives_for_any_period(customers, seed, start, days):
    end = start + dt.timedelta(days=days)
    data = simulate(customers, seed=seed, start=start, end=end)
    assert len(data.customers) == len(data.churned_at) == customers
    assert_events_within_lives(data, start, end)
    assert data.tickets.satisfaction.between(1, 5).all()


def at_risk(data: DemoData, cutoffs: list[str]) -> pd.DataFrame:
    """Customers there at each cutoff (for 8 weeks at least): recent logins, bad tickets,
    and whether they churn within 90 days."""
    signup = pd.to_datetime(data.customers.set_index("customer_id").signup_date)
    rows = []
    for text in cutoffs:
        cutoff = pd.Timestamp(text)
        there = (signup <= cutoff - DAYS_56) & ~(data.churned_at < cutoff)
        ids = there[there].index
        logins = data.logins[data.logins.login_time.between(cutoff - DAYS_56, cutoff, "left")]
        tickets = data.tickets[data.tickets.opened_at.between(cutoff - DAYS_56, cutoff, "left")]
        bad = tickets[tickets.satisfaction <= 2].customer_id
        rows.append(
            pd.DataFrame(
                {
                    "logins": logins.customer_id.value_counts().reindex(ids, fill_value=0),
                    "bad_ticket": ids.isin(bad),
                    "churns": (data.churned_at[ids] < cutoff + DAYS_90).to_numpy(),
                }
            ).assign(low_logins=lambda f: f.logins <= f.logins.quantile(0.25))
        )
    return pd.concat(rows, ignore_index=True)


def test_low_engagement_and_bad_tickets_drive_churn(data):
    risk = at_risk(data, ["2024-03-01", "2024-09-01", "2025-03-01", "2025-09-01"])
    rate = risk.groupby("low_logins").churns.mean()
    assert rate[True] > 1.5 * rate[False]
    rate = risk.groupby("bad_ticket").churns.mean()
    assert risk.bad_ticket.sum() > 300
    assert rate[True] > 1.5 * rate[False]
    # bad tickets count beyond what they say about engagement: outside the lowest login quartile
    quartile = pd.qcut(risk.logins.rank(method="first"), 4, labels=False)
    upper = risk[quartile >= 1]
    rate = upper.groupby("bad_ticket").churns.mean()
    assert rate[True] > 1.5 * rate[False]


@pytest.mark.parametrize("cutoff", ["2024-07-01", "2025-04-01"])
def test_no_order_in_90_days_is_common_and_learnable(data, cutoff):
    at = pd.Timestamp(cutoff)
    orders = data.orders
    past = orders[orders.order_time.between(at - pd.Timedelta(days=365), at, inclusive="left")]
    future = orders[orders.order_time.between(at, at + DAYS_90, inclusive="left")]
    last = past.groupby("customer_id").order_time.max()
    label = ~last.index.isin(future.customer_id)
    assert 0.25 < label.mean() < 0.45
    recency = (at - last).dt.days.to_numpy()
    assert roc_auc_score(label, recency) > 0.7


def test_a_shift_raises_the_churn_of_the_hit_plan_after_its_start_only():
    start = dt.date(2024, 6, 1)
    plain = simulate(4000, seed=5)
    shifted = simulate(4000, seed=5, shift=Shift(start=start, plan="basic", churn_multiplier=3.0))
    pd.testing.assert_frame_equal(plain.customers, shifted.customers)
    for name, time in EVENTS.items():
        before = [getattr(d, name) for d in (plain, shifted)]
        before = [f[f[time] < pd.Timestamp(start)] for f in before]
        pd.testing.assert_frame_equal(*before)

    basic = plain.customers.plan.eq("basic").to_numpy()
    # the other plans are untouched; basic customers leave no later than without the shift
    pd.testing.assert_series_equal(plain.churned_at[~basic], shifted.churned_at[~basic])
    never = pd.Timestamp("2100-01-01")
    was, now = plain.churned_at[basic].fillna(never), shifted.churned_at[basic].fillna(never)
    assert (now <= was).all()
    early = (was < pd.Timestamp(start)) | (now < pd.Timestamp(start))
    pd.testing.assert_series_equal(was[early], now[early])

    def rate(d: DemoData) -> float:
        churned = d.churned_at[basic]
        there = ~(churned < pd.Timestamp(start))
        return float(churned[there].lt(pd.Timestamp("2025-06-01")).mean())

    assert rate(shifted) > 1.5 * rate(plain)


def test_invalid_arguments_are_refused():
    with pytest.raises(DataError, match=r"Shift.plan: unknown plan 'gold'; plans are: basic"):
        Shift(start=dt.date(2024, 1, 1), plan="gold")
    with pytest.raises(DataError, match=r"Shift.churn_multiplier: 0.0 must be a positive"):
        Shift(start=dt.date(2024, 1, 1), plan="basic", churn_multiplier=0.0)
    with pytest.raises(DataError, match=r"customers=0; simulate at least 1"):
        simulate(0)
    with pytest.raises(DataError, match=r"2024-01-01 to 2024-01-31 is too short"):
        simulate(10, start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))


def test_write_demo_writes_the_four_files_and_no_temporaries(tmp_path):
    rows = write_demo(tmp_path / "data", 500, seed=3)
    folder = tmp_path / "data"
    assert sorted(p.name for p in folder.iterdir()) == [
        "customers.csv",
        "logins.parquet",
        "orders.parquet",
        "tickets.parquet",
    ]
    data = simulate(500, seed=3)
    assert rows == {name: len(getattr(data, name)) for name in ("customers", *EVENTS)}
    customers = pd.read_csv(folder / "customers.csv", dtype={"signup_date": "str"})
    pd.testing.assert_frame_equal(customers, data.customers)
    for name, time in EVENTS.items():
        read = pd.read_parquet(folder / f"{name}.parquet")
        read[time] = read[time].astype("datetime64[s]")
        pd.testing.assert_frame_equal(read, getattr(data, name))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    write_demo(tmp_path, 200, seed=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail)
    with pytest.raises(OSError, match="disk full"):
        write_demo(tmp_path, 300, seed=2)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after.keys() == before.keys()
    assert after["orders.parquet"] == before["orders.parquet"]
    assert after["customers.csv"] != before["customers.csv"]  # written before the failure


def test_until_is_the_history_as_it_stood_that_day():
    full = simulate(1500, seed=4)
    day = dt.date(2024, 9, 15)
    cut = full.until(day)
    stamp = pd.Timestamp(day)
    signed = pd.to_datetime(full.customers["signup_date"]) < stamp
    pd.testing.assert_frame_equal(cut.customers, full.customers[signed].reset_index(drop=True))
    for name, time in EVENTS.items():
        table = getattr(full, name)
        assert (getattr(cut, name)[time] < stamp).all()
        pd.testing.assert_frame_equal(
            getattr(cut, name), table[table[time] < stamp].reset_index(drop=True)
        )
    # a churn on or after the day is not known yet; earlier ones are
    known = full.churned_at[signed.to_numpy()]
    assert cut.churned_at[known < stamp].equals(known[known < stamp])
    assert cut.churned_at[~(known < stamp)].isna().all()
    # a later day extends the same history
    later = full.until(dt.date(2024, 12, 1))
    assert len(later.orders) > len(cut.orders)
    pd.testing.assert_frame_equal(later.orders.iloc[: len(cut.orders)], cut.orders)


def test_init_lets_the_demos_time_pass_and_keeps_the_project_file(tmp_path):
    from propensity.demo.project import init_project
    from propensity.errors import PropensityError

    root = tmp_path / "shop"
    shift = Shift(dt.date(2024, 6, 1), "plus", 4.0)
    init_project(root, demo=True, customers=400, seed=2, shift=shift, until=dt.date(2024, 3, 1))
    orders = pd.read_parquet(root / "data" / "orders.parquet")
    assert orders["order_time"].max() < pd.Timestamp("2024-03-01")
    spec = root / "propensity.toml"
    spec.write_text(spec.read_text() + "\n[backtest]\nfolds = 2\n")
    done = init_project(
        root,
        demo=True,
        customers=400,
        seed=2,
        shift=shift,
        until=dt.date(2024, 6, 1),
        data_only=True,
    )
    assert "folds = 2" in spec.read_text()  # the user's edit survives
    assert done["shift"] == {"start": "2024-06-01", "plan": "plus", "churn": 4.0}
    grown = pd.read_parquet(root / "data" / "orders.parquet")
    expected = simulate(400, seed=2, shift=shift).until(dt.date(2024, 6, 1)).orders
    assert len(grown) == len(expected) > len(orders)
    # core messages name parameters; the CLI turns them into its flags
    with pytest.raises(PropensityError, match=r"^data_only: .* does not exist") as caught:
        init_project(tmp_path / "new", demo=True, customers=400, data_only=True)
    assert caught.value.for_cli().startswith("--data-only: ")
    with pytest.raises(PropensityError, match="add `demo`") as caught:
        init_project(tmp_path / "plain", until=dt.date(2024, 6, 1))
    assert caught.value.for_cli().startswith("--shift, --until and --data-only shape")
    with pytest.raises(PropensityError, match="or `data_only` to rewrite only") as caught:
        init_project(root, demo=True, customers=400)
    assert "pass --force to overwrite it (or --data-only to" in caught.value.for_cli()
    # time passes on the same history only, and never over a real project's data
    with pytest.raises(PropensityError, match=r"^customers: 500 differs from 400") as caught:
        init_project(root, demo=True, customers=500, seed=2, shift=shift, data_only=True)
    assert caught.value.for_cli().startswith("--customers: 500")
    assert caught.value.for_cli().endswith("(or start again with --force)")
    with pytest.raises(PropensityError, match=r"^shift: None differs from"):
        init_project(root, demo=True, customers=400, seed=2, data_only=True)
    real = tmp_path / "real"
    init_project(real)
    with pytest.raises(PropensityError, match="holds no data written by `init --demo`"):
        init_project(real, demo=True, customers=400, data_only=True)
    assert list((real / "data").iterdir()) == []
