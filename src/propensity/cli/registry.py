"""The registry of bundles: ``models``, ``promote`` and ``rollback``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propensity.cli import render
from propensity.cli.options import JsonOpt, ProjectOpt

__all__ = ["app", "models", "promote", "rollback"]

app = typer.Typer()


@app.command()
def models(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """The registry: every bundle, its aliases, and the history of alias moves."""
    from propensity.project import Project

    found = Project.load(project).models()
    if as_json:
        render.emit_json(found)
    else:
        render.registry_tables(found)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The bundle version to serve.")],
    reason: Annotated[str, typer.Option(help="Why; kept in the history.")],
    project: ProjectOpt = Path("."),
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
) -> None:
    """Point production (or another alias) at a version, verified first; services follow."""
    from propensity.project import Project

    previous = Project.load(project).promote(version, reason=reason, alias=alias)
    render.alias_moved(alias, previous, version)


@app.command()
def rollback(
    project: ProjectOpt = Path("."),
    reason: Annotated[str, typer.Option(help="Why; kept in the history.")] = "rollback",
) -> None:
    """Put back the production model that served before the current one."""
    from propensity.project import Project

    render.rolled_back(Project.load(project).rollback(reason=reason))
