"""How the service answers errors: a ``detail`` text, or a list of problems for inputs.

Every error answer is ``{"detail": ...}``: a text for a refusal (a key, a version, a
customer, a :class:`~propensity.errors.PropensityError`), a list of problems for a request
whose content is wrong, each naming the ``field``, the ``reason`` and the ``type``.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ExceptionHandler

from propensity.errors import (
    BundleError,
    DataError,
    NotServable,
    PropensityError,
    RegistryError,
)

__all__ = ["STATUS", "add_handlers", "problem", "problems", "status_of"]

log = logging.getLogger("propensity.serving")

#: the status of a PropensityError a route lets through, by class (the first that matches)
STATUS: tuple[tuple[type[PropensityError], int], ...] = (
    # the project's state refuses it: an unknown or broken version, a bundle that cannot serve
    (RegistryError, 409),
    (BundleError, 409),
    (NotServable, 409),
    (DataError, 422),
)


def status_of(exc: PropensityError) -> int:
    """The 4xx status answering ``exc`` (400 when no class of :data:`STATUS` matches)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


def problem(reason: str, kind: str) -> dict[str, Any]:
    """A problem with the request as a whole (no field)."""
    return {"field": "", "reason": reason, "type": kind}


def problems(status: int, found: list[dict[str, Any]]) -> HTTPException:
    """The answer listing what is wrong with a request: ``{"detail": [problem, ...]}``."""
    return HTTPException(status, found)


async def _propensity_error(_: Request, exc: PropensityError) -> JSONResponse:
    """A PropensityError a route did not handle: a 4xx with the same text as the CLI's."""
    status = status_of(exc)
    log.warning("answered %s: %s", status, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's validation errors (the promotion's body) as the service's problems."""
    found = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        found.append({"field": ".".join(loc), "reason": e.get("msg"), "type": e.get("type")})
    return JSONResponse({"detail": found}, status_code=422)


def add_handlers(app: FastAPI) -> None:
    """Answer PropensityError and invalid requests in the service's shape."""
    # Starlette types a handler as taking any Exception; each one here gets its class only
    app.add_exception_handler(PropensityError, cast(ExceptionHandler, _propensity_error))
    app.add_exception_handler(RequestValidationError, cast(ExceptionHandler, _invalid))
