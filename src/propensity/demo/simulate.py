"""A simulated subscription shop with known churn drivers, vectorised with NumPy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from propensity._io import atomic_path
from propensity.errors import DataError

__all__ = ["DemoData", "Shift", "simulate", "write_demo"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Part = tuple[npt.NDArray[Any], ...]  # one week of events: customer index, second, attributes

PLANS = ("basic", "plus", "premium")
PLAN_SHARE = (0.5, 0.35, 0.15)
PLAN_PRICE = np.array([9.99, 19.99, 39.99])
CHANNELS = ("web", "app", "referral", "partner")
CHANNEL_SHARE = (0.4, 0.3, 0.15, 0.15)
CHANNEL_ENGAGEMENT = np.array([0.0, 0.15, 0.35, -0.3])
REGIONS = ("north", "south", "east", "west")
CATEGORIES = ("grocery", "home", "fashion", "electronics", "beauty")
CATEGORY_SHARE = (0.35, 0.2, 0.2, 0.1, 0.15)
DEVICES = ("web", "ios", "android")
TOPICS = ("billing", "delivery", "product", "account")
TOPIC_SHARE = (0.3, 0.35, 0.2, 0.15)
TOPIC_MOOD = np.array([-0.9, -0.5, 0.0, 0.2])

# Share of customers who signed up in the year before `start`: the business already runs.
BASE_SHARE = 0.15
# Engagement: AR(1) towards a personal level that decays with age, plus rare sharp drops.
PERSISTENCE = 0.85
AGE_DECAY = 0.25
NOISE = 0.22
DROP_CHANCE = 0.01
DROP_SIZE = 1.0
# Weekly churn hazard: sigmoid(B0 - A * engagement + C * bad tickets + D * (price - 20) / 10).
HAZARD_B0 = -5.7
HAZARD_ENGAGEMENT = 1.1
HAZARD_BAD_TICKET = 1.2
HAZARD_PRICE = 0.35
BAD_WEEKS = 8
BAD_SCORE = 2
# Weekly event rates: exp(intercept + slope * engagement).
LOGIN_RATE = (0.15, 0.8)
ORDER_RATE = (-1.75, 0.55)
TICKET_RATE = (np.log(0.035), -0.45)

DAY = 86_400
WEEK = 7 * DAY
#: the default period with events
START = dt.date(2023, 1, 1)
END = dt.date(2025, 12, 31)


@dataclass(frozen=True)
class Shift:
    """A change of behaviour after a date: e.g. a price rise that hits one plan.

    Parameters
    ----------
    start
        The first day the change applies.
    plan
        The plan hit: one of "basic", "plus", "premium".
    churn_multiplier
        The weekly churn hazard of that plan's customers is multiplied by this from `start`
        (default 10, as ``init --shift``: a smaller change hardly moves an inactivity
        target whose base rate is 35-60 %).
    """

    start: dt.date
    plan: str
    churn_multiplier: float = 10.0

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise DataError(
                f"Shift.plan: unknown plan {self.plan!r}; plans are: {', '.join(PLANS)}"
            )
        if not self.churn_multiplier > 0:
            raise DataError(
                f"Shift.churn_multiplier: {self.churn_multiplier} must be a positive number"
            )


@dataclass(frozen=True)
class DemoData:
    """The simulated tables, plus the hidden churn date of each customer (never written).

    Parameters
    ----------
    customers
        One row per customer: id, signup date, plan, channel, region, price and fake PII.
    orders
        One row per order, in time order.
    logins
        One row per login, in time order.
    tickets
        One row per support ticket, in time order, with a satisfaction score from 1 to 5.
    churned_at
        Indexed by ``customer_id``: the day a customer left (no event on or after it), or
        NaT for a customer still there at the end of the period.
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    logins: pd.DataFrame
    tickets: pd.DataFrame
    churned_at: pd.Series[pd.Timestamp]

    def until(self, day: dt.date) -> DemoData:
        """The tables as they stood on ``day``.

        Customers who had signed up before it and events before it; a churn on or after
        ``day`` is not known yet (NaT). Replaying a run of days, one ``until`` each, is how
        the demo lets time pass: train at one date, score the next month on more data.
        """
        stamp = pd.Timestamp(day)
        signed = pd.to_datetime(self.customers["signup_date"]) < stamp
        customers = self.customers[signed].reset_index(drop=True)
        churned = self.churned_at[signed.to_numpy()]
        return DemoData(
            customers,
            self.orders[self.orders["order_time"] < stamp].reset_index(drop=True),
            self.logins[self.logins["login_time"] < stamp].reset_index(drop=True),
            self.tickets[self.tickets["opened_at"] < stamp].reset_index(drop=True),
            churned.where(churned < stamp),
        )


