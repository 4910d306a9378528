"""Inline SVG charts for the report: drawn by hand, no script, nothing fetched from anywhere.

Every chart is a string holding one ``<svg>`` element with a ``viewBox`` (it scales with
the page), a ``<title>`` and an ``aria-label``; text takes the page's font. Colours come
from the Okabe-Ito palette, which colour-blind readers can tell apart. The curve helpers
turn outcomes and scores into at most ``MAX_POINTS`` points so that a page stays small.
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from propensity.errors import DataError

__all__ = [
    "MAX_POINTS",
    "bar_chart",
    "calibration_points",
    "gain_points",
    "heat_table",
    "lift_points",
    "line_chart",
    "pr_points",
    "roc_points",
    "sparkline",
]

Point = tuple[float, float]

# Okabe-Ito without black (taken by the text); yellow last, it is faint on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
HIGHLIGHT = "#D55E00"
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
MAX_POINTS = 200
NS = "http://www.w3.org/2000/svg"
# Average glyph width of a sans-serif font, in ems: enough to lay out and truncate labels.
EM = 0.6
HALO = 'paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"'


# -- text and numbers ---------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate with one decimal at most: enough on screen, small on disk."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fmt(template: str, value: float) -> str:
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


def _text_width(text: str, size: float = 12) -> float:
    return len(text) * size * EM


def _text(
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
    tip = f"<title>{_esc(text)}</title>" if shown != text else ""
    size_attr = f' font-size="{_n(size)}"' if size != 12 else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{size_attr}'
        f"{' ' + extra if extra else ''}>{tip}{_esc(shown)}</text>"
    )


def _open(width: int, height: int, title: str, *, heading: bool = True) -> str:
    out = (
        f'<svg xmlns="{NS}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_esc(title)}" font-size="12" '
        'style="font-family:inherit;max-width:100%;height:auto">'
        f"<title>{_esc(title)}</title>"
    )
    if heading:
        out += _text(8, 19, title, room=width - 16, size=14, extra='font-weight="600"')
    return out


def _no_data(width: int, height: int) -> str:
    return _text(width / 2, height / 2, "no data", anchor="middle", fill=MUTED)


# -- axes ----------------------------------------------------------------------------------


def _extent(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    return (min(finite), max(finite)) if finite else (0.0, 1.0)


def _on_grid(k: int, step: float) -> float:
    """``k * step`` rounded to the step's digits: 0.6, not 0.6000000000000001; never -0.0."""
    return round(k * step, max(0, 2 - math.floor(math.log10(step)))) + 0.0


