import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.modeling.bgnbd import BGNBD

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW, in weeks


HOLDOUT = 13.0


def simulate(n, seed=0, params=TRUE):
    """The BG/NBD process: calibration (x, t_x, T) and purchases in the next 13 weeks."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    drop = rng.beta(params["a"], params["b"], n)
    T = rng.uniform(30, 40, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > T[i] + HOLDOUT:
                break
            if t > T[i]:
                future[i] += 1
            else:
                x[i] += 1
                t_x[i] = t
            alive = rng.random() >= drop[i]
    return x, t_x, T, future


@pytest.fixture(scope="module")
def fitted():
    x, t_x, T, future = simulate(6000)
    return BGNBD().fit(x, t_x, T), (x, t_x, T, future)


def test_recovers_known_parameters(fitted):
    model, _ = fitted
    got = model.params_
    assert got["r"] == pytest.approx(TRUE["r"], rel=0.15)
    assert got["alpha"] == pytest.approx(TRUE["alpha"], rel=0.25)
    assert got["a"] == pytest.approx(TRUE["a"], rel=0.4)
    assert got["b"] == pytest.approx(TRUE["b"], rel=0.5)


def test_log_likelihood_matches_the_paper_formula():
    model = BGNBD.from_dict({"model": "bgnbd", "params": TRUE})
    r, alpha, a, b = TRUE["r"], TRUE["alpha"], TRUE["a"], TRUE["b"]
    x, t_x, T = 2, 20.0, 30.0
    a1 = math.gamma(r + x) * alpha**r / math.gamma(r)
    a2 = math.gamma(a + b) * math.gamma(b + x) / (math.gamma(b) * math.gamma(a + b + x))
    a3 = (1 / (alpha + T)) ** (r + x)
    a4 = (a / (b + x - 1)) * (1 / (alpha + t_x)) ** (r + x)
    expected = math.log(a1 * a2 * (a3 + a4))
    assert model.log_likelihood([x], [t_x], [T])[0] == pytest.approx(expected)
    # a one-time buyer has no A4 term
    one = math.log(a1 / math.gamma(r + x) * math.gamma(r) * (1 / (alpha + T)) ** r)
    assert model.log_likelihood([0], [0], [T])[0] == pytest.approx(one)


def test_scores_behave():
    model = BGNBD.from_dict({"model": "bgnbd", "params": TRUE})
    assert model.p_alive([0], [0], [30])[0] == 1.0
    # the same purchases, the last one longer ago: less likely alive, more likely to churn
    alive = model.p_alive([3, 3], [28, 5], [30, 30])
    assert alive[0] > alive[1]
    churn = model.p_no_event([3, 3], [28, 5], [30, 30], horizon=13)
    assert churn[0] < churn[1]
    assert ((churn >= 0) & (churn <= 1)).all()
    # more purchases at the same recency: buys more often, so less likely to go quiet
    assert model.p_no_event([8], [28], [30], 13)[0] < model.p_no_event([1], [28], [30], 13)[0]
    expected = model.expected_events([0, 3, 8], [0, 28, 28], [30, 30, 30], horizon=13)
    assert expected[0] < expected[1] < expected[2]


def test_predictions_match_the_simulated_holdout(fitted):
    from propensity.modeling.metrics import roc_auc_score

    model, (x, t_x, T, future) = fitted
    expected = model.expected_events(x, t_x, T, horizon=HOLDOUT)
    assert expected.mean() == pytest.approx(future.mean(), rel=0.1)
    churn = model.p_no_event(x, t_x, T, horizon=HOLDOUT)
    assert churn.mean() == pytest.approx((future == 0).mean(), abs=0.03)
    assert roc_auc_score(future == 0, churn) > 0.75


def test_round_trip_and_errors():
    model = BGNBD.from_dict({"model": "bgnbd", "params": TRUE, "penalizer": 0.1})
    again = BGNBD.from_dict(model.to_dict())
    assert again.params_ == model.params_
    with pytest.raises(DataError, match="not fitted"):
        BGNBD().p_alive([1], [1], [2])
    with pytest.raises(DataError, match="0 <= t_x <= T"):
        model.p_alive([1], [5], [2])
    with pytest.raises(DataError, match="t_x = 0"):
        model.p_alive([0], [1], [2])
    with pytest.raises(DataError, match="not a BG/NBD model"):
        BGNBD.from_dict({"model": "other"})


def test_bgnbd_features_fit_each_cutoff_on_its_own_rows():
    import pandas as pd

    from propensity.modeling.bgnbd import bgnbd_features

    x, t_x, T, _ = simulate(800, seed=3)
    one = pd.DataFrame(
        {
            "cutoff": "2024-01-01",
            "orders_active_days_all": x + 1,
            "orders_days_since_first": T,
            "orders_days_since_last": T - t_x,
        }
    )
    two = one.assign(
        cutoff="2024-02-01", orders_days_since_first=T + 4.0, orders_days_since_last=T - t_x + 4.0
    )
    frame = pd.concat([one, two], ignore_index=True)
    frame.loc[0, "orders_active_days_all"] = 0  # no history yet: no score
    feats = bgnbd_features(frame, "orders", horizon=13)
    assert list(feats.columns) == [
        "orders_bgnbd_p_alive",
        "orders_bgnbd_expected",
        "orders_bgnbd_p_no_event",
    ]
    assert feats.iloc[0].isna().all()
    assert feats.iloc[1:].notna().all().all()
    # the first cutoff's scores equal a model fitted on that cutoff's rows alone
    alone = bgnbd_features(frame[frame.cutoff == "2024-01-01"], "orders", horizon=13)
    pd.testing.assert_frame_equal(feats.loc[alone.index], alone)
    # four weeks of silence later, everyone is a little likelier to have gone quiet
    later = feats[frame.cutoff == "2024-02-01"].orders_bgnbd_p_no_event.to_numpy()
    earlier = feats[frame.cutoff == "2024-01-01"].orders_bgnbd_p_no_event.to_numpy()
    assert np.nanmean(later) > np.nanmean(earlier)
    with pytest.raises(DataError, match="lacks orders_active_days_all"):
        bgnbd_features(frame.drop(columns="orders_active_days_all"), "orders", 13)


@settings(max_examples=200, deadline=None)
@given(
    x=st.integers(0, 200),
    first=st.floats(0, 2000, allow_nan=False),
    share=st.floats(0, 1),
    horizon=st.sampled_from([30.0, 90.0, 365.0]),
    a=st.sampled_from([0.5, 2.0, 130.0]),
)
def test_one_history_in_floats_equals_the_arrays(x, first, share, horizon, a):
    model = BGNBD.from_dict(
        {"model": "bgnbd", "params": {"r": 1.2, "alpha": 40.0, "a": a, "b": 3.5}}
    )
    t_x = 0.0 if x == 0 else first * share
    arrays = model.scores([x], [t_x], [first], horizon)
    one = model.score_one(float(x), t_x, first, horizon)
    for vector, scalar in zip(arrays, one, strict=True):
        assert scalar == pytest.approx(float(vector[0]), rel=1e-9, abs=1e-12, nan_ok=True)
