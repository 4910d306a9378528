"""The service's API keys: ``keys create``, ``keys list`` and ``keys revoke``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propensity.cli import render
from propensity.cli.options import JsonOpt, ProjectOpt

__all__ = ["app", "keys_create", "keys_list", "keys_revoke"]

app = typer.Typer(help="API keys of the service: create, list, revoke.", no_args_is_help=True)


@app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="scorer, analyst or admin.")],
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. crm-sync.")],
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from propensity.project import Project

    secret = Project.load(project).create_key(name, role)
    if as_json:
        render.emit_json({"name": name, "role": role, "key": secret})
    else:
        render.key_created(name, role, secret)


@app.command("list")
def keys_list(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Every key's name, role and dates (never the keys themselves)."""
    from propensity.project import Project

    found = Project.load(project).keys()
    if as_json:
        render.emit_json(found)
    else:
        render.keys_table(found)


@app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Revoke a key; a running service refuses it within 5 seconds."""
    from propensity.project import Project

    Project.load(project).revoke_key(name)
    render.key_revoked(name)
