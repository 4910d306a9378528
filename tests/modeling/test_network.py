"""The Keras candidate on small synthetic frames with a known signal."""

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from propensity.errors import DataError
from propensity.modeling.metrics import r2_score, roc_auc_score
from propensity.modeling.network import KerasCandidate, keras_missing

PLANS = np.array(["basic", "plus", "premium", "trial"])
FAST = {"hidden": (16, 8), "max_epochs": 15, "patience": 3, "batch_size": 256}


@pytest.fixture
def make_frame():
    """Build a frame with a numeric, a heavy-tailed and a text feature, NaNs in each."""

    def make(n=3000, seed=0, task="binary", cutoff=dt.date(2024, 1, 1)):
        rng = np.random.default_rng(seed)
        engagement = rng.normal(0, 1, n)
        spend = rng.lognormal(3, 1.5, n)
        plan = rng.choice(PLANS, n, p=[0.4, 0.3, 0.2, 0.1])
        signal = -1.2 * engagement + 0.4 * np.log1p(spend) + 1.2 * (plan == "basic") - 1.5
        if task == "binary":
            label = (rng.random(n) < 1 / (1 + np.exp(-signal))).astype(float)
        else:
            label = 50 + 20 * signal + rng.normal(0, 8, n)
        engagement[rng.random(n) < 0.1] = np.nan
        plan = plan.astype(object)
        plan[rng.random(n) < 0.1] = None
        return pd.DataFrame(
            {
                "customer_id": np.arange(n),
                "cutoff": cutoff,
                "label": label,
                "engagement": engagement,
                "spend": spend,
                "plan": plan,
            }
        )

    return make


@pytest.fixture
def tf():
    return pytest.importorskip("tensorflow")


@pytest.mark.usefixtures("tf")
def test_binary_ranks_held_out_rows(make_frame):
    train, valid = make_frame(seed=1), make_frame(seed=2, cutoff=dt.date(2024, 2, 1))
    test = make_frame(seed=3)
    model = KerasCandidate(key="customer_id", **FAST).fit(train, valid)
    p = model.predict(test)
    assert p.dtype == np.float64
    assert p.shape == (len(test),)
    assert ((p > 0) & (p < 1)).all()
    assert roc_auc_score(test["label"], p) > 0.75
    assert 1 <= model.epochs_ <= FAST["max_epochs"]


@pytest.mark.usefixtures("tf")
def test_regression_predicts_amounts(make_frame):
    train, test = make_frame(seed=1, task="regression"), make_frame(seed=3, task="regression")
    # no valid: a tenth of train stops the training
    model = KerasCandidate(key="customer_id", task="regression", **FAST).fit(train)
    pred = model.predict(test)
    assert r2_score(test["label"], pred) > 0.5
    assert abs(pred.mean() - test["label"].mean()) < 0.2 * test["label"].std()


@pytest.mark.usefixtures("tf")
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_round_trip_predicts_the_same(make_frame, tmp_path, task):
    model = KerasCandidate(key="customer_id", task=task, **FAST).fit(make_frame(task=task))
    frame = make_frame(n=200, seed=5, task=task)
    frame.loc[:9, "plan"] = "never-seen"
    frame.loc[10:19, ["engagement", "spend"]] = np.nan
    frame.loc[20:29, "plan"] = None

    data = json.loads(json.dumps(model.to_dict()))
    model.save_model(tmp_path / "model.keras")
    loaded = KerasCandidate.from_file(data, tmp_path / "model.keras")

    expected = model.predict(frame)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(loaded.predict(frame), expected, rtol=0, atol=1e-6)
    assert loaded.epochs_ == model.epochs_


@pytest.mark.usefixtures("tf")
def test_same_seed_same_predictions(make_frame):
    train, test = make_frame(n=1000), make_frame(n=300, seed=4)
    first = KerasCandidate(key="customer_id", seed=7, **FAST).fit(train).predict(test)
    again = KerasCandidate(key="customer_id", seed=7, **FAST).fit(train).predict(test)
    np.testing.assert_allclose(again, first, rtol=0, atol=1e-6)


@pytest.mark.usefixtures("tf")
def test_rejects_labels_the_task_cannot_learn(make_frame):
    frame = make_frame(n=100, task="regression")
    with pytest.raises(DataError, match="binary task needs labels 0 or 1"):
        KerasCandidate(key="customer_id").fit(frame)
    frame.loc[0, "label"] = np.nan
    with pytest.raises(DataError, match="rows without a label"):
        KerasCandidate(key="customer_id", task="regression").fit(frame)


def test_importing_does_not_import_tensorflow():
    code = "import sys, propensity.modeling.network; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.usefixtures("tf")
def test_keras_missing_is_none_when_tensorflow_is_installed():
    assert keras_missing() is None


def test_keras_missing_gives_the_install_line(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert keras_missing() == (
        'keras skipped: TensorFlow is not installed; pip install "propensity[tensorflow]"'
    )
