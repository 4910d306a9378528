"""``/health``, ``/ready`` and ``/metrics``: for orchestrators and Prometheus, no key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from propensity.serving.dependencies import get_service
from propensity.serving.state import Service

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Alive: the process answers."""
    return {"status": "alive"}


@router.get("/ready")
async def ready(service: Annotated[Service, Depends(get_service)]) -> JSONResponse:
    """Ready with a verified model; ``degraded`` on the fallback score (503 without one)."""
    model = service.model
    if not model.fallback and service.standin is not None:
        standin = {
            "status": "degraded",
            "reason": service.standin,
            "model_version": model.version,
        }
        return JSONResponse(standin)
    if not model.fallback:
        return JSONResponse({"status": "ready", "model_version": model.version})
    body = {
        "status": "degraded",
        "reason": model.error,
        "fallback_score": model.fallback_score,
    }
    return JSONResponse(body, status_code=200 if model.fallback_score is not None else 503)


@router.get("/metrics")
async def metrics(service: Annotated[Service, Depends(get_service)]) -> Response:
    """Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