def _axis(
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
    ticks = [_on_grid(k, step) for k in range(first, last + 1)]
    return (ticks[0], ticks[-1], ticks) if nice else (lo, hi, ticks)


def _segments(points: Sequence[tuple[float, float]]) -> list[list[Point]]:
    """Runs of finite points: a NaN leaves a gap in the line rather than a bridge over it."""
    runs: list[list[Point]] = [[]]
    for x, y in points:
        fx, fy = float(x), float(y)
        if math.isfinite(fx) and math.isfinite(fy):
            runs[-1].append((fx, fy))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


# -- charts --------------------------------------------------------------------------------


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_format: str = "{:g}",
    y_format: str = "{:g}",
    width: int = 640,
    height: int = 320,
    diagonal: bool = False,
    markers: Sequence[tuple[float, str]] = (),
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    points: bool = False,
    x_ticks: Sequence[tuple[float, str]] | None = None,
) -> str:
    """Lines on shared axes, one per series, with a legend when there are several.

    Parameters
    ----------
    series
        Name to ``(x, y)`` points, drawn in order; a point with a NaN leaves a gap.
    title, x_label, y_label
        Plain text (escaped here).
    x_format, y_format
        Format strings for the tick labels, such as ``"{:,.0f}"`` or ``"{:.0%}"``.
    width, height
        Size in pixels of the ``viewBox``; the chart scales with the page.
    diagonal
        Draw the dashed line y = x (ROC, gain, calibration).
    markers
        ``(x, label)`` vertical dashed lines, such as a capacity or a chosen threshold;
        those outside the x range are left out.
    x_range, y_range
        Fixed axis limits; by default the data's, widened to round ticks. Lines are
        clipped to them.
    points
        Draw a dot at each point (a lone point always gets one).
    x_ticks
        ``(x, label)`` ticks replacing the numeric ones, such as dates; thinned to fit.

    Returns
    -------
    str
        One ``<svg>`` element.
    """
    runs = {str(name): _segments(pts) for name, pts in series.items()}
    xs = [x for segs in runs.values() for seg in segs for x, _ in seg]
    ys = [y for segs in runs.values() for seg in segs for _, y in seg]
    xs += [float(v) for v, _ in markers if math.isfinite(v)]
    if x_ticks:
        xs += [float(v) for v, _ in x_ticks if math.isfinite(v)]
    x0, x1, x_at = _axis(*(x_range or _extent(xs)), nice=x_range is None and not x_ticks)
    y0, y1, y_at = _axis(*(y_range or _extent(ys)), nice=y_range is None)
    y_texts = [_fmt(y_format, t) for t in y_at]
    if x_ticks:
        x_pairs = [(float(v), str(s)) for v, s in x_ticks if x0 <= v <= x1]
    else:
        x_pairs = [(t, _fmt(x_format, t)) for t in x_at]

    # Legend under the title, wrapped to the width.
    legend: list[tuple[float, int, str, int]] = []
    if len(runs) > 1:
        lx, row = 8.0, 0
        for i, name in enumerate(runs):
            item = min(_text_width(name), 180) + 34
            if lx + item > width - 8 and lx > 8:
                lx, row = 8.0, row + 1
            legend.append((lx, row, name, i))
            lx += item
    top = 34 + (18 * (legend[-1][1] + 1) if legend else 0)
    left = 30 + max((_text_width(t) for t in y_texts), default=0)
    right = max(16.0, _text_width(x_pairs[-1][1]) / 2 + 4) if x_pairs else 16.0
    bottom = 46
    pw, ph = max(width - left - right, 10.0), max(height - top - bottom, 10.0)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    out = [_open(width, height, title)]
    for x, row, name, i in legend:
        y = 30 + 18 * row
        colour, dash = _style(i)
        out.append(
            f'<line x1="{_n(x)}" x2="{_n(x + 20)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{colour}" '
            f'stroke-width="3"{dash}/>' + _text(x + 26, y + 4, name, room=180)
        )
    for t, label in zip(y_at, y_texts, strict=True):
        out.append(
            f'<line x1="{_n(left)}" x2="{_n(left + pw)}" y1="{_n(sy(t))}" y2="{_n(sy(t))}" '
            f'stroke="{GRID}"/>' + _text(left - 6, sy(t) + 4, label, anchor="end", fill=MUTED)
        )
    if x_pairs:
        room = pw / max(len(x_pairs) - 1, 1)
        stride = max(1, math.ceil((max(_text_width(s) for _, s in x_pairs) + 8) / room))
        for x, label in x_pairs[::stride]:
            out.append(
                f'<line x1="{_n(sx(x))}" x2="{_n(sx(x))}" y1="{_n(top + ph)}" '
                f'y2="{_n(top + ph + 4)}" stroke="{MUTED}"/>'
                + _text(sx(x), top + ph + 17, label, anchor="middle", fill=MUTED)
            )
    out.append(
        f'<line x1="{_n(left)}" x2="{_n(left + pw)}" y1="{_n(top + ph)}" y2="{_n(top + ph)}" '
        f'stroke="{MUTED}"/>'
        + _text(left + pw / 2, height - 8, x_label, room=pw, anchor="middle")
        + _text(
            0,
            0,
            y_label,
            room=ph,
            anchor="middle",
            extra=(f'transform="translate(14 {_n(top + ph / 2)}) rotate(-90)"'),
        )
    )
    # A nested <svg> clips to the plot (padded for dots on the edge) without a url(#id).
    pad = 5
    box = f"{_n(left - pad)} {_n(top - pad)} {_n(pw + 2 * pad)} {_n(ph + 2 * pad)}"
    out.append(
        f'<svg x="{_n(left - pad)}" y="{_n(top - pad)}" width="{_n(pw + 2 * pad)}" '
        f'height="{_n(ph + 2 * pad)}" viewBox="{box}">'
    )
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        if hi > lo:
            out.append(
                f'<line x1="{_n(sx(lo))}" y1="{_n(sy(lo))}" x2="{_n(sx(hi))}" y2="{_n(sy(hi))}" '
                f'stroke="{MUTED}" stroke-dasharray="4 4"/>'
            )
    total = sum(len(seg) for segs in runs.values() for seg in segs)
    for i, (name, segs) in enumerate(runs.items()):
        colour, dash = _style(i)
        out.append(f"<g><title>{_esc(name)}</title>")
        path = "".join(
            f"M{_n(sx(seg[0][0]))} {_n(sy(seg[0][1]))}L"
            + " ".join(f"{_n(sx(x))} {_n(sy(y))}" for x, y in seg[1:])
            for seg in segs
            if len(seg) > 1
        )
        if path:
            out.append(
                f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                f'stroke-linejoin="round"{dash}/>'
            )
        dots = [pt for seg in segs if points or len(seg) == 1 for pt in seg]
        if dots and total <= 100:
            out += [
                f'<circle cx="{_n(sx(x))}" cy="{_n(sy(y))}" r="3.5" fill="{colour}">'
                f"<title>{_esc(name)}: {_esc(_fmt(x_format, x))}, {_esc(_fmt(y_format, y))}"
                "</title></circle>"
                for x, y in dots
            ]
        elif dots:  # many dots: one path of zero-length round-capped strokes is far smaller
            d = "".join(f"M{_n(sx(x))} {_n(sy(y))}h0" for x, y in dots)
            out.append(f'<path d="{d}" stroke="{colour}" stroke-width="6" stroke-linecap="round"/>')
        out.append("</g>")
    out.append("</svg>")
    shown = [(float(v), str(s)) for v, s in markers if math.isfinite(v) and x0 <= v <= x1]
    for k, (value, label) in enumerate(shown):
        x = sx(value)
        anchor, dx = ("end", -4) if x > left + pw * 0.7 else ("start", 4)
        out.append(
            f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top)}" y2="{_n(top + ph)}" stroke="{INK}" '
            f'stroke-dasharray="3 3"/>'
            + _text(x + dx, top + 12 + 15 * (k % 3), label, room=pw / 2, anchor=anchor, extra=HALO)
        )
    if not xs or not ys:
        out.append(_no_data(width, height))
    out.append("</svg>")
    return "".join(out)


