import datetime as dt

import numpy as np
import pandas as pd
import pytest

from propensity.demo.simulate import Shift, simulate, write_demo


@pytest.fixture(scope="module")
def data():
    return simulate(4000, seed=11)


def test_same_seed_same_data_and_another_seed_differs(data):
    again = simulate(4000, seed=11)
    pd.testing.assert_frame_equal(data.orders, again.orders)
    pd.testing.assert_frame_equal(data.customers, again.customers)
    other = simulate(4000, seed=12)
    assert not data.orders.amount.equals(other.orders.amount)


def test_schemas(data):
    assert list(data.customers.columns) == [
        "customer_id",
        "signup_date",
        "plan",
        "channel",
        "region",
        "monthly_price",
        "email",
        "name",
    ]
    assert list(data.orders.columns) == [
        "order_id",
        "customer_id",
        "order_time",
        "amount",
        "category",
    ]
    assert list(data.logins.columns) == ["customer_id", "login_time", "device"]
    assert list(data.tickets.columns) == [
        "ticket_id",
        "customer_id",
        "opened_at",
        "topic",
        "satisfaction",
    ]
    assert data.orders.order_time.dtype.kind == "M"
    assert (data.orders.amount > 0).all()
    assert data.tickets.satisfaction.between(1, 5).all()
    assert set(data.customers.plan) == {"basic", "plus", "premium"}


def test_events_stay_within_each_customers_life(data):
    signup = pd.to_datetime(data.customers.set_index("customer_id").signup_date)
    end = pd.Timestamp("2025-12-31")
    for frame, col in (
        (data.orders, "order_time"),
        (data.logins, "login_time"),
        (data.tickets, "opened_at"),
    ):
        when = frame[col]
        assert (when >= signup.reindex(frame.customer_id).to_numpy()).all()
        churn = data.churned_at.reindex(frame.customer_id).to_numpy()
        after_churn = ~pd.isna(churn) & (when.to_numpy() >= churn)
        assert not after_churn.any()
        assert (when <= end + pd.Timedelta(days=1)).all()


def test_churn_drivers_are_present(data):
    recent = data.logins.login_time.between("2023-11-01", "2024-01-01", inclusive="left")
    logins = data.logins[recent].groupby("customer_id").size()
    alive = data.churned_at.isna() | (data.churned_at >= "2024-01-01")
    signed = pd.to_datetime(data.customers.set_index("customer_id").signup_date) < "2023-10-01"
    base = alive & signed
    counts = logins.reindex(base[base].index).fillna(0)
    churned_2024 = data.churned_at.reindex(counts.index).between("2024-01-01", "2024-12-31")
    low = counts <= counts.quantile(0.25)
    assert churned_2024[low].mean() > 1.5 * churned_2024[~low].mean()
    window = data.tickets.opened_at.between("2023-09-01", "2024-01-01", inclusive="left")
    bad = data.tickets[window & (data.tickets.satisfaction <= 2)]
    had_bad = pd.Series(counts.index.isin(bad.customer_id), index=counts.index)
    assert churned_2024[had_bad].mean() > churned_2024[~had_bad].mean()


def test_a_shift_raises_churn_of_the_hit_plan():
    start = dt.date(2024, 6, 1)
    plain = simulate(4000, seed=5)
    shifted = simulate(4000, seed=5, shift=Shift(start=start, plan="basic", churn_multiplier=3.0))
    basic = plain.customers.plan.eq("basic").to_numpy()

    def rate(d):
        return d.churned_at[basic].between("2024-06-01", "2025-06-01").mean()

    assert rate(shifted) > 1.5 * rate(plain)


def test_write_demo_writes_four_files_and_no_temporaries(tmp_path):
    rows = write_demo(tmp_path, 500, seed=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "customers.csv",
        "logins.parquet",
        "orders.parquet",
        "tickets.parquet",
    ]
    assert rows["customers"] == 500
    assert len(pd.read_parquet(tmp_path / "orders.parquet")) == rows["orders"] > 0
    assert np.array_equal(pd.read_csv(tmp_path / "customers.csv").customer_id, np.arange(1, 501))
