"""One exception tree: every message says what was wrong, where, and how to fix it."""

from __future__ import annotations

__all__ = [
    "ApiKeyError",
    "BundleError",
    "DataError",
    "MissingExtraError",
    "NotServable",
    "PropensityError",
    "RegistryError",
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


class RegistryError(PropensityError, ValueError):
    """An unknown version or alias, or a bundle that fails its checks."""


class BundleError(PropensityError, ValueError):
    """A bundle is missing, incomplete, altered or of an unknown format."""


class NotServable(PropensityError, ValueError):
    """A bundle that loads but cannot answer single records (trained before serving)."""


class ApiKeyError(PropensityError, ValueError):
    """A key name or role is not acceptable, or the key is unknown."""
