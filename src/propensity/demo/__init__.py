"""A customer simulator with known churn drivers, and the demo project built on it."""

from propensity.demo.project import init_project

__all__ = ["init_project"]
