"""The service's routes, one router per resource, in the order the OpenAPI document lists them."""

from __future__ import annotations

from propensity.serving.routes import customers, health, models, predict

__all__ = ["ROUTERS"]

ROUTERS = (health.router, models.router, customers.router, predict.router)