def _style(i: int) -> tuple[str, str]:
    """Colour and dash of series ``i``: past the palette, lines are dashed as well."""
    dash = ' stroke-dasharray="6 3"' if i >= len(PALETTE) else ""
    return PALETTE[i % len(PALETTE)], dash


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_format: str = "{:g}",
    width: int = 640,
    height: int | None = None,
    horizontal: bool = True,
    highlight: Collection[int] = (),
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """Bars with their values written on them: horizontal by default, labels on the left.

    Parameters
    ----------
    labels, values
        One bar per label; a NaN value shows as "n/a", a negative one extends below zero.
    title
        Plain text (escaped here).
    value_format
        Format string for the values, such as ``"{:.0%}"``.
    width, height
        Size in pixels of the ``viewBox``; by default the height fits the bars.
    horizontal
        Horizontal bars (long labels stay readable); ``False`` draws columns.
    highlight
        Positions of bars drawn in the accent colour.
    reference, reference_label
        A dashed line across the bars at this value (such as the overall rate), labelled.

    Returns
    -------
    str
        One ``<svg>`` element.

    Raises
    ------
    DataError
        When there are not as many values as labels.
    """
    if len(labels) != len(values):
        raise DataError(
            f"bar_chart: {len(labels)} labels but {len(values)} values; pass one value per label"
        )
    names = [str(s) for s in labels]
    vals = [float(v) for v in values]
    texts = [_fmt(value_format, v) if math.isfinite(v) else "n/a" for v in vals]
    ref = float(reference) if reference is not None and math.isfinite(reference) else None
    ref_text = " ".join(s for s in (reference_label, _fmt(value_format, ref or 0.0)) if s)
    lo, hi = _extent([*vals, *([ref] if ref is not None else [])])
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if lo == hi:
        hi = 1.0
    value_w = max((_text_width(t) for t in texts), default=0) + 6
    n = max(len(names), 1)
    if horizontal:
        top, bottom = 30 + (18 if ref is not None else 0), 10
        row = (height - top - bottom) / n if height else 26.0
        height = height or round(top + bottom + row * n)
        label_w = min(max((_text_width(s) for s in names), default=0), width * 0.38)
        left = 8 + label_w + 8 + (value_w if lo < 0 else 0)
        pw = max(width - left - 8 - (value_w if hi > 0 else 0), 10.0)

        def sx(v: float) -> float:
            return left + (v - lo) / (hi - lo) * pw

        zero, bar = sx(0.0), min(row * 0.7, 20.0)
        out = [_open(width, height, title)]
        for i, (name, v, text) in enumerate(zip(names, vals, texts, strict=True)):
            mid = top + row * i + row / 2
            out.append(_text(8 + label_w, mid + 4, name, room=label_w, anchor="end"))
            if not math.isfinite(v):
                out.append(_text(zero + 4, mid + 4, text, fill=MUTED))
                continue
            a, b = sorted((zero, sx(v)))
            colour = HIGHLIGHT if i in highlight else PALETTE[0]
            out.append(
                f'<rect x="{_n(a)}" y="{_n(mid - bar / 2)}" width="{_n(b - a)}" '
                f'height="{_n(bar)}" fill="{colour}"><title>{_esc(name)}: {_esc(text)}</title>'
                "</rect>"
                + _text(
                    b + 4 if v >= 0 else a - 4, mid + 4, text, anchor="start" if v >= 0 else "end"
                )
            )
        out.append(
            f'<line x1="{_n(zero)}" x2="{_n(zero)}" y1="{_n(top)}" y2="{_n(height - bottom)}" '
            f'stroke="{MUTED}"/>'
        )
        if ref is not None:
            x = sx(ref)
            anchor = "end" if x > width * 0.6 else "start"
            out.append(
                f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top - 6)}" y2="{_n(height - bottom)}" '
                f'stroke="{INK}" stroke-dasharray="4 3"/>'
                + _text(x, top - 10, ref_text, anchor=anchor, fill=INK)
            )
    else:
        height = height or 320
        # room for the key and for the values written past the ends of the columns
        top, bottom = 30 + 18 + 16, 24 + (16 if lo < 0 else 0)
        ph = max(height - top - bottom, 10.0)
        col = (width - 16) / n

        def sy(v: float) -> float:
            return top + ph - (v - lo) / (hi - lo) * ph

        zero, bar = sy(0.0), min(col * 0.7, 60.0)
        out = [_open(width, height, title)]
        for i, (name, v, text) in enumerate(zip(names, vals, texts, strict=True)):
            mid = 8 + col * i + col / 2
            out.append(_text(mid, height - 8, name, room=col - 4, anchor="middle"))
            if not math.isfinite(v):
                out.append(_text(mid, zero - 4, text, anchor="middle", fill=MUTED))
                continue
            a, b = sorted((zero, sy(v)))
            colour = HIGHLIGHT if i in highlight else PALETTE[0]
            out.append(
                f'<rect x="{_n(mid - bar / 2)}" y="{_n(a)}" width="{_n(bar)}" '
                f'height="{_n(b - a)}" fill="{colour}"><title>{_esc(name)}: {_esc(text)}</title>'
                "</rect>" + _text(mid, a - 4 if v >= 0 else b + 14, text, room=col, anchor="middle")
            )
        out.append(
            f'<line x1="8" x2="{width - 8}" y1="{_n(zero)}" y2="{_n(zero)}" stroke="{MUTED}"/>'
        )
        if ref is not None:
            y = sy(ref)
            out.append(
                f'<line x1="8" x2="{width - 8}" y1="{_n(y)}" y2="{_n(y)}" stroke="{INK}" '
                f'stroke-dasharray="4 3"/>'
                # the label sits in a key above the columns, where no bar can cover it
                + f'<line x1="{_n(width - 32)}" x2="{width - 8}" y1="38" y2="38" stroke="{INK}" '
                f'stroke-dasharray="4 3"/>'
                + _text(width - 38, 42, ref_text, room=width / 2, anchor="end", fill=INK)
            )
    if not names:
        out.append(_no_data(width, height))
    out.append("</svg>")
    return "".join(out)


