"""Candidate models behind one protocol: baselines, BG/NBD, logistic regression, LightGBM.

Every candidate takes frames as ``build`` writes them (key, ``cutoff``, ``label``, then
features) and returns the probability that ``label`` is 1. Candidates follow the
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
    "LogisticCandidate",
    "PriorCandidate",
    "RecencyCandidate",
    "feature_columns",
]

RESERVED = ("cutoff", "label")


def feature_columns(frame: pd.DataFrame, key: str) -> list[str]:
    """The feature columns of a frame: everything but the key, ``cutoff`` and ``label``."""
    return [c for c in frame.columns if c not in (key, *RESERVED)]


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

    def _x(self, frame: pd.DataFrame) -> np.ndarray:
        if self.column not in frame.columns:
            raise DataError(
                f"train: recency needs the column {self.column!r}; it is not in the frame"
            )
        days = frame[self.column].to_numpy(dtype=float)
        # never seen: longer ago than anyone seen
        filled = np.where(np.isnan(days), np.nanmax(days, initial=0.0) * 2 + 1, days)
        return np.log1p(np.maximum(filled, 0.0)).reshape(-1, 1)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> RecencyCandidate:
        """Fit the curve from recency to outcome."""
        from sklearn.linear_model import LogisticRegression

        rows = _both(train, valid)
        self.model_ = LogisticRegression().fit(self._x(rows), _labels(rows))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of the outcome given the recency."""
        return np.asarray(self.model_.predict_proba(self._x(frame))[:, 1])


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

        feats = bgnbd_features(frame, self.source, self.horizon)
        score = feats[f"{self.source}_bgnbd_p_no_event"].to_numpy(dtype=float)
        return np.where(np.isnan(score), self.rate_, score)


class LogisticCandidate(Candidate):
    """Logistic regression: median imputation with flags, scaling, one-hot, class weights."""

    name = "logistic"
    complexity = 3

    def __init__(self, *, key: str, C: float = 1.0, seed: int = 0) -> None:
        super().__init__(key=key)
        self.C = C
        self.seed = seed

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> LogisticCandidate:
        """Fit the pipeline."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        cols = feature_columns(train, self.key)
        self.numeric_ = [c for c in cols if pd.api.types.is_numeric_dtype(train[c])]
        self.categorical_ = [c for c in cols if c not in self.numeric_]
        transform = ColumnTransformer(
            [
                (
                    "numeric",
                    make_pipeline(
                        SimpleImputer(
                            strategy="median", add_indicator=True, keep_empty_features=True
                        ),
                        StandardScaler(),
                    ),
                    self.numeric_,
                ),
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
                    self.categorical_,
                ),
            ]
        )
        self.model_ = Pipeline(
            [
                ("transform", transform),
                (
                    "model",
                    LogisticRegression(
                        C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed
                    ),
                ),
            ]
        )
        rows = _both(train, valid)
        self.model_.fit(self._x(rows), _labels(rows))
        return self

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[self.numeric_ + self.categorical_].copy()
        x[self.numeric_] = x[self.numeric_].astype(float).replace([np.inf, -np.inf], np.nan)
        for c in self.categorical_:
            x[c] = x[c].astype("string").fillna("<missing>").astype(object)
        return x

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities (class-weighted: calibrate them before reading them as rates)."""
        return np.asarray(self.model_.predict_proba(self._x(frame))[:, 1])


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
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        max_rounds: int = 2000,
        seed: int = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(key=key)
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
        """Train with early stopping on ``valid`` (or a fixed 200 rounds without one)."""
        import lightgbm as lgb

        self.features_ = feature_columns(train, self.key)
        self.categorical_ = [
            c for c in self.features_ if not pd.api.types.is_numeric_dtype(train[c])
        ]
        self.levels_ = {
            c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in self.categorical_
        }
        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": 0,
            "verbosity": -1,
            **self.params,
        }
        data = lgb.Dataset(self._x(train), _labels(train), free_raw_data=False)
        if valid is not None and len(valid):
            checks = lgb.Dataset(self._x(valid), _labels(valid), reference=data)
            probe = lgb.train(
                params,
                data,
                num_boost_round=self.max_rounds,
                valid_sets=[checks],
                callbacks=[lgb.early_stopping(50, verbose=False)],
            )
            self.rounds_ = max(1, int(probe.best_iteration))
        else:
            self.rounds_ = 200
        rows = _both(train, valid)
        everything = lgb.Dataset(self._x(rows), _labels(rows))
        self.model_ = lgb.train(params, everything, num_boost_round=self.rounds_)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of the outcome."""
        return np.asarray(self.model_.predict(self._x(frame), num_iteration=self.rounds_))
