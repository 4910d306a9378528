import ibis
import pytest

from propensity.errors import SpecError
from propensity.sources.filters import compile_value, compile_where

TABLE = ibis.memtable(
    {
        "kind": ["cancel", "order", "order", None],
        "amount": [5, -3, 12, 7],
        "Invoice No": ["C1", "2", "C3", "4"],
    }
)


def run(text):
    con = ibis.duckdb.connect()
    expr = TABLE.filter(compile_where(text, TABLE, "test.where"))
    return sorted(con.execute(expr).amount.tolist())


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("kind == 'cancel'", [5]),
        ("kind != 'cancel'", [-3, 12]),
        ("amount > 0 and kind == 'order'", [12]),
        ("amount < 0 or kind is None", [-3, 7]),
        ("kind is not None and not amount > 6", [-3, 5]),
        ("kind in ('cancel', 'order') and amount in [5, 12]", [5, 12]),
        ("kind not in ('cancel',)", [-3, 12]),
        ("not `Invoice No`.startswith('C')", [-3, 7]),
        ("`Invoice No`.endswith('3') or kind.contains('anc')", [5, 12]),
        ("0 < amount <= 7", [5, 7]),
        ("amount * 2 > 10", [12, 7]),
        ("-amount > 0", [-3]),
    ],
)
def test_filters(text, amounts):
    assert run(text) == sorted(amounts)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind ==", "is not a filter"),
        ("amount", "is not a condition"),
        ("__import__('os')", "is not supported"),
        ("amount.upper()", "is not supported"),
        ("kind is 'x'", "compares with None only"),
        ("kind in 'abc'", "`in` needs a list"),
        ("missing > 1", "column 'missing' not found; columns are: kind, amount, Invoice No"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(text, message):
    with pytest.raises(SpecError, match=message):
        compile_where(text, TABLE, "test.where")


def test_derived_values():
    con = ibis.duckdb.connect()
    value = compile_value("amount / 2 + 1", TABLE, "test.derive")
    assert con.execute(TABLE.select(v=value)).v.tolist() == [3.5, -0.5, 7.0, 4.5]
    with pytest.raises(SpecError, match="names no column"):
        compile_value("1 + 2", TABLE, "test.derive")
