"""From probabilities to a contact plan under money and capacity.

The arithmetic is the simplest a business will accept and the one it can check: reaching a
customer who would have churned (or converted) is worth ``benefit``, every contact costs
``cost``, at most ``capacity`` customers can be contacted per cycle and at most ``budget``
spent. The expected value of contacting a customer is ``probability x benefit - cost``.
Realised figures on the test cutoff use the outcomes that were observed there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from propensity.errors import DataError, SpecError
from propensity.spec import PolicySection

__all__ = [
    "Policy",
    "assign_tiers",
    "expected_value",
    "operating_point",
    "sweep",
    "whatif",
]


@dataclass(frozen=True)
class Policy:
    """Money and capacity: what a contact is worth, what it costs, how many are possible."""

    benefit: float
    cost: float
    capacity: int | None = None
    budget: float | None = None
    tiers: tuple[tuple[str, float, str], ...] = ()

    @classmethod
    def from_spec(cls, section: PolicySection, **overrides: Any) -> Policy:
        """The ``[policy]`` section, with any of its numbers overridden (what-if)."""
        tiers = tuple(
            sorted(
                ((name, t.at_least, t.action) for name, t in section.tiers.items()),
                key=lambda tier: -tier[1],
            )
        )
        values = {
            "benefit": section.benefit,
            "cost": section.cost,
            "capacity": section.capacity,
            "budget": section.budget,
            "tiers": tiers,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("benefit", "cost"):
            if values[name] < 0:  # type: ignore[operator]
                raise SpecError(f"policy.{name}: {values[name]} is negative; use 0 or more")
        if values["capacity"] is not None and values["capacity"] <= 0:  # type: ignore[operator]
            raise SpecError(f"policy.capacity: {values['capacity']} must be at least 1")
        return cls(**values)  # type: ignore[arg-type]

    def limit(self, population: int) -> int:
        """How many customers may be contacted out of ``population``: capacity and budget."""
        most = population
        if self.capacity is not None:
            most = min(most, self.capacity)
        if self.budget is not None and self.cost > 0:
            most = min(most, math.floor(self.budget / self.cost))
        return max(most, 0)

    def describe(self) -> str:
        """One line for people: the numbers the plan rests on."""
        parts = [f"benefit {self.benefit:g} per customer reached", f"cost {self.cost:g} a contact"]
        if self.capacity is not None:
            parts.append(f"at most {self.capacity:,} contacts")
        if self.budget is not None:
            parts.append(f"budget {self.budget:g}")
        return ", ".join(parts)


def expected_value(
    p: npt.ArrayLike, benefit: float, cost: float, value: npt.ArrayLike | None = None
) -> np.ndarray:
    """``p x benefit - cost`` per customer; with a value model, ``p x value - cost``."""
    probability = np.asarray(p, dtype=float)
    worth = np.asarray(value, dtype=float) if value is not None else benefit
    return np.asarray(probability * worth - cost)


def _check(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float)
    p_arr = np.asarray(p, dtype=float)
    if y_arr.shape != p_arr.shape or not y_arr.size:
        raise DataError(f"policy: {y_arr.size} outcomes but {p_arr.size} scores")
    return y_arr, p_arr


def sweep(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    policy: Policy,
    thresholds: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Contact everyone at or above each threshold, the likeliest first, up to the limit.

    Returns one row per threshold: ``threshold``, ``cut`` (the lowest score contacted,
    the threshold really applied when the limit binds), ``above`` (customers at or above
    the threshold), ``volume`` (contacts), ``reached`` (of
    them, customers with the outcome), ``precision``, ``recall``, ``accuracy`` (contacted
    = predicted positive), ``cost``, ``benefit``, ``profit`` (realised on ``y``),
    ``expected_profit`` (from the scores alone) and ``capped`` (the limit bit).
    """
    y_arr, p_arr = _check(y, p)
    order = np.argsort(-p_arr, kind="mergesort")
    ys, ps = y_arr[order], p_arr[order]
    hits = np.concatenate([[0.0], np.cumsum(ys)])
    mass = np.concatenate([[0.0], np.cumsum(ps)])
    grid = (
        np.round(np.linspace(0.0, 1.0, 101), 2)
        if thresholds is None
        else np.asarray(thresholds, dtype=float)
    )
    n, positives, limit = len(ys), float(ys.sum()), policy.limit(len(ys))
    # ps is sorted descending: how many are at or above each threshold
    above = np.searchsorted(-ps, -grid, side="right")
    volume = np.minimum(above, limit)
    reached = hits[volume]
    cost = volume * policy.cost
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(volume > 0, reached / np.maximum(volume, 1), np.nan)
        recall = reached / positives if positives else np.full(len(grid), np.nan)
    accuracy = (reached + (n - positives - (volume - reached))) / n
    # the score of the last customer contacted: the threshold that is really applied
    cut = np.where(volume > 0, ps[np.maximum(volume - 1, 0)], np.nan)
    return pd.DataFrame(
        {
            "threshold": grid,
            "cut": cut,
            "above": above.astype(int),
            "volume": volume.astype(int),
            "reached": reached.astype(int),
            "precision": precision,
            "recall": recall,
            "accuracy": accuracy,
            "cost": cost,
            "benefit": reached * policy.benefit,
            "profit": reached * policy.benefit - cost,
            "expected_profit": mass[volume] * policy.benefit - cost,
            "capped": above > limit,
        }
    )


