"""`train` on a four-month grocery log with weekly cutoffs and a 30-day horizon.

Too short for validation folds by time (the old backtest refused it): training falls back
to held-out customers, says so, and still beats the base rate on the test.
"""

import numpy as np
import pandas as pd
import pytest

from propensity.modeling.backtest import PARTS, customer_parts
from propensity.modeling.bundle import load_bundle
from propensity.project import Project
from tests.conftest import to_toml

START, END = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-30")
CANDIDATES = ["prior", "recency", "bgnbd", "logistic", "lightgbm"]  # no Keras: quick


def grocery_orders(customers=2500, seed=5):
    """Customers join over the months, shop at their own weekly rate, and some stop."""
    rng = np.random.default_rng(seed)
    days = (END - START).days
    joined = rng.uniform(0, days - 20, customers)
    rate = rng.gamma(2.0, 0.35, customers)  # orders a week, about 0.7 on average
    stops = joined + rng.exponential(70, customers)
    rows = []
    for c in range(customers):
        last = min(stops[c], days)
        n = rng.poisson(rate[c] * (last - joined[c]) / 7) + 1
        at = np.sort(rng.uniform(joined[c], max(last, joined[c] + 0.5), n))
        rows.append(pd.DataFrame({"customer_id": c + 1, "day": at}))
    orders = pd.concat(rows, ignore_index=True)
    orders["order_time"] = START + pd.to_timedelta(orders.pop("day"), unit="D")
    orders["amount"] = rng.gamma(2.0, 20.0, len(orders)).round(2)
    return orders[orders["order_time"] <= END + pd.Timedelta(hours=23)]


@pytest.fixture(scope="module")
def orders(tmp_path_factory):
    path = tmp_path_factory.mktemp("grocery") / "orders.parquet"
    grocery_orders().to_parquet(path, index=False)
    return path


def grocer(root, orders, start):
    spec = {
        "project": {"name": "grocer"},
        "entity": {"key": "customer_id"},
        "sources": {
            "orders": {
                "path": str(orders),
                "kind": "events",
                "time": "order_time",
                "measures": ["amount"],
            }
        },
        "target": {"kind": "inactivity", "source": "orders", "horizon": "30d"},
        "population": {"active_within": "30d"},
        "cutoffs": {"start": start, "every": "7d"},
        "features": {"windows": ["7d", "30d"], "trends": False},
        "train": {"candidates": CANDIDATES},
    }
    root.mkdir()
    (root / "propensity.toml").write_text(to_toml(spec))
    return Project.load(root)


def check_beats_the_base_rate(result):
    board = {row["candidate"]: row for row in result.leaderboard}
    assert list(board) == CANDIDATES
    prior = board["prior"]["test"]
    assert result.test["roc_auc"] > prior["roc_auc"] + 0.15
    assert result.test["log_loss"] < prior["log_loss"] - 0.03


def test_weekly_cutoffs_too_short_for_validation_by_time(orders, tmp_path):
    # labelled cutoffs 2024-02-05 to 2024-03-25 (the last whose 30 days end by the last
    # order): a test cutoff with training cutoffs before it, but no validation cutoff
    # that fits in between
    result = grocer(tmp_path / "customers", orders, "2024-02-05").train()
    manifest = load_bundle(result.bundle).manifest
    window = manifest["training_window"]
    assert window["first_cutoff"] == "2024-02-05"
    assert window["last_cutoff"] == "2024-03-25"
    assert window["step"] == "customers"
    assert window["optimistic"] is False
    assert "no validation cutoff fits" in window["note"]
    assert "tested by time on 2024-03-25" in window["note"]
    assert window["note"] in result.warnings
    assert window["note"] in manifest["warnings"]
    folds = list(result.leaderboard[0]["folds"])
    assert folds == [f"2024-02-{d} validation customers" for d in ("05", "12", "19")]
    check_beats_the_base_rate(result)
    # the test is by time: every customer at the last cutoff is judged
    holdout = load_bundle(result.bundle).holdout()
    assert {str(c)[:10] for c in holdout["cutoff"]} == {"2024-03-25"}
    assert holdout["customer_id"].nunique() == len(holdout) > 500


def test_cutoffs_within_one_horizon_test_on_held_out_customers(orders, tmp_path):
    # 2024-03-04 to 2024-03-25: no cutoff's 30-day window ends by a later one
    result = grocer(tmp_path / "no-test", orders, "2024-03-04").train()
    manifest = load_bundle(result.bundle).manifest
    window = manifest["training_window"]
    assert window["step"] == "no test"
    assert window["optimistic"] is True
    assert "the test figure is optimistic" in window["note"]
    assert window["note"] in result.warnings
    assert list(result.leaderboard[0]["folds"])[-1] == "2024-03-25 validation customers"
    check_beats_the_base_rate(result)
    # the test judges only the held-out test customers, at the last cutoff
    holdout = load_bundle(result.bundle).holdout()
    assert {str(c)[:10] for c in holdout["cutoff"]} == {"2024-03-25"}
    parts = customer_parts(holdout["customer_id"].to_numpy(), seed=0)
    assert (parts == PARTS["test"]).all()
    assert len(holdout) > 100
