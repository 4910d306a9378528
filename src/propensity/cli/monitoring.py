"""Monitoring: ``monitor`` (drift and realized performance) and ``retrain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propensity.cli import render
from propensity.cli.options import BundleOpt, JsonOpt, ProjectOpt, parse_date
from propensity.errors import DataError

__all__ = ["app", "monitor", "retrain"]

app = typer.Typer()

_LEVELS = ("ok", "warn", "alert")


@app.command()
def monitor(
    project: ProjectOpt = Path("."),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date to look at (ISO); default: the end of the data."),
    ] = None,
    bundle: BundleOpt = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 at this verdict or worse: warn, alert or never.")
    ] = "alert",
    as_json: JsonOpt = False,
) -> None:
    """Drift against the model's reference and realized performance of past score runs."""
    from propensity.project import Project

    if fail_on not in ("warn", "alert", "never"):
        raise DataError(f"--fail-on: {fail_on!r} is not warn, alert or never")
    day = parse_date("--as-of", as_of)
    result = Project.load(project).monitor(day, bundle)
    if as_json:
        render.emit_json(result)
    else:
        render.monitor_summary(result)
    if fail_on != "never" and _LEVELS.index(result["verdict"]) >= _LEVELS.index(fail_on):
        raise typer.Exit(1)


@app.command()
def retrain(
    project: ProjectOpt = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Retrain whatever the triggers say.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train a challenger when a [retrain] trigger fires; promote it only if it is better."""
    from propensity.project import Project

    result = Project.load(project).retrain(force=force)
    if as_json:
        render.emit_json(result)
    else:
        render.retrain_summary(result)
