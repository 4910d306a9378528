"""Project: a spec, its workspace and its engine; the verbs as methods.

The CLI, the service and notebooks all go through this class.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from propensity._io import atomic_path, write_json
from propensity.engine import Engine
from propensity.errors import DataError
from propensity.snapshots.frame import FramePlan, plan_at, plan_frame
from propensity.snapshots.manifest import (
    FrameManifest,
    fingerprints,
    frame_manifest,
    frame_stats,
)
from propensity.snapshots.table import table_frame
from propensity.sources.checks import CheckReport, run_checks
from propensity.sources.reading import Source, feature_columns, open_sources, resolve_path
from propensity.spec import SPEC_FILE, Spec
from propensity.workspace import Workspace

if TYPE_CHECKING:
    from propensity.modeling.bundle import Bundle
    from propensity.modeling.training import TrainResult
    from propensity.reporting.report import Report

__all__ = ["BuildResult", "Project"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    """What ``build`` wrote and what is in it."""

    frame_path: Path
    manifest_path: Path
    rows: int
    customers: int
    features: list[str]
    per_cutoff: list[dict[str, Any]]
    label_rate: float | None
    seconds: float
    table_mode: bool
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``build --json`` prints)."""
        return {
            "frame": str(self.frame_path),
            "manifest": str(self.manifest_path),
            "rows": self.rows,
            "customers": self.customers,
            "cutoffs": self.per_cutoff,
            "label_rate": self.label_rate,
            "features": len(self.features),
            "seconds": round(self.seconds, 2),
            "table_mode": self.table_mode,
            "notes": self.notes,
        }