def simulate(
    customers: int = 20_000,
    *,
    seed: int = 7,
    start: dt.date = START,
    end: dt.date = END,
    shift: Shift | None = None,
) -> DemoData:
    """Simulate a shop week by week.

    Customers sign up over the period (some in the year before it, more early on than
    late). Each carries a latent engagement that drifts towards a personal level which
    decays with age, with occasional sharp drops; it sets the rates at which the customer
    logs in, orders and opens support tickets (more tickets, and worse rated, when
    engagement is low). The weekly churn hazard rises with low engagement, with tickets
    rated 1-2 in the last 8 weeks and with the plan's price. A churned customer produces no
    more events. Events fall on a random second within their week, from `start` to `end`.

    Parameters
    ----------
    customers
        How many customers sign up.
    seed
        The random seed: the same arguments give the same data.
    start, end
        The first and last day of the period with events.
    shift
        An optional change after a date (a price rise for one plan).

    Returns
    -------
    DemoData
        The four tables and the hidden churn dates.

    Raises
    ------
    DataError
        If there are no customers or the period is shorter than 60 days.
    """
    if customers < 1:
        raise DataError(f"simulate: customers={customers}; simulate at least 1 customer")
    span = (end - start).days + 1
    if span < 60:
        raise DataError(f"simulate: the period {start} to {end} is too short; use 60 days or more")
    # One random stream per kind of draw: a customer's engagement, tickets and churn never
    # depend on how many logins or orders were drawn, nor on other customers' churn, so a
    # Shift changes nothing before its start and nothing for the plans it does not hit.
    life, ticket_rng, login_rng, order_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    people = _draw_people(life, customers, span)
    shift_day = span if shift is None else (shift.start - start).days
    hit = people.plan == (-1 if shift is None else PLANS.index(shift.plan))
    multiplier = 1.0 if shift is None else shift.churn_multiplier
    n = customers
    logit_fixed = HAZARD_B0 + HAZARD_PRICE * (people.price - 20.0) / 10.0
    engagement = people.level + life.normal(0.0, 0.3, n)
    # tickets rated 1-2 in each of the last BAD_WEEKS weeks (a ring), and their sum
    bad_ring = np.zeros((BAD_WEEKS, n), dtype=np.int64)
    bad = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    churn_day = np.full(n, span, dtype=np.int64)  # span: still there at the end
    everyone = np.arange(n, dtype=np.int64)
    logins: list[Part] = []
    orders: list[Part] = []
    tickets: list[Part] = []
    for week in range(int(people.signup.min()) // 7, -(-span // 7)):
        day0 = week * 7
        active = alive & (people.signup <= day0)
        age = np.maximum(day0 - people.signup, 0) / 365.0
        engagement = (
            PERSISTENCE * engagement
            + (1.0 - PERSISTENCE) * (people.level - AGE_DECAY * age)
            + life.normal(0.0, NOISE, n)
            - DROP_SIZE * (life.random(n) < DROP_CHANCE)
        )
        logit = logit_fixed - HAZARD_ENGAGEMENT * engagement + HAZARD_BAD_TICKET * bad
        hazard = 1.0 / (1.0 + np.exp(-logit))
        if day0 >= shift_day:
            hazard = np.where(hit, np.minimum(hazard * multiplier, 1.0), hazard)
        leave_day = day0 + life.integers(0, 7, n)
        # a churn after `end` is not part of the data
        leaving = active & (life.random(n) < hazard) & (leave_day < span)
        churn_day = np.where(leaving, leave_day, churn_day)
        alive &= ~leaving
        # events stop on the day a customer leaves
        limit = np.where(active, churn_day * DAY, 0)

        # drawn for everyone and then filtered, to keep each customer's draws their own
        t_ids, t_secs = _expand(
            ticket_rng, everyone, ticket_rng.poisson(_rate(TICKET_RATE, engagement)), day0
        )
        topic = ticket_rng.choice(len(TOPICS), t_ids.size, p=TOPIC_SHARE)
        mood = 3.6 + 0.6 * engagement[t_ids] + TOPIC_MOOD[topic]
        noise = ticket_rng.normal(0.0, 0.9, t_ids.size)
        score = np.clip(np.rint(mood + noise), 1, 5).astype(np.int64)
        keep = t_secs < limit[t_ids]
        t_ids, t_secs, topic, score = t_ids[keep], t_secs[keep], topic[keep], score[keep]
        slot = week % BAD_WEEKS
        bad -= bad_ring[slot]
        bad_ring[slot] = np.bincount(t_ids[score <= BAD_SCORE], minlength=n)
        bad += bad_ring[slot]
        if week < 0:  # the year before `start` only builds up the customer base
            continue
        tickets.append((t_ids, t_secs, topic, score))

        idx = np.flatnonzero(active)
        e = engagement[idx]
        ids, secs = _expand(login_rng, idx, login_rng.poisson(_rate(LOGIN_RATE, e)), day0)
        keep = secs < limit[ids]
        ids, secs = ids[keep], secs[keep]
        # most logins come from the customer's usual device
        other = login_rng.integers(0, len(DEVICES), ids.size)
        device = np.where(login_rng.random(ids.size) < 0.8, people.device[ids], other)
        logins.append((ids, secs, device))

        ids, secs = _expand(order_rng, idx, order_rng.poisson(_rate(ORDER_RATE, e)), day0)
        keep = secs < limit[ids]
        ids, secs = ids[keep], secs[keep]
        amount = np.round(people.spend[ids] * order_rng.lognormal(0.0, 0.45, ids.size), 2)
        category = order_rng.choice(len(CATEGORIES), ids.size, p=CATEGORY_SHARE)
        orders.append((ids, secs, np.maximum(amount, 1.0), category))

    origin = np.datetime64(start.isoformat(), "s")
    orders_df = _event_frame(orders, origin, "order_time", row_id="order_id")
    orders_df["amount"] = _concat(orders, 2)
    orders_df["category"] = _labels(CATEGORIES, _concat(orders, 3))
    logins_df = _event_frame(logins, origin, "login_time")
    logins_df["device"] = _labels(DEVICES, _concat(logins, 2))
    tickets_df = _event_frame(tickets, origin, "opened_at", row_id="ticket_id")
    tickets_df["topic"] = _labels(TOPICS, _concat(tickets, 2))
    tickets_df["satisfaction"] = _concat(tickets, 3)
    churned = np.where(
        churn_day < span, origin.astype("datetime64[D]") + churn_day, np.datetime64("NaT")
    )
    churned_at = pd.Series(
        churned.astype("datetime64[s]"),
        index=pd.Index(np.arange(1, n + 1, dtype=np.int64), name="customer_id"),
        name="churned_at",
    )
    return DemoData(_customer_frame(people, origin), orders_df, logins_df, tickets_df, churned_at)


def write_demo(
    folder: Path,
    customers: int = 20_000,
    *,
    seed: int = 7,
    shift: Shift | None = None,
    until: dt.date | None = None,
) -> dict[str, int]:
    """Simulate the shop and write its four files into a folder.

    Writes ``customers.csv``, ``orders.parquet``, ``logins.parquet`` and
    ``tickets.parquet``. Each file is written under a temporary name in the same folder and
    then renamed, so none is ever half-written. The churn dates are not written.

    Parameters
    ----------
    folder
        Where to write (created if missing).
    customers
        How many customers sign up.
    seed
        The random seed: the same arguments give the same files.
    shift
        An optional change after a date (a price rise for one plan).
    until
        Write the data as it stood on this day (see :meth:`DemoData.until`); the same
        seed and a later day give the same history, extended.

    Returns
    -------
    dict[str, int]
        The number of rows written, by file stem.
    """
    data = simulate(customers, seed=seed, shift=shift)
    if until is not None:
        data = data.until(until)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "customers.csv") as tmp:
        data.customers.to_csv(tmp, index=False)
    frames = {"orders": data.orders, "logins": data.logins, "tickets": data.tickets}
    for name, frame in frames.items():
        with atomic_path(folder / f"{name}.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
    return {"customers": len(data.customers)} | {name: len(f) for name, f in frames.items()}


@dataclass(frozen=True)
class _People:
    """The customers' fixed traits, one array element per customer (index = id - 1)."""

    signup: IntArray  # days from the start, sorted
    plan: IntArray
    channel: IntArray
    region: IntArray
    price: FloatArray
    level: FloatArray  # the engagement each customer drifts towards when new
    spend: FloatArray  # typical order amount
    device: IntArray  # usual login device


def _draw_people(rng: np.random.Generator, n: int, span: int) -> _People:
    """Draw the customers' traits; their ids follow their signup order."""
    plan = rng.choice(len(PLANS), n, p=PLAN_SHARE)
    channel = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)
    # app customers log in from phones; the others mostly from the web
    phone = rng.integers(1, len(DEVICES), n)
    usual = np.where(channel == CHANNELS.index("app"), phone, rng.choice(3, n, p=[0.6, 0.2, 0.2]))
    return _People(
        signup=_signup_days(rng, n, span),
        plan=plan,
        channel=channel,
        region=rng.integers(0, len(REGIONS), n),
        price=np.round(PLAN_PRICE[plan] * rng.uniform(0.9, 1.1, n), 2),
        level=CHANNEL_ENGAGEMENT[channel] + rng.normal(0.0, 0.45, n),
        spend=rng.lognormal(np.log(25.0) + 0.35 * plan, 0.3, n),
        device=usual,
    )


