"""The pages' templates: one Jinja2 environment, autoescaped, with the filters that write figures.

Every value a template prints is escaped unless it is :class:`~markupsafe.Markup`; the only
``Markup`` the pages receive is the SVG of :mod:`propensity.reporting.charts`, wrapped by
:func:`trusted_svg`, whose own text is escaped where it is drawn.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, UndefinedError
from markupsafe import Markup

__all__ = ["render", "trusted_svg"]


def _finite(value: object) -> bool:
    """Whether ``value`` is a number other than NaN and infinity."""
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except TypeError:
        return False


def num(value: float | None, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals and thousands separators; "n/a" when missing."""
    if value is None or not _finite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 0) -> str:
    """``value`` as a percentage; "n/a" when missing."""
    if value is None or not _finite(value):
        return "n/a"
    return f"{value:.{digits}%}"


def whole(value: object) -> str:
    """A count with thousands separators; "n/a" when missing, as it is when not a number."""
    if value is None:
        return "n/a"
    try:
        return f"{int(value):,}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)


def rate(value: float | None, task: str) -> str:
    """An outcome rate: a percentage for yes/no targets, an amount otherwise."""
    if value is None:
        return "n/a"
    return pct(value, 1) if task == "binary" else f"{value:,.2f}"


def fixed(value: object, digits: int = 3) -> str:
    """A float with ``digits`` decimals, anything else as it is; "n/a" when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def fmt(value: Any, spec: str) -> str:
    """``value`` through a format spec, such as ``"+.0%"`` or ``","``."""
    return format(value, spec)


def _strict(write: Callable[..., str]) -> Callable[..., str]:
    """``write`` as a filter that fails on an undefined value, as printing one does."""

    @functools.wraps(write)
    def checked(value: Any, *args: Any) -> str:
        if isinstance(value, Undefined):
            str(value)  # StrictUndefined raises its "'name' is undefined" here
            raise UndefinedError("a page was given an undefined value")
        return write(value, *args)

    return checked


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("propensity.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    filters: dict[str, Callable[..., str]] = {
        "num": num,
        "pct": pct,
        "whole": whole,
        "rate": rate,
        "fixed": fixed,
        "fmt": fmt,
    }
    env.filters.update({name: _strict(write) for name, write in filters.items()})
    env.tests["finite"] = _finite
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` (a file in ``reporting/templates/``) rendered with ``context``."""
    return _environment().get_template(template).render(**context)


def trusted_svg(svg: str) -> Markup:
    """A chart of :mod:`propensity.reporting.charts`, to be placed in a page as it is.

    Only for SVG drawn by those functions: they escape every text they are given.
    """
    return Markup(svg)
