"""The state of a running service, kept on ``app.state.service``: the model and its caches.

One process holds one :class:`~propensity.serving.model.ServedModel` at a time. Swapping
it is one assignment: a request reads the reference once when it starts and finishes
with that model, so a promotion never drops or mixes a request. A new version is loaded
and verified in a worker thread while the old one keeps answering; one that fails its
checks is refused and the old one stays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from propensity.project import Project
from propensity.registry import PRODUCTION, Registry
from propensity.registry.keys import ApiKey, find_key
from propensity.serving.log import PredictionLog
from propensity.serving.lookups import CustomerLookups
from propensity.serving.metrics import Metrics
from propensity.serving.model import ServedModel, capacity_cut, fallback_model, load_served
from propensity.serving.schema import RecordSchema
from propensity.store import connect
from propensity.workspace import ScoreRuns, Workspace

__all__ = ["Service"]

log = logging.getLogger("propensity.serving")

_KEY_TTL = 5.0  # seconds a key lookup is trusted (revocations take effect within it)


class Service:
    """The state of one running service: the model, the databases, the caches.

    Parameters
    ----------
    project
        The project whose registry says which bundle serves.
    manage_gc
        Hand the garbage collector to the service's clock (see :meth:`poll`).
    """

    def __init__(self, project: Project, *, manage_gc: bool = True) -> None:
        self.project = project
        self.spec = project.spec
        self.settings = project.spec.serve
        self.workspace = project.workspace
        self.registry = Registry(self.workspace)
        self.con = connect(self.workspace, check_same_thread=False)
        self.log = PredictionLog(self.con)
        self.metrics = Metrics()
        self.runs = ScoreRuns(self.con, self.workspace)
        self.lookups = CustomerLookups(self.runs, self.spec.entity.key)
        self.keys: dict[str, tuple[ApiKey | None, float]] = {}
        self.refused: dict[str, str] = {}
        self.refused_at: dict[str, float] = {}  # the bundle's newest file time when refused
        self.cut_run: dict[str, int | None] = {}  # the score run behind each capacity cut
        #: why an earlier version serves instead of the one the registry names (or None)
        self.standin: str | None = None
        self.model: ServedModel = fallback_model(self.spec, self.workspace, "not loaded yet")
        #: the request schema of ``model``: set with it, kept when only the cut moves
        self.schema = RecordSchema.of(self.model)
        self.lock = asyncio.Lock()
        self.openapi_cache: dict[str, Any] | None = None
        self.manage_gc = manage_gc

    # -- the model -----------------------------------------------------------------------

    def _reference(self, version: str) -> np.ndarray | None:
        """The scores of the latest run of ``version``, whose ranks set the capacity cut."""
        run = self.runs.latest(version, exact=True)
        self.cut_run[version] = None if run is None else run.id
        if run is None:
            return None
        frame = pd.read_parquet(self.runs.path(run), columns=[run.score_column])
        return np.asarray(frame[run.score_column].to_numpy(dtype=float))

    def load(self, version: str) -> ServedModel:
        """Load and verify a version (in a worker thread); raises if it is refused."""
        return load_served(self.spec, self.workspace, version, self._reference(version))

    def use(self, model: ServedModel) -> None:
        """Serve ``model`` from the next request on."""
        # no await between the two: a request never sees one model with the other's schema
        self.schema = RecordSchema.of(model)
        self.model = model
        self.metrics.serving(model.version)
        # the model's objects live until the next swap: keep them out of the collector's
        # scans, which would otherwise add pauses of milliseconds to the slowest answers
        if self.manage_gc:
            gc.unfreeze()  # the previous model's objects may be collected now
            gc.collect()
            gc.freeze()
        self.openapi_cache = None  # the request schema follows the model
        log.info("serving model %s", model.version or "fallback")

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

    async def promote(self, version: str, *, reason: str, who: str) -> str | None:
        """Verify ``version``, make it production and serve it; returns the previous one.

        Raises whatever refused the version (nothing changes then).
        """
        async with self.lock:
            try:
                model = await asyncio.to_thread(self.load, version)
                previous = await asyncio.to_thread(
                    self.registry.promote, version, reason=reason, who=who
                )
            except Exception:
                self.metrics.loads.labels("refused").inc()
                raise
            self.refused.pop(version, None)
            self.metrics.loads.labels("loaded").inc()
            self.standin = None
            self.use(model)
        return previous

    async def _follow_score_runs(self) -> None:
        """A newer ``score`` run of the serving model moves its capacity cut.

        "Within capacity" ranks a prediction among the latest run's customers; the cut is
        recomputed in a worker thread and swapped in with a copy of the model.
        """
        model = self.model
        if model.bundle is None or model.version is None:
            return
        run = self.runs.latest(model.version, exact=True)
        if run is None or run.id == self.cut_run.get(model.version):
            return
        reference = await asyncio.to_thread(self._reference, model.version)
        if reference is None:
            return
        cut = capacity_cut(model.policy, reference)
        if cut != model.cut:
            log.info("capacity cut of %s: %s (score run %s)", model.version, cut, run.id)
            self.model = dataclasses.replace(model, cut=cut)  # same inputs: same schema

    def _stamp(self, version: str) -> float:
        """The newest modification time of a bundle's files (0 when it has none)."""
        folder = Workspace(self.workspace).bundle(version)
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

    def key(self, secret: str) -> ApiKey | None:
        """The live key with this secret (None: unknown or revoked), trusted for 5 s."""
        now = time.monotonic()
        found, until = self.keys.get(secret, (None, 0.0))
        if until < now:
            found = find_key(self.con, secret)
            if len(self.keys) > 10_000:
                self.keys.clear()
            self.keys[secret] = (found, now + _KEY_TTL)
        return found
