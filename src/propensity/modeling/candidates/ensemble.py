"""The ensemble: BG/NBD, logistic regression and LightGBM blended in log-odds.

Its score is ``sigmoid(sum_i w_i * logit(p_i))`` with convex weights (``w_i >= 0``, summing
to one) learned by log loss. There is no intercept and no slope beyond the weights: each
member keeps the level it learned from every training cutoff, so a base rate that moves
with the season is not undone by a blend learned in another season (a stacked logistic
regression with an intercept would bake in the base rate of the rows it was learned on).
For amounts the blend is a convex combination of the members' predictions.

Training learns the weights out of time from the members' backtest predictions (see
:func:`propensity.modeling.training.train_frame`): the test round's weights from the
validation rounds only, the final weights from every judged round. :meth:`fit_round`
does the same inside one round on its own, for users who call the protocol directly:
the members learn from the rows before the stopping cutoff, the weights from their
scores at it, then the members learn from every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import BundleError
from propensity.modeling.candidates.base import (
    Candidate,
    Records,
    Setting,
    candidate_class,
    labels,
    logit,
    register,
)

__all__ = ["MEMBERS", "EnsembleCandidate", "blend", "learn_weights"]

#: the candidates an ensemble blends, when training runs them
MEMBERS = ("bgnbd", "logistic", "lightgbm")
#: the least weight a member keeps in the saved blend (below it, it is dropped)
_DROP = 1e-3


def blend(predictions: Sequence[np.ndarray], weights: Sequence[float], task: str) -> np.ndarray:
    """The members' predictions combined with ``weights`` (log-odds for probabilities)."""
    w = np.asarray(weights, dtype=float)
    stacked = np.column_stack([np.asarray(p, dtype=float) for p in predictions])
    if task != "binary":
        return np.asarray(stacked @ w)
    z = np.column_stack([logit(stacked[:, i]) for i in range(stacked.shape[1])]) @ w
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def learn_weights(predictions: Sequence[np.ndarray], y: np.ndarray, task: str) -> list[float]:
    """Convex weights that minimise log loss (squared error for amounts) of the blend.

    Parametrised as a softmax so that they stay non-negative and sum to one; started
    equal. Members that get less than a thousandth are dropped and the rest renormalised.
    """
    from scipy.optimize import minimize

    k = len(predictions)
    if k == 1:
        return [1.0]
    y = np.asarray(y, dtype=float)
    if task == "binary":
        columns = np.column_stack([logit(np.asarray(p, dtype=float)) for p in predictions])
    else:
        columns = np.column_stack([np.asarray(p, dtype=float) for p in predictions])
    scale = float(np.std(y)) or 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        e = np.exp(theta - theta.max())
        w = e / e.sum()
        z = columns @ w
        if task == "binary":
            q = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-12, 1 - 1e-12)
            value = -float(np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
            dz = (q - y) / len(y)
        else:
            r = (z - y) / scale
            value = float(np.mean(r**2))
            dz = 2 * r / scale / len(y)
        dw = columns.T @ dz
        grad = w * (dw - float(w @ dw))  # the softmax's Jacobian
        return value, grad

    result = minimize(loss, np.zeros(k), jac=True, method="L-BFGS-B")
    e = np.exp(result.x - result.x.max())
    w = e / e.sum()
    w = np.where(w < _DROP, 0.0, w)
    return [float(v) for v in w / w.sum()]


@register
class EnsembleCandidate(Candidate):
    """BG/NBD + logistic regression + LightGBM, blended with weights learned out of time."""

    name = "ensemble"
    tasks = ("binary", "regression")
    complexity = 6
    explanation = "blend"

    def __init__(
        self,
        *,
        key: str,
        task: str = "binary",
        members: Sequence[Candidate] = (),
        weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(key=key)
        self.task = task
        self.members = list(members)
        self.weights_ = None if weights is None else [float(w) for w in weights]
        #: in training, the weights the test round was judged with (not saved)
        self.weights_test: list[float] | None = None

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """An empty blend: training gives it the members it runs (at least two)."""
        return cls(key=setting.key, task=setting.task)

    def with_members(self, members: Sequence[Candidate]) -> EnsembleCandidate:
        """The same ensemble over these (fitted or not) members."""
        return EnsembleCandidate(key=self.key, task=self.task, members=members)

    def fit_round(
        self, train: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None
    ) -> EnsembleCandidate:
        """Weights from the members' scores on ``stop`` (learned on ``inner``), then refit."""
        if stop is not None and len(stop) and len(np.unique(labels(stop))) > 1:
            scores = [m.fit_round(inner, inner, None).predict(stop) for m in self.members]
            self.weights_ = learn_weights(scores, labels(stop), self.task)
        else:
            self.weights_ = [1.0 / len(self.members)] * len(self.members)
        for member in self.members:
            member.fit_round(train, inner, stop)
        return self

    def refit(self, rows: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None) -> None:
        """Every member's final fit; the weights stay those learned out of time."""
        for member in self.members:
            member.refit(rows, inner, stop)

    def _weighted(self) -> list[tuple[Candidate, float]]:
        if self.weights_ is None:
            raise BundleError("ensemble: the blend has no weights; fit it first")
        return [(m, w) for m, w in zip(self.members, self.weights_, strict=True) if w > 0]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The blend of the members' predictions."""
        pairs = self._weighted()
        return blend([m.predict(frame) for m, _ in pairs], [w for _, w in pairs], self.task)

    def score_records(self, records: Records) -> np.ndarray:
        """The blend of the members' fast paths."""
        pairs = self._weighted()
        return blend([m.score_records(records) for m, _ in pairs], [w for _, w in pairs], self.task)

    def features(self) -> list[str]:
        """Every member's inputs, each once, in the members' order."""
        seen: dict[str, None] = {}
        for member, _ in self._weighted():
            seen.update(dict.fromkeys(member.features()))
        return list(seen)

    @property
    def uses_typical(self) -> bool:  # type: ignore[override]
        """Whether a member's contributions read the typical values."""
        return any(m.uses_typical for m in self.members)

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """Each member's log-odds contributions times its weight, summed per feature.

        The blend is linear in the members' log-odds, so the weighted sums are exact in
        the same sense as the members' own; None when a member has no exact ones.
        """
        total: pd.DataFrame | None = None
        for member, w in self._weighted():
            part = member.contributions(frame, typical)
            if part is None:
                return None
            part = part * w
            total = part if total is None else total.add(part, fill_value=0.0)
        if total is None:
            return None
        ordered = [c for c in frame.columns if c in total.columns]
        rest = [c for c in total.columns if c not in ordered]
        return total[ordered + rest]

    # -- saving --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The weights and each kept member's own ``model.json``."""
        pairs = self._weighted()
        return {
            "name": self.name,
            "key": self.key,
            "task": self.task,
            "weights": [w for _, w in pairs],
            "members": [m.to_dict() for m, _ in pairs],
        }

    def native_files(self) -> dict[str, bytes]:
        """Each member's native files, prefixed with its position: ``0-model.txt``."""
        out: dict[str, bytes] = {}
        for i, (member, _) in enumerate(self._weighted()):
            for name, content in member.native_files().items():
                out[f"{i}-{name}"] = content
        return out

    @classmethod
    def load(cls, data: dict[str, Any], files: Mapping[str, bytes], folder: Path) -> Candidate:
        """Each member from its own data and files, then the blend."""
        members = []
        for i, member in enumerate(data.get("members", [])):
            prefix = f"{i}-"
            own = {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}
            kind = candidate_class(member.get("name"), "bundle: ensemble member")
            members.append(kind.load(member, own, folder))
        weights = [float(w) for w in data.get("weights", [])]
        if not members or len(weights) != len(members):
            raise BundleError(
                f"bundle: the ensemble in {folder} has {len(members)} members and "
                f"{len(weights)} weights; retrain the model"
            )
        return cls(
            key=data["key"], task=data.get("task", "binary"), members=members, weights=weights
        )
