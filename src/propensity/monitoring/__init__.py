"""Drift and realized performance against the reference a bundle stored at training."""

from propensity.monitoring.drift import Thresholds, compare, feature_drift, psi, verdict

__all__ = ["Thresholds", "compare", "feature_drift", "psi", "verdict"]
# ``monitoring.check.monitor`` (the verb) is imported where used: it needs the engine
