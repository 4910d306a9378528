import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.modeling.backtest import inner_split, rolling_folds

MONTHS = [dt.date(2024, m, 1) for m in range(1, 13)]


def test_monthly_cutoffs_with_a_90_day_horizon():
    split = rolling_folds(MONTHS, 90, folds=3)
    assert split.test.valid == dt.date(2024, 12, 1)
    assert split.test.train[-1] == dt.date(2024, 9, 1)  # 09-01 + 90d = 11-30 <= 12-01
    # validation labels end by the test cutoff: 09-01's window closes 11-30, 10-01's would
    # run to 12-30, past the test cutoff, so the choice would see the test's outcomes
    assert [f.valid for f in split.folds] == [
        dt.date(2024, 7, 1),
        dt.date(2024, 8, 1),
        dt.date(2024, 9, 1),
    ]
    assert split.folds[-1].train[-1] == dt.date(2024, 6, 1)


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
    reach = dt.timedelta(days=horizon + gap)
    assert all(v + reach <= split.test.valid for v in valids)


@given(
    offsets=st.lists(st.integers(0, 900), min_size=1, max_size=30, unique=True),
    horizon=st.integers(1, 200),
    gap=st.integers(0, 60),
)
def test_early_stopping_rows_never_overlap_the_rows_learned_from(offsets, horizon, gap):
    cutoffs = [dt.date(2023, 1, 1) + dt.timedelta(days=o) for o in offsets]
    fit_on, stop = inner_split(cutoffs, horizon, gap)
    if stop is None:
        # no cutoff's window ends by the latest one: nothing to stop on, learn from all
        assert fit_on == sorted(cutoffs)
        assert all(t + dt.timedelta(days=horizon + gap) > max(cutoffs) for t in cutoffs)
        return
    assert stop == max(cutoffs)
    assert fit_on
    assert all(t + dt.timedelta(days=horizon + gap) <= stop for t in fit_on)
    # and nothing that could be used is left out
    left = set(cutoffs) - set(fit_on) - {stop}
    assert all(t + dt.timedelta(days=horizon + gap) > stop for t in left)


def test_inner_split_needs_only_one_reach():
    # January to April with a 90-day horizon: April stops, January learns (the old rule
    # wanted a whole inner validation fold and gave up here)
    fit_on, stop = inner_split(MONTHS[:4], 90)
    assert stop == dt.date(2024, 4, 1)
    assert fit_on == [dt.date(2024, 1, 1)]