class Project:
    """A propensity project: the spec file, the folder it sits in, and its workspace.

    Parameters
    ----------
    root
        The project folder (holding ``propensity.toml``).
    spec
        The validated project file.
    """

    def __init__(self, root: Path, spec: Spec) -> None:
        self.root = root
        self.spec = spec

    @classmethod
    def load(cls, path: str | Path = ".") -> Project:
        """Load the project in ``path`` (a folder, or the ``propensity.toml`` file itself)."""
        path = Path(path)
        spec_path = path if path.is_file() else path / SPEC_FILE
        return cls(spec_path.parent.resolve(), Spec.load(spec_path))

    @property
    def paths(self) -> Workspace:
        """Every place in the workspace (frames, bundles, runs, pages, scratch)."""
        return Workspace.of(self.root)

    @property
    def workspace(self) -> Path:
        """Where outputs live: ``.propensity/`` beside the spec."""
        return self.paths.path

    @property
    def frame_path(self) -> Path:
        """The point-in-time frame written by :meth:`build`."""
        return self.paths.frame

    @property
    def manifest_path(self) -> Path:
        """The frame's manifest (spec hash, input fingerprints, rows per cutoff)."""
        return self.paths.frame_info

    def frame_manifest(self) -> FrameManifest:
        """The frame's manifest, read and checked."""
        return FrameManifest.read(self.manifest_path)

    @property
    def build_steps(self) -> int:
        """How many times :meth:`build` reports progress (for a progress bar)."""
        return 4 + len(self.spec.events_sources())

    def stale_frame(self) -> str | None:
        """Why the frame must be rebuilt before training (None: it is current).

        Current means built from this spec's frame sections and from input files with the
        same fingerprints (size and SHA-256) as now.
        """
        if not self.frame_path.is_file() or not self.manifest_path.is_file():
            return "no frame yet"
        manifest = self.frame_manifest()
        if manifest.frame_hash != self.spec.frame_hash():
            return "the spec's frame sections changed"
        inputs = manifest.inputs
        if set(inputs) != set(self.spec.sources):
            return "the sources changed"
        now = fingerprints(self.spec, self.root)
        for name, src in self.spec.sources.items():
            path = resolve_path(self.root, src.path)
            if name not in now:
                return f"sources.{name}: {path} is missing"
            if now[name] != inputs[name]:
                return f"sources.{name}: {path} changed since the frame was built"
        return None

    # -- verbs ---------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Validate the data against the spec; see :mod:`propensity.sources.checks`."""
        engine = Engine(self.spec.engine, self.paths.tmp)
        try:
            return run_checks(engine, self.spec, self.root)
        finally:
            engine.close()

    def frame_sql(self) -> str:
        """The SQL the engine runs to compute the frame (``build --show-sql``)."""
        engine = Engine(self.spec.engine, self.paths.tmp)
        try:
            sources = open_sources(engine, self.spec, self.root)
            return engine.sql(self._frame_expr(engine, sources)[0])
        finally:
            engine.close()

    def build(self, progress: Progress | None = None) -> BuildResult:
        """Compute the point-in-time frame and write it with its manifest.

        Parameters
        ----------
        progress
            Called with the name of each step as it starts.
        """
        say = progress or (lambda _step: None)
        started = time.perf_counter()
        # fingerprint the inputs before reading them: a file that changes during the build
        # then makes the frame stale instead of passing for current
        say("fingerprinting inputs")
        inputs = fingerprints(self.spec, self.root)
        engine = Engine(self.spec.engine, self.paths.tmp)
        try:
            say("reading sources")
            sources = open_sources(engine, self.spec, self.root)
            expr, plan = self._frame_expr(engine, sources, materialize=True, progress=say)
            say("joining features, population and labels")
            with atomic_path(self.frame_path) as tmp:
                engine.write_parquet(expr, tmp)
                say("summarising")
                stats = frame_stats(engine, tmp, self.spec.entity.key)
            if stats["rows"] == 0:
                self.frame_path.unlink()
                raise DataError(
                    "build: the frame has no rows; no customer is in the population at any "
                    "cutoff. Check cutoffs.start against the data's dates and "
                    "population.active_within"
                )
            features = plan.features if plan else self._table_features(sources)
            manifest = frame_manifest(self.spec, inputs, stats, features, plan, self.frame_path)
            write_json(self.manifest_path, manifest)
        finally:
            engine.close()
        notes = []
        if self.spec.table_mode:
            notes.append("table mode: one snapshot, no cutoffs; time is not respected")
        return BuildResult(
            frame_path=self.frame_path,
            manifest_path=self.manifest_path,
            rows=stats["rows"],
            customers=stats["customers"],
            features=features,
            per_cutoff=stats["per_cutoff"],
            label_rate=stats["label_rate"],
            seconds=time.perf_counter() - started,
            table_mode=self.spec.table_mode,
            notes=notes,
        )

    def train(self, progress: Progress | None = None) -> TrainResult:
        """Backtest the candidates, choose and calibrate one, and save it as a bundle.

        The frame is (re)built first when it is missing, was built from another spec, or
        any input file changed since (new rows arrived): a model is always trained on the
        data as it stands.
        """
        from propensity.modeling.training import train_frame
        from propensity.snapshots.reading import read_frame

        say = progress or (lambda _step: None)
        why = self.stale_frame()
        if why is not None:
            log.info("train: rebuilding the frame: %s", why)
            say("building the frame")
            self.build()
        manifest = self.frame_manifest()
        frame = read_frame(self.frame_path, self.spec.entity.key)
        return train_frame(
            self.spec,
            frame,
            self.paths,
            frame_sha256=manifest.frame_sha256,
            feature_info=manifest.feature_info(),
            progress=say,
        )

    def score(
        self,
        as_of: dt.date | None,
        out: str | Path,
        bundle: str | None = None,
        *,
        reasons_for: int | None = 10_000,
    ) -> dict[str, Any]:
        """Score every customer eligible on ``as_of`` with the production (or a named) bundle.

        Features are computed at ``as_of`` exactly as at a training cutoff; the date must
        lie within the data. None means the day after the last event (every event seen).
        In table mode every row of the table is scored as it stands and ``as_of`` is None.
        Reason codes go to the ``reasons_for`` first customers by rank (None: everyone).
        """
        from propensity.decisions.policy import Policy
        from propensity.modeling.scoring import score_file

        model = self.load_bundle(bundle, verb="score")
        if model.info.frame_hash != self.spec.frame_hash():
            log.warning(
                "bundle %s was trained on features from another version of %s",
                model.path.name,
                SPEC_FILE,
            )
        engine = Engine(self.spec.engine, self.paths.tmp)
        try:
            sources = open_sources(engine, self.spec, self.root)
            if self.spec.table_mode:
                if as_of is not None:
                    raise DataError(
                        "--as-of: this project is one table without time; every row is "
                        "scored as it stands, so leave --as-of out"
                    )
                expr = table_frame(engine, self.spec, sources)
            else:
                plan = plan_at(engine, self.spec, sources, as_of)
                as_of, expr = plan.cutoffs[0], plan.expr
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
            copy = self.paths.score_copy(stamp)
            with atomic_path(self.paths.tmp / "score_features.parquet") as tmp:
                engine.write_parquet(expr, tmp)
                summary = score_file(
                    model,
                    tmp,
                    Path(out),
                    key=self.spec.entity.key,
                    as_of=as_of,
                    policy=Policy.from_spec(self.spec.policy),
                    spec=self.spec,
                    reasons_for=reasons_for,
                    keep=copy,
                )
        finally:
            engine.close()
        summary["run"] = self._record_score_run(Path(out), copy, summary)
        return summary

    def _record_score_run(self, out: Path, copy: Path, summary: dict[str, Any]) -> int:
        """List a score run, and the workspace's copy of its results, in the database.

        The service looks customers up in the latest run, and monitoring joins past runs
        to the outcomes that arrive later; the user's own file may move or change.
        """
        from propensity.store import connect
        from propensity.workspace import ScoreRuns

        con = connect(self.workspace)
        try:
            return ScoreRuns(con, self.workspace).record(
                as_of=summary.get("as_of"),
                bundle=str(summary.get("bundle")),
                out=out,
                copy=copy,
                rows=int(summary["rows"]),
                score_column=str(summary["column"]),
            )
        finally:
            con.close()

    def load_bundle(self, version: str | None = None, *, verb: str = "load") -> Bundle:
        """The production bundle (else the latest trained one) or a named one, verified."""
        from propensity.modeling.bundle import load_bundle
        from propensity.registry import Registry

        bundles = self.paths.bundles
        version = version or Registry(self.workspace).serving()
        if version is None:
            raise DataError(f"{verb}: no trained model; run `propensity train` first")
        if not self.paths.bundle(version).is_dir():
            known = sorted(p.name for p in bundles.iterdir() if p.is_dir() and p.name[0] != ".")
            raise DataError(
                f"bundle: no bundle {version!r} in {bundles}; known: {', '.join(known) or 'none'}",
                option="bundle",
            )
        return load_bundle(self.paths.bundle(version))

    def monitor(self, as_of: dt.date | None = None, bundle: str | None = None) -> dict[str, Any]:
        """Drift at ``as_of`` against the bundle's reference, and realized performance.

        See :func:`propensity.monitoring.check.monitor`; the result is also written to
        ``.propensity/monitoring/<date>-<version>.json``, with its page beside it
        (``page`` and ``path`` in the result).
        """
        from propensity.monitoring.check import monitor
        from propensity.reporting.monitoring import monitoring_html

        model = self.load_bundle(bundle, verb="monitor")
        result = monitor(self.spec, self.root, self.workspace, model, as_of)
        out = self.paths.monitoring_result(str(result["as_of"]), model.path.name)
        page = out.with_suffix(".html")
        m = self.spec.monitor
        html = monitoring_html(result, self.spec.project.name, m.psi_warn, m.psi_alert)
        with atomic_path(page) as tmp:
            tmp.write_text(html, encoding="utf-8")
        result["page"] = str(page)
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(result, indent=1, default=str) + "\n")
        result["path"] = str(out)
        return result

    def retrain(self, *, force: bool = False) -> dict[str, Any]:
        """Train a challenger when a ``[retrain]`` trigger fires, or ``force``.

        It replaces the production model only when it beats it on the latest labelled
        cutoff; see :mod:`propensity.monitoring.retrain`.
        """
        from propensity.monitoring.retrain import decision, judge, needs_monitoring, triggers
        from propensity.registry import PRODUCTION, Registry
        from propensity.snapshots.reading import read_frame

        registry = Registry(self.workspace)
        champion = registry.serving()
        if champion is None:
            raise DataError("retrain: no model yet; run `propensity train` first")
        old = self.load_bundle(champion, verb="retrain")
        spec = self.spec.retrain
        monitored = self.monitor(None, champion) if needs_monitoring(spec) else None
        why = triggers(spec, old.info, monitored)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        record: dict[str, Any] = {"at": now, "champion": champion, "triggers": why, "forced": force}
        if not why and not force:
            return self._record_retrain({**record, "decision": "no trigger: nothing retrained"})
        if self.spec.target is None or self.spec.target.kind == "amount":
            raise DataError(
                "retrain: compares yes/no models by ROC-AUC; amount targets are not yet"
            )
        if registry.alias(PRODUCTION) is None:
            # with no production alias the latest bundle serves; pin the champion first, or
            # the challenger would serve as soon as it is written, whatever the comparison
            registry.move(
                PRODUCTION,
                champion,
                reason="retrain: the model serving when the challenger was trained",
                who="retrain",
            )
        challenger = self.train().bundle.name
        registry.move("challenger", challenger, reason="retrain: " + ("; ".join(why) or "forced"))
        holdout = self.load_bundle(challenger, verb="retrain").holdout()  # read once
        day = dt.date.fromisoformat(str(holdout["cutoff"].iloc[0])[:10])
        rows = read_frame(self.frame_path, self.spec.entity.key, cutoff=day)
        judged = judge(old, holdout, rows, self.spec.entity.key, spec)
        why_better = judged.pop("why")
        if judged["promoted"]:
            reason = f"retrain: {why_better} on {judged['cutoff']}"
            registry.move(PRODUCTION, challenger, reason=reason, who="retrain")
        judged["decision"] = decision(champion, challenger, {**judged, "why": why_better})
        return self._record_retrain({**record, "challenger": challenger, **judged})

    def _record_retrain(self, record: dict[str, Any]) -> dict[str, Any]:
        stamp = record["at"].replace(":", "").replace("-", "")
        path = self.paths.retrain_result(stamp)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
        return {**record, "path": str(path)}

    def build_report(self, bundle: str | None = None) -> Report:
        """The report of the production (or a named) bundle, computed when first asked."""
        from propensity.reporting.report import Report

        path = self.manifest_path
        return Report(
            self.spec,
            self.load_bundle(bundle, verb="report"),
            check=self.check(),
            frame_info=self.frame_manifest().to_json() if path.is_file() else {},
            frame_path=self.frame_path,
        )

    def report(self, bundle: str | None = None, out: str | Path | None = None) -> Path:
        """Write the HTML report of the production (or a named) bundle; returns its path.

        The default place is ``.propensity/reports/<version>.html``.
        """
        report = self.build_report(bundle)
        version = report.bundle.info.version
        path = Path(out) if out is not None else self.paths.report(version)
        return report.write_html(path)

    def whatif(
        self,
        *,
        bundle: str | None = None,
        by: str = "threshold",
        steps: int = 10,
        **policy: float | int | None,
    ) -> dict[str, Any]:
        """The what-if table on the test cutoff, for the ``[policy]`` with overrides.

        ``policy`` may override ``benefit``, ``cost``, ``capacity`` and ``budget``.
        """
        from propensity.decisions.policy import Policy, operating_point, whatif

        model = self.load_bundle(bundle, verb="whatif")
        if model.task != "binary":
            raise DataError("whatif: the what-if table is for yes/no targets")
        rules = Policy.from_spec(self.spec.policy, **policy)
        holdout = model.holdout()
        y = holdout["label"].to_numpy(dtype=float)
        p = holdout["score"].to_numpy(dtype=float)
        table = whatif(y, p, rules, by=by, steps=steps)
        return {
            "bundle": model.path.name,
            "policy": rules.describe(),
            "rows": len(holdout),
            "best": operating_point(y, p, rules),
            "table": table.to_dict(orient="records"),
        }

    # -- helpers -------------------------------------------------------------------------

    def _frame_expr(
        self,
        engine: Engine,
        sources: dict[str, Source],
        *,
        materialize: bool = False,
        progress: Progress | None = None,
    ) -> tuple[ir.Table, FramePlan | None]:
        if self.spec.table_mode:
            return table_frame(engine, self.spec, sources), None
        on_source = None if progress is None else (lambda n: progress(f"features of {n}"))
        plan = plan_frame(engine, self.spec, sources, materialize=materialize, on_source=on_source)
        return plan.expr, plan

    def _table_features(self, sources: dict[str, Source]) -> list[str]:
        (source,) = sources.values()
        return feature_columns(source, self.spec.entity.key)

    def models(self) -> dict[str, Any]:
        """The registry: the version that serves, every bundle, and every alias move."""
        from propensity.registry import Registry

        reg = Registry(self.workspace)
        return {"serving": reg.serving(), "versions": reg.versions(), "history": reg.history()}

    def promote(self, version: str, *, reason: str, alias: str = "production") -> str | None:
        """Point ``alias`` at ``version``, verified first; returns the version it replaces."""
        from propensity.registry import Registry

        return Registry(self.workspace).move(alias, version, reason=reason)

    def rollback(self, *, reason: str = "rollback") -> str:
        """Put back the production model that served before the current one; returns it."""
        from propensity.registry import Registry

        return Registry(self.workspace).rollback(reason=reason)

    def create_key(self, name: str, role: str) -> str:
        """Store a new API key for the service; returns its secret, shown only this once."""
        from propensity.registry.keyring import Keyring

        return Keyring(self.workspace).create(name, role)

    def keys(self) -> list[dict[str, Any]]:
        """Every API key's name, role and dates, revoked ones included (never the secret)."""
        from propensity.registry.keyring import Keyring

        return Keyring(self.workspace).keys()

    def revoke_key(self, name: str) -> None:
        """Revoke an API key by name; a running service refuses it within seconds."""
        from propensity.registry.keyring import Keyring

        Keyring(self.workspace).revoke(name)
