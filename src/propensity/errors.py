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

    Parameters
    ----------
    message
        What was wrong, where, and the fix. When the value came from a parameter of the
        call (not from the project file), the message starts with the parameter's name,
        ``as_of: ...``, and ``option`` names it: the CLI then says ``--as-of: ...``, the
        service names the field. Other parameters a fix mentions are written in
        backticks (``pass `force` to overwrite it``) and listed in ``mentions``. Core
        messages never name a CLI flag themselves.
    option
        The parameter the message starts with, if any.
    mentions
        Parameters the message names in backticks.

    Examples
    --------
    >>> e = PropensityError("as_of: 2030-01-01 is after the data", option="as_of")
    >>> e.for_cli()
    '--as-of: 2030-01-01 is after the data'
    >>> PropensityError("exists; pass `force`", mentions=("force",)).for_cli()
    'exists; pass --force'
    """

    def __init__(
        self, message: str = "", *, option: str | None = None, mentions: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.option = option
        self.mentions = mentions

    def for_cli(self) -> str:
        """The message as the CLI prints it: parameters named as their flags."""
        text = str(self)
        if self.option and text.startswith(f"{self.option}:"):
            text = _flag(self.option) + text[len(self.option) :]
        for name in self.mentions:
            text = text.replace(f"`{name}`", _flag(name))
        return text


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
