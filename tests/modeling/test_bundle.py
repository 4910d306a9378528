"""Bundles round-trip every candidate exactly, hold no pickles, and refuse altered files."""

import json

import numpy as np
import pytest

from propensity.modeling.bundle import BundleError, load_bundle, reference_profile, save_bundle
from propensity.modeling.calibration import IsotonicCalibrator, PlattCalibrator
from propensity.modeling.candidates import (
    BGNBDCandidate,
    LightGBMCandidate,
    LinearCandidate,
    LogisticCandidate,
    MeanCandidate,
    PriorCandidate,
    RecencyCandidate,
    compact,
    feature_columns,
)
from tests.modeling.test_candidates import synthetic_frame

KEY = "customer_id"


@pytest.fixture(scope="module")
def frame():
    # as training sees it: numeric features in float32
    return compact(synthetic_frame(n=400), KEY)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PriorCandidate(key=KEY),
        lambda: RecencyCandidate(key=KEY, column="orders_days_since_last"),
        lambda: BGNBDCandidate(key=KEY, source="orders", horizon=60),
        lambda: LogisticCandidate(key=KEY),
        lambda: LightGBMCandidate(key=KEY, max_rounds=50),
    ],
)
def test_every_candidate_round_trips_exactly(tmp_path, frame, make):
    train, valid = frame[frame.cutoff.astype(str) < "2024-08-01"], None
    candidate = make().fit(train, valid)
    calibrator = PlattCalibrator().fit(candidate.predict(train), train.label)
    folder = save_bundle(tmp_path / "v1", candidate, calibrator, {"version": "v1", "key": KEY})
    loaded = load_bundle(folder)
    assert loaded.manifest["candidate"] == candidate.name
    np.testing.assert_allclose(loaded.candidate.predict(frame), candidate.predict(frame))
    np.testing.assert_allclose(loaded.predict(frame), calibrator.predict(candidate.predict(frame)))
    # text formats only: JSON, and LightGBM's own text model
    for path in folder.iterdir():
        text = path.read_text()
        assert path.suffix in (".json", ".txt")
        if path.suffix == ".json":
            json.loads(text)


def test_logistic_scores_like_scikit_learn_on_the_same_design(frame):
    from sklearn.linear_model import LogisticRegression

    model = LogisticCandidate(key=KEY).fit(frame)
    reference = LogisticRegression(
        class_weight="balanced", solver="newton-cholesky", max_iter=200
    ).fit(model.preparation_.transform(frame), frame.label)
    np.testing.assert_allclose(
        model.predict(frame),
        reference.predict_proba(model.preparation_.transform(frame))[:, 1],
        atol=1e-6,
    )
    # a level never seen in training falls in the shared "other" column, not an error
    odd = frame.head(3).assign(plan="enterprise")
    assert np.isfinite(model.predict(odd)).all()


def test_altered_or_missing_files_are_refused(tmp_path, frame):
    candidate = PriorCandidate(key=KEY).fit(frame)
    folder = save_bundle(tmp_path / "v1", candidate, IsotonicCalibrator().fit([0, 1], [0, 1]), {})
    model = folder / "model.json"
    model.write_text(model.read_text().replace('"rate"', '"rate" ', 1))
    with pytest.raises(BundleError, match=r"model\.json: checksum mismatch"):
        load_bundle(folder)
    model.unlink()
    with pytest.raises(BundleError, match=r"model\.json: missing"):
        load_bundle(folder)
    with pytest.raises(BundleError, match="already there"):
        save_bundle(folder, candidate, IsotonicCalibrator().fit([0, 1], [0, 1]), {})
    with pytest.raises(BundleError, match="not a bundle"):
        load_bundle(tmp_path)


def test_reference_profile(frame):
    features = feature_columns(frame, KEY)
    profile = reference_profile(frame, features, np.linspace(0, 1, len(frame)))
    numeric = profile["features"]["engagement"]
    assert numeric["missing"] == pytest.approx(frame.engagement.isna().mean())
    assert sum(numeric["shares"]) == pytest.approx(1.0)
    levels = profile["features"]["plan"]["levels"]
    assert sum(levels.values()) == pytest.approx(1.0)
    assert sum(profile["score"]["shares"]) == pytest.approx(1.0)
    json.dumps(profile)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MeanCandidate(key=KEY),
        lambda: LinearCandidate(key=KEY),
        lambda: LightGBMCandidate(key=KEY, task="regression", max_rounds=50),
    ],
)
def test_amount_models_round_trip_exactly(tmp_path, frame, make):
    amounts = frame.assign(label=frame["orders_days_since_first"] * 0.5 + frame["label"] * 10)
    train = amounts[amounts.cutoff.astype(str) < "2024-08-01"]
    candidate = make().fit(train)
    from propensity.modeling.calibration import NoCalibration

    info = {"version": "v1", "key": KEY, "task": "regression"}
    loaded = load_bundle(save_bundle(tmp_path / "v1", candidate, NoCalibration(), info))
    assert loaded.task == "regression"
    assert loaded.candidate.name == candidate.name
    np.testing.assert_allclose(loaded.predict(amounts), candidate.predict(amounts))
    if candidate.name != "mean":  # a model that learned something: not a constant
        assert np.std(loaded.predict(amounts)) > 1
