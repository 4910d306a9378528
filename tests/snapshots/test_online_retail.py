"""The Online Retail II frame against an independent pandas computation (real data)."""

import pandas as pd
import pytest

from propensity.project import Project
from tests.conftest import ONLINE_RETAIL as DATA
from tests.conftest import online_retail_spec, to_toml

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not here")


def test_population_and_label_rate_at_one_cutoff(tmp_path):
    spec = online_retail_spec()
    (tmp_path / "propensity.toml").write_text(to_toml(spec))
    result = Project.load(tmp_path).build()
    frame = pd.read_parquet(result.frame_path)
    frame["cutoff"] = pd.to_datetime(frame.cutoff)
    at = frame[frame.cutoff == pd.Timestamp("2011-09-01")].set_index("Customer ID")

    # the same question, answered independently with pandas
    raw = pd.read_parquet(DATA)
    raw = raw[raw["Customer ID"].notna() & ~raw.Invoice.str.startswith("C") & (raw.Quantity > 0)]
    raw["day"] = raw.InvoiceDate.dt.floor("D")
    t = pd.Timestamp("2011-09-01")
    before = raw[(raw.day < t) & (raw.day >= t - pd.Timedelta(days=365))]
    population = set(before["Customer ID"].astype(int))
    after = raw[(raw.day >= t) & (raw.day < t + pd.Timedelta(days=90))]
    bought = set(after["Customer ID"].astype(int))
    expected_rate = sum(c not in bought for c in population) / len(population)

    assert set(at.index) == population
    assert at.label.mean() == pytest.approx(expected_rate, abs=1e-12)
    assert 0.50 < at.label.mean() < 0.52  # the documented autumn dip (FACTS.md)
    # spend in the last 90 days for a few customers, against pandas
    spend = (
        raw[(raw.day < t) & (raw.day >= t - pd.Timedelta(days=90))]
        .assign(v=lambda d: d.Quantity * d.Price)
        .groupby("Customer ID")
        .v.sum()
    )
    spend.index = spend.index.astype(int)
    joined = at.purchases_amount_sum_90d.to_frame().join(spend, how="left").fillna(0)
    pd.testing.assert_series_equal(
        joined.purchases_amount_sum_90d, joined.v, check_names=False, check_dtype=False, rtol=1e-9
    )
