"""Prometheus metrics of the service, on a registry of its own (no global state)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "MetricsMiddleware"]

_LATENCY = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SCORES = tuple(round(0.1 * n, 1) for n in range(1, 11))


class Metrics:
    """Requests by route and status, latency, scores, fallbacks and the serving model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "propensity_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "propensity_request_seconds",
            "Time to answer a request, by route template",
            ["route"],
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.scores = Histogram(
            "propensity_scores",
            "Scores answered by /v1/predict",
            buckets=_SCORES,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "propensity_fallback_predictions",
            "Predictions answered with the fallback score (no model loaded)",
            registry=self.registry,
        )
        self.model = Gauge(
            "propensity_model_info",
            "The serving model: 1 for the version that serves",
            ["version"],
            registry=self.registry,
        )
        self.loads = Counter(
            "propensity_model_loads",
            "Attempts to load a model version, by outcome (loaded or refused)",
            ["outcome"],
            registry=self.registry,
        )

    def serving(self, version: str | None) -> None:
        """Set the model gauge to the version now serving (``fallback`` for none)."""
        self.model.clear()
        self.model.labels(version=version or "fallback").set(1)


class MetricsMiddleware:
    """ASGI middleware counting every HTTP answer by its route template (not its path)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Count the request once it is answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            labels = (name, scope.get("method", ""), status[0])
            children = self.children.get(labels)
            if children is None:  # one lookup per route and status, not per request
                children = (
                    self.metrics.requests.labels(labels[0], labels[1], str(labels[2])),
                    self.metrics.latency.labels(name),
                )
                self.children[labels] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
