"""The workspace (``.propensity/`` beside the project file): every path in it, and its runs.

:class:`Workspace` is the one place that knows where frames, bundles, score copies,
reports, monitoring and retrain results and scratch files go; nothing else joins
``.propensity`` paths by hand. It also keeps the registry's "latest trained" pointer,
written atomically.

:class:`ScoreRuns` is the one place that writes and reads the ``score_runs`` table:
``score`` records each run (and the workspace's own copy of its results); the service
looks customers up in the newest run of its model; ``monitor`` joins the runs whose label
windows have closed to the outcomes that arrived since.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from propensity._io import write_text

__all__ = ["ScoreRun", "ScoreRuns", "Workspace"]


@dataclass(frozen=True)
class Workspace:
    """The paths of one workspace folder.

    >>> ws = Workspace(Path("shop/.propensity"))
    >>> ws.bundle("20260101-000000-ab12cd").as_posix()
    'shop/.propensity/bundles/20260101-000000-ab12cd'
    >>> ws.monitoring_result("2026-01-01", "v1").name
    '2026-01-01-v1.json'
    """

    path: Path

    @classmethod
    def of(cls, root: Path) -> Workspace:
        """The workspace of the project whose folder (the project file's) is ``root``."""
        return cls(Path(root) / ".propensity")

    @property
    def frames(self) -> Path:
        """Where ``build`` writes the frame."""
        return self.path / "frames"

    @property
    def frame(self) -> Path:
        """The point-in-time frame (Parquet)."""
        return self.frames / "frame.parquet"

    @property
    def frame_info(self) -> Path:
        """The frame's manifest (JSON)."""
        return self.frames / "frame.json"

    @property
    def tmp(self) -> Path:
        """Scratch space: engines spill here, outputs are written here before the rename."""
        return self.path / "tmp"

    @property
    def bundles(self) -> Path:
        """The registry's bundles, one folder per version."""
        return self.path / "bundles"

    def bundle(self, version: str) -> Path:
        """The folder of one bundle version."""
        return self.bundles / version

    @property
    def latest_file(self) -> Path:
        """The file that names the most recently trained version."""
        return self.bundles / "LATEST"

    def latest(self) -> str | None:
        """The most recently trained version, or None before the first ``train``."""
        path = self.latest_file
        if not path.is_file():
            return None
        return path.read_text().strip() or None

    def set_latest(self, version: str) -> None:
        """Record ``version`` as the latest trained, atomically (never seen empty)."""
        write_text(self.latest_file, version + "\n")

    @property
    def scores(self) -> Path:
        """The workspace's own copies of score runs."""
        return self.path / "scores"

    def score_copy(self, stamp: str) -> Path:
        """Where the copy of one score run's results goes."""
        return self.scores / f"{stamp}.parquet"

    @property
    def monitoring(self) -> Path:
        """Monitoring results and their pages."""
        return self.path / "monitoring"

    def monitoring_result(self, as_of: str, version: str) -> Path:
        """The JSON result of ``monitor`` as of a day for a version (its page beside it)."""
        return self.monitoring / f"{as_of}-{version}.json"

    @property
    def retrain(self) -> Path:
        """Retrain decisions."""
        return self.path / "retrain"

    def retrain_result(self, stamp: str) -> Path:
        """The JSON record of one retrain decision."""
        return self.retrain / f"{stamp}.json"

    @property
    def reports(self) -> Path:
        """Report pages."""
        return self.path / "reports"

    def report(self, version: str) -> Path:
        """The default place of a version's report page."""
        return self.reports / f"{version}.html"


_COLUMNS = ("id", "at", "as_of", "bundle", "out", "copy", "rows", "score_column")


@dataclass(frozen=True)
class ScoreRun:
    """One recorded ``score`` run; ``copy`` is relative to the workspace."""

    id: int
    at: str
    as_of: str | None
    bundle: str
    out: str
    copy: str
    rows: int
    score_column: str


class ScoreRuns:
    """The score runs of one workspace, over an open connection to its database.

    Parameters
    ----------
    con
        A connection from :func:`propensity.store.connect` (the caller closes it).
    workspace
        The workspace folder (``.propensity/``), which copies are relative to.
    """

    def __init__(self, con: sqlite3.Connection, workspace: Path) -> None:
        self.con = con
        self.workspace = workspace

    def record(
        self,
        *,
        as_of: str | None,
        bundle: str,
        out: Path,
        copy: Path,
        rows: int,
        score_column: str,
    ) -> int:
        """List a run and the workspace's copy of its results; returns the run's id."""
        with self.con:
            cursor = self.con.execute(
                "INSERT INTO score_runs (at, as_of, bundle, out, copy, rows, score_column) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    as_of,
                    bundle,
                    str(out.resolve()),
                    str(copy.relative_to(self.workspace)),  # the project may move
                    int(rows),
                    score_column,
                ),
            )
        return int(cursor.lastrowid or 0)

    def latest(self, bundle: str | None, *, exact: bool = False) -> ScoreRun | None:
        """The newest run of ``bundle`` whose copy exists (else of any, unless ``exact``).

        Reads rows newest first and stops at the first match: the service asks on every
        customer lookup.
        """
        newest = None
        sql = f"SELECT {', '.join(_COLUMNS)} FROM score_runs ORDER BY id DESC"
        for row in self.con.execute(sql):
            run = ScoreRun(*row)
            if not self.path(run).is_file():
                continue
            if run.bundle == bundle:
                return run
            newest = newest or run
        return None if exact else newest

    def closed_by(self, day: dt.date, horizon: dt.timedelta) -> list[ScoreRun]:
        """Per date scored, its latest run of probabilities whose window has closed.

        A run as of ``d`` counts when ``[d, d + horizon)`` ends by ``day`` and its copy
        still exists; the runs come in date order.
        """
        sql = (
            f"SELECT {', '.join(_COLUMNS)} FROM score_runs "
            "WHERE as_of IS NOT NULL ORDER BY as_of, id"
        )
        latest: dict[str, ScoreRun] = {}
        for run in self._read(sql):  # one run per date: the latest made
            latest[str(run.as_of)] = run
        return [
            run
            for run in latest.values()
            if dt.date.fromisoformat(str(run.as_of)) + horizon <= day
            and run.score_column == "probability"
            and self.path(run).is_file()
        ]

    def path(self, run: ScoreRun) -> Path:
        """Where the workspace's copy of a run's results lies."""
        return self.workspace / run.copy

    def _read(self, sql: str) -> list[ScoreRun]:
        return [ScoreRun(*row) for row in self.con.execute(sql).fetchall()]
