"""A simulated subscription shop with known churn drivers, vectorised with NumPy."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DemoData", "Shift", "simulate", "write_demo"]

PLANS = np.array(["basic", "plus", "premium"])
PLAN_SHARE = [0.5, 0.35, 0.15]
PLAN_PRICE = np.array([9.99, 19.99, 39.99])
CHANNELS = np.array(["web", "app", "referral", "partner"])
CHANNEL_SHARE = [0.4, 0.3, 0.15, 0.15]
CHANNEL_ENGAGEMENT = np.array([0.0, 0.15, 0.35, -0.3])
REGIONS = np.array(["north", "south", "east", "west"])
CATEGORIES = np.array(["grocery", "home", "fashion", "electronics", "beauty"])
CATEGORY_SHARE = [0.35, 0.2, 0.2, 0.1, 0.15]
DEVICES = np.array(["web", "ios", "android"])
TOPICS = np.array(["billing", "delivery", "product", "account"])
TOPIC_SHARE = [0.3, 0.35, 0.2, 0.15]
TOPIC_MOOD = np.array([-0.9, -0.5, 0.0, 0.2])
WEEK_SECONDS = 7 * 86_400


@dataclass(frozen=True)
class Shift:
    """A change of behaviour after a date: e.g. a price rise that hits one plan."""

    start: dt.date
    plan: str
    churn_multiplier: float = 2.5


@dataclass(frozen=True)
class DemoData:
    """The simulated tables, plus the hidden churn date of each customer (never written)."""

    customers: pd.DataFrame
    orders: pd.DataFrame
    logins: pd.DataFrame
    tickets: pd.DataFrame
    churned_at: pd.Series


def simulate(
    customers: int = 20_000,
    *,
    seed: int = 7,
    start: dt.date = dt.date(2023, 1, 1),
    end: dt.date = dt.date(2025, 12, 31),
    shift: Shift | None = None,
) -> DemoData:
    """Simulate a shop week by week.

    Each customer signs up at some point, carries a latent engagement that drifts and
    slowly decays, logs in, orders and opens support tickets at rates that follow it, and
    churns with a weekly hazard that rises with low engagement, recent tickets rated 1-2
    and a higher price. A churned customer produces no more events.

    Parameters
    ----------
    customers
        How many customers sign up over the period.
    seed
        The same seed gives the same data.
    start, end
        The period simulated.
    shift
        An optional change after a date (a price rise for one plan).
    """
    rng = np.random.default_rng(seed)
    n = customers
    days = (end - start).days
    weeks = days // 7
    # more sign-ups early on, so that the base is established when cutoffs start
    signup = np.minimum((rng.beta(1.0, 1.6, n) * (days - 30)).astype(np.int64), days - 30)
    plan = rng.choice(len(PLANS), n, p=PLAN_SHARE)
    channel = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)
    region = rng.integers(0, len(REGIONS), n)
    price = np.round(PLAN_PRICE[plan] * rng.uniform(0.9, 1.1, n), 2)
    base = CHANNEL_ENGAGEMENT[channel] + rng.normal(0.0, 0.45, n)
    engagement = base + rng.normal(0.0, 0.3, n)
    spend = rng.lognormal(np.log(25.0) + 0.35 * plan, 0.3, n)
    bad = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    churn_day = np.full(n, -1, dtype=np.int64)
    shift_day = None if shift is None else (shift.start - start).days
    shift_plan = None if shift is None else list(PLANS).index(shift.plan)

    parts: dict[str, list[tuple[np.ndarray, ...]]] = {"orders": [], "logins": [], "tickets": []}
    for week in range(weeks):
        day0 = week * 7
        active = alive & (signup <= day0)
        age = np.maximum(day0 - signup, 0) / 365.0
        engagement = 0.85 * engagement + 0.15 * (base - 0.25 * age) + rng.normal(0.0, 0.22, n)
        logit = -5.6 - 1.1 * engagement + 0.8 * bad + 0.035 * (price - 20.0)
        hazard = 1.0 / (1.0 + np.exp(-logit))
        if shift is not None and shift_day is not None and day0 >= shift_day:
            hit = np.minimum(hazard * shift.churn_multiplier, 1.0)
            hazard = np.where(plan == shift_plan, hit, hazard)
        leaving = active & (rng.random(n) < hazard)
        churn_day[leaving] = day0
        alive &= ~leaving
        active &= ~leaving
        idx = np.flatnonzero(active)
        e = engagement[idx]
        logins = rng.poisson(np.exp(0.15 + 0.8 * e))
        orders = rng.poisson(np.exp(-1.75 + 0.55 * e))
        tickets = rng.poisson(0.035 * np.exp(-0.45 * e))
        parts["logins"].append(_expand(rng, idx, logins, day0))
        parts["orders"].append(_expand(rng, idx, orders, day0))
        t_ids, t_secs = _expand(rng, idx, tickets, day0)
        parts["tickets"].append((t_ids, t_secs))
        if len(t_ids):
            topic = rng.choice(len(TOPICS), len(t_ids), p=TOPIC_SHARE)
            mood = (
                3.6 + 0.6 * engagement[t_ids] + TOPIC_MOOD[topic] + rng.normal(0, 0.9, len(t_ids))
            )
            score = np.clip(np.rint(mood), 1, 5).astype(np.int64)
            parts["tickets"][-1] = (t_ids, t_secs, topic, score)
            np.add.at(bad, t_ids[score <= 2], 1.0)
        bad *= 0.85

    origin = np.datetime64(start.isoformat(), "s")
    customers_df = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "signup_date": pd.to_datetime(np.datetime64(start.isoformat(), "D") + signup)
            .strftime("%Y-%m-%d")
            .astype(str),
            "plan": PLANS[plan],
            "channel": CHANNELS[channel],
            "region": REGIONS[region],
            "monthly_price": price,
            "email": [f"c{i}@example.com" for i in range(1, n + 1)],
            "name": [f"Customer {i}" for i in range(1, n + 1)],
        }
    )
    ids, secs = _stack(parts["orders"])
    orders_df = pd.DataFrame(
        {
            "order_id": np.arange(1, len(ids) + 1, dtype=np.int64),
            "customer_id": ids + 1,
            "order_time": origin + secs.astype("timedelta64[s]"),
            "amount": np.round(spend[ids] * rng.lognormal(0.0, 0.45, len(ids)), 2),
            "category": CATEGORIES[rng.choice(len(CATEGORIES), len(ids), p=CATEGORY_SHARE)],
        }
    )
    ids, secs = _stack(parts["logins"])
    app = channel[ids] == 1
    device = np.where(app, rng.integers(1, 3, len(ids)), rng.choice(3, len(ids), p=[0.6, 0.2, 0.2]))
    logins_df = pd.DataFrame(
        {
            "customer_id": ids + 1,
            "login_time": origin + secs.astype("timedelta64[s]"),
            "device": DEVICES[device],
        }
    )
    ticket_parts = [p for p in parts["tickets"] if len(p) == 4]
    t_ids = np.concatenate([p[0] for p in ticket_parts]) if ticket_parts else np.zeros(0, np.int64)
    t_secs = np.concatenate([p[1] for p in ticket_parts]) if ticket_parts else np.zeros(0, np.int64)
    topics = np.concatenate([p[2] for p in ticket_parts]) if ticket_parts else np.zeros(0, np.int64)
    scores = np.concatenate([p[3] for p in ticket_parts]) if ticket_parts else np.zeros(0, np.int64)
    tickets_df = pd.DataFrame(
        {
            "ticket_id": np.arange(1, len(t_ids) + 1, dtype=np.int64),
            "customer_id": t_ids + 1,
            "opened_at": origin + t_secs.astype("timedelta64[s]"),
            "topic": TOPICS[topics],
            "satisfaction": scores,
        }
    )
    churned = pd.Series(
        np.where(
            churn_day >= 0,
            np.datetime64(start.isoformat(), "D") + np.maximum(churn_day, 0),
            np.datetime64("NaT"),
        ).astype("datetime64[s]"),
        index=pd.Index(np.arange(1, n + 1), name="customer_id"),
        name="churned_at",
    )
    return DemoData(customers_df, orders_df, logins_df, tickets_df, churned)


def write_demo(
    folder: Path, customers: int = 20_000, *, seed: int = 7, shift: Shift | None = None
) -> dict[str, int]:
    """Simulate and write ``customers.csv`` and three Parquet event files into ``folder``.

    Each file is written to a temporary name and renamed, so nothing is half-written.
    Returns the number of rows of each file.
    """
    data = simulate(customers, seed=seed, shift=shift)
    folder.mkdir(parents=True, exist_ok=True)
    frames = {
        "customers": data.customers,
        "orders": data.orders,
        "logins": data.logins,
        "tickets": data.tickets,
    }
    for name, frame in frames.items():
        suffix = ".csv" if name == "customers" else ".parquet"
        final = folder / f"{name}{suffix}"
        tmp = folder / f".{name}{suffix}.{os.getpid()}.tmp"
        try:
            if suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
    return {name: len(frame) for name, frame in frames.items()}


def _expand(
    rng: np.random.Generator, idx: np.ndarray, counts: np.ndarray, day0: int
) -> tuple[np.ndarray, np.ndarray]:
    """One row per event: the customer index and a random second within the week."""
    ids = np.repeat(idx, counts)
    secs = day0 * 86_400 + rng.integers(0, WEEK_SECONDS, len(ids))
    return ids, secs


def _stack(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = np.concatenate([p[0] for p in parts])
    secs = np.concatenate([p[1] for p in parts])
    order = np.argsort(secs, kind="stable")
    return ids[order], secs[order]
