"""Short histories: the fallback splits never judge a row by a model that saw its outcome."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.modeling.backtest import (
    HELD_OUT,
    PARTS,
    STOPPING,
    Fold,
    customer_draws,
    customer_parts,
    rolling_folds,
)
from propensity.modeling.evaluate import cutoff_dates, fold_positions, time_rounds

DAY0 = dt.date(2024, 1, 1)


def make_frame(offsets, customers, seed, present=0.85):
    """Rows per customer and cutoff (each present with probability ``present``), 0/1 labels."""
    rng = np.random.default_rng(seed)
    cutoffs = [DAY0 + dt.timedelta(days=o) for o in sorted(offsets)]
    keys = np.repeat(np.arange(customers) * 7 + 100, len(cutoffs))
    days = np.tile(np.array(cutoffs, dtype="datetime64[D]"), customers)
    keep = rng.random(len(keys)) < present
    rate = rng.uniform(0.3, 0.7)
    return pd.DataFrame(
        {
            "customer_id": keys[keep],
            "cutoff": pd.to_datetime(days[keep]),
            "label": (rng.random(int(keep.sum())) < rate).astype(float),
            "x": rng.normal(size=int(keep.sum())),
        }
    )


def pairs(frame, learn, judged):
    """Every (learning row, judged row) pair of the same customer, with both cutoffs."""
    left = frame.iloc[learn][["customer_id", "cutoff"]]
    right = frame.iloc[judged][["customer_id", "cutoff"]]
    return left.merge(right, on="customer_id", suffixes=("_learn", "_judged"))


def can_judge(frame, fold, reach_days, seed):
    """Whether a fold's judged and learning rows each hold both labels (worked out anew)."""
    days = cutoff_dates(frame)
    part = customer_parts(frame["customer_id"].to_numpy(), seed)
    judged = days == np.datetime64(fold.valid, "D")
    learn = np.isin(days, np.array(fold.train, dtype="datetime64[D]"))
    if fold.judge is not None:
        judged &= part == PARTS[fold.judge]
        learn &= ~np.isin(part, [PARTS[p] for p in fold.leave_out])
    y = frame["label"].to_numpy()
    return all(len(np.unique(y[rows])) == 2 for rows in (judged, learn))


def customers_of(frame, positions):
    return set(frame["customer_id"].to_numpy()[positions].tolist())


