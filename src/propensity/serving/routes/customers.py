"""``/v1/customers``: a customer's latest stored score (analysts and admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from propensity.serving.dependencies import analyst, get_service
from propensity.serving.state import Service

__all__ = ["router"]

router = APIRouter(prefix="/v1/customers", tags=["customers"], dependencies=[Depends(analyst)])


@router.get("/{customer_id}")
async def customer(
    customer_id: str, service: Annotated[Service, Depends(get_service)]
) -> dict[str, Any]:
    """A customer's latest stored score, decision and reasons (no recomputation)."""
    return await service.lookups.customer(service.model.version, customer_id)
