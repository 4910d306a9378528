import numpy as np
import pandas as pd

from propensity.project import Project
from tests.conftest import shop_spec, shop_tables


def findings(root):
    report = Project.load(root).check()
    return report, {(f.source, f.check): f for f in report.findings}


def messy_tables(n=300, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    churner = rng.random(n) < 0.4
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": "2023-01-01",
            "plan": rng.choice(["a", "b"], n),
            "region": "north",  # constant
            "referrer": np.where(rng.random(n) < 0.8, None, "friend"),  # mostly missing
            # written after the fact: says who left, so it predicts the label perfectly
            "status": np.where(churner, "closed", "open"),
            "email": "x",
        }
    )
    rows = []
    for cid, gone in zip(ids, churner, strict=True):
        last = 250 if gone else 500
        for day in range(0, last, 20):
            rows.append((cid, pd.Timestamp("2023-01-02") + pd.Timedelta(days=int(day)), 10.0))
    orders = pd.DataFrame(rows, columns=["customer_id", "order_time", "amount"])
    orders["order_time"] = orders.order_time.astype(str)
    extra = pd.DataFrame(
        {
            "customer_id": [None, None, 9999, 1, 2, 3],
            "order_time": [
                "2023-05-01",
                "2023-05-02",
                "2023-05-03",
                "not a date",
                "2022-06-01",  # before customer 2 signed up
                "2099-01-01",  # in the future
            ],
            "amount": [1.0, 1.0, 1.0, 1.0, -5.0, 1.0],
        }
    )
    orders = pd.concat([orders, extra], ignore_index=True)
    orders["channel"] = "web"
    return {"customers.csv": customers, "orders.parquet": orders}


def messy_spec():
    spec = shop_spec(
        cutoffs={"start": "2023-06-01", "every": "1mo", "end": "2024-01-01"},
        target={"kind": "inactivity", "source": "orders", "horizon": "90d"},
    )
    spec["sources"]["orders"]["categories"] = []
    return spec


def test_every_problem_is_reported_with_its_severity(make_project):
    report, found = findings(make_project(messy_spec(), messy_tables()))
    expected = {
        ("orders", "null_keys"): "warning",
        ("orders", "unreadable_times"): "warning",
        ("orders", "orphan_events"): "warning",
        ("orders", "outside_lifetime"): "warning",
        ("orders", "future_rows"): "warning",
        ("orders", "negative_measure"): "warning",
        ("customers", "constant_column"): "warning",
        ("customers", "high_null"): "warning",
        ("customers", "leakage_suspect"): "warning",
    }
    assert {k: found[k].severity for k in expected if k in found} == expected
    assert report.ok
    assert "2 of " in found[("orders", "null_keys")].message
    assert "'not a date'" in found[("orders", "unreadable_times")].message
    assert "1 rows have a customer_id that is not in" in found[("orders", "orphan_events")].message
    assert found[("customers", "leakage_suspect")].message.startswith("status: predicts the label")
    assert "sources.customers.exclude" in found[("customers", "leakage_suspect")].message
    # plan is random, so it is not a suspect; region is constant
    assert not [f for f in report.findings if f.message.startswith("plan:")]
    assert found[("customers", "constant_column")].message.startswith("region:")


def test_excluding_the_leaky_column_silences_it(make_project):
    spec = messy_spec()
    spec["sources"]["customers"]["exclude"] = ["status"]
    _, found = findings(make_project(spec, messy_tables()))
    assert ("customers", "leakage_suspect") not in found


def test_identifier_like_text_is_not_a_leakage_suspect(make_project):
    tables = messy_tables()
    tables["customers.csv"]["token"] = [f"t{i}" for i in range(len(tables["customers.csv"]))]
    spec = messy_spec()
    spec["sources"]["customers"]["exclude"] = ["status"]
    _, found = findings(make_project(spec, tables))
    assert ("customers", "leakage_suspect") not in found


def test_errors_for_duplicate_and_null_entity_keys(make_project):
    tables = shop_tables()
    customers = tables["customers.csv"]
    tables["customers.csv"] = pd.concat([customers, customers.iloc[[0]]], ignore_index=True)
    report, found = findings(make_project(shop_spec(), tables))
    assert not report.ok
    assert found[("customers", "duplicate_keys")].severity == "error"
    assert "e.g. 1 appears 2 times" in found[("customers", "duplicate_keys")].message
    tables = shop_tables()
    tables["customers.csv"].loc[0, "customer_id"] = None
    report, found = findings(make_project(shop_spec(), tables))
    assert found[("customers", "null_keys")].severity == "error"


def test_missing_file_and_column_are_errors_per_source(make_project):
    spec = shop_spec()
    spec["sources"]["orders"]["measures"] = ["amount", "tax"]
    spec["sources"]["customers"]["path"] = "data/people.csv"
    report, found = findings(make_project(spec, shop_tables()))
    assert not report.ok
    assert "data/people.csv not found" in found[("customers", "readable")].message
    assert "column 'tax' not found" in found[("orders", "readable")].message


def test_times_that_cannot_be_read_at_all_are_an_error(make_project):
    tables = shop_tables()
    tables["orders.parquet"]["order_time"] = "yesterday"
    report, found = findings(make_project(shop_spec(), tables))
    assert found[("orders", "unreadable_times")].severity == "error"
    assert not report.ok


def test_table_mode_leakage(make_project):
    rng = np.random.default_rng(1)
    n = 400
    churn = rng.random(n) < 0.3
    table = pd.DataFrame(
        {
            "customerID": [f"c{i}" for i in range(n)],
            "tenure": rng.integers(0, 70, n),
            "cancel_reason": np.where(churn, "price", None),
            "Churn": np.where(churn, "Yes", "No"),
        }
    )
    spec = {
        "project": {"name": "telco"},
        "entity": {"key": "customerID"},
        "sources": {"t": {"path": "data/t.csv", "kind": "table", "label": "Churn"}},
    }
    report, found = findings(make_project(spec, {"t.csv": table}))
    assert found[("t", "leakage_suspect")].message.startswith("cancel_reason:")
    assert not [f for f in report.findings if f.message.startswith("tenure:")]


def test_used_rows_count_what_survives_keys_times_and_where(make_project):
    spec = shop_spec()
    spec["sources"]["orders"]["where"] = "channel == 'web'"
    report, _ = findings(make_project(spec, shop_tables()))
    assert report.sources["orders"]["rows"] == 7
    assert report.sources["orders"]["used_rows"] == 4
