"""One preparation for the linear models, the network and the service."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from propensity.modeling.preparation import MISSING, TabularPreparation


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
