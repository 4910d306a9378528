"""The workspace's score runs: one place that writes and reads the ``score_runs`` table.

``score`` records each run (and the workspace's own copy of its results); the service
looks customers up in the newest run of its model; ``monitor`` joins the runs whose label
windows have closed to the outcomes that arrived since. All three go through here.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ScoreRun", "ScoreRuns"]

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
