"""Turning scores into decisions: policy, tiers, reason codes."""