def _rgb(share: float) -> tuple[int, int, int]:
    """White to the palette's blue as ``share`` goes from 0 to 1."""
    (r0, g0, b0), (r1, g1, b1) = (247, 250, 252), (0, 114, 178)
    return (
        round(r0 + (r1 - r0) * share),
        round(g0 + (g1 - g0) * share),
        round(b0 + (b1 - b0) * share),
    )


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def heat_table(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    title: str,
    value_format: str = "{:.0f}",
) -> str:
    """A small shaded grid, such as a confusion matrix: the larger the value, the darker.

    Parameters
    ----------
    rows, cols
        Row and column headers.
    values
        One sequence per row, one value per column; a NaN shows as "n/a".
    title
        Plain text (escaped here).
    value_format
        Format string for the values, such as ``"{:,.0f}"``.

    Returns
    -------
    str
        One ``<svg>`` element.

    Raises
    ------
    DataError
        When the values are not one per row and column.
    """
    grid = [[float(v) for v in r] for r in values]
    if len(grid) != len(rows) or any(len(r) != len(cols) for r in grid):
        shape = " x ".join(str(len(r)) for r in grid) or "none"
        raise DataError(
            f"heat_table: {len(rows)} rows x {len(cols)} columns but values of lengths {shape}; "
            "pass one value per row and column"
        )
    texts = [[_fmt(value_format, v) if math.isfinite(v) else "n/a" for v in r] for r in grid]
    lo, hi = _extent([v for r in grid for v in r])
    lo = min(lo, 0.0)
    row_w = min(max((_text_width(str(s)) for s in rows), default=0) + 12, 220)
    widest = max(
        [_text_width(str(s)) for s in cols] + [_text_width(t, 15) for r in texts for t in r],
        default=0.0,
    )
    cell_w, cell_h = min(max(widest + 20, 90), 200), 44
    width = round(8 + row_w + cell_w * max(len(cols), 1) + 8)
    width = max(width, min(round(_text_width(title, 14) + 16), 640))
    height = round(30 + 22 + cell_h * max(len(rows), 1) + 8)
    top, left = 52, 8 + row_w
    ink_l = _luminance((0x1F, 0x29, 0x33))
    out = [_open(width, height, title)]
    for j, name in enumerate(cols):
        out.append(
            _text(left + cell_w * (j + 0.5), top - 8, str(name), room=cell_w - 4, anchor="middle")
        )
    for i, name in enumerate(rows):
        y = top + cell_h * i
        out.append(_text(left - 10, y + cell_h / 2 + 4, str(name), room=row_w - 10, anchor="end"))
        for j, v in enumerate(grid[i]):
            # square root: a confusion matrix's small cells would otherwise all look white
            share = math.sqrt((v - lo) / (hi - lo)) if math.isfinite(v) and hi > lo else 0.0
            rgb = _rgb(share)
            lum = _luminance(rgb)
            # whichever of white and ink stands out more against the cell
            fill = "#ffffff" if 1.05 / (lum + 0.05) > (lum + 0.05) / (ink_l + 0.05) else INK
            out.append(
                f'<rect x="{_n(left + cell_w * j)}" y="{_n(y)}" width="{_n(cell_w - 2)}" '
                f'height="{cell_h - 2}" fill="rgb{rgb}"><title>{_esc(name)}, {_esc(cols[j])}: '
                f"{_esc(texts[i][j])}</title></rect>"
                + _text(
                    left + cell_w * (j + 0.5) - 1,
                    y + cell_h / 2 + 4,
                    texts[i][j],
                    size=15,
                    anchor="middle",
                    fill=fill,
                )
            )
    if not grid or not cols:
        out.append(_no_data(width, height))
    out.append("</svg>")
    return "".join(out)


