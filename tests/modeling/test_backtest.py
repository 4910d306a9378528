import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.modeling.backtest import Fold, inner_split, rolling_folds

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


def test_too_few_cutoffs_fall_back_and_say_why():
    # January to May, 90 days: a test by time (January and February end by May) but no
    # validation cutoff fits between them and the test
    split = rolling_folds(MONTHS[:5], 90)
    assert split.step == "customers"
    assert split.test == Fold((MONTHS[0], MONTHS[1]), MONTHS[4])
    assert [f.name for f in split.folds] == [
        "2024-01-01 validation customers",
        "2024-02-01 validation customers",
    ]
    assert split.folds[-1].train == (MONTHS[0], MONTHS[1])
    assert all(f.leave_out == ("validation",) for f in split.folds)
    assert "needs cutoffs spanning 180 days" in split.note
    assert "tested by time on 2024-05-01" in split.note
    assert not split.optimistic
    # January to March: not even a test by time
    split = rolling_folds(MONTHS[:3], 90)
    assert split.step == "no test"
    assert split.optimistic
    assert split.test.name == "2024-03-01 test customers"
    assert split.test.leave_out == ("test",)
    assert all(f.leave_out == ("validation", "test") for f in split.folds)
    assert "the test figure is optimistic" in split.note
    assert "90-day label window" in split.note
    with pytest.raises(DataError, match="no labelled cutoff"):
        rolling_folds([], 90)


def test_enough_cutoffs_keep_folds_by_time():
    split = rolling_folds(MONTHS, 90, folds=3)
    assert split.step == "time"
    assert not split.optimistic
    assert all(f.judge is None and not f.leave_out for f in (*split.folds, split.test))
    assert split.note.startswith("Validated on 3 cutoffs (2024-07-01 to 2024-09-01)")


@given(
    offsets=st.lists(st.integers(0, 900), min_size=1, max_size=30, unique=True),
    horizon=st.integers(1, 200),
    gap=st.integers(0, 60),
    folds=st.integers(1, 6),
)
def test_no_training_label_window_reaches_a_judged_cutoff(offsets, horizon, gap, folds):
    cutoffs = [dt.date(2023, 1, 1) + dt.timedelta(days=o) for o in offsets]
    split = rolling_folds(cutoffs, horizon, folds=folds, gap_days=gap)
    assert split.test.valid == max(cutoffs)
    assert 1 <= len(split.folds) <= folds
    reach = dt.timedelta(days=horizon + gap)
    valids = [f.valid for f in split.folds]
    assert valids == sorted(valids)
    assert len({f.name for f in (*split.folds, split.test)}) == len(split.folds) + 1
    by_time = [f for f in (*split.folds, split.test) if f.judge is None]
    for fold in by_time:
        assert fold.train
        for t in fold.train:
            assert t + reach <= fold.valid
        assert fold.valid not in fold.train
    for fold in (*split.folds, split.test):
        if fold.judge is not None:  # judged customers are never learned from
            assert fold.judge in fold.leave_out
            assert max(fold.train) == fold.valid
    if split.step != "no test":  # the choice sees no outcome after the test cutoff
        assert split.test.judge is None
        assert all(v + reach <= split.test.valid for v in valids)
    # fall back only as far as the cutoffs force
    test_by_time = any(t + reach <= max(cutoffs) for t in cutoffs)
    valid_by_time = any(
        v + reach <= max(cutoffs) and any(t + reach <= v for t in cutoffs) for v in cutoffs
    )
    expected = "time" if valid_by_time else "customers" if test_by_time else "no test"
    assert split.step == expected
    assert len(by_time) == {"time": len(split.folds) + 1, "customers": 1, "no test": 0}[expected]


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
