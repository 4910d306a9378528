"""The options several commands share, and the parsing of values Typer leaves as text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from propensity.errors import DataError

__all__ = ["BundleOpt", "JsonOpt", "ProjectOpt", "parse_date"]

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="The project folder (holds propensity.toml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")]
BundleOpt = Annotated[
    str | None, typer.Option(help="A bundle version (default: production, else the latest).")
]


def parse_date(option: str, text: str | None) -> dt.date | None:
    """An ISO date given to an option, or a clear error naming it.

    Parameters
    ----------
    option
        The option's name, e.g. ``--as-of``, for the message.
    text
        What the user wrote; None when the option was left out.

    Examples
    --------
    >>> parse_date("--as-of", "2025-10-01")
    datetime.date(2025, 10, 1)
    >>> parse_date("--as-of", "October")
    Traceback (most recent call last):
    ...
    propensity.errors.DataError: --as-of: 'October' is not a date; write e.g. 2025-10-01
    """
    try:
        return None if text is None else dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{option}: {text!r} is not a date; write e.g. 2025-10-01") from None
