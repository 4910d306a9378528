"""BG/NBD, the classical buy-till-you-die model, fitted by maximum likelihood with SciPy.

Fader, Hardie and Lee (2005), "Counting your customers the easy way". Each customer buys
as a Poisson process with rate ``lambda ~ Gamma(r, alpha)`` and, after each purchase, drops
out with probability ``p ~ Beta(a, b)``. Per customer the model needs three numbers, all
measured at the cutoff: ``x`` repeat purchases (active days after the first), ``t_x`` the
time from the first to the last purchase and ``T`` the time from the first purchase to the
cutoff (here in days).

The churn score is the probability of *no* purchase within the horizon,
``1 - P(alive) * (1 - P(no purchase in H | alive))``, not ``1 - P(alive)``: the latter gives
every one-time buyer ``P(alive) = 1`` and ranks churners backwards (FACTS.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from propensity.errors import DataError

__all__ = ["BGNBD", "bgnbd_columns", "bgnbd_features", "fit_at", "score_histories"]

_PARAMS = ("r", "alpha", "a", "b")


class BGNBD:
    """The BG/NBD model.

    Parameters
    ----------
    penalizer
        L2 penalty on the log-parameters, which keeps the fit finite on small or odd data.
    """

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- fitting -------------------------------------------------------------------------

    def fit(self, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> BGNBD:
        """Fit by maximum likelihood.

        Parameters
        ----------
        x
            Repeat purchases per customer (0 for one-time buyers).
        t_x
            Time from the first to the last purchase.
        T
            Time from the first purchase to the cutoff.
        """
        from scipy.optimize import minimize

        xs, txs, ts = _validate(x, t_x, T)
        scale = float(np.mean(ts)) or 1.0
        # the likelihood depends on (x, t_x, T) only: fit each distinct triple once, weighted
        triples, counts = np.unique(np.column_stack([xs, txs, ts]), axis=0, return_counts=True)
        ux, utx, ut = triples[:, 0].copy(), triples[:, 1].copy(), triples[:, 2].copy()
        weights = counts / counts.sum()

        def objective(theta: np.ndarray) -> float:
            # bounded so that no parameter underflows to 0 while the search wanders
            params = dict(zip(_PARAMS, np.exp(np.clip(theta, -20, 20)), strict=True))
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                ll = _log_likelihood(params, ux, utx, ut)
            value = float(-(ll @ weights) + self.penalizer * np.sum(theta**2))
            return value if np.isfinite(value) else 1e300

        start = np.log([1.0, scale, 1.0, 1.0])
        # quasi-Newton first (a few hundred evaluations); the simplex only when it fails
        result = minimize(objective, start, method="L-BFGS-B")
        if not (result.success and np.all(np.isfinite(result.x)) and result.fun < 1e300):
            result = minimize(
                objective,
                start,
                method="Nelder-Mead",
                options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10},
            )
            result = minimize(objective, result.x, method="L-BFGS-B")
        if not np.all(np.isfinite(result.x)):
            raise DataError("bgnbd: the fit did not converge; the purchase history is too thin")
        fitted = np.exp(np.clip(result.x, -20, 20))
        self.params_ = {k: float(v) for k, v in zip(_PARAMS, fitted, strict=True)}
        self.log_likelihood_ = float(-objective(result.x) * len(xs))
        return self

    # -- predictions ---------------------------------------------------------------------

    def log_likelihood(
        self,
        x: npt.ArrayLike,
        t_x: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters."""
        return _log_likelihood(self._params(), *_validate(x, t_x, T))

    def p_alive(self, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> np.ndarray:
        """Probability that the customer has not dropped out by the cutoff."""
        xs, txs, ts = _validate(x, t_x, T)
        return _p_alive(self._params(), xs, txs, ts)

    def p_no_event(
        self,
        x: npt.ArrayLike,
        t_x: npt.ArrayLike,
        T: npt.ArrayLike,
        horizon: float,
    ) -> np.ndarray:
        """Probability of no purchase within ``horizon`` after the cutoff: the churn score.

        ``1 - P(alive) * (1 - ((alpha + T) / (alpha + T + H)) ** (r + x))``; the second term
        is the posterior NBD probability of zero purchases in ``H`` for a customer still
        alive (it ignores dropping out during the window).
        """
        return self.scores(x, t_x, T, horizon)[2]

    def expected_events(
        self,
        x: npt.ArrayLike,
        t_x: npt.ArrayLike,
        T: npt.ArrayLike,
        horizon: float,
    ) -> np.ndarray:
        """Expected purchases within ``horizon`` after the cutoff (FHL 2005, eq. 10)."""
        return self.scores(x, t_x, T, horizon)[1]

    def scores(
        self,
        x: npt.ArrayLike,
        t_x: npt.ArrayLike,
        T: npt.ArrayLike,
        horizon: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(alive), expected purchases and P(no purchase) in ``horizon``, computed together."""
        from scipy.special import hyp2f1

        p = self._params()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        xs, txs, ts = _validate(x, t_x, T)
        alive = _p_alive(p, xs, txs, ts)
        log_zero = (r + xs) * (np.log(alpha + ts) - np.log(alpha + ts + horizon))
        no_event = np.asarray(np.clip(1.0 - alive * (1.0 - np.exp(log_zero)), 0.0, 1.0))
        if a <= 1:
            # the closed form needs a > 1; fall back to the alive customer's expected rate
            return alive, alive * (r + xs) / (alpha + ts) * horizon, no_event
        z = horizon / (alpha + ts + horizon)
        with np.errstate(over="ignore", invalid="ignore"):
            head = (a + b + xs - 1) / (a - 1)
            body = 1 - np.exp(log_zero) * hyp2f1(r + xs, b + xs, a + b + xs - 1, z)
            out = head * body * alive
        expected = np.where(np.isfinite(out), np.maximum(out, 0.0), np.nan)
        return alive, expected, no_event

    def score_one(
        self, x: float, t_x: float, T: float, horizon: float
    ) -> tuple[float, float, float]:
        """:meth:`scores` for one valid history, in plain floats (a service's one record).

        The same formulas without array overhead: about 5 microseconds instead of 50.
        """
        from scipy.special import hyp2f1

        p = self._params()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        alive = 1.0
        if x > 0:
            log_odds = (
                math.log(a)
                - math.log(b + x - 1)
                + (r + x) * (math.log(alpha + T) - math.log(alpha + t_x))
            )
            alive = 1.0 / (1.0 + math.exp(min(max(log_odds, -700.0), 700.0)))
        zero = math.exp((r + x) * (math.log(alpha + T) - math.log(alpha + T + horizon)))
        no_event = min(max(1.0 - alive * (1.0 - zero), 0.0), 1.0)
        if a <= 1:
            return alive, alive * (r + x) / (alpha + T) * horizon, no_event
        z = horizon / (alpha + T + horizon)
        head = (a + b + x - 1) / (a - 1)
        expected = head * (1 - zero * float(hyp2f1(r + x, b + x, a + b + x - 1, z))) * alive
        return alive, max(expected, 0.0) if math.isfinite(expected) else math.nan, no_event

    # -- persistence ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data (for bundles: no pickles)."""
        return {"model": "bgnbd", "penalizer": self.penalizer, "params": self._params()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BGNBD:
        """Rebuild a fitted model from :meth:`to_dict`."""
        if data.get("model") != "bgnbd" or set(data.get("params", {})) != set(_PARAMS):
            raise DataError(f"bgnbd: not a BG/NBD model description: {sorted(data)}")
        model = cls(penalizer=float(data.get("penalizer", 0.0)))
        model.params_ = {k: float(data["params"][k]) for k in _PARAMS}
        return model

    def _params(self) -> dict[str, float]:
        params = getattr(self, "params_", None)
        if params is None:
            raise DataError("bgnbd: the model is not fitted yet; call fit() first")
        return params  # type: ignore[no-any-return]


def _validate(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.asarray(x, dtype=float).ravel()
    txs = np.asarray(t_x, dtype=float).ravel()
    ts = np.asarray(T, dtype=float).ravel()
    if not xs.shape == txs.shape == ts.shape:
        raise DataError(f"bgnbd: x, t_x and T differ in length ({xs.size}, {txs.size}, {ts.size})")
    if xs.size == 0:
        raise DataError("bgnbd: no customers")
    if (
        np.any(xs < 0)
        or np.any(txs < 0)
        or np.any(txs > ts + 1e-9)
        or np.any(~np.isfinite(xs + txs + ts))
    ):
        raise DataError("bgnbd: need x >= 0 and 0 <= t_x <= T, all finite")
    if np.any((xs == 0) & (txs > 0)):
        raise DataError("bgnbd: a customer with no repeat purchase must have t_x = 0")
    return xs, txs, ts


def _log_likelihood(
    p: dict[str, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    from scipy.special import gammaln

    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    ln_a1 = gammaln(r + x) - gammaln(r) + r * math.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    ln_a4 = np.full_like(x, -np.inf)
    ln_a4[repeat] = (
        math.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return np.asarray(ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4))


def _p_alive(
    p: dict[str, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    out = np.ones_like(x)
    repeat = x > 0
    xr = x[repeat]
    log_odds = (
        math.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    out[repeat] = 1.0 / (1.0 + np.exp(np.clip(log_odds, -700, 700)))
    return out


def bgnbd_features(
    frame: Any,
    source: str,
    horizon: float,
    *,
    cutoff: str = "cutoff",
    penalizer: float = 0.0,
    max_fit_rows: int = 20_000,
    seed: int = 0,
) -> Any:
    """BG/NBD scores as features, fitted cutoff by cutoff on history before each cutoff.

    Uses the frame's own point-in-time columns ``{source}_active_days_all``,
    ``{source}_days_since_first`` and ``{source}_days_since_last``; no label is read, and the
    model at a cutoff is fitted only on that cutoff's rows, so nothing crosses a cutoff.
    The four parameters describe the whole population, so each fit uses at most
    ``max_fit_rows`` customers drawn at random; every customer is scored.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``frame``: ``{source}_bgnbd_p_alive``, ``{source}_bgnbd_expected`` and
        ``{source}_bgnbd_p_no_event`` (empty for customers with no event yet).
    """
    import pandas as pd

    needed = [
        f"{source}_active_days_all",
        f"{source}_days_since_first",
        f"{source}_days_since_last",
    ]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"bgnbd: the frame lacks {', '.join(missing)}; build it first")
    names = bgnbd_columns(source)
    out = pd.DataFrame(np.nan, index=frame.index, columns=names)
    for at, rows in frame.groupby(cutoff, sort=True):
        model = fit_at(rows, source, at, penalizer=penalizer, max_fit_rows=max_fit_rows, seed=seed)
        if model is None:
            continue  # too few customers with history to fit four parameters
        seen = rows[rows[f"{source}_active_days_all"] > 0]
        scores = score_histories(model, seen, source, horizon)
        for name, values in zip(names, scores, strict=True):
            out.loc[seen.index, name] = values
    return out


def bgnbd_columns(source: str) -> list[str]:
    """The columns :func:`bgnbd_features` adds for an events source."""
    return [f"{source}_bgnbd_p_alive", f"{source}_bgnbd_expected", f"{source}_bgnbd_p_no_event"]


def _histories(rows: Any, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    T = rows[f"{source}_days_since_first"].to_numpy(float)
    x = rows[f"{source}_active_days_all"].to_numpy(float) - 1
    t_x = T - rows[f"{source}_days_since_last"].to_numpy(float)
    return x, t_x, T


def fit_at(
    rows: Any,
    source: str,
    at: Any,
    *,
    penalizer: float = 0.0,
    max_fit_rows: int = 20_000,
    seed: int = 0,
) -> BGNBD | None:
    """The BG/NBD model of one cutoff's rows, or None with fewer than 20 customers seen.

    A generator per cutoff: the sample drawn at a date does not depend on the other dates.
    """
    import pandas as pd

    rng = np.random.default_rng([seed, int(pd.Timestamp(at).toordinal())])
    seen = rows[rows[f"{source}_active_days_all"] > 0]
    if len(seen) < 20:
        return None
    x, t_x, T = _histories(seen, source)
    fit = slice(None)
    if len(seen) > max_fit_rows:
        fit = np.sort(rng.choice(len(seen), max_fit_rows, replace=False))  # type: ignore[assignment]
    return BGNBD(penalizer=penalizer).fit(x[fit], t_x[fit], T[fit])


def score_histories(
    model: BGNBD, rows: Any, source: str, horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(alive), expected events and P(no event) in ``horizon`` days for rows with history."""
    x, t_x, T = _histories(rows, source)
    return model.scores(x, t_x, T, horizon)
