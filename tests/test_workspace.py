"""Score runs: recorded once, read by the service (newest of a model) and monitor (closed)."""

from __future__ import annotations

import datetime as dt

import pytest

from propensity.store import connect
from propensity.workspace import ScoreRuns


@pytest.fixture
def runs(tmp_path):
    workspace = tmp_path / ".propensity"
    con = connect(workspace)
    yield ScoreRuns(con, workspace)
    con.close()


def _record(runs, name, as_of, bundle, column="probability", *, keep=True):
    copy = runs.workspace / "scores" / f"{name}.parquet"
    copy.parent.mkdir(parents=True, exist_ok=True)
    if keep:
        copy.write_bytes(b"x")
    out = runs.workspace.parent / f"{name}.csv"
    return runs.record(as_of=as_of, bundle=bundle, out=out, copy=copy, rows=3, score_column=column)


def test_the_newest_run_of_a_model_whose_copy_exists(runs):
    first = _record(runs, "a", "2025-01-01", "v1")
    second = _record(runs, "b", "2025-02-01", "v2")
    _record(runs, "c", "2025-03-01", "v1", keep=False)  # its copy was removed
    assert runs.latest("v1").id == first
    assert runs.latest("v2").id == second
    assert runs.latest("v3").id == second  # the newest of any model
    assert runs.latest("v3", exact=True) is None
    assert runs.latest("v1").copy == "scores/a.parquet"  # relative: the project may move
    assert runs.path(runs.latest("v1")).is_file()


def test_closed_runs_are_the_latest_per_date_whose_window_has_ended(runs):
    _record(runs, "jan", "2025-01-01", "v1")
    again = _record(runs, "jan2", "2025-01-01", "v2")  # the same date, scored again
    feb = _record(runs, "feb", "2025-02-01", "v2")
    _record(runs, "feb-amount", "2025-02-15", "v2", column="amount")
    _record(runs, "mar", "2025-03-01", "v2")
    _record(runs, "none", None, "v2")
    horizon = dt.timedelta(days=30)
    # 2025-02-01 + 30 days = 2025-03-03: February's window is closed on that day, not before
    assert [r.id for r in runs.closed_by(dt.date(2025, 3, 2), horizon)] == [again]
    assert [r.id for r in runs.closed_by(dt.date(2025, 3, 3), horizon)] == [again, feb]


def test_the_workspace_names_every_place_and_keeps_latest(tmp_path):
    from propensity.workspace import Workspace

    ws = Workspace.of(tmp_path)
    assert ws.path == tmp_path / ".propensity"
    assert ws.latest() is None  # before the first train
    ws.set_latest("20260101-000000-aaaaaa")
    assert ws.latest() == "20260101-000000-aaaaaa"
    assert ws.latest_file.read_text() == "20260101-000000-aaaaaa\n"
    ws.set_latest("20260102-000000-bbbbbb")  # replaced whole, never appended
    assert ws.latest() == "20260102-000000-bbbbbb"
    assert not list(ws.bundles.glob("*.tmp"))
    assert not list(ws.bundles.glob(".*"))
    places = {ws.frame, ws.frame_info, ws.tmp, ws.score_copy("s"), ws.report("v")}
    places |= {ws.monitoring_result("2026-01-01", "v"), ws.retrain_result("s"), ws.bundle("v")}
    assert all(p.is_relative_to(ws.path) for p in places)
    assert len(places) == 8
