import sqlite3

import duckdb
import pandas as pd
import pytest

from propensity.engine import Engine
from propensity.errors import SourceError, SpecError
from propensity.sources import open_sources
from propensity.spec import Spec
from tests.conftest import shop_spec, shop_tables


def open_project(root):
    spec = Spec.load(root)
    engine = Engine(spec.engine)
    return engine, open_sources(engine, spec, root)


def orders_of(root):
    engine, sources = open_project(root)
    return engine.to_pandas(sources["orders"].table).sort_values("order_time")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "sqlite", "duckdb"])
def test_every_format_reads_the_same_orders(make_project, tmp_path, fmt):
    tables = shop_tables()
    orders = tables.pop("orders.parquet")
    spec = shop_spec()
    src = spec["sources"]["orders"]
    if fmt in ("csv", "parquet"):
        tables[f"orders.{fmt}"] = orders
        src["path"] = f"data/orders.{fmt}"
        root = make_project(spec, tables)
    else:
        src["path"] = f"data/shop.{fmt}"
        src["table"] = "orders"
        root = make_project(spec, tables)
        db = root / "data" / f"shop.{fmt}"
        stored = orders.assign(order_time=orders.order_time.astype(str))
        if fmt == "sqlite":
            with sqlite3.connect(db) as conn:
                stored.to_sql("orders", conn, index=False)
        else:
            with duckdb.connect(str(db)) as conn:
                conn.register("o", stored)
                conn.execute("create table orders as select * from o")
    got = orders_of(root)
    assert list(got.customer_id) == list(orders.sort_values("order_time").customer_id)
    assert list(got.order_time) == list(orders.sort_values("order_time").order_time)
    assert got.amount.sum() == pytest.approx(orders.amount.sum())


def test_aware_times_become_utc_and_naive_times_stay(make_project):
    tables = shop_tables()
    tables["orders.parquet"] = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "order_time": ["2024-01-01 01:30:00+02:00", "2024-01-01 01:30:00"],
            "amount": [1.0, 2.0],
            "channel": ["web", "web"],
        }
    )
    got = orders_of(make_project(shop_spec(), tables))
    assert list(got.order_time.astype(str)) == ["2023-12-31 23:30:00", "2024-01-01 01:30:00"]


def test_type_overrides_and_key_normalisation(make_project):
    tables = shop_tables()
    orders = tables["orders.parquet"]
    orders["customer_id"] = orders.customer_id.astype(float)  # as Online Retail stores them
    orders["amount"] = orders.amount.astype(str)
    spec = shop_spec()
    spec["sources"]["orders"]["types"] = {"amount": "float"}
    _, sources = open_project(make_project(spec, tables))
    table = sources["orders"].table
    assert str(table.amount.type()) == "float64"
    assert table.customer_id.type() == sources["customers"].table.customer_id.type()


def test_where_and_derive(make_project):
    spec = shop_spec()
    spec["sources"]["orders"]["where"] = "channel == 'web' and amount >= 7"
    spec["sources"]["orders"]["derive"] = {"double": "amount * 2"}
    spec["sources"]["orders"]["measures"] = ["double"]
    got = orders_of(make_project(spec, shop_tables()))
    assert sorted(got.amount) == [7.0, 10.0, 30.0]
    assert sorted(got.double) == [14.0, 20.0, 60.0]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            lambda s: s["sources"]["orders"].update(path="data/nope.parquet"),
            SourceError,
            r"sources\.orders\.path: data/nope\.parquet not found",
        ),
        (
            lambda s: s["sources"]["orders"].update(time="order_dt"),
            SourceError,
            r"sources\.orders\.time: column 'order_dt' not found in data/orders\.parquet; "
            r"columns are: customer_id, order_time, amount, channel",
        ),
        (
            lambda s: s["entity"].update(key="cust"),
            SourceError,
            r"entity\.key: column 'cust' not found",
        ),
        (
            lambda s: s["sources"]["orders"].update(path="data/customers.txt"),
            SourceError,
            "cannot tell the format",
        ),
        (
            lambda s: s["sources"]["orders"].update(where="amount >> 3"),
            SpecError,
            r"sources\.orders\.where: 'amount >> 3': '.*' is not supported",
        ),
        (
            lambda s: s["sources"]["orders"].update(where="amonut > 3"),
            SpecError,
            "column 'amonut' not found; columns are: customer_id",
        ),
    ],
)
def test_bad_sources_say_what_and_how_to_fix(make_project, change, error, message):
    spec = shop_spec()
    change(spec)
    tables = shop_tables()
    tables["customers.txt"] = tables["customers.csv"]
    root = make_project(spec, tables)
    with pytest.raises(error, match=message):
        open_project(root)


def test_database_file_needs_a_table(make_project):
    spec = shop_spec()
    spec["sources"]["orders"]["path"] = "data/shop.sqlite"
    root = make_project(spec, shop_tables())
    with sqlite3.connect(root / "data" / "shop.sqlite") as conn:
        conn.execute("create table other (x int)")
    with pytest.raises(SourceError, match=r"sources\.orders\.table: .* name the table"):
        open_project(root)
    spec["sources"]["orders"]["table"] = "orders"
    root = make_project(spec, shop_tables())
    with sqlite3.connect(root / "data" / "shop.sqlite") as conn:
        conn.execute("create table other (x int)")
    with pytest.raises(SourceError, match="no table 'orders'; tables are: other"):
        open_project(root)


def test_measures_must_be_numbers(make_project):
    tables = shop_tables()
    tables["orders.parquet"]["amount"] = tables["orders.parquet"].amount.astype(str) + " EUR"
    with pytest.raises(
        SourceError,
        match=r"sources\.orders\.measures: column 'amount' of data/orders\.parquet holds string "
        r"values, not numbers; .*types\.amount = \"float\"",
    ):
        open_project(make_project(shop_spec(), tables))
