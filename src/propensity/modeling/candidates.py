"""Candidate models behind one protocol: baselines, BG/NBD, linear models, LightGBM.

Every candidate takes frames as ``build`` writes them (key, ``cutoff``, ``label``, then
features) and returns the probability that ``label`` is 1, or, for ``amount`` targets
(``task="regression"``), the expected amount. Candidates follow the
scikit-learn habit: parameters in ``__init__``, ``fit`` returns ``self``, learned state
ends in ``_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError

__all__ = [
    "BGNBDCandidate",
    "Candidate",
    "LightGBMCandidate",
    "LinearCandidate",
    "LogisticCandidate",
    "MeanCandidate",
    "PriorCandidate",
    "RecencyCandidate",
    "compact",
    "feature_columns",
]

RESERVED = ("cutoff", "label")


def feature_columns(frame: pd.DataFrame, key: str) -> list[str]:
    """The feature columns of a frame: everything but the key, ``cutoff`` and ``label``."""
    return [c for c in frame.columns if c not in (key, *RESERVED)]


def compact(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The frame with its numeric features as float32.

    Half the memory, and the same values whether a model is fitted or scores (trees split
    on float32 bins).
    """
    dtypes = frame.dtypes  # one lookup, not one column copy per feature
    wide = [
        c
        for c in feature_columns(frame, key)
        if pd.api.types.is_numeric_dtype(dtypes[c]) and dtypes[c] != np.float32
    ]
    if not wide:
        return frame
    cast = set(wide)
    columns = {
        c: frame[c].to_numpy(dtype=np.float32, na_value=np.nan) if c in cast else frame[c]
        for c in frame.columns
    }
    return pd.DataFrame(columns, index=frame.index)


def _labels(frame: pd.DataFrame) -> np.ndarray:
    y = frame["label"].to_numpy(dtype=float)
    if np.isnan(y).any():
        raise DataError("train: rows without a label cannot be trained on; drop them first")
    return y


def _both(train: pd.DataFrame, valid: pd.DataFrame | None) -> pd.DataFrame:
    return train if valid is None or not len(valid) else pd.concat([train, valid])


class Candidate:
    """The protocol: ``fit(train, valid)`` then ``predict(frame)`` -> probabilities."""

    name = "candidate"
    #: used to prefer the simpler of two candidates that score alike
    complexity = 0

    def __init__(self, *, key: str) -> None:
        self.key = key

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> Candidate:
        """Learn from ``train`` and ``valid`` together.

        ``valid`` is a later cutoff whose label window no training window reaches; models
        that stop early choose their size on it, then every model learns from both.
        """
        raise NotImplementedError

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability that each row's label is 1."""
        raise NotImplementedError