def sparkline(
    values: Sequence[float], *, width: int = 120, height: int = 24, title: str = "trend"
) -> str:
    """A tiny line with no axes, for a table cell; the last value gets a dot.

    Parameters
    ----------
    values
        Evenly spaced values; a NaN leaves a gap.
    width, height
        Size in pixels of the ``viewBox``.
    title
        Accessible name and tooltip.

    Returns
    -------
    str
        One ``<svg>`` element.
    """
    seq = [float(v) for v in values]
    lo, hi, _ = _axis(*_extent(seq), nice=False)
    step = (width - 6) / max(len(seq) - 1, 1)

    def xy(i: int, v: float) -> str:
        x = 3 + i * step if len(seq) > 1 else width / 2
        return f"{_n(x)} {_n(height - 3 - (v - lo) / (hi - lo) * (height - 6))}"

    runs = _segments([(float(i), v) for i, v in enumerate(seq)])
    path = "".join(
        f"M{xy(int(r[0][0]), r[0][1])}L" + " ".join(xy(int(i), v) for i, v in r[1:])
        for r in runs
        if len(r) > 1
    )
    out = [_open(width, height, title, heading=False)]
    if path:
        out.append(f'<path d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/>')
    if runs:
        i, v = runs[-1][-1]
        x, y = xy(int(i), v).split()
        out.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{PALETTE[0]}"/>')
    out.append("</svg>")
    return "".join(out)


