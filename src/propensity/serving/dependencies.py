"""FastAPI dependencies: the service's state, and the caller's API key checked for a role.

Roles nest (``scorer`` < ``analyst`` < ``admin``, see :mod:`propensity.registry.keys`). A
route declares the least role it needs, ``Depends(scorer)`` and so on; the dependency
answers 401 without a live key and 403 without the role, and gives the route the key.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.security import APIKeyHeader

from propensity.registry.keys import ApiKey
from propensity.serving.state import Service

__all__ = ["KEY_HEADER", "RoleKey", "admin", "analyst", "get_service", "scorer"]

KEY_HEADER = "X-API-Key"


async def get_service(request: Request) -> Service:
    """The running service (``app.state.service``)."""
    service: Service = request.app.state.service
    return service


class RoleKey(APIKeyHeader):
    """The caller's key from the ``X-API-Key`` header, which must hold ``role``.

    An :class:`~fastapi.security.APIKeyHeader`, so the OpenAPI document declares the key
    on every route that depends on one. It reads the header and checks the key in one
    step, without sub-dependencies: ``POST /v1/predict`` runs it on every request.

    Parameters
    ----------
    role
        The least role a key needs (roles nest).
    """

    def __init__(self, role: str) -> None:
        super().__init__(
            name=KEY_HEADER, scheme_name="APIKeyHeader", description="an API key", auto_error=False
        )
        self.role = role

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        """The caller's key: 401 without a live key, 403 without the role."""
        secret = request.headers.get(KEY_HEADER)
        if not secret:
            raise HTTPException(
                401,
                f"missing API key: send it in the {KEY_HEADER} header "
                "(create one with `propensity keys create --role ROLE --name NAME`)",
            )
        service: Service = request.app.state.service
        found = service.key(secret)
        if found is None:
            raise HTTPException(401, "unknown or revoked API key; ask an admin for a new one")
        if not found.allows(self.role):
            raise HTTPException(
                403,
                f"key {found.name!r} has role {found.role}; this needs {self.role} or above",
            )
        return found


scorer = RoleKey("scorer")
analyst = RoleKey("analyst")
admin = RoleKey("admin")
