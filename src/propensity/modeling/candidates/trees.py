"""Gradient-boosted trees (LightGBM): early-stopped honestly, explained by exact TreeSHAP."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
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

__all__ = ["LightGBMCandidate"]


@register
class LightGBMCandidate(Candidate):
    """Gradient-boosted trees, early-stopped on a later cutoff, never on the training rows.

    Validating on rows of the training customers at overlapping label windows picks far
    too many rounds (FACTS.md); ``valid`` must be a later cutoff whose label window the
    training windows do not reach.
    """

    name = "lightgbm"
    tasks = ("binary", "regression")
    complexity = 4
    explanation = "treeshap"

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

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """Trees for the project's task, seed and threads."""
        return cls(
            key=setting.key, task=setting.task, seed=setting.seed, threads=setting.threads or 0
        )

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
        rows = both(train, valid)
        everything = lgb.Dataset(self._x(rows), labels(rows))
        self.model_ = lgb.train(params, everything, num_boost_round=self.rounds_)
        return self

    def fit_round(
        self, train: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None
    ) -> LightGBMCandidate:
        """Sized by early stopping on ``stop``, then learning from all of ``train``.

        The size is found learning from ``inner``; ``train`` then gets that many rounds.
        """
        if stop is None or self.rounds is not None:
            return self.fit(train)
        return self.fit_rounds(train, self.size(inner, stop))

    def refit(self, rows: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None) -> None:
        """Without rows to stop on, keep the size the backtest's last round found."""
        if stop is None:
            self.fit_rounds(rows, self.rounds_)
        else:
            self.fit_round(rows, inner, stop)

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
        data = lgb.Dataset(self._x(rows), labels(rows))
        self.model_ = lgb.train(self._params(), data, num_boost_round=self.rounds_)
        return self

    def _learn_columns(self, train: pd.DataFrame) -> None:
        self.features_ = feature_columns(train, self.key)
        self.categorical_ = [
            c for c in self.features_ if not pd.api.types.is_numeric_dtype(train[c])
        ]
        self._set_levels(
            {c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in self.categorical_}
        )

    def _set_levels(self, levels: dict[str, list[str]]) -> None:
        """The levels of each text column, and each level's category code (for the service)."""
        self.levels_ = levels
        self.codes_ = {c: {str(v): n for n, v in enumerate(found)} for c, found in levels.items()}

    def _probe(self, params: dict[str, Any], train: pd.DataFrame, valid: pd.DataFrame) -> int:
        import lightgbm as lgb

        data = lgb.Dataset(self._x(train), labels(train))
        checks = lgb.Dataset(self._x(valid), labels(valid), reference=data)
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

    def features(self) -> list[str]:
        """The model's input columns, in its order."""
        return list(self.features_)

    def score_records(self, records: Records) -> np.ndarray:
        """A NumPy row per record straight into LightGBM (text levels as category codes)."""
        x = records.numbers(self.features_)
        for c in self.categorical_:
            i = self.features_.index(c)
            found = self.codes_[c]
            for r, value in enumerate(records.texts(c)):
                code = None if value is None else found.get(str(value))
                x[r, i] = np.nan if code is None else code
        return np.asarray(self.model_.predict(x, num_iteration=self.rounds_, num_threads=1))

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """LightGBM's exact TreeSHAP: the rows plus the bias sum to the raw score."""
        require(frame, self.features_, self.name)
        raw = self.model_.predict(self._x(frame), num_iteration=self.rounds_, pred_contrib=True)
        # the last column is the bias (the expected raw score), not a feature
        values = np.asarray(raw, dtype=float)[:, :-1]
        return pd.DataFrame(values, columns=self.features_, index=frame.index)

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

    def native_files(self) -> dict[str, bytes]:
        """The trees, in LightGBM's own text format."""
        return {"model.txt": self.model_text().encode()}

    @classmethod
    def load(cls, data: dict[str, Any], files: Mapping[str, bytes], folder: Path) -> Candidate:
        """Rebuild from ``model.json`` and the trees in ``model.txt``."""
        return cls.from_text(data, files["model.txt"].decode())

    @classmethod
    def from_text(cls, data: dict[str, Any], model_text: str) -> LightGBMCandidate:
        """Rebuild a fitted model from :meth:`to_dict` and :meth:`model_text`."""
        import lightgbm as lgb

        model = cls(key=data["key"], task=str(data.get("task", "binary")))
        model.features_, model.categorical_ = list(data["features"]), list(data["categorical"])
        model._set_levels({k: [str(v) for v in found] for k, found in data["levels"].items()})
        model.rounds_ = int(data["rounds"])
        model.model_ = lgb.Booster(model_str=model_text)
        return model
