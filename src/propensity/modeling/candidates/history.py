"""BG/NBD as a candidate: the buy-till-you-die model's P(no event within the horizon)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from propensity.modeling.candidates.base import (
    Candidate,
    Setting,
    both,
    labels,
    logit,
    register,
    typical_number,
)

__all__ = ["BGNBDCandidate"]


@register
class BGNBDCandidate(Candidate):
    """The buy-till-you-die model: P(no event within the horizon), fitted per cutoff.

    Unsupervised: each cutoff's model sees only purchase history before it. Customers with
    no history get the training base rate.
    """

    name = "bgnbd"
    complexity = 2
    explanation = "bgnbd"
    uses_typical = True

    def __init__(self, *, key: str, source: str, horizon: float) -> None:
        super().__init__(key=key)
        self.source = source
        self.horizon = horizon

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """BG/NBD for inactivity targets on an events source with active days."""
        if (
            setting.target_kind != "inactivity"
            or f"{setting.source}_active_days_all" not in setting.columns
        ):
            return "BG/NBD scores inactivity targets on an events source"
        return cls(key=setting.key, source=str(setting.source), horizon=setting.horizon)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> BGNBDCandidate:
        """Only the base rate is learned from labels (for customers without history)."""
        self.rate_ = float(labels(both(train, valid)).mean())
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

    def features(self) -> list[str]:
        """The history the model reads: days since the last event, active days, tenure."""
        s = self.source
        return [f"{s}_days_since_last", f"{s}_active_days_all", f"{s}_days_since_first"]

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """Split BG/NBD's log-odds, relative to the typical score, over its three inputs.

        The rule: the difference goes to days since the last event and to active days, in
        proportion to how far each is from its typical value (on a log scale) in the
        direction that raises the score of no event (more days since the last, fewer
        active days). When neither leans that way it is split evenly between the two. Days
        since the first event only sets the customer's age in the model and gets nothing.
        Customers with no history get the base rate, and the difference is put on days
        since the last event ("no orders yet").
        """
        column = f"{self.source}_bgnbd_p_no_event"
        inputs = self.features()
        score = self.predict(frame)
        reference = typical_number(typical, column, score)
        total = logit(score) - logit(np.asarray(self.rate_ if math.isnan(reference) else reference))
        if not all(c in frame.columns for c in inputs):
            return pd.DataFrame({column: total}, index=frame.index)
        last, active = (frame[c].to_numpy(dtype=float, na_value=np.nan) for c in inputs[:2])
        typical_last = typical_number(typical, inputs[0], last)
        typical_active = typical_number(typical, inputs[1], active)
        with np.errstate(invalid="ignore"):
            lean = np.column_stack(
                [
                    np.log1p(np.maximum(last, 0)) - math.log1p(max(typical_last, 0)),
                    math.log1p(max(typical_active, 0)) - np.log1p(np.maximum(active, 0)),
                ]
            )
        lean = np.nan_to_num(lean * np.sign(total)[:, None], nan=0.0).clip(min=0.0)
        weight = lean.sum(axis=1, keepdims=True)
        shares = np.where(weight > 0, lean / np.where(weight > 0, weight, 1.0), 0.5)
        no_history = np.isnan(last)
        shares[no_history] = (1.0, 0.0)
        values = np.column_stack([total[:, None] * shares, np.zeros(len(frame))])
        return pd.DataFrame(values, columns=inputs, index=frame.index)

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
