"""One exception tree: every message says what was wrong, where, and how to fix it."""

from __future__ import annotations

__all__ = [
    "DataError",
    "MissingExtraError",
    "PropensityError",
    "SourceError",
    "SpecError",
]


class PropensityError(Exception):
    """Root of every error propensity raises on purpose.

    The CLI prints the message as one line and exits with code 2; the service answers 4xx.
    """


class SpecError(PropensityError, ValueError):
    """The project file is invalid: a key, a value or a combination of them."""


class SourceError(PropensityError, OSError):
    """A source cannot be read: missing file, table or column, or an unreadable format."""


class DataError(PropensityError, ValueError):
    """The data can be read but cannot be used as asked (no rows, no label window, ...)."""


class MissingExtraError(PropensityError, ImportError):
    """An optional dependency is needed; the message carries the install line."""