def days_of(frame, positions):
    return set(cutoff_dates(frame)[positions].astype(object).tolist())


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 300), min_size=1, max_size=16, unique=True),
    horizon=st.integers(1, 120),
    gap=st.integers(0, 30),
    folds=st.integers(1, 4),
    customers=st.integers(3, 300),
    seed=st.integers(0, 2**16),
    max_rows=st.none() | st.integers(200, 2000),
)
def test_no_round_learns_a_window_that_overlaps_what_it_judges(
    offsets, horizon, gap, folds, customers, seed, max_rows
):
    frame = make_frame(offsets, customers, seed)
    reach = dt.timedelta(days=horizon + gap)
    cutoffs = sorted({d.date() for d in frame["cutoff"]})
    split = rolling_folds(cutoffs, horizon, folds=folds, gap_days=gap)
    event(f"step: {split.step}")
    try:
        rounds = time_rounds(
            frame, split, horizon + gap, max_rows=max_rows, seed=seed, key="customer_id"
        )
    except DataError:
        # only when a round by customers truly cannot judge: a part with one label
        event("refused")
        assert split.step != "time"
        assert not all(
            can_judge(frame, f, horizon + gap, seed)
            for f in (*split.folds, split.test)
            if f.judge is not None
        )
        return
    assert [r.name for r in rounds] == [f.name for f in (*split.folds, split.test)]
    assert len({r.name for r in rounds}) == len(rounds)
    assert [r.test for r in rounds] == [False] * len(split.folds) + [True]
    parts = dict(
        zip(
            frame["customer_id"],
            customer_parts(frame["customer_id"].to_numpy(), seed),
            strict=True,
        )
    )
    test_day = split.test.valid
    test_customers = {c for c, p in parts.items() if p == PARTS["test"]}
    for fold, rnd in zip((*split.folds, split.test), rounds, strict=True):
        learn = np.concatenate([rnd.train, rnd.inner, [] if rnd.stop is None else rnd.stop])
        learn = learn.astype(np.int64)
        assert len(rnd.judged)
        assert days_of(frame, rnd.judged) == {fold.valid}
        # the invariant: a customer's learned label window never reaches the cutoff it is
        # judged on (held-out customers: they are never learned from at all)
        same = pairs(frame, learn, rnd.judged)
        assert (same["cutoff_learn"] + reach <= same["cutoff_judged"]).all()
        if fold.judge is None:  # by time: every learned window ends by the judged cutoff
            assert all(t + reach <= fold.valid for t in days_of(frame, learn))
            at = cutoff_dates(frame) == np.datetime64(fold.valid, "D")
            assert set(rnd.judged.tolist()) == set(np.flatnonzero(at).tolist())
        else:
            assert same.empty
            assert {parts[c] for c in customers_of(frame, rnd.judged)} == {PARTS[fold.judge]}
            left_out = {PARTS[p] for p in fold.leave_out}
            assert not {parts[c] for c in customers_of(frame, learn)} & left_out
            assert max(days_of(frame, learn)) <= fold.valid
        # early stopping never scores a customer's window that the inner rows reach
        if rnd.stop is not None:
            assert len(rnd.stop)
            stopping = pairs(frame, rnd.inner, rnd.stop)
            assert (stopping["cutoff_learn"] + reach <= stopping["cutoff_judged"]).all()
            event("stops on customers" if stopping.empty else "stops by time")
        else:
            np.testing.assert_array_equal(rnd.inner, rnd.train)
        if max_rows is None:  # else both are samples
            assert set(rnd.inner.tolist()) <= set(rnd.train.tolist())
            if rnd.stop is not None:
                assert set(rnd.stop.tolist()) <= set(rnd.train.tolist())
        if not rnd.test and split.step != "no test":
            # the choice uses no outcome observed after the test cutoff starts
            assert all(t + reach <= test_day for t in days_of(frame, learn))
            assert all(t + reach <= test_day for t in days_of(frame, rnd.judged))
        if split.step == "no test":
            # the test customers are judged once, in the test round, and never learned from
            assert not customers_of(frame, learn) & test_customers
            if not rnd.test:
                assert not customers_of(frame, rnd.judged) & test_customers
    if split.step == "time":
        assert all(f.judge is None for f in (*split.folds, split.test))


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 200), min_size=1, max_size=10, unique=True),
    horizon=st.integers(20, 120),
    customers=st.integers(150, 260),
    seed=st.integers(0, 2**16),
)
def test_short_folds_stop_early_on_customers_they_do_not_learn_from(
    offsets, horizon, customers, seed
):
    frame = make_frame(offsets, customers, seed)
    keys = frame["customer_id"].to_numpy()
    days = cutoff_dates(frame)
    every = tuple(sorted({d.date() for d in frame["cutoff"]}))
    fold = Fold(every, every[-1] + dt.timedelta(days=horizon))  # the final refit's fold
    train, inner, stop, _ = fold_positions(days, fold, horizon, keys=keys, seed=seed)
    assert stop is not None
    if all(t + dt.timedelta(days=horizon) > every[-1] for t in every):
        # no cutoff to stop on later: a tenth of the customers, none of them learned from
        assert not customers_of(frame, inner) & customers_of(frame, stop)
        assert sorted([*inner, *stop]) == sorted(train)
        stoppers = customer_draws(keys, seed, "stopping") < STOPPING
        assert set(stop.tolist()) == set(np.flatnonzero(stoppers).tolist())
        # without the keys there is nothing honest to stop on
        assert fold_positions(days, fold, horizon)[2] is None
    else:
        assert days_of(frame, stop) == {every[-1]}


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 60), min_size=1, max_size=8, unique=True),
    seed=st.integers(0, 2**16),
)
def test_customer_selection_is_a_stable_function_of_the_key(offsets, seed):
    frame = make_frame(offsets, 400, seed)
    split = rolling_folds(sorted({d.date() for d in frame["cutoff"]}), 90)
    assert split.step == "no test"

    def judged(rows):
        rounds = time_rounds(rows, split, 90, seed=seed, key="customer_id")
        return [
            set(map(tuple, rows.iloc[r.judged][["customer_id", "cutoff"]].values)) for r in rounds
        ]

    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    fewer = frame[frame["customer_id"] % 2 == 0].reset_index(drop=True)
    assert judged(frame) == judged(shuffled)
    # a customer's part does not depend on who else is in the data
    assert [{r for r in got if r[0] % 2 == 0} for got in judged(frame)] == judged(fewer)


def test_held_out_parts_are_about_a_fifth_each():
    parts = customer_parts(np.arange(20_000), seed=7)
    shares = np.bincount(parts, minlength=3) / len(parts)
    assert shares[PARTS["test"]] == pytest.approx(HELD_OUT, abs=0.01)
    assert shares[PARTS["validation"]] == pytest.approx(HELD_OUT, abs=0.01)
    # another seed draws other customers, text and number keys alike
    assert (customer_parts(np.arange(20_000), seed=8) != parts).mean() > 0.3
    np.testing.assert_array_equal(
        customer_parts(np.arange(50).astype(str), seed=7), customer_parts(np.arange(50), seed=7)
    )


def test_a_split_by_customers_needs_the_key():
    frame = make_frame([0, 7], 50, 0)
    split = rolling_folds([DAY0, DAY0 + dt.timedelta(days=7)], 30)
    with pytest.raises(ValueError, match="pass the customer key"):
        time_rounds(frame, split, 30)


def test_refuse_only_when_held_out_customers_cannot_judge():
    few = make_frame([0], 3, 0, present=1.0)
    split = rolling_folds([DAY0], 30)
    assert split.step == "no test"
    with pytest.raises(DataError, match=r"the frame has 3 customers; add customers"):
        time_rounds(few, split, 30, key="customer_id")
    rare = make_frame([0, 7], 300, 1, present=1.0)
    rare["label"] = 0.0
    rare.loc[rare.index[:1], "label"] = 1.0  # one churner: some part sees only 0
    split = rolling_folds([DAY0, DAY0 + dt.timedelta(days=7)], 30)
    with pytest.raises(DataError, match=r"rows, every one labelled 0"):
        time_rounds(rare, split, 30, key="customer_id")
    # an amount target: one class is no reason to refuse
    rare["label"] = np.arange(len(rare), dtype=float)
    assert len(time_rounds(rare, split, 30, key="customer_id")) == len(split.folds) + 1
