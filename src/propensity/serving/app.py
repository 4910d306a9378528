"""The FastAPI application: predictions, customer lookups, the model, health and metrics.

FastAPI's own structure ("bigger applications"): :func:`create_app` puts the state of the
service on ``app.state.service`` (:class:`~propensity.serving.state.Service`), loads the
model in the ``lifespan``, includes one router per resource (:mod:`.routes`), whose
routes declare the role they need as a dependency (:mod:`.dependencies`), and answers
errors through exception handlers (:mod:`.handlers`). The OpenAPI document carries the
serving bundle's request schema (:mod:`.schema`) and follows the model when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from propensity.project import Project
from propensity.serving.handlers import add_handlers
from propensity.serving.metrics import MetricsMiddleware
from propensity.serving.routes import ROUTERS
from propensity.serving.state import Service

__all__ = ["create_app", "run"]


def create_app(project: Project, *, poll_seconds: float = 1.0, manage_gc: bool = True) -> FastAPI:
    """The service of a project: serves the production bundle (else the latest one).

    Parameters
    ----------
    project
        The project to serve.
    poll_seconds
        How often the registry is read, so that promotions from the CLI reach the service.
    manage_gc
        Hand the process's garbage collection to the service's clock (pass False when the
        app is mounted inside another application).
    """
    service = Service(project, manage_gc=manage_gc)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.refresh()
        if manage_gc:
            gc.disable()  # collected by the poller instead (see Service.poll)
        task = asyncio.create_task(service.poll(poll_seconds, collect=manage_gc))
        try:
            yield
        finally:
            if manage_gc:
                gc.enable()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            service.con.close()

    app = FastAPI(
        title=f"propensity: {project.spec.project.name}",
        version=str(__import__("propensity").__version__),
        description="Scores, decisions and reasons from the project's production model.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    add_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        """FastAPI's document, with the request schema of the model serving now."""
        if service.openapi_cache is not None:
            return service.openapi_cache
        from fastapi.openapi.utils import get_openapi

        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        body = service.schema.request_schema(service.settings.max_records)
        doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"] = {
            "schema": body
        }
        service.openapi_cache = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def run(project: Project, *, host: str, port: int, access_log: bool = False) -> None:
    """Serve until interrupted (uvicorn, one process)."""
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(project),
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
    )
