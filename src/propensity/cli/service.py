"""The HTTP service: ``serve`` (its keys are in :mod:`propensity.cli.keys`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propensity.cli.options import ProjectOpt
from propensity.errors import PropensityError

__all__ = ["app", "serve"]

app = typer.Typer()


@app.command()
def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: [serve] host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: [serve] port).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request line (no keys, ever).")
    ] = False,
) -> None:
    """Serve the production model over HTTP (FastAPI on uvicorn) until interrupted."""
    from propensity.project import Project

    try:
        from propensity.serving.app import run
    except ImportError as exc:
        raise _missing_extra("serve", exc) from None
    proj = Project.load(project)
    settings = proj.spec.serve
    run(proj, host=host or settings.host, port=port or settings.port, access_log=access_log)


def _missing_extra(extra: str, exc: ImportError) -> PropensityError:
    return PropensityError(
        f"{exc.name or 'a package'} is not installed; install the {extra} extra: "
        f"pip install 'propensity[{extra}]'"
    )
