import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.modeling.backtest import rolling_folds

MONTHS = [dt.date(2024, m, 1) for m in range(1, 13)]


def test_monthly_cutoffs_with_a_90_day_horizon():
    split = rolling_folds(MONTHS, 90, folds=3)
    assert split.test.valid == dt.date(2024, 12, 1)
    assert split.test.train[-1] == dt.date(2024, 9, 1)  # 09-01 + 90d = 11-30 <= 12-01
    assert [f.valid for f in split.folds] == [
        dt.date(2024, 9, 1),
        dt.date(2024, 10, 1),
        dt.date(2024, 11, 1),
    ]
    assert split.folds[-1].train[-1] == dt.date(2024, 8, 1)


def test_gap_pushes_training_further_back():
    split = rolling_folds(MONTHS, 90, folds=1, gap_days=31)
    assert split.test.train[-1] == dt.date(2024, 8, 1)


def test_too_few_cutoffs_say_why():
    with pytest.raises(DataError, match="has no earlier cutoff whose 90-day label window"):
        rolling_folds(MONTHS[:3], 90)
    with pytest.raises(DataError, match="no labelled cutoff"):
        rolling_folds([], 90)


@given(
    offsets=st.lists(st.integers(0, 900), min_size=2, max_size=30, unique=True),
    horizon=st.integers(1, 200),
    gap=st.integers(0, 60),
    folds=st.integers(1, 6),
)
def test_no_training_label_window_reaches_a_judged_cutoff(offsets, horizon, gap, folds):
    cutoffs = [dt.date(2023, 1, 1) + dt.timedelta(days=o) for o in offsets]
    try:
        split = rolling_folds(cutoffs, horizon, folds=folds, gap_days=gap)
    except DataError:
        return
    assert split.test.valid == max(cutoffs)
    assert len(split.folds) <= folds
    for fold in (*split.folds, split.test):
        assert fold.train
        for t in fold.train:
            assert t + dt.timedelta(days=horizon + gap) <= fold.valid
        assert fold.valid not in fold.train
    valids = [f.valid for f in split.folds]
    assert valids == sorted(valids)
    assert all(v < split.test.valid for v in valids)
