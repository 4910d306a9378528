"""Linear models on the shared preparation: logistic regression and ridge regression."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from propensity.modeling.candidates.base import (
    Candidate,
    Records,
    Setting,
    both,
    feature_columns,
    labels,
    register,
    require,
)
from propensity.modeling.preparation import TabularPreparation, plan_ratios

__all__ = ["LinearCandidate", "LogisticCandidate"]


@register
class LogisticCandidate(Candidate):
    """Logistic regression on the shared preparation, with class weights.

    The preparation (:class:`~propensity.modeling.preparation.TabularPreparation`: median
    imputation with flags, scaling, one-hot, out-of-fold target encoding of text columns
    with many levels, ratios across the target's source and the others) is NumPy and only
    the regression is fitted by scikit-learn, so that the whole model is a handful of
    numbers: it is saved as JSON and scores without scikit-learn.
    """

    name = "logistic"
    complexity = 3
    explanation = "linear"
    #: levels of a text column kept by name; rarer ones share one "other" column
    max_levels = 20
    min_count = 20

    def __init__(
        self,
        *,
        key: str,
        C: float = 1.0,
        seed: int = 0,
        max_rows: int | None = 150_000,
        source: str | None = None,
    ) -> None:
        super().__init__(key=key)
        self.C = C
        self.seed = seed
        self.max_rows = max_rows
        #: the target's events source: ratios are planned around it (None: no ratios)
        self.source = source

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """The model with the project's seed and the target's source (for its ratios)."""
        return cls(key=setting.key, seed=setting.seed, source=setting.source)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> LogisticCandidate:
        """Learn the preparation and the coefficients.

        A few hundred coefficients are pinned down long before a million rows: beyond
        ``max_rows`` the fit uses a uniform sample, which is faster and no worse.
        """
        rows = both(train, valid)
        if self.max_rows is not None and len(rows) > self.max_rows:
            rng = np.random.default_rng(self.seed)
            rows = rows.iloc[np.sort(rng.choice(len(rows), self.max_rows, replace=False))]
        columns = feature_columns(rows, self.key)
        y = labels(rows)
        self.preparation_, design = TabularPreparation.fit_transform(
            rows,
            columns,
            max_levels=self.max_levels,
            min_count=self.min_count,
            ratios=plan_ratios(columns, self.source),
            target=y,
            groups=_groups(rows, self.key),
        )
        self._solve(design, y)
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

    def _link(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def _score(self, design: np.ndarray) -> np.ndarray:
        return self._link(design @ np.asarray(self.coef_) + self.intercept_)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities (class-weighted: calibrate them before reading them as rates)."""
        return self._score(self.preparation_.transform(frame))

    def score_records(self, records: Records) -> np.ndarray:
        """The same preparation in NumPy on a few records, no DataFrame."""
        prep = self.preparation_
        design = prep.design(
            records.numbers(prep.numeric), [records.texts(c) for c in prep.categorical]
        )
        return self._score(design)

    def features(self) -> list[str]:
        """Numeric then text features, as the preparation reads them."""
        return self.preparation_.columns

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """Coefficient x prepared value, each summed onto the feature it comes from.

        Flags land on their column, one-hot levels and a target encoding on their text
        column, and a ratio half on each of its two columns. The rows plus the intercept
        sum to the log-odds (the amount, for ridge).
        """
        prep = self.preparation_
        require(frame, prep.columns, self.name)
        parts = prep.transform(frame) * np.asarray(self.coef_)
        out = np.zeros((len(frame), len(prep.columns)))
        position = {c: j for j, c in enumerate(prep.columns)}
        dense = prep.dense_names
        for j, name in enumerate([*dense, *prep.flags]):
            inputs = prep.inputs_of(name)
            for c in inputs:
                out[:, position[c]] += parts[:, j] / len(inputs)
        for c in prep.onehot:
            out[:, position[c]] += parts[:, prep.block(c)].sum(axis=1)
        result = pd.DataFrame(out, columns=prep.columns, index=frame.index)
        known = set(prep.columns)
        return result[[c for c in frame.columns if c in known]]  # the frame's column order

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data."""
        return {
            "name": self.name,
            "key": self.key,
            "C": self.C,
            **self.preparation_.to_dict(),
            "coef": self.coef_,
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticCandidate:
        """Rebuild a fitted model from :meth:`to_dict`."""
        model = cls(key=data["key"], C=float(data["C"]))
        model.preparation_ = TabularPreparation.from_dict(data)
        model.coef_, model.intercept_ = list(data["coef"]), float(data["intercept"])
        return model


@register
class LinearCandidate(LogisticCandidate):
    """Ridge regression on the logistic candidate's preparation: the linear ``amount`` model.

    ``C`` is the inverse of the ridge penalty, as in the logistic candidate.
    """

    name = "linear"
    tasks = ("regression",)

    def _solve(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import Ridge

        model = Ridge(alpha=1.0 / self.C).fit(x, y)
        self.coef_ = [float(v) for v in np.ravel(model.coef_)]
        self.intercept_ = float(model.intercept_)

    def _link(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z)


def _groups(rows: pd.DataFrame, key: str) -> np.ndarray:
    """The customer of each row, for out-of-fold encodings (each row its own without a key)."""
    return rows[key].to_numpy() if key in rows.columns else np.arange(len(rows))