# -- curves --------------------------------------------------------------------------------


def _scored(y: npt.ArrayLike, p: npt.ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores as floats, rows with a NaN in either left out."""
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(p, dtype=float).ravel()
    if y_arr.shape != p_arr.shape:
        raise DataError(
            f"{where}: {y_arr.size} labels but {p_arr.size} scores; pass one score per label"
        )
    keep = np.isfinite(y_arr) & np.isfinite(p_arr)
    y_arr, p_arr = y_arr[keep], p_arr[keep]
    odd = np.unique(y_arr[(y_arr != 0) & (y_arr != 1)])
    if odd.size:
        shown = ", ".join(f"{v:g}" for v in odd[:5])
        raise DataError(f"{where}: labels must be 0 or 1, got {shown}")
    return y_arr, p_arr


def _steps(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and rows taken at each distinct score, highest first (ties go together)."""
    order = np.argsort(-p, kind="mergesort")
    ps = p[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    return np.cumsum(y[order])[last], last + 1.0


def _thin(xs: np.ndarray, ys: np.ndarray, most: int = MAX_POINTS) -> list[Point]:
    """The curve in at most ``most`` points; the first and last are always kept.

    Points on a straight line between their neighbours go first (a perfect ROC curve is
    three points); then points evenly spaced along the curve's length are kept.
    """
    if len(xs) > 2:
        dx, dy = np.diff(xs), np.diff(ys)
        cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
        back = dx[:-1] * dx[1:] + dy[:-1] * dy[1:] < 0  # a turn back is a corner too
        scale = max(float(np.ptp(xs)) * float(np.ptp(ys)), 1.0)
        keep = np.r_[True, (np.abs(cross) > 1e-12 * scale) | back, True]
        xs, ys = xs[keep], ys[keep]
    if len(xs) > most:
        span_x, span_y = float(np.ptp(xs)) or 1.0, float(np.ptp(ys)) or 1.0
        length = np.r_[0.0, np.cumsum(np.hypot(np.diff(xs) / span_x, np.diff(ys) / span_y))]
        at = np.searchsorted(length, np.linspace(0.0, length[-1], most)[:-1])
        idx = np.unique(np.r_[at, len(xs) - 1])
        xs, ys = xs[idx], ys[idx]
    return [(float(a), float(b)) for a, b in zip(xs, ys, strict=True)]


def _roc_curve(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Every corner of the ROC curve, unthinned; empty when a class is missing."""
    y_arr, p_arr = _scored(y, p, "roc_points")
    pos = float(y_arr.sum())
    neg = len(y_arr) - pos
    if pos == 0 or neg == 0:
        return np.empty(0), np.empty(0)
    tp, n = _steps(y_arr, p_arr)
    return np.r_[0.0, (n - tp) / neg], np.r_[0.0, tp / pos]


def roc_points(y: npt.ArrayLike, p: npt.ArrayLike) -> list[Point]:
    """The ROC curve: (false positive rate, true positive rate) from (0, 0) to (1, 1).

    Tied scores make one diagonal step, so the area under the points is the ROC-AUC with
    ties counted one half. Empty when only one class is present.

    Examples
    --------
    >>> roc_points([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    """
    return _thin(*_roc_curve(y, p))


def pr_points(y: npt.ArrayLike, p: npt.ArrayLike) -> list[Point]:
    """Precision against recall at each distinct score, highest first: (recall, precision).

    Empty when there is no positive.
    """
    y_arr, p_arr = _scored(y, p, "pr_points")
    pos = float(y_arr.sum())
    if pos == 0:
        return []
    tp, n = _steps(y_arr, p_arr)
    return _thin(tp / pos, tp / n)


def calibration_points(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> list[Point]:
    """(mean predicted, observed rate) in each of ``bins`` equal-count bins of the scores.

    Tied scores stay in one bin, so a bin can be left without rows: it is left out.
    Empty when there are no rows.
    """
    if bins < 1:
        raise DataError(f"calibration_points: bins must be at least 1, got {bins}")
    y_arr, p_arr = _scored(y, p, "calibration_points")
    if not len(y_arr):
        return []
    order = np.argsort(p_arr, kind="mergesort")
    p_arr, y_arr = p_arr[order], y_arr[order]
    by_rank = np.arange(len(p_arr)) * bins // len(p_arr)
    # A tie goes whole into the bin of its last row, so one score never lands in two bins.
    changes = np.diff(p_arr) != 0
    last = np.r_[np.flatnonzero(changes), len(p_arr) - 1]
    which = by_rank[last][np.r_[0, np.cumsum(changes)]]
    rows = np.bincount(which, minlength=bins)
    mean_p = np.bincount(which, weights=p_arr, minlength=bins)
    hits = np.bincount(which, weights=y_arr, minlength=bins)
    keep = rows > 0
    return [
        (float(a), float(b))
        for a, b in zip(mean_p[keep] / rows[keep], hits[keep] / rows[keep], strict=True)
    ]


def _gain_curve(y: npt.ArrayLike, p: npt.ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    y_arr, p_arr = _scored(y, p, where)
    pos = float(y_arr.sum())
    if pos == 0:
        return np.empty(0), np.empty(0)
    tp, n = _steps(y_arr, p_arr)
    return np.r_[0.0, n / len(y_arr)], np.r_[0.0, tp / pos]


def gain_points(y: npt.ArrayLike, p: npt.ArrayLike) -> list[Point]:
    """Cumulative gain: (share contacted, share of positives found), likeliest first.

    Tied scores are contacted together (a straight step). Empty when there is no positive.
    """
    return _thin(*_gain_curve(y, p, "gain_points"))


def lift_points(y: npt.ArrayLike, p: npt.ArrayLike, steps: int = 20) -> list[Point]:
    """(share contacted, lift over random) at ``steps`` equal shares, likeliest first.

    A lift of 2 finds twice the positives that random contacts would; within tied scores
    the positives are taken to be spread evenly. Empty when there is no positive.
    """
    if steps < 1:
        raise DataError(f"lift_points: steps must be at least 1, got {steps}")
    share, found = _gain_curve(y, p, "lift_points")
    if not len(share):
        return []
    at = np.arange(1, steps + 1) / steps
    lift = np.interp(at, share, found) / at
    return [(float(a), float(b)) for a, b in zip(at, lift, strict=True)]