def _signup_days(rng: np.random.Generator, n: int, span: int) -> IntArray:
    """Signup days relative to the start, sorted, so that ids follow signup order.

    A share of the customers signed up in the year before the period; the others over
    the period up to 30 days before its end, more of them early on.
    """
    before = rng.random(n) < BASE_SHARE
    early = rng.integers(-365, 0, n)
    during = (rng.beta(1.0, 1.6, n) * (span - 30)).astype(np.int64)
    return np.sort(np.where(before, early, during))


def _rate(coefficients: tuple[float, float], engagement: FloatArray) -> FloatArray:
    """A weekly event rate, log-linear in engagement."""
    intercept, slope = coefficients
    return np.exp(intercept + slope * engagement)


def _expand(
    rng: np.random.Generator, idx: IntArray, counts: IntArray, day0: int
) -> tuple[IntArray, IntArray]:
    """One row per event, in time order: the customer index and its second from the start.

    Each event falls on a random second within the week that starts on day ``day0``.
    """
    ids = np.repeat(idx, counts)
    secs = day0 * DAY + rng.integers(0, WEEK, ids.size)
    order = np.argsort(secs, kind="stable")
    return ids[order], secs[order]


def _concat(parts: Sequence[Part], column: int) -> npt.NDArray[Any]:
    """One column of the weekly parts, end to end."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([part[column] for part in parts])


def _customer_frame(people: _People, origin: np.datetime64) -> pd.DataFrame:
    """The customers table, with fake PII."""
    ids = np.arange(1, people.signup.size + 1, dtype=np.int64)
    text_ids = ids.astype(str)
    signup = origin.astype("datetime64[D]") + people.signup
    return pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": pd.Series(np.datetime_as_string(signup, unit="D"), dtype="str"),
            "plan": _labels(PLANS, people.plan),
            "channel": _labels(CHANNELS, people.channel),
            "region": _labels(REGIONS, people.region),
            "monthly_price": people.price,
            "email": pd.Series(
                np.strings.add(np.strings.add("c", text_ids), "@example.com"), dtype="str"
            ),
            "name": pd.Series(np.strings.add("Customer ", text_ids), dtype="str"),
        }
    )


def _event_frame(
    parts: Sequence[Part],
    origin: np.datetime64,
    time: str,
    row_id: str | None = None,
) -> pd.DataFrame:
    """The key columns of an events table: its own id (if any), the customer and the time."""
    ids = _concat(parts, 0)
    columns: dict[str, npt.NDArray[Any]] = {}
    if row_id is not None:
        columns[row_id] = np.arange(1, ids.size + 1, dtype=np.int64)
    columns["customer_id"] = ids + 1
    columns[time] = origin + _concat(parts, 1).astype("timedelta64[s]")
    return pd.DataFrame(columns)


def _labels(levels: tuple[str, ...], codes: IntArray) -> pd.Series[str]:
    """A text column from integer codes (through Arrow: much faster than NumPy strings)."""
    return pd.Series(pa.array(levels).take(codes).to_pandas(), dtype="str")
