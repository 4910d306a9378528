"""propensity: from raw customer tables to honest churn and conversion decisions."""

from __future__ import annotations

import typing as _typing

__version__ = "0.1.0"

__all__ = [
    "BuildResult",
    "DataError",
    "Duration",
    "MissingExtraError",
    "Project",
    "PropensityError",
    "SourceError",
    "Spec",
    "SpecError",
    "__version__",
]

from propensity.errors import (
    DataError,
    MissingExtraError,
    PropensityError,
    SourceError,
    SpecError,
)

if _typing.TYPE_CHECKING:
    from propensity.project import BuildResult, Project
    from propensity.spec import Duration, Spec

_LAZY = {
    "BuildResult": "propensity.project",
    "Project": "propensity.project",
    "Duration": "propensity.spec",
    "Spec": "propensity.spec",
}


def __getattr__(name: str) -> _typing.Any:
    # Importing the package stays fast: Ibis, DuckDB and pydantic load on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'propensity' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
