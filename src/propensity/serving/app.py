"""The FastAPI application: predictions, customer lookups, the model, health and metrics.

One process holds one :class:`ServedModel` at a time. Swapping it is one assignment: a
request reads the reference once when it starts and finishes with that model, so a
promotion never drops or mixes a request. A new version is loaded and verified in a
worker thread while the old one keeps answering; one that fails its checks is refused
and the old one stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from propensity.project import Project
from propensity.registry import PRODUCTION, Registry
from propensity.serving.keys import ApiKey, find_key
from propensity.serving.log import PredictionLog
from propensity.serving.metrics import Metrics, MetricsMiddleware
from propensity.serving.model import ServedModel, capacity_cut, fallback_model, load_served
from propensity.serving.schema import check_records, record_schema
from propensity.store import connect
from propensity.workspace import ScoreRuns

__all__ = ["create_app", "run"]

log = logging.getLogger("propensity.serving")

KEY_HEADER = "X-API-Key"
_KEY_TTL = 5.0  # seconds a key lookup is trusted (revocations take effect within it)


class Promotion(BaseModel):
    """Body of ``POST /v1/models/promote``."""

    version: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="a bundle version (a folder name under .propensity/bundles)",
    )
    reason: str = Field(
        min_length=1, max_length=1000, pattern=r"\S", description="why; kept in the history"
    )


class Service:
    """The state of one running service: the model, the databases, the caches."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.spec = project.spec
        self.workspace = project.workspace
        self.registry = Registry(self.workspace)
        self.con = connect(self.workspace, check_same_thread=False)
        self.log = PredictionLog(self.con)
        self.metrics = Metrics()
        self.keys: dict[str, tuple[ApiKey | None, float]] = {}
        self.lookups: dict[tuple[str | None, int], dict[str, dict[str, Any]]] = {}
        self.refused: dict[str, str] = {}
        self.refused_at: dict[str, float] = {}  # the bundle's newest file time when refused
        self.cut_run: dict[str, int | None] = {}  # the score run behind each capacity cut
        #: why an earlier version serves instead of the one the registry names (or None)
        self.standin: str | None = None
        self.model: ServedModel = fallback_model(self.spec, self.workspace, "not loaded yet")
        self.lock = asyncio.Lock()
        self.lookup_lock = asyncio.Lock()
        self.openapi_cache: dict[str, Any] | None = None
        self.manage_gc = True

    # -- the model -----------------------------------------------------------------------

    def _reference(self, version: str) -> np.ndarray | None:
        """The scores of the latest run of ``version``, whose ranks set the capacity cut."""
        run = self._latest_run(version, exact=True)
        self.cut_run[version] = None if run is None else int(run["id"])
        if run is None:
            return None
        frame = pd.read_parquet(run["copy"], columns=[run["score_column"]])
        return np.asarray(frame[run["score_column"]].to_numpy(dtype=float))

    def load(self, version: str) -> ServedModel:
        """Load and verify a version (in a worker thread); raises if it is refused."""
        return load_served(self.spec, self.workspace, version, self._reference(version))

    def use(self, model: ServedModel) -> None:
        """Serve ``model`` from the next request on."""
        self.model = model
        self.metrics.serving(model.version)
        # the model's objects live until the next swap: keep them out of the collector's
        # scans, which would otherwise add pauses of milliseconds to the slowest answers
        if self.manage_gc:
            gc.unfreeze()  # the previous model's objects may be collected now
            gc.collect()
            gc.freeze()
        self.app_openapi_reset()
        log.info("serving model %s", model.version or "fallback")

    def app_openapi_reset(self) -> None:
        """Forget the cached OpenAPI document (the request schema follows the model)."""
        self.openapi_cache = None

    async def refresh(self) -> None:
        """Load the version the registry says serves, if it is not the one serving."""
        async with self.lock:
            wanted = self.registry.serving()
            if wanted is None:
                if self.model.error == "not loaded yet":
                    self.use(
                        fallback_model(
                            self.spec, self.workspace, "no trained model in this project"
                        )
                    )
                return
            if wanted == self.model.version:
                await self._follow_score_runs()
                return
            if wanted in self.refused:
                if not self._restored(wanted):
                    return
                log.info("model %s changed since it was refused: trying it again", wanted)
                del self.refused[wanted]
            try:
                model = await asyncio.to_thread(self.load, wanted)
            except Exception as exc:
                self.refuse(wanted, exc)
                if self.model.fallback:  # nothing good serving yet: an earlier version
                    await self.stand_in(wanted, exc)
                return
            self.metrics.loads.labels("loaded").inc()
            self.standin = None
            self.use(model)

    async def _follow_score_runs(self) -> None:
        """A newer ``score`` run of the serving model moves its capacity cut.

        "Within capacity" ranks a prediction among the latest run's customers; the cut is
        recomputed in a worker thread and swapped in with a copy of the model.
        """
        model = self.model
        if model.bundle is None or model.version is None:
            return
        run = self._latest_run(model.version, exact=True)
        if run is None or int(run["id"]) == self.cut_run.get(model.version):
            return
        run_id = int(run["id"])
        reference = await asyncio.to_thread(self._reference, model.version)
        if reference is None:
            return
        cut = capacity_cut(model.policy, reference)
        if cut != model.cut:
            log.info("capacity cut of %s: %s (score run %s)", model.version, cut, run_id)
            self.model = dataclasses.replace(model, cut=cut)

    def _stamp(self, version: str) -> float:
        """The newest modification time of a bundle's files (0 when it has none)."""
        folder = self.workspace / "bundles" / version
        times = [p.stat().st_mtime for p in folder.iterdir()] if folder.is_dir() else []
        return max(times, default=0.0)

    def _restored(self, version: str) -> bool:
        """Whether a refused bundle's files changed since (restored from a backup)."""
        return self._stamp(version) > self.refused_at.get(version, float("inf"))

    def refuse(self, version: str, exc: BaseException) -> None:
        """Record that ``version`` failed to load or verify."""
        self.refused[version] = str(exc) or type(exc).__name__
        self.refused_at[version] = self._stamp(version)
        self.metrics.loads.labels("refused").inc()
        log.error("model %s refused: %s", version, exc)

    async def stand_in(self, wanted: str, exc: BaseException) -> None:
        """Serve the newest earlier version that loads, else the fallback score.

        Earlier production versions come first (newest first), then the other bundles.
        """
        history = [e["version"] for e in reversed(self.registry.history(PRODUCTION))]
        others = [v["version"] for v in reversed(self.registry.versions())]
        tried = {wanted}
        for version in [*history, *others]:
            if version in tried or version in self.refused:
                continue
            tried.add(version)
            try:
                model = await asyncio.to_thread(self.load, version)
            except Exception as other:
                self.refuse(version, other)
                continue
            self.metrics.loads.labels("loaded").inc()
            self.standin = f"{wanted} was refused ({self.refused[wanted]}); serving {version}"
            log.warning("model %s refused; serving the earlier version %s", wanted, version)
            self.use(model)
            return
        self.use(fallback_model(self.spec, self.workspace, f"{wanted}: {exc}"))

    async def poll(self, seconds: float, *, collect: bool = False) -> None:
        """Follow the registry: promotions made from the CLI reach the running service.

        With ``collect``, the garbage collector runs here, on a clock, between requests:
        the young generations every tick and everything every 60 ticks. Collections that
        start in the middle of a request were the largest part of the slowest answers.
        """
        ticks = 0
        while True:
            await asyncio.sleep(seconds)
            ticks += 1
            if collect:
                gc.collect(2 if ticks % 60 == 0 else 1)
            try:
                await self.refresh()
            except Exception:  # keep polling whatever happens; the error is logged
                log.exception("model refresh failed")

    # -- keys ----------------------------------------------------------------------------

    def key(self, secret: str | None, role: str) -> ApiKey:
        """The caller's key, checked for ``role``: 401 without a live key, 403 without the role."""
        if not secret:
            raise HTTPException(
                401,
                f"missing API key: send it in the {KEY_HEADER} header "
                "(create one with `propensity keys create --role ROLE --name NAME`)",
            )
        now = time.monotonic()
        found, until = self.keys.get(secret, (None, 0.0))
        if until < now:
            found = find_key(self.con, secret)
            if len(self.keys) > 10_000:
                self.keys.clear()
            self.keys[secret] = (found, now + _KEY_TTL)
        if found is None:
            raise HTTPException(401, "unknown or revoked API key; ask an admin for a new one")
        if not found.allows(role):
            raise HTTPException(
                403, f"key {found.name!r} has role {found.role}; this needs {role} or above"
            )
        return found

    # -- customer lookups ----------------------------------------------------------------

    def _latest_run(self, version: str | None, *, exact: bool = False) -> dict[str, Any] | None:
        """The newest score run of ``version`` whose copy exists.

        Without one, the newest run of any version, unless ``exact``.
        """
        found = ScoreRuns(self.con, self.workspace).latest(version, exact=exact)
        if found is None:
            return None
        run = {k: getattr(found, k) for k in ("id", "bundle", "as_of", "at", "score_column")}
        return {**run, "copy": self.workspace / found.copy}  # stored relative to the workspace

    async def customer(self, customer: str) -> dict[str, Any]:
        """The latest stored score of a customer (no recomputation), cached per model.

        The first lookup in a run reads it into a table in a worker thread (seconds on a
        large run), so predictions go on meanwhile; concurrent first lookups wait for one
        read.
        """
        version = self.model.version
        run = self._latest_run(version)
        if run is None:
            raise HTTPException(
                404,
                "no score run to look customers up in; run `propensity score` "
                "(lookups read its results, they do not recompute)",
            )
        cache_key = (version, int(run["id"]))
        table = self.lookups.get(cache_key)
        if table is None:
            async with self.lookup_lock:
                table = self.lookups.get(cache_key)
                if table is None:
                    table = await asyncio.to_thread(
                        _lookup_table, run["copy"], self.spec.entity.key
                    )
                    self.lookups = {cache_key: table}  # one run per model version is kept
        row = table.get(customer)
        if row is None:
            raise HTTPException(
                404,
                f"customer {customer!r} is not in the score run of {run['as_of'] or run['at']} "
                f"({len(table):,} customers); it was not eligible then, or the id is wrong",
            )
        row = dict(row)  # the cached row stays whole for the next lookup
        reasons = [row.pop(f"reason_{n}", None) for n in (1, 2, 3)]
        return {
            **{k: _plain(v) for k, v in row.items()},
            "reasons": [r for r in reasons if r],
            "as_of": run["as_of"],
            "scored_at": run["at"],
            "model_version": run["bundle"],
        }


