import numpy as np
import pytest

from propensity.errors import DataError
from propensity.modeling.calibration import (
    IsotonicCalibrator,
    PlattCalibrator,
    SlopeCalibrator,
    calibrator_from_dict,
    choose_calibrator,
)
from propensity.modeling.metrics import log_loss


def expit(z):
    return 1 / (1 + np.exp(-z))


def test_isotonic_pools_adjacent_violators():
    iso = IsotonicCalibrator().fit([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
    # 0.2 and 0.3 pool to 0.5; between blocks the map is linear
    assert iso.x_ == [0.1, 0.2, 0.3, 0.4]
    assert iso.y_ == [0.0, 0.5, 0.5, 1.0]
    # never a certainty: the ends are held 0.001 inside (0, 1)
    np.testing.assert_allclose(
        iso.predict([0.05, 0.15, 0.25, 0.35, 0.9]), [0.001, 0.25, 0.5, 0.75, 0.999]
    )


def test_isotonic_is_monotone_and_averages_ties():
    rng = np.random.default_rng(0)
    p = rng.random(2000).round(2)
    y = (rng.random(2000) < p**2).astype(float)
    out = IsotonicCalibrator().fit(p, y).predict(np.sort(p))
    assert (np.diff(out) >= -1e-12).all()
    iso = IsotonicCalibrator().fit([0.5, 0.5, 0.5, 0.9], [0, 1, 1, 1])
    assert iso.predict([0.5])[0] == pytest.approx(2 / 3)


def test_platt_recovers_a_logistic_distortion():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.5, 40_000)
    y = (rng.random(z.size) < expit(2 * z - 0.5)).astype(float)
    platt = PlattCalibrator().fit(expit(z), y)
    assert platt.a_ == pytest.approx(2.0, abs=0.1)
    assert platt.b_ == pytest.approx(-0.5, abs=0.1)


def test_choose_picks_the_shape_that_fits():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 1.5, 20_000)
    p = expit(z)
    y = (rng.random(z.size) < expit(2 * z - 0.5)).astype(float)
    chosen, report = choose_calibrator(p, y)
    assert report["method"] == "platt"
    assert report["after"]["log_loss"] < report["before"]["log_loss"]
    assert report["after"]["ece"] < report["before"]["ece"]
    # a step: scores carry order only at 0.5
    p = rng.random(20_000)
    y = (rng.random(p.size) < np.where(p < 0.5, 0.2, 0.9)).astype(float)
    chosen, report = choose_calibrator(p, y)
    assert report["method"] == "isotonic"
    assert log_loss(y, chosen.predict(p)) < log_loss(y, p)


def test_out_of_time_judgement_refuses_a_calibrator_that_does_not_carry_over():
    rng = np.random.default_rng(3)

    def fold(shift, n=20_000):
        z = rng.normal(0, 1.5, n)
        return expit(z), (rng.random(n) < expit(z + shift)).astype(float)

    # the base rate swings from fold to fold: what one fold teaches misleads the next
    swinging = [fold(1.0), fold(-1.0), fold(1.0)]
    _chosen, report = choose_calibrator(*swinging[-1], history=swinging[:-1])
    assert report["judged"].startswith("out of time")
    # what carries over is what learns no level: none, or the slope alone (about 1 here)
    assert report["method"] in ("none", "slope")
    assert report["judged_log_loss"]["none"] < report["judged_log_loss"]["platt"]
    # a steady distortion carries over: Platt learns it
    steady = []
    for _ in range(3):
        z = rng.normal(0, 1.5, 20_000)
        steady.append((expit(z), (rng.random(z.size) < expit(2 * z - 0.5)).astype(float)))
    _chosen, report = choose_calibrator(*steady[-1], history=steady[:-1])
    assert report["method"] == "platt"
    assert report["judged_log_loss"]["platt"] < report["judged_log_loss"]["none"]


def test_round_trip_and_errors():
    platt = PlattCalibrator().fit([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1])
    again = calibrator_from_dict(platt.to_dict())
    np.testing.assert_allclose(again.predict([0.3, 0.7]), platt.predict([0.3, 0.7]))
    iso = IsotonicCalibrator().fit([0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1])
    np.testing.assert_allclose(
        calibrator_from_dict(iso.to_dict()).predict([0.5]), iso.predict([0.5])
    )
    with pytest.raises(DataError, match="unknown calibrator kind 'magic'"):
        calibrator_from_dict({"kind": "magic"})
    with pytest.raises(DataError, match="only one class"):
        choose_calibrator([0.1, 0.2], [1, 1])
    with pytest.raises(DataError, match="2 scores but 1 labels"):
        PlattCalibrator().fit([0.1, 0.2], [1])


def test_slope_calibration_sharpens_without_moving_the_level():
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1.0, 40_000)
    y = (rng.random(z.size) < expit(2 * z)).astype(float)  # the scores are too timid
    slope = SlopeCalibrator().fit(expit(z), y)
    assert 1.8 < slope.a_ < 2.2
    np.testing.assert_allclose(slope.predict([0.5]), [0.5])  # no level of its own
    again = calibrator_from_dict(slope.to_dict())
    np.testing.assert_allclose(again.predict([0.2, 0.9]), slope.predict([0.2, 0.9]))


def test_a_calibrator_that_fails_on_the_same_season_a_year_earlier_is_refused():
    rng = np.random.default_rng(11)

    def fold(shift, n=20_000):
        z = rng.normal(0, 1.5, n)
        return expit(z), (rng.random(n) < expit(z + shift)).astype(float)

    # off-season folds agree with each other: Platt learns their shift and carries over
    # from fold to fold, but the same season a year before has the opposite shift
    folds = [fold(0.8), fold(0.8), fold(0.8)]
    _chosen, plain = choose_calibrator(*folds[-1], history=folds[:-1])
    assert plain["method"] in ("platt", "isotonic")
    _chosen, report = choose_calibrator(*folds[-1], history=folds[:-1], season=fold(-0.8))
    assert report["method"] in ("none", "slope")
    assert "refused" in report["judged"]
    carried = report["season_log_loss"]
    assert carried["platt"] > carried["none"]


def test_a_model_that_expects_another_base_rate_keeps_its_level():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 1.5, 20_000)
    folds = [(expit(z), (rng.random(z.size) < expit(z + 0.8)).astype(float)) for _ in range(3)]
    target = expit(rng.normal(-1.0, 1.5, 5_000))  # where it is applied, the model expects less
    _chosen, report = choose_calibrator(*folds[-1], history=folds[:-1], target=target)
    assert report["shift"]["level_refused"] is True
    assert report["method"] in ("none", "slope")
    _chosen, report = choose_calibrator(*folds[-1], history=folds[:-1], target=folds[-1][0])
    assert report["shift"]["level_refused"] is False
    assert report["method"] in ("platt", "isotonic")