def operating_point(y: npt.ArrayLike, p: npt.ArrayLike, policy: Policy) -> dict[str, Any]:
    """The threshold that maximises realised profit under the limit, and accuracy's choice.

    Ties go to the higher threshold (fewer contacts for the same money). The accuracy-
    maximising threshold, which a classifier would use and which knows nothing of the
    capacity or the budget, is reported beside it (its volume and profit uncapped) so that
    the difference is visible: it is rarely the threshold that pays.
    """
    table = sweep(y, p, policy)
    best = table.iloc[_argmax_last(table["profit"].to_numpy())]
    unlimited = Policy(policy.benefit, policy.cost, None, None, policy.tiers)
    free = sweep(y, p, unlimited)
    accurate = free.iloc[_argmax_last(free["accuracy"].to_numpy())]
    return {
        "policy": policy.describe(),
        "limit": policy.limit(len(np.asarray(y))),
        "rows": len(np.asarray(y)),
        "base_rate": float(np.mean(np.asarray(y, dtype=float))),
        "profit": _row(best),
        "accuracy": _row(accurate),
        "contact_everyone": _row(sweep(y, p, policy, thresholds=[0.0]).iloc[0]),
    }


def _argmax_last(values: np.ndarray) -> int:
    """The position of the largest value; among equals the last (the highest threshold)."""
    finite = np.where(np.isfinite(values), values, -np.inf)
    return int(len(finite) - 1 - np.argmax(finite[::-1]))


def _row(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, (bool, np.bool_)):
            out[str(k)] = bool(v)
        elif isinstance(v, (int, np.integer)):
            out[str(k)] = int(v)
        else:
            out[str(k)] = None if pd.isna(v) else float(v)
    return out


def whatif(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    policy: Policy,
    *,
    by: str = "threshold",
    steps: int = 10,
) -> pd.DataFrame:
    """The what-if table: volume, reached, cost and profit over thresholds or capacities.

    ``by="threshold"`` walks thresholds 0.1 to 0.9 under the policy's limit;
    ``by="capacity"`` walks capacities from a tenth to all of the rows, threshold 0.
    """
    y_arr, p_arr = _check(y, p)
    if by == "threshold":
        grid = np.round(np.linspace(0.0, 1.0, steps + 1)[1:-1], 4)
        return sweep(y_arr, p_arr, policy, thresholds=grid)
    if by == "capacity":
        rows = []
        for share in np.linspace(0.0, 1.0, steps + 1)[1:]:
            cap = max(1, round(share * len(y_arr)))
            trial = Policy(policy.benefit, policy.cost, cap, policy.budget, policy.tiers)
            row = sweep(y_arr, p_arr, trial, thresholds=[0.0]).iloc[0].to_dict()
            row["capacity"] = cap
            rows.append(row)
        table = pd.DataFrame(rows)
        return table[["capacity", *[c for c in table.columns if c != "capacity"]]]
    raise SpecError(f"by: {by!r} is not known; choose threshold or capacity", option="by")


def assign_tiers(
    p: npt.ArrayLike, tiers: tuple[tuple[str, float, str], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's tier and action: the highest tier whose ``at_least`` they reach.

    Customers below every tier get an empty tier and "no action".
    """
    probability = np.asarray(p, dtype=float)
    names = np.full(len(probability), "", dtype=object)
    actions = np.full(len(probability), "no action", dtype=object)
    done = np.zeros(len(probability), dtype=bool)
    for name, at_least, action in sorted(tiers, key=lambda t: -t[1]):
        hit = ~done & (probability >= at_least)
        names[hit] = name
        actions[hit] = action or "no action"
        done |= hit
    return names, actions
