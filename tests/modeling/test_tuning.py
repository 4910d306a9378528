"""Hyperparameter search on a synthetic frame with a nonlinear signal: real LightGBM and Optuna."""

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from propensity.errors import DataError, SpecError
from propensity.modeling.candidates import LightGBMCandidate
from propensity.modeling.metrics import roc_auc_score
from propensity.modeling.tuning import tune_lightgbm


def synthetic_frame(n, cutoff, first_customer, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 4))
    # an interaction and a bump: trees find them, a straight line would not
    logit = -0.5 + 1.2 * x[:, 0] * x[:, 1] + 1.5 * (np.abs(x[:, 2]) < 0.7) - 0.5 * x[:, 3]
    return pd.DataFrame(
        {
            "customer": np.arange(n) + first_customer,
            "cutoff": cutoff,
            "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float),
            **{f"x{j}": x[:, j] for j in range(4)},
        }
    )


@pytest.fixture(scope="module")
def frames():
    train = synthetic_frame(4000, dt.date(2024, 1, 1), 0, seed=1)
    valid = synthetic_frame(2000, dt.date(2024, 3, 1), 100_000, seed=2)
    return train, valid


@pytest.fixture(scope="module")
def five(frames):
    return tune_lightgbm(*frames, key="customer", trials=5, seed=3)


def test_tuning_runs_the_trials_and_returns_usable_params(frames, five):
    train, valid = frames
    assert five.trials == len(five.history) == 5
    assert [h["number"] for h in five.history] == list(range(5))
    assert {h["state"] for h in five.history} == {"COMPLETE"}
    assert all(h["rounds"] >= 1 for h in five.history)
    assert five.metric == "roc_auc"
    assert five.greater_is_better
    assert five.score == max(h["value"] for h in five.history)
    assert set(five.params) == {"learning_rate", "num_leaves", "min_child_samples", "params"}
    assert set(five.params["params"]) == {"feature_fraction", "lambda_l2", "min_split_gain"}
    model = LightGBMCandidate(key="customer", **five.params).fit(train, valid)
    p = model.predict(valid)
    assert p.shape == (len(valid),)
    assert roc_auc_score(valid["label"], p) > 0.7


def test_same_seed_gives_the_same_search(frames, five):
    again = tune_lightgbm(*frames, key="customer", trials=5, seed=3)
    assert again.params == five.params
    assert [h["value"] for h in again.history] == [h["value"] for h in five.history]


def test_timeout_stops_the_search_early(frames):
    result = tune_lightgbm(*frames, key="customer", trials=1000, timeout_s=0.5)
    assert 1 <= result.trials < 1000
    assert result.seconds < 10


def test_losses_are_minimised(frames):
    result = tune_lightgbm(*frames, key="customer", metric="log_loss", trials=3)
    assert not result.greater_is_better
    assert result.score == min(h["value"] for h in result.history)


def test_a_custom_factory_builds_each_trial(frames):
    built = []

    def make(**kwargs):
        built.append(kwargs)
        return LightGBMCandidate(key="customer", max_rounds=20, **kwargs)

    result = tune_lightgbm(*frames, key="customer", trials=2, make=make)
    assert [b["learning_rate"] for b in built] == [
        h["params"]["learning_rate"] for h in result.history
    ]
    assert all(h["rounds"] <= 20 for h in result.history)


def test_regression_with_a_factory_that_merges_its_params(frames):
    train, valid = frames

    def make(*, params, **kwargs):
        return LightGBMCandidate(
            key="customer", params={**params, "objective": "regression"}, **kwargs
        )

    def amounts(frame):
        return frame.assign(label=frame["x0"] * frame["x1"] + frame["x2"] ** 2)

    result = tune_lightgbm(
        amounts(train),
        amounts(valid),
        key="customer",
        task="regression",
        metric="rmse",
        trials=2,
        make=make,
    )
    assert not result.greater_is_better
    assert result.score == min(h["value"] for h in result.history)
    assert result.score < amounts(valid)["label"].std()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metric": "accuracy"}, SpecError, r"metric 'accuracy' .* roc_auc, pr_auc, log_loss"),
        ({"metric": "rmse"}, SpecError, r"metric 'rmse' is not known for task 'binary'"),
        ({"task": "survival"}, SpecError, r"task 'survival' .* binary, regression"),
        ({"trials": 0}, SpecError, r"trials must be .* at least 1, got 0"),
        ({"timeout_s": 0.0}, SpecError, r"timeout_s must be a positive number"),
        ({"key": "user"}, DataError, r"key column 'user' not found in valid"),
    ],
)
def test_bad_arguments_are_refused(frames, kwargs, error, match):
    with pytest.raises(error, match=match):
        tune_lightgbm(*frames, **{"key": "customer", "trials": 1, **kwargs})


def test_empty_or_single_customer_valid_is_refused(frames):
    train, valid = frames
    with pytest.raises(DataError, match="valid has no rows"):
        tune_lightgbm(train, valid.iloc[:0], key="customer")
    with pytest.raises(DataError, match="valid has 1 distinct 'customer'"):
        tune_lightgbm(train, valid.iloc[:1], key="customer")


def test_one_class_in_the_scoring_half_is_refused(frames):
    train, valid = frames
    with pytest.raises(DataError, match="roc_auc is nan on the scoring half"):
        tune_lightgbm(train, valid.assign(label=0.0), key="customer", trials=1)


def test_importing_the_module_does_not_import_optuna():
    code = "import sys, propensity.modeling.tuning; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
