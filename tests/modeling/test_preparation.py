"""One preparation for the linear models, the network and the service."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from propensity.modeling.preparation import MISSING, TabularPreparation, plan_ratios, ratio_values


def _rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spend = rng.lognormal(3, 1, n)
    spend[rng.random(n) < 0.1] = np.nan
    plan = rng.choice(["basic", "plus", "premium", "rare"], n, p=[0.5, 0.3, 0.18, 0.02])
    plan = pd.Series(plan, dtype="string")
    plan[rng.random(n) < 0.15] = pd.NA
    return pd.DataFrame({"orders": rng.poisson(3, n).astype(float), "spend": spend, "plan": plan})


@pytest.mark.parametrize("log1p", [False, True])
def test_records_and_frames_get_the_same_design(log1p):
    rows = _rows()
    prep = TabularPreparation.fit(rows, ["orders", "spend", "plan"], log1p=log1p)
    frame = _rows(50, seed=1)
    frame.loc[:4, "plan"] = "never-seen"
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    numbers = np.array(
        [[np.nan if r[c] is None else r[c] for c in prep.numeric] for r in records], float
    )
    for few in (records[:3], records):  # the service's few records and a batch
        design = prep.design(numbers[: len(few)], [[r[c] for r in few] for c in prep.categorical])
        np.testing.assert_array_equal(design, prep.transform(frame.iloc[: len(few)]))


def test_missing_is_a_level_when_frequent_and_unseen_values_are_other():
    prep = TabularPreparation.fit(_rows(), ["orders", "spend", "plan"])
    assert prep.levels["plan"] == sorted([MISSING, "basic", "plus", "premium"])  # rare < 20
    assert prep.flags == ["spend"]
    design = prep.transform(
        pd.DataFrame(
            {"orders": [1.0], "spend": [np.nan], "plan": pd.Series(["new"], dtype="string")}
        )
    )
    block = design[0, prep.block("plan")]
    assert block.tolist() == [0, 0, 0, 0, 1]  # the "other" column
    assert design.shape == (1, prep.width)


def test_levels_do_not_depend_on_row_order():
    rows = pd.DataFrame({"x": [1.0] * 60, "c": ["a"] * 20 + ["b"] * 20 + ["c"] * 20})
    first = TabularPreparation.fit(rows, ["x", "c"], max_levels=2)
    again = TabularPreparation.fit(rows.iloc[::-1], ["x", "c"], max_levels=2)
    assert first.levels == again.levels == {"c": ["a", "b"]}  # a tie, broken by name


def test_json_round_trip_keeps_the_design():
    rows = _rows()
    prep = TabularPreparation.fit(rows, ["orders", "spend", "plan"], log1p=True, dtype="float32")
    back = TabularPreparation.from_dict(json.loads(json.dumps(prep.to_dict())), dtype="float32")
    assert back == prep
    np.testing.assert_array_equal(back.transform(rows), prep.transform(rows))
    assert prep.transform(rows).dtype == np.float32


def test_a_frame_without_a_feature_is_refused_by_name():
    prep = TabularPreparation.fit(_rows(), ["orders", "spend", "plan"])
    with pytest.raises(Exception, match="lacks the feature columns spend"):
        prep.transform(_rows().drop(columns="spend"))


# -- ratios and encodings ------------------------------------------------------------------


def test_ratios_are_planned_for_the_shortest_and_longest_window_only():
    columns = [
        *(f"orders_count_{w}" for w in ("30d", "12w", "365d")),
        *(f"orders_active_days_{w}" for w in ("30d", "12w", "365d")),
        *(f"orders_amount_sum_{w}" for w in ("30d", "12w", "365d")),
        "orders_amount_sum_trend_30d",
        "orders_count_trend_30d",
        "orders_category_books_count_30d",  # a level count, not a source
        "orders_days_since_last",
        "support_tickets_count_30d",
        "support_tickets_count_365d",
        "support_tickets_days_since_last",
        # a source whose name starts with the target's: its sums are not a measure of it
        "orders_returns_amount_sum_30d",
        "orders_returns_count_30d",
        "orders_returns_days_since_last",
    ]
    found = {r.name: (r.numerator, r.denominator) for r in plan_ratios(columns, "orders")}
    assert found == {
        "orders_returns_per_orders_30d": ("orders_returns_count_30d", "orders_count_30d"),
        "support_tickets_per_orders_30d": ("support_tickets_count_30d", "orders_count_30d"),
        "support_tickets_per_orders_365d": ("support_tickets_count_365d", "orders_count_365d"),
        "orders_amount_per_active_day_30d": ("orders_amount_sum_30d", "orders_active_days_30d"),
        "orders_amount_per_active_day_365d": (
            "orders_amount_sum_365d",
            "orders_active_days_365d",
        ),
    }
    assert plan_ratios(columns, None) == []  # no target source (table mode)
    assert plan_ratios(["x", "y"], "orders") == []


def test_a_ratio_is_missing_where_its_denominator_is_zero():
    values = ratio_values(np.array([3.0, 1.0, np.nan, 0.0]), np.array([2.0, 0.0, 1.0, np.nan]))
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.array([1.5, np.nan, np.nan, np.nan], np.float32))


def _shop_rows(n=600, seed=0):
    rng = np.random.default_rng(seed)
    orders = rng.poisson(2, n).astype(np.float32)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, n // 3, n),
            "orders_count_30d": orders,
            "orders_active_days_30d": np.minimum(orders, rng.poisson(1.5, n)).astype(np.float32),
            "orders_amount_sum_30d": (orders * rng.lognormal(3, 1, n)).astype(np.float32),
            "tickets_count_30d": rng.poisson(1, n).astype(np.float32),
            "orders_days_since_last": rng.uniform(0, 90, n).astype(np.float32),
            "tickets_days_since_last": rng.uniform(0, 90, n).astype(np.float32),
            "city": pd.Series([f"c{v}" for v in rng.integers(0, 40, n)], dtype="string"),
            "plan": pd.Series(rng.choice(["a", "b"], n), dtype="string"),
            "label": (rng.random(n) < 0.3).astype(float),
        }
    )


@pytest.mark.parametrize("log1p", [False, True])
def test_ratios_and_encodings_give_records_and_frames_the_same_design(log1p):
    rows = _shop_rows()
    columns = [c for c in rows.columns if c not in ("customer_id", "label")]
    prep = TabularPreparation.fit(
        rows,
        columns,
        log1p=log1p,
        ratios=plan_ratios(columns, "orders"),
        target=rows["label"].to_numpy(),
        groups=rows["customer_id"].to_numpy(),
    )
    assert [r.name for r in prep.ratios] == [
        "tickets_per_orders_30d",
        "orders_amount_per_active_day_30d",
    ]
    assert list(prep.encodings) == ["city"]
    assert prep.onehot == ["plan"]
    assert "tickets_per_orders_30d" in prep.flags  # no orders: no ratio, a flag
    assert prep.dense_names[-3:] == [*(r.name for r in prep.ratios), "city"]
    frame = _shop_rows(40, seed=1)
    frame.loc[:3, "city"] = "never-seen"
    frame.loc[4:6, "city"] = pd.NA
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    numbers = np.array(
        [[np.nan if r[c] is None else r[c] for c in prep.numeric] for r in records], float
    )
    for few in (records[:3], records):
        design = prep.design(numbers[: len(few)], [[r[c] for r in few] for c in prep.categorical])
        np.testing.assert_array_equal(design, prep.transform(frame.iloc[: len(few)]))
    back = TabularPreparation.from_dict(json.loads(json.dumps(prep.to_dict())))
    assert back == prep
    np.testing.assert_array_equal(back.transform(frame), prep.transform(frame))
    assert prep.transform(frame).shape == (len(frame), prep.width)


def test_a_preparation_saved_before_ratios_and_encodings_still_loads():
    prep = TabularPreparation.fit(_rows(), ["orders", "spend", "plan"])
    saved = prep.to_dict()
    assert "ratios" not in saved
    assert "encodings" not in saved
    assert TabularPreparation.from_dict(saved) == prep
