"""The drawing primitives of the charts: escaped SVG text, coordinates, number formats, axes.

Every text that reaches a chart, a title, a label or a tick, goes through :func:`svg_text`
or :func:`esc` here, so data never lands in the SVG unescaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = [
    "EM",
    "INK",
    "MUTED",
    "NS",
    "axis",
    "esc",
    "extent",
    "fmt_value",
    "no_data",
    "on_grid",
    "px",
    "segments",
    "svg_open",
    "svg_text",
    "text_width",
]

Point = tuple[float, float]

INK, MUTED = "#1f2933", "#616e7c"
NS = "http://www.w3.org/2000/svg"
# Average glyph width of a sans-serif font, in ems: enough to lay out and truncate labels.
EM = 0.6


# -- text and numbers ---------------------------------------------------------------------


def esc(text: object) -> str:
    """``text`` escaped for SVG text and attribute values (quotes too)."""
    return html.escape(str(text), quote=True)


def px(value: float) -> str:
    """A coordinate with one decimal at most: enough on screen, small on disk."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def fmt_value(template: str, value: float) -> str:
    """``value`` through a format string such as ``"{:.0%}"``; never ``-0``, never raises."""
    try:
        text = template.format(value)
    except (ValueError, TypeError, IndexError, KeyError):
        try:
            text = template.format(int(value)) if float(value).is_integer() else ""
        except (ValueError, TypeError, IndexError, KeyError, OverflowError):
            text = ""
        text = text or f"{value:,.4g}"
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]
    return text


def text_width(text: str, size: float = 12) -> float:
    """About how wide ``text`` is in pixels at ``size``."""
    return len(text) * size * EM


def svg_text(
    x: float,
    y: float,
    text: str,
    *,
    room: float = math.inf,
    size: float = 12,
    anchor: str = "start",
    fill: str = INK,
    extra: str = "",
) -> str:
    """A ``<text>`` cut to ``room`` pixels with an ellipsis; the full text in a ``<title>``."""
    most = max(int(room / (size * EM)), 2) if math.isfinite(room) else len(text)
    shown = text if len(text) <= most else text[: most - 1].rstrip() + "…"
    tip = f"<title>{esc(text)}</title>" if shown != text else ""
    size_attr = f' font-size="{px(size)}"' if size != 12 else ""
    return (
        f'<text x="{px(x)}" y="{px(y)}" text-anchor="{anchor}" fill="{fill}"{size_attr}'
        f"{' ' + extra if extra else ''}>{tip}{esc(shown)}</text>"
    )


def svg_open(width: int, height: int, title: str, *, heading: bool = True) -> str:
    """The opening ``<svg>`` tag with its title, aria-label and (with ``heading``) a heading."""
    out = (
        f'<svg xmlns="{NS}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(title)}" font-size="12" '
        'style="font-family:inherit;max-width:100%;height:auto">'
        f"<title>{esc(title)}</title>"
    )
    if heading:
        out += svg_text(8, 19, title, room=width - 16, size=14, extra='font-weight="600"')
    return out


def no_data(width: int, height: int) -> str:
    """The words "no data" in the middle of an empty chart."""
    return svg_text(width / 2, height / 2, "no data", anchor="middle", fill=MUTED)


# -- axes ----------------------------------------------------------------------------------


def extent(values: Sequence[float]) -> tuple[float, float]:
    """The smallest and largest finite value; 0 to 1 when there is none."""
    finite = [v for v in values if math.isfinite(v)]
    return (min(finite), max(finite)) if finite else (0.0, 1.0)


def on_grid(k: int, step: float) -> float:
    """``k * step`` rounded to the step's digits: 0.6, not 0.6000000000000001; never -0.0."""
    return round(k * step, max(0, 2 - math.floor(math.log10(step)))) + 0.0


def axis(
    lo: float, hi: float, *, nice: bool = True, most: int = 6
) -> tuple[float, float, list[float]]:
    """Limits and ticks in steps of 1, 2 or 5 times a power of ten, at most ``most`` ticks.

    With ``nice`` the limits widen to the ticks around them; a zero span widens by 10%.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi)):  # constant, or nearly: no ticks to tell apart
        spread = abs(lo) * 0.1 or 1.0
        lo, hi = lo - spread, hi + spread
    if not math.isfinite(hi - lo):
        return lo, hi, [lo, hi]
    count = most
    while True:
        raw = (hi - lo) / max(count - 1, 1)
        power = 10.0 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
        a, b = lo, hi
        if nice:
            a = math.floor(lo / step + 1e-9) * step
            b = math.ceil(hi / step - 1e-9) * step
        first, last = math.ceil(a / step - 1e-9), math.floor(b / step + 1e-9)
        if last - first + 1 <= most or count <= 2:
            break
        count -= 1
    ticks = [on_grid(k, step) for k in range(first, last + 1)]
    return (ticks[0], ticks[-1], ticks) if nice else (lo, hi, ticks)


def segments(points: Sequence[tuple[float, float]]) -> list[list[Point]]:
    """Runs of finite points: a NaN leaves a gap in the line rather than a bridge over it."""
    runs: list[list[Point]] = [[]]
    for x, y in points:
        fx, fy = float(x), float(y)
        if math.isfinite(fx) and math.isfinite(fy):
            runs[-1].append((fx, fy))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]
