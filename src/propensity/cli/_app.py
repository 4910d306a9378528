"""The ``propensity`` application: its commands in help order, errors, the entry point."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from propensity import __version__
from propensity.cli import data, keys, modeling, monitoring, registry, render, service
from propensity.errors import PropensityError

__all__ = ["app", "main"]


class _Commands(TyperGroup):
    """The top command group: bad input ends the command with one line and exit code 2.

    Handled here rather than in :func:`main` so that a command run in-process (Typer's
    ``CliRunner``) ends the same way as under the console script.
    """

    # ``Any``: the base class's Context is typer's vendored click, not public API
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PropensityError as exc:
            render.error(exc)
            raise typer.Exit(2) from None


app = typer.Typer(
    name="propensity",
    cls=_Commands,
    help="From raw customer tables to honest churn and conversion decisions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# ``--help`` lists the commands in this order, ``keys`` (a group) last
for verbs in (data, modeling, service, registry, monitoring):
    app.add_typer(verbs.app)
app.add_typer(keys.app, name="keys")


def _version(value: bool) -> None:
    if value:
        render.propensity_version(__version__)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """From raw customer tables to honest churn and conversion decisions."""


def main() -> None:
    """Entry point: bad input gives one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except PropensityError as exc:  # raised outside a command (the group catches the rest)
        render.error(exc)
        sys.exit(2)
    except KeyboardInterrupt:
        render.interrupted()
        sys.exit(130)
    except Exception as exc:  # an engine or library failure we did not foresee
        if os.environ.get("PROPENSITY_DEBUG"):
            raise
        render.unexpected(exc)
        sys.exit(1)
