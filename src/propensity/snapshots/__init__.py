"""Cutoffs, eligible population, labels and features, all point in time."""

from propensity.snapshots.cutoffs import schedule
from propensity.snapshots.frame import FramePlan, plan_frame

__all__ = ["FramePlan", "plan_frame", "schedule"]
