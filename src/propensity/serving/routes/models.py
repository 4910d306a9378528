"""``/v1/models``: the serving model, and promoting another (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from propensity.registry.keys import ApiKey
from propensity.serving.dependencies import admin, get_service, scorer
from propensity.serving.schema import Promotion
from propensity.serving.state import Service
from propensity.workspace import Workspace

__all__ = ["router"]

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", dependencies=[Depends(scorer)])
async def models(service: Annotated[Service, Depends(get_service)]) -> dict[str, Any]:
    """The serving model, its manifest summary, the aliases and refused versions."""
    return {
        "serving": service.model.summary(),
        "aliases": service.registry.aliases(),
        "refused": service.refused,
        "standin": service.standin,
    }


@router.post("/promote")
async def promote(
    body: Promotion,
    caller: Annotated[ApiKey, Depends(admin)],
    service: Annotated[Service, Depends(get_service)],
) -> dict[str, Any]:
    """Make a version production, verified first; the service switches at once."""
    if not (Workspace(service.workspace).bundle(body.version) / "manifest.json").is_file():
        known = [v["version"] for v in service.registry.versions()]
        raise HTTPException(
            404,
            f"no bundle {body.version!r}; known versions: {', '.join(known[-5:]) or 'none'}",
        )
    try:
        previous = await service.promote(
            body.version, reason=body.reason, who=f"api key {caller.name}"
        )
    except Exception as exc:
        raise HTTPException(409, f"version {body.version!r} refused: {exc}") from None
    return {"version": body.version, "previous": previous, "serving": body.version}
