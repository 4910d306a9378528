"""Running the CLI in this process, with Typer's ``CliRunner``: no interpreter to start."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from propensity.cli import app


def invoke(*args: object) -> Result:
    """Run ``propensity ARGS`` here: the exit code, stdout and stderr a user would see.

    Exceptions nobody foresaw propagate with their traceback instead of becoming exit
    code 1; ``tests/test_cli.py`` runs the real console script.
    """
    runner = CliRunner()
    return runner.invoke(
        app, [str(a) for a in args], env={"COLUMNS": "200"}, catch_exceptions=False
    )
