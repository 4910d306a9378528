"""Shared fixtures: projects built in code from small tables."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A minimal TOML writer for test specs (tables, strings, numbers, lists, dates)."""
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            scalars.append(f"{_key(key)} = {_value(value)}")
    out = []
    if prefix and scalars:
        out.append(f"[{prefix}]")
    out += scalars
    for key, value in tables:
        name = f"{prefix}.{_key(key)}" if prefix else _key(key)
        out.append(to_toml(value, name))
    return "\n".join(x for x in out if x) + "\n"


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))


ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write tables and a spec into a fresh project folder; returns the folder.

    ``tables`` maps a file name under ``data/`` to a DataFrame (.csv or .parquet).
    """
    counter = iter(range(1000))

    def factory(spec: dict[str, Any], tables: dict[str, pd.DataFrame]) -> Path:
        root = tmp_path / f"project{next(counter)}"
        (root / "data").mkdir(parents=True)
        for name, frame in tables.items():
            path = root / "data" / name
            if name.endswith(".csv"):
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
        (root / "propensity.toml").write_text(to_toml(spec))
        return root

    return factory


def shop_spec(**overrides: Any) -> dict[str, Any]:
    """A small entity + orders spec; sections in ``overrides`` replace the defaults."""
    spec: dict[str, Any] = {
        "project": {"name": "test-shop"},
        "entity": {"key": "customer_id"},
        "sources": {
            "customers": {
                "path": "data/customers.csv",
                "kind": "entity",
                "time": "signup_date",
                "pii": ["email"],
            },
            "orders": {
                "path": "data/orders.parquet",
                "kind": "events",
                "time": "order_time",
                "measures": ["amount"],
                "categories": ["channel"],
            },
        },
        "target": {"kind": "inactivity", "source": "orders", "horizon": "30d"},
        "population": {"active_within": "365d"},
        "cutoffs": {"start": "2024-02-01", "every": "1mo"},
        "features": {"windows": ["30d"]},
    }
    spec.update(overrides)
    return spec


def shop_tables() -> dict[str, pd.DataFrame]:
    """Three customers and seven orders whose features are worked out by hand in the tests."""
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "signup_date": ["2024-01-01", "2024-01-10", "2024-03-15"],
            "plan": ["a", "b", "a"],
            "email": ["x@example.com", "y@example.com", "z@example.com"],
        }
    )
    orders = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 3, 1],
            "order_time": pd.to_datetime(
                [
                    "2024-01-05",
                    "2024-02-01",
                    "2024-02-28 23:00:00",
                    "2024-01-15",
                    "2024-03-01",
                    "2024-03-20",
                    "2024-04-10",
                ],
                format="ISO8601",
            ),
            "amount": [10.0, 20.0, 30.0, 5.0, 7.0, 100.0, 1.0],
            "channel": ["web", "app", "web", "web", "web", "app", "app"],
        }
    )
    return {"customers.csv": customers, "orders.parquet": orders}


ONLINE_RETAIL = SHARED_DATA / "online_retail_ii.parquet"


def online_retail_spec(**overrides: Any) -> dict[str, Any]:
    """Online Retail II: a purchase is a non-cancelled invoice line of a known customer."""
    spec: dict[str, Any] = {
        "project": {"name": "online-retail"},
        "entity": {"key": "Customer ID"},
        "sources": {
            "purchases": {
                "path": str(ONLINE_RETAIL),
                "kind": "events",
                "time": "InvoiceDate",
                "where": "not Invoice.startswith('C') and Quantity > 0",
                "derive": {"amount": "Quantity * Price"},
                "measures": ["amount"],
                "categories": ["Country"],
            }
        },
        "target": {"kind": "inactivity", "source": "purchases", "horizon": "90d"},
        "population": {"active_within": "365d"},
        "cutoffs": {"start": "2011-03-01", "every": "3mo"},
        "features": {"windows": ["90d", "365d"]},
    }
    spec.update(overrides)
    return spec


def random_shop(seed: int, customers: int, orders: int) -> dict[str, pd.DataFrame]:
    """Random customers (signing up through 2023) and orders over 600 days from 2023-01-01."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    people = pd.DataFrame(
        {
            "customer_id": np.arange(1, customers + 1),
            "signup_date": (
                start + pd.to_timedelta(rng.integers(0, 365, customers), unit="D")
            ).strftime("%Y-%m-%d"),
            "plan": rng.choice(["a", "b", "c"], customers),
            "email": "x",
        }
    )
    bought = pd.DataFrame(
        {
            "customer_id": rng.integers(1, customers + 1, orders),
            "order_time": start + pd.to_timedelta(rng.integers(0, 600 * 86400, orders), unit="s"),
            "amount": rng.gamma(2, 20, orders).round(2),
            "channel": rng.choice(["web", "app", "shop"], orders),
        }
    )
    return {"customers.csv": people, "orders.parquet": bought}