class PriorCandidate(Candidate):
    """Everyone gets the training base rate: what a model must beat to be worth anything."""

    name = "prior"
    complexity = 0

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> PriorCandidate:
        """Remember the base rate."""
        self.rate_ = float(_labels(_both(train, valid)).mean())
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The base rate for every row."""
        return np.full(len(frame), self.rate_)

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data."""
        return {"name": self.name, "key": self.key, "rate": self.rate_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriorCandidate:
        """Rebuild a fitted model from :meth:`to_dict`."""
        model = cls(key=data["key"])
        model.rate_ = float(data["rate"])
        return model


class MeanCandidate(PriorCandidate):
    """Everyone gets the training mean amount: the baseline of an ``amount`` target."""

    name = "mean"


class RecencyCandidate(Candidate):
    """The business rule: the longer since the last event, the likelier the outcome.

    Ranks by days since the last event; a one-feature logistic curve on
    ``log(1 + days)`` turns the rank into a probability.
    """

    name = "recency"
    complexity = 1

    def __init__(self, *, key: str, column: str) -> None:
        super().__init__(key=key)
        self.column = column

    def _days(self, frame: pd.DataFrame) -> np.ndarray:
        if self.column not in frame.columns:
            raise DataError(
                f"train: recency needs the column {self.column!r}; it is not in the frame"
            )
        return np.asarray(frame[self.column].to_numpy(dtype=float))

    def _x(self, frame: pd.DataFrame) -> np.ndarray:
        days = self._days(frame)
        # never seen: longer ago than anyone seen in training
        filled = np.where(np.isnan(days), self.fill_, days)
        return np.log1p(np.maximum(filled, 0.0))

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> RecencyCandidate:
        """Fit the curve from recency to outcome."""
        from sklearn.linear_model import LogisticRegression

        rows = _both(train, valid)
        self.fill_ = float(np.nanmax(self._days(rows), initial=0.0) * 2 + 1)
        model = LogisticRegression().fit(self._x(rows).reshape(-1, 1), _labels(rows))
        self.coef_, self.intercept_ = float(model.coef_[0, 0]), float(model.intercept_[0])
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of the outcome given the recency."""
        return np.asarray(1.0 / (1.0 + np.exp(-(self.coef_ * self._x(frame) + self.intercept_))))

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data."""
        return {
            "name": self.name,
            "key": self.key,
            "column": self.column,
            "fill": self.fill_,
            "coef": self.coef_,
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecencyCandidate:
        """Rebuild a fitted model from :meth:`to_dict`."""
        model = cls(key=data["key"], column=data["column"])
        model.fill_, model.coef_ = float(data["fill"]), float(data["coef"])
        model.intercept_ = float(data["intercept"])
        return model


class BGNBDCandidate(Candidate):
    """The buy-till-you-die model: P(no event within the horizon), fitted per cutoff.

    Unsupervised: each cutoff's model sees only purchase history before it. Customers with
    no history get the training base rate.
    """

    name = "bgnbd"
    complexity = 2

    def __init__(self, *, key: str, source: str, horizon: float) -> None:
        super().__init__(key=key)
        self.source = source
        self.horizon = horizon

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> BGNBDCandidate:
        """Only the base rate is learned from labels (for customers without history)."""
        self.rate_ = float(_labels(_both(train, valid)).mean())
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """P(no event in the horizon) from the BG/NBD model fitted at each row's cutoff."""
        from propensity.modeling.bgnbd import bgnbd_features

        column = f"{self.source}_bgnbd_p_no_event"
        if column in frame.columns:  # computed once per cutoff for the whole frame
            score = frame[column].to_numpy(dtype=float)
        else:
            score = bgnbd_features(frame, self.source, self.horizon)[column].to_numpy(dtype=float)
        return np.where(np.isnan(score), self.rate_, score)

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data (the BG/NBD fit itself is redone per cutoff)."""
        return {
            "name": self.name,
            "key": self.key,
            "source": self.source,
            "horizon": self.horizon,
            "rate": self.rate_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BGNBDCandidate:
        """Rebuild a fitted model from :meth:`to_dict`."""
        model = cls(key=data["key"], source=data["source"], horizon=float(data["horizon"]))
        model.rate_ = float(data["rate"])
        return model


class LogisticCandidate(Candidate):
    """Logistic regression: median imputation with flags, scaling, one-hot, class weights.

    The preparation is done here in NumPy and only the regression is fitted by
    scikit-learn, so that the whole model is a handful of numbers: it is saved as JSON
    and scores without scikit-learn.
    """

    name = "logistic"
    complexity = 3
    #: levels of a text column kept by name; rarer ones share one "other" column
    max_levels = 20
    min_count = 20

    def __init__(
        self, *, key: str, C: float = 1.0, seed: int = 0, max_rows: int | None = 150_000
    ) -> None:
        super().__init__(key=key)
        self.C = C
        self.seed = seed
        self.max_rows = max_rows

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> LogisticCandidate:
        """Learn the preparation and the coefficients.

        A few hundred coefficients are pinned down long before a million rows: beyond
        ``max_rows`` the fit uses a uniform sample, which is faster and no worse.
        """
        rows = _both(train, valid)
        if self.max_rows is not None and len(rows) > self.max_rows:
            rng = np.random.default_rng(self.seed)
            rows = rows.iloc[np.sort(rng.choice(len(rows), self.max_rows, replace=False))]
        dense = self._learn_preparation(rows)
        self._solve(self._design(rows, dense), _labels(rows))
        return self

    def _solve(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        # Newton-Cholesky: a few exact steps, fast when rows far outnumber columns
        model = LogisticRegression(
            C=self.C,
            class_weight="balanced",
            solver="newton-cholesky",
            max_iter=200,
            random_state=self.seed,
        )
        model.fit(x, y)
        self.coef_ = [float(v) for v in model.coef_.ravel()]
        self.intercept_ = float(model.intercept_[0])

    def _learn_preparation(self, rows: pd.DataFrame) -> np.ndarray:
        """Learn imputation, flags, levels and scaling; return the imputed numeric block."""
        cols = feature_columns(rows, self.key)
        self.numeric_ = [c for c in cols if pd.api.types.is_numeric_dtype(rows[c])]
        self.categorical_ = [c for c in cols if c not in self.numeric_]
        raw = self._numeric(rows)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(raw, axis=0) if raw.shape[1] else np.zeros(0)
        self.medians_ = [0.0 if np.isnan(m) else float(m) for m in medians]
        self.flags_ = [c for j, c in enumerate(self.numeric_) if np.isnan(raw[:, j]).any()]
        self.levels_: dict[str, list[str]] = {}
        for c in self.categorical_:
            counts = self._text(rows, c).value_counts()
            kept = counts[counts >= self.min_count].index[: self.max_levels]
            self.levels_[c] = sorted(str(v) for v in kept)
        dense = self._dense(rows)
        self.mean_ = dense.mean(axis=0).tolist() if len(dense) else []
        scale = dense.std(axis=0) if len(dense) else np.zeros(0)
        self.scale_ = np.where(scale > 0, scale, 1.0).tolist()
        return dense

    def _numeric(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame[self.numeric_].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isfinite(x), x, np.nan)

    @staticmethod
    def _text(frame: pd.DataFrame, column: str) -> pd.Series:
        return frame[column].astype("string").fillna("<missing>")

    def _dense(self, frame: pd.DataFrame) -> np.ndarray:
        """Imputed numeric columns, then a 0/1 flag per column that had missing values."""
        raw = self._numeric(frame)
        filled = np.where(np.isnan(raw), np.asarray(self.medians_), raw)
        flags = [np.isnan(raw[:, self.numeric_.index(c)]) for c in self.flags_]
        return np.column_stack([filled, *flags]) if flags else filled

    def _design(self, frame: pd.DataFrame, dense: np.ndarray | None = None) -> np.ndarray:
        raw = self._dense(frame) if dense is None else dense
        parts = [(raw - np.asarray(self.mean_)) / np.asarray(self.scale_)]
        for c in self.categorical_:
            text = self._text(frame, c)
            levels = self.levels_[c]
            parts.append(
                np.column_stack(
                    [(text == v).to_numpy() for v in levels] + [(~text.isin(levels)).to_numpy()]
                ).astype(float)
            )
        return np.column_stack(parts)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities (class-weighted: calibrate them before reading them as rates)."""
        z = self._design(frame) @ np.asarray(self.coef_) + self.intercept_
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data."""
        return {
            "name": self.name,
            "key": self.key,
            "C": self.C,
            "numeric": self.numeric_,
            "categorical": self.categorical_,
            "medians": self.medians_,
            "flags": self.flags_,
            "levels": self.levels_,
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticCandidate:
        """Rebuild a fitted model from :meth:`to_dict`."""
        model = cls(key=data["key"], C=float(data["C"]))
        model.numeric_, model.categorical_ = list(data["numeric"]), list(data["categorical"])
        model.medians_, model.flags_ = list(data["medians"]), list(data["flags"])
        model.levels_ = {k: list(v) for k, v in data["levels"].items()}
        model.mean_, model.scale_ = list(data["mean"]), list(data["scale"])
        model.coef_, model.intercept_ = list(data["coef"]), float(data["intercept"])
        return model


class LinearCandidate(LogisticCandidate):
    """Ridge regression on the logistic candidate's preparation: the linear ``amount`` model.

    ``C`` is the inverse of the ridge penalty, as in the logistic candidate.
    """

    name = "linear"

    def _solve(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import Ridge

        model = Ridge(alpha=1.0 / self.C).fit(x, y)
        self.coef_ = [float(v) for v in np.ravel(model.coef_)]
        self.intercept_ = float(model.intercept_)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The expected amount."""
        return np.asarray(self._design(frame) @ np.asarray(self.coef_) + self.intercept_)


class LightGBMCandidate(Candidate):
    """Gradient-boosted trees, early-stopped on a later cutoff, never on the training rows.

    Validating on rows of the training customers at overlapping label windows picks far
    too many rounds (FACTS.md); ``valid`` must be a later cutoff whose label window the
    training windows do not reach.
    """

    name = "lightgbm"
    complexity = 4

    def __init__(
        self,
        *,
        key: str,
        task: str = "binary",
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        max_rounds: int = 2000,
        rounds: int | None = None,
        seed: int = 0,
        threads: int = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(key=key)
        self.task = task
        #: 0 lets OpenMP pick (all cores); training passes ``[engine] threads``
        self.threads = threads
        self.rounds = rounds
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_rounds = max_rounds
        self.seed = seed
        self.params = params or {}

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[self.features_].copy()
        for c in self.categorical_:
            x[c] = pd.Categorical(x[c].astype("string"), categories=self.levels_[c])
        return x

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> LightGBMCandidate:
        """Train with early stopping on ``valid``, or ``rounds`` rounds, or 200 without either."""
        import lightgbm as lgb

        self._learn_columns(train)
        params = self._params()
        if self.rounds is not None:
            self.rounds_ = self.rounds
        elif valid is not None and len(valid):
            self.rounds_ = self._probe(params, train, valid)
        else:
            self.rounds_ = 200
        rows = _both(train, valid)
        everything = lgb.Dataset(self._x(rows), _labels(rows))
        self.model_ = lgb.train(params, everything, num_boost_round=self.rounds_)
        return self

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary" if self.task == "binary" else "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": self.threads,
            "verbosity": -1,
            **self.params,
        }

    def size(self, train: pd.DataFrame, valid: pd.DataFrame) -> int:
        """The number of rounds early stopping on ``valid`` picks, without the refit."""
        self._learn_columns(train)
        return self._probe(self._params(), train, valid)

    def fit_rounds(self, rows: pd.DataFrame, rounds: int) -> LightGBMCandidate:
        """Learn from ``rows`` for exactly ``rounds`` rounds (sized beforehand by ``size``)."""
        import lightgbm as lgb

        self._learn_columns(rows)
        self.rounds_ = int(rounds)
        data = lgb.Dataset(self._x(rows), _labels(rows))
        self.model_ = lgb.train(self._params(), data, num_boost_round=self.rounds_)
        return self

    def _learn_columns(self, train: pd.DataFrame) -> None:
        self.features_ = feature_columns(train, self.key)
        self.categorical_ = [
            c for c in self.features_ if not pd.api.types.is_numeric_dtype(train[c])
        ]
        self.levels_ = {
            c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in self.categorical_
        }

    def _probe(self, params: dict[str, Any], train: pd.DataFrame, valid: pd.DataFrame) -> int:
        import lightgbm as lgb

        data = lgb.Dataset(self._x(train), _labels(train))
        checks = lgb.Dataset(self._x(valid), _labels(valid), reference=data)
        probe = lgb.train(
            params,
            data,
            num_boost_round=self.max_rounds,
            valid_sets=[checks],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )
        return max(1, int(probe.best_iteration))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of the outcome (or the expected amount)."""
        return np.asarray(self.model_.predict(self._x(frame), num_iteration=self.rounds_))

    def to_dict(self) -> dict[str, Any]:
        """Everything but the trees (those go to LightGBM's own text format)."""
        return {
            "name": self.name,
            "key": self.key,
            "task": self.task,
            "features": self.features_,
            "categorical": self.categorical_,
            "levels": self.levels_,
            "rounds": self.rounds_,
        }

    def model_text(self) -> str:
        """The trees in LightGBM's text format."""
        return str(self.model_.model_to_string(num_iteration=self.rounds_))

    @classmethod
    def from_dict(cls, data: dict[str, Any], model_text: str) -> LightGBMCandidate:
        """Rebuild a fitted model from :meth:`to_dict` and :meth:`model_text`."""
        import lightgbm as lgb

        model = cls(key=data["key"], task=str(data.get("task", "binary")))
        model.features_, model.categorical_ = list(data["features"]), list(data["categorical"])
        model.levels_ = {k: list(v) for k, v in data["levels"].items()}
        model.rounds_ = int(data["rounds"])
        model.model_ = lgb.Booster(model_str=model_text)
        return model
