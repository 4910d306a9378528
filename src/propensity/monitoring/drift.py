"""Drift of a population against the bundle's reference, from binned statistics only.

The reference (``reference.json``) holds, per feature, decile edges and the share of rows
in each bin (numbers) or the share of each level (text), plus the missing share, all
computed once at training on the test cutoff. Comparing a new population costs one pass
over its columns: a million rows and fifty features take seconds.

Per feature: the population stability index (PSI) over the reference bins, the two-sample
Kolmogorov-Smirnov statistic on the binned distributions (numbers), a chi-square test
against the reference shares (text), the change in the missing share and levels never
seen at training. Each check gets a verdict: ``ok``, ``warn`` or ``alert``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Thresholds", "compare", "feature_drift", "psi", "verdict"]

_FLOOR = 1e-4  # shares below this are treated as this in PSI (an empty bin is not infinite)
LEVELS = ("ok", "warn", "alert")


@dataclass(frozen=True)
class Thresholds:
    """When a check warns and when it alerts (``[monitor]`` in the project file)."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    missing_warn: float = 0.05
    missing_alert: float = 0.2
    size_warn: float = 0.2
    size_alert: float = 0.5


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    r = np.maximum(np.asarray(reference, dtype=float), _FLOOR)
    c = np.maximum(np.asarray(current, dtype=float), _FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def verdict(value: float, warn: float, alert: float) -> str:
    """``alert`` at or above ``alert``, ``warn`` at or above ``warn``, else ``ok``."""
    if not math.isfinite(value):
        return "ok"
    return "alert" if value >= alert else "warn" if value >= warn else "ok"


def worst(verdicts: list[str]) -> str:
    """The most severe of several verdicts (``ok`` for none)."""
    return max(verdicts, key=LEVELS.index, default="ok")


def _binned(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Shares of finite values in the reference bins.

    Values beyond the edges count in the first or last bin.
    """
    bins = max(len(edges) - 1, 1)
    if not len(values):
        return np.zeros(bins)
    where = np.clip(np.searchsorted(np.asarray(edges), values, side="right") - 1, 0, bins - 1)
    return np.bincount(where, minlength=bins) / len(values)


def feature_drift(
    values: pd.Series, entry: dict[str, Any], thresholds: Thresholds
) -> dict[str, Any]:
    """The drift of one feature against its reference entry."""
    n = len(values)
    missing = float(values.isna().mean()) if n else 0.0
    missing_change = missing - float(entry.get("missing", 0.0))
    out: dict[str, Any] = {
        "kind": entry["kind"],
        "missing": missing,
        "missing_change": missing_change,
    }
    if entry["kind"] == "numeric":
        edges = entry.get("edges") or []
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if len(edges) < 2 or not len(x):
            out.update(psi=0.0, ks=0.0, ks_p=1.0)
        else:
            ref = np.asarray(entry["shares"], dtype=float)
            cur = _binned(x, edges)
            d = float(np.max(np.abs(np.cumsum(cur) - np.cumsum(ref))))
            m = float(entry.get("rows") or 0) or len(x)
            effective = len(x) * m / (len(x) + m)
            from scipy.special import kolmogorov

            out.update(
                psi=psi(ref, cur),
                ks=d,
                ks_p=float(kolmogorov(math.sqrt(effective) * d)) if d > 0 else 1.0,
                mean=float(x.mean()),
                reference_mean=entry.get("mean"),
            )
    else:
        levels: dict[str, float] = dict(entry.get("levels", {}))
        other = levels.pop("<other>", None)
        text = values.astype("string").fillna("<missing>")
        counts = text.value_counts()
        known = [k for k in levels if k != "<missing>"]
        new = [str(k) for k in counts.index if str(k) not in levels and str(k) != "<missing>"]
        if other is not None:  # the reference kept only its 50 most common levels
            new = []
        ref = np.array([levels[k] for k in levels] + [other or 0.0])
        cur_counts = np.array(
            [float(counts.get(k, 0)) for k in levels]
            + [float(counts[[k for k in counts.index if str(k) not in levels]].sum())]
        )
        cur = cur_counts / max(n, 1)
        from scipy.stats import chisquare

        expected = np.maximum(ref, _FLOOR)
        expected = expected / expected.sum() * cur_counts.sum()
        test = chisquare(cur_counts, expected) if cur_counts.sum() else None
        out.update(
            psi=psi(ref, cur),
            chi2=None if test is None else float(test.statistic),
            chi2_p=None if test is None else float(test.pvalue),
            new_levels=new[:20],
            levels=len(known),
        )
    checks = [
        verdict(out["psi"], thresholds.psi_warn, thresholds.psi_alert),
        verdict(abs(missing_change), thresholds.missing_warn, thresholds.missing_alert),
    ]
    if out.get("new_levels"):
        checks.append("warn")
    out["verdict"] = worst(checks)
    return out


def compare(
    frame: pd.DataFrame,
    scores: np.ndarray,
    reference: dict[str, Any],
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Feature drift, score drift and the change in population size, with verdicts."""
    rows = int(reference.get("rows") or 0)
    features = {}
    for name, entry in reference.get("features", {}).items():
        if name in frame.columns:
            features[name] = feature_drift(frame[name], {**entry, "rows": rows}, thresholds)
    score_ref = reference.get("score", {})
    edges = score_ref.get("edges") or []
    score: dict[str, Any] = {
        "mean": float(np.mean(scores)) if len(scores) else None,
        "reference_mean": score_ref.get("mean"),
    }
    if len(edges) > 1 and len(scores):
        score["psi"] = psi(
            np.asarray(score_ref["shares"]), _binned(np.asarray(scores, float), edges)
        )
        score["verdict"] = verdict(score["psi"], thresholds.psi_warn, thresholds.psi_alert)
    else:
        score.update(psi=None, verdict="ok")
    change = (len(frame) - rows) / rows if rows else 0.0
    size = {
        "rows": len(frame),
        "reference_rows": rows,
        "change": change,
        "verdict": verdict(abs(change), thresholds.size_warn, thresholds.size_alert),
    }
    ranked = sorted(features.items(), key=lambda kv: -kv[1]["psi"])
    return {
        "features": dict(ranked),
        "score": score,
        "population": size,
        "verdict": worst(
            [f["verdict"] for f in features.values()] + [score["verdict"], size["verdict"]]
        ),
    }
