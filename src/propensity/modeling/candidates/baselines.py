"""The baselines every model must beat: the base rate (or mean) and the recency rule."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError
from propensity.modeling.candidates.base import (
    Candidate,
    Setting,
    both,
    labels,
    register,
    typical_number,
)

__all__ = ["MeanCandidate", "PriorCandidate", "RecencyCandidate"]


@register
class PriorCandidate(Candidate):
    """Everyone gets the training base rate: what a model must beat to be worth anything."""

    name = "prior"
    complexity = 0
    explanation = "prior"

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> PriorCandidate:
        """Remember the base rate."""
        self.rate_ = float(labels(both(train, valid)).mean())
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The base rate for every row."""
        return np.full(len(frame), self.rate_)

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """No columns: nothing drives a constant."""
        return pd.DataFrame(index=frame.index)

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data."""
        return {"name": self.name, "key": self.key, "rate": self.rate_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriorCandidate:
        """Rebuild a fitted model from :meth:`to_dict`."""
        model = cls(key=data["key"])
        model.rate_ = float(data["rate"])
        return model


@register
class MeanCandidate(PriorCandidate):
    """Everyone gets the training mean amount: the baseline of an ``amount`` target."""

    name = "mean"
    tasks = ("regression",)
    explanation = "mean"


@register
class RecencyCandidate(Candidate):
    """The business rule: the longer since the last event, the likelier the outcome.

    Ranks by days since the last event; a one-feature logistic curve on
    ``log(1 + days)`` turns the rank into a probability.
    """

    name = "recency"
    complexity = 1
    explanation = "recency"
    uses_typical = True

    def __init__(self, *, key: str, column: str) -> None:
        super().__init__(key=key)
        self.column = column

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """The rule on the target source's days since the last event."""
        column = f"{setting.source}_days_since_last"
        if column not in setting.columns:
            return "no days-since-last-event column (table mode)"
        return cls(key=setting.key, column=column)

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

        rows = both(train, valid)
        self.fill_ = float(np.nanmax(self._days(rows), initial=0.0) * 2 + 1)
        model = LogisticRegression().fit(self._x(rows).reshape(-1, 1), labels(rows))
        self.coef_, self.intercept_ = float(model.coef_[0, 0]), float(model.intercept_[0])
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of the outcome given the recency."""
        return np.asarray(1.0 / (1.0 + np.exp(-(self.coef_ * self._x(frame) + self.intercept_))))

    def features(self) -> list[str]:
        """The one column the rule reads."""
        return [self.column]

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """The log-odds of the rule relative to a customer with the typical recency."""
        days = self._days(frame)
        reference = typical_number(typical, self.column, days)
        if math.isnan(reference):
            reference = self.fill_
        values = self.coef_ * (self._x(frame) - math.log1p(max(reference, 0.0)))
        return pd.DataFrame({self.column: values}, index=frame.index)

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
