"""Candidates, backtests, calibration, metrics and the bundle format."""
