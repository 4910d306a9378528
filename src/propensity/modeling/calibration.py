"""Probability calibration: Platt scaling and isotonic regression, stored as JSON."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from propensity.errors import DataError
from propensity.modeling.metrics import brier_loss, expected_calibration_error, log_loss

__all__ = [
    "Calibrator",
    "IsotonicCalibrator",
    "NoCalibration",
    "PlattCalibrator",
    "SlopeCalibrator",
    "calibrator_from_dict",
    "choose_calibrator",
]

_EPS = 1e-6
#: the least probability isotonic calibration gives (and 1 minus it the most)
_FLOOR = 1e-3
#: how far the model's mean score where a calibrator is applied may move from its mean
#: score where the calibrator was learned before a calibrator that learns the level is
#: refused (the model expects another base rate there: a season, a campaign)
SEASON_SHIFT = 0.05


def _clean(p: npt.ArrayLike, y: npt.ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    p_arr = np.asarray(p, dtype=float).ravel()
    y_arr = np.zeros_like(p_arr) if y is None else np.asarray(y, dtype=float).ravel()
    if p_arr.shape != y_arr.shape or p_arr.size == 0:
        raise DataError(f"calibration: {p_arr.size} scores but {y_arr.size} labels")
    if not np.isfinite(p_arr).all():
        raise DataError("calibration: scores must be finite numbers")
    return p_arr, y_arr


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


class Calibrator:
    """Maps a model's scores to probabilities that match observed rates."""

    kind = "identity"

    def fit(self, p: npt.ArrayLike, y: npt.ArrayLike) -> Calibrator:
        """Learn the mapping from scores ``p`` and outcomes ``y``."""
        return self

    def predict(self, p: npt.ArrayLike) -> np.ndarray:
        """Calibrated probabilities for scores ``p``."""
        return np.asarray(np.clip(_clean(p)[0], 0.0, 1.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (bundles hold no pickles)."""
        return {"kind": self.kind}


class NoCalibration(Calibrator):
    """Leaves predictions as they are: amounts are not probabilities."""

    kind = "none"

    def predict(self, p: npt.ArrayLike) -> np.ndarray:
        """The predictions, unchanged."""
        return np.asarray(p, dtype=float)


class PlattCalibrator(Calibrator):
    """``sigmoid(a * logit(p) + b)``, fitted by maximum likelihood."""

    kind = "platt"

    def fit(self, p: npt.ArrayLike, y: npt.ArrayLike) -> PlattCalibrator:
        """Fit ``a`` and ``b`` by minimising log loss."""
        from scipy.optimize import minimize

        p_arr, y_arr = _clean(p, y)
        z = _logit(p_arr)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            q = 1.0 / (1.0 + np.exp(-(theta[0] * z + theta[1])))
            q = np.clip(q, 1e-12, 1 - 1e-12)
            value = -np.mean(y_arr * np.log(q) + (1 - y_arr) * np.log(1 - q))
            grad = np.array([np.mean((q - y_arr) * z), np.mean(q - y_arr)])
            return float(value), grad

        result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.a_, self.b_ = (float(v) for v in result.x)
        return self

    def predict(self, p: npt.ArrayLike) -> np.ndarray:
        """Calibrated probabilities."""
        z = _logit(_clean(p)[0])
        return np.asarray(1.0 / (1.0 + np.exp(-(self.a_ * z + self.b_))))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"kind": self.kind, "a": self.a_, "b": self.b_}


class SlopeCalibrator(Calibrator):
    """``sigmoid(a * logit(p))``: sharpens or softens the scores, keeps their level.

    Platt scaling without the intercept. It corrects a model that is over- or
    under-confident and carries across a base rate that moves with the season, because
    it learns no base rate of its own.
    """

    kind = "slope"

    def fit(self, p: npt.ArrayLike, y: npt.ArrayLike) -> SlopeCalibrator:
        """Fit ``a`` by minimising log loss."""
        from scipy.optimize import minimize_scalar

        p_arr, y_arr = _clean(p, y)
        z = _logit(p_arr)

        def loss(a: float) -> float:
            q = np.clip(1.0 / (1.0 + np.exp(-a * z)), 1e-12, 1 - 1e-12)
            return -float(np.mean(y_arr * np.log(q) + (1 - y_arr) * np.log(1 - q)))

        self.a_ = float(minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded").x)
        return self

    def predict(self, p: npt.ArrayLike) -> np.ndarray:
        """Calibrated probabilities."""
        z = _logit(_clean(p)[0])
        return np.asarray(1.0 / (1.0 + np.exp(-self.a_ * z)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"kind": self.kind, "a": self.a_}


class IsotonicCalibrator(Calibrator):
    """A non-decreasing step-wise map (scikit-learn's ``IsotonicRegression``), interpolated."""

    kind = "isotonic"

    def fit(self, p: npt.ArrayLike, y: npt.ArrayLike) -> IsotonicCalibrator:
        """Fit the monotone map with scikit-learn's pool-adjacent-violators.

        Only its knots are kept (each block flat from its lowest to its highest score),
        so the map is saved as two lists of numbers and applied without scikit-learn.
        """
        from sklearn.isotonic import IsotonicRegression

        p_arr, y_arr = _clean(p, y)
        fitted = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(p_arr, y_arr)
        self.x_ = [float(v) for v in fitted.X_thresholds_]
        self.y_ = [float(v) for v in fitted.y_thresholds_]
        return self

    def predict(self, p: npt.ArrayLike) -> np.ndarray:
        """Calibrated probabilities (linear between blocks, flat beyond the ends).

        Never exactly 0 or 1: an end block that was all one class says "rare", not
        "impossible", and one wrong certainty would cost an infinite log loss.
        """
        out = np.interp(_clean(p)[0], self.x_, self.y_)
        return np.asarray(np.clip(out, _FLOOR, 1 - _FLOOR))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"kind": self.kind, "x": self.x_, "y": self.y_}


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """Rebuild a calibrator from :meth:`Calibrator.to_dict`."""
    kind = data.get("kind")
    if kind == "identity":
        return Calibrator()
    if kind == "none":
        return NoCalibration()
    if kind == "platt":
        platt = PlattCalibrator()
        platt.a_, platt.b_ = float(data["a"]), float(data["b"])
        return platt
    if kind == "slope":
        slope = SlopeCalibrator()
        slope.a_ = float(data["a"])
        return slope
    if kind == "isotonic":
        iso = IsotonicCalibrator()
        iso.x_, iso.y_ = [float(v) for v in data["x"]], [float(v) for v in data["y"]]
        if len(iso.x_) != len(iso.y_) or not iso.x_:
            raise DataError("calibration: isotonic map has mismatched or empty points")
        return iso
    raise DataError(
        f"calibration: unknown calibrator kind {kind!r}; "
        "known: identity, none, platt, slope, isotonic"
    )


_METHODS: dict[str, type[Calibrator]] = {
    "none": Calibrator,
    "platt": PlattCalibrator,
    "slope": SlopeCalibrator,
    "isotonic": IsotonicCalibrator,
}
#: the methods that learn the base rate of the rows they are fitted on
_LEVEL = ("platt", "isotonic")


def choose_calibrator(
    p: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    seed: int = 0,
    history: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]] = (),
    target: npt.ArrayLike | None = None,
    season: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> tuple[Calibrator, dict[str, Any]]:
    """Pick no calibration, Platt, slope or isotonic, then fit the winner on the latest fold.

    Parameters
    ----------
    p, y
        Scores and outcomes of the latest validation fold.
    seed
        Seeds the halves of the within-fold judgement.
    history
        Scores and outcomes of earlier validation folds, oldest first. With them, each
        method is judged out of time, the way it will be used: fitted on one fold and
        scored on the next, each fold's scores coming from its own model. A base rate that
        moves between folds then shows up as a calibrator that does not carry over, and
        "none" can win. Each method is fitted on every fold and scored on every later one
        (not only the next), so a calibrator must also carry across longer gaps. Without
        them, each method is fitted on one half of the latest fold and scored on the
        other, both ways.
    target
        The raw scores of the rows the calibrator will be applied to (no labels). When
        the model's mean score there differs from its mean on the latest fold by more
        than :data:`SEASON_SHIFT`, the model expects another base rate there (a season):
        the methods that learn the level of the latest fold (Platt, isotonic) would undo
        that, and only "none" and "slope" compete.
    season
        Scores and outcomes of the same season a year before the rows the calibrator will
        be applied to, from a model that learned only from earlier labels. Each method is
        fitted on the latest fold and scored there: one that does worse than no
        calibration does not carry across seasons and is refused.

    Returns
    -------
    The fitted calibrator and a report: the method, how it was judged, each method's
    judged log loss, and Brier, log loss and ECE on the latest fold before and after
    (the "after" figures are in sample).
    """
    p_arr, y_arr = _clean(p, y)
    if len(np.unique(y_arr)) < 2:
        raise DataError("calibration: the validation fold has only one class")
    folds = [_clean(hp, hy) for hp, hy in history] + [(p_arr, y_arr)]
    folds = [f for f in folds[:-1] if len(np.unique(f[1])) == 2] + [folds[-1]]
    scores: dict[str, float] = {}
    if len(folds) > 1:
        judged = "out of time: fitted on each validation fold, scored on every later one"
        for kind, make in _METHODS.items():
            losses = [
                log_loss(later[1], make().fit(*earlier).predict(later[0]))
                for earlier, later in itertools.combinations(folds, 2)
            ]
            scores[kind] = float(np.mean(losses))
    else:
        judged = "within the latest fold: fitted on one half, scored on the other, both ways"
        rng = np.random.default_rng(seed)
        half = rng.random(len(p_arr)) < 0.5
        for kind, make in _METHODS.items():
            out = np.empty_like(p_arr)
            for fit in (half, ~half):
                out[~fit] = make().fit(p_arr[fit], y_arr[fit]).predict(p_arr[~fit])
            scores[kind] = log_loss(y_arr, out)
    shift: dict[str, Any] | None = None
    eligible = dict(scores)
    if target is not None:
        at = float(np.mean(np.clip(_clean(target)[0], 0.0, 1.0)))
        here = float(np.mean(np.clip(p_arr, 0.0, 1.0)))
        moved = abs(at - here) > SEASON_SHIFT
        shift = {"fold_mean_score": here, "target_mean_score": at, "level_refused": moved}
        if moved:
            eligible = {k: v for k, v in scores.items() if k not in _LEVEL}
            judged += (
                f"; the model's mean score moves from {here:.3f} to {at:.3f} where it is "
                "applied, so calibrators that learn the level (platt, isotonic) are refused"
            )
    carried: dict[str, float] | None = None
    if season is not None:
        sp, sy = _clean(*season)
        carried = {
            kind: log_loss(sy, make().fit(p_arr, y_arr).predict(sp))
            for kind, make in _METHODS.items()
        }
        refused = [k for k in eligible if k != "none" and carried[k] > carried["none"]]
        eligible = {k: v for k, v in eligible.items() if k not in refused}
        if refused:
            judged += (
                f"; {', '.join(refused)} refused: fitted on the latest fold, worse than none "
                "on the same season a year earlier"
            )
    winner = min(eligible, key=lambda k: eligible[k])
    chosen = _METHODS[winner]().fit(p_arr, y_arr)
    after = chosen.predict(p_arr)
    raw = np.clip(p_arr, 0.0, 1.0)
    report = {
        "method": winner,
        "judged": judged,
        "judged_log_loss": scores,
        "shift": shift,
        "season_log_loss": carried,
        "before": {
            "brier": brier_loss(y_arr, raw),
            "log_loss": log_loss(y_arr, raw),
            "ece": expected_calibration_error(y_arr, raw),
        },
        "after": {
            "brier": brier_loss(y_arr, after),
            "log_loss": log_loss(y_arr, after),
            "ece": expected_calibration_error(y_arr, after),
        },
    }
    return chosen, report