def _lookup_table(path: Path, key: str) -> dict[str, dict[str, Any]]:
    """A score run's rows by customer key (text), missing values as None."""
    frame = pd.read_parquet(path)
    frame[key] = frame[key].astype(str)
    frame = frame.astype(object).where(frame.notna(), None)
    return {str(r[key]): {str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _problem(status: int, problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": problems}, status_code=status)


def create_app(project: Project, *, poll_seconds: float = 1.0, manage_gc: bool = True) -> FastAPI:
    """The service of a project: serves the production bundle (else the latest one).

    ``manage_gc`` hands the process's garbage collection to the service's clock (pass
    False when the app is mounted inside another application).
    """
    service = Service(project)
    service.manage_gc = manage_gc
    settings = project.spec.serve

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
    api_key = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="an API key")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p != "body"]
            problems.append({"field": ".".join(loc), "reason": e.get("msg"), "type": e.get("type")})
        return _problem(422, problems)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "alive"}

    @app.get("/ready", tags=["health"])
    async def ready() -> JSONResponse:
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

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """Prometheus text format."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", tags=["models"])
    async def models(secret: str | None = Depends(api_key)) -> dict[str, Any]:
        """The serving model, its manifest summary, the aliases and refused versions."""
        service.key(secret, "scorer")
        return {
            "serving": service.model.summary(),
            "aliases": service.registry.aliases(),
            "refused": service.refused,
            "standin": service.standin,
        }

    @app.post("/v1/models/promote", tags=["models"])
    async def promote(body: Promotion, secret: str | None = Depends(api_key)) -> dict[str, Any]:
        """Make a version production, verified first; the service switches at once."""
        caller = service.key(secret, "admin")
        if not (service.workspace / "bundles" / body.version / "manifest.json").is_file():
            known = [v["version"] for v in service.registry.versions()]
            raise HTTPException(
                404,
                f"no bundle {body.version!r}; known versions: {', '.join(known[-5:]) or 'none'}",
            )
        async with service.lock:
            try:
                model = await asyncio.to_thread(service.load, body.version)
                previous = await asyncio.to_thread(
                    service.registry.promote,
                    body.version,
                    reason=body.reason,
                    who=f"api key {caller.name}",
                )
            except Exception as exc:
                service.metrics.loads.labels("refused").inc()
                raise HTTPException(409, f"version {body.version!r} refused: {exc}") from None
            service.refused.pop(body.version, None)
            service.metrics.loads.labels("loaded").inc()
            service.standin = None
            service.use(model)
        return {"version": body.version, "previous": previous, "serving": body.version}

    @app.get("/v1/customers/{customer_id}", tags=["customers"])
    async def customer(customer_id: str, secret: str | None = Depends(api_key)) -> dict[str, Any]:
        """A customer's latest stored score, decision and reasons (no recomputation)."""
        service.key(secret, "analyst")
        return await service.customer(customer_id)

    @app.post(
        "/v1/predict",
        tags=["predict"],
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {}}},
            "security": [{"APIKeyHeader": []}],
        },
    )
    async def predict(request: Request) -> Response:
        """Score one record (an object) or several (a list); reasons for analysts and admins."""
        # the header is read directly (the hot path skips dependency resolution); the
        # OpenAPI document still declares the key through the security entry above
        caller = service.key(request.headers.get(KEY_HEADER), "scorer")
        model = service.model  # one model for the whole request, whatever happens meanwhile
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _too_large(int(declared), settings.max_body_bytes)
        if declared:
            body = await request.body()
        else:  # chunked: read it piece by piece and stop at the limit
            parts, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.max_body_bytes:
                    return _too_large(size, settings.max_body_bytes, at_least=True)
                parts.append(chunk)
            body = b"".join(parts)
        if len(body) > settings.max_body_bytes:
            return _too_large(len(body), settings.max_body_bytes)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return _problem(
                422,
                [{"field": "", "reason": f"the body is not JSON: {exc}", "type": "json_invalid"}],
            )
        many = isinstance(data, list)
        records = data if many else [data]
        if many and not records:
            return _problem(
                422,
                [
                    {
                        "field": "",
                        "reason": "an empty list: send at least one record",
                        "type": "empty",
                    }
                ],
            )
        if len(records) > settings.max_records:
            return _problem(
                413,
                [
                    {
                        "field": "",
                        "reason": f"{len(records)} records; at most {settings.max_records} per "
                        "request ([serve] max_records)",
                        "type": "too_many_records",
                    }
                ],
            )
        if model.fallback and model.fallback_score is None:
            raise HTTPException(
                503,
                f"no model can be loaded ({model.error}) and no fallback score is known; "
                "train a model, or set [serve] fallback_score",
            )
        if model.fallback:
            problems = [
                {
                    "field": "",
                    "reason": "a record must be a JSON object",
                    "type": "not_an_object",
                    **({"record": n} if many else {}),
                }
                for n, r in enumerate(records)
                if not isinstance(r, dict)
            ]
            warnings: list[list[str]] = [[] for _ in records]
        else:
            problems, warnings = check_records(
                records,
                model.inputs,
                model.key,
                unknown_category=model.unknown_category,
                many=many,
            )
        if not problems:
            problems = model.history_problems(records, many)
        if problems:
            return _problem(422, problems)
        scores = model.scores(records)
        unscorable = [n for n, v in enumerate(scores.tolist()) if not math.isfinite(v)]
        if unscorable:
            return _problem(
                422,
                [
                    {
                        "field": "",
                        "reason": "the model gives no finite score for this record; check its "
                        "values against the ranges seen in training",
                        "type": "unscorable",
                        **({"record": n} if many else {}),
                    }
                    for n in unscorable
                ],
            )
        answers = model.decide(scores)
        if caller.allows("analyst") and not model.fallback:
            for answer, found in zip(answers, model.reasons(records), strict=True):
                answer["reasons"] = found
        request_id = os.urandom(16).hex()  # 128 random bits, as uuid4 without the object
        for record, answer, notes in zip(records, answers, warnings, strict=True):
            answer[model.key] = record.get(model.key)
            if notes:
                answer["warnings"] = notes
        rows = service.log.rows(
            request_id,
            records,
            scores.tolist(),
            body=None if many else body,
            version=model.version,
            fallback=model.fallback,
            key=model.key,
            key_name=caller.name,
        )
        try:
            await service.log.commit(rows)
        except Exception as exc:
            log.error("prediction log: %s", exc)
            raise HTTPException(
                503, "the prediction log cannot be written; nothing was scored, retry later"
            ) from None
        for score in scores:
            service.metrics.scores.observe(float(score))
        if model.fallback:
            service.metrics.fallbacks.inc(len(records))
        head = {
            "request_id": request_id,
            "model_version": model.version,
            "fallback": model.fallback,
        }
        content = {**head, "predictions": answers} if many else {**head, **answers[0]}
        return Response(json.dumps(content), media_type="application/json")

    def openapi() -> dict[str, Any]:
        if service.openapi_cache is not None:
            return service.openapi_cache
        from fastapi.openapi.utils import get_openapi

        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        model = service.model
        record = record_schema(
            model.inputs, model.key, reject_unknown=model.unknown_category == "reject"
        )
        if model.fallback:
            record = {"type": "object", "title": "Record", "additionalProperties": True}
        body = {
            "oneOf": [
                record,
                {"type": "array", "items": record, "minItems": 1, "maxItems": settings.max_records},
            ]
        }
        doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"] = {
            "schema": body
        }
        service.openapi_cache = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _too_large(size: int, limit: int, *, at_least: bool = False) -> JSONResponse:
    """413 for a body over ``limit`` (``at_least``: a chunked body, not read to its end)."""
    what = f"at least {size:,}" if at_least else f"{size:,}"
    return _problem(
        413,
        [
            {
                "field": "",
                "reason": f"the body is {what} bytes; at most {limit:,} ([serve] max_body_bytes)",
                "type": "too_large",
            }
        ],
    )


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
