"""Inline SVG charts for the pages: drawn by hand, no script, nothing fetched from anywhere.

Every chart is a string holding one ``<svg>`` element with a ``viewBox`` (it scales with
the page), a ``<title>`` and an ``aria-label``; text takes the page's font and is escaped
(:mod:`propensity.reporting._svg`). Colours come from the Okabe-Ito palette, which
colour-blind readers can tell apart. The charts draw points computed elsewhere, such as
the curves of :mod:`propensity.modeling.curves`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from propensity.errors import DataError
from propensity.reporting._svg import (
    INK,
    MUTED,
    axis,
    esc,
    extent,
    fmt_value,
    no_data,
    px,
    segments,
    svg_open,
    svg_text,
    text_width,
)

__all__ = ["bar_chart", "heat_table", "line_chart", "sparkline"]

# Okabe-Ito without black (taken by the text); yellow last, it is faint on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
HIGHLIGHT = "#D55E00"
GRID = "#e4e7eb"
HALO = 'paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"'


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
    runs = {str(name): segments(pts) for name, pts in series.items()}
    xs = [x for segs in runs.values() for seg in segs for x, _ in seg]
    ys = [y for segs in runs.values() for seg in segs for _, y in seg]
    xs += [float(v) for v, _ in markers if math.isfinite(v)]
    if x_ticks:
        xs += [float(v) for v, _ in x_ticks if math.isfinite(v)]
    x0, x1, x_at = axis(*(x_range or extent(xs)), nice=x_range is None and not x_ticks)
    y0, y1, y_at = axis(*(y_range or extent(ys)), nice=y_range is None)
    y_texts = [fmt_value(y_format, t) for t in y_at]
    if x_ticks:
        x_pairs = [(float(v), str(s)) for v, s in x_ticks if x0 <= v <= x1]
    else:
        x_pairs = [(t, fmt_value(x_format, t)) for t in x_at]

    # Legend under the title, wrapped to the width.
    legend: list[tuple[float, int, str, int]] = []
    if len(runs) > 1:
        lx, row = 8.0, 0
        for i, name in enumerate(runs):
            item = min(text_width(name), 180) + 34
            if lx + item > width - 8 and lx > 8:
                lx, row = 8.0, row + 1
            legend.append((lx, row, name, i))
            lx += item
    top = 34 + (18 * (legend[-1][1] + 1) if legend else 0)
    left = 30 + max((text_width(t) for t in y_texts), default=0)
    right = max(16.0, text_width(x_pairs[-1][1]) / 2 + 4) if x_pairs else 16.0
    bottom = 46
    pw, ph = max(width - left - right, 10.0), max(height - top - bottom, 10.0)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    out = [svg_open(width, height, title)]
    for x, row, name, i in legend:
        y = 30 + 18 * row
        colour, dash = _style(i)
        out.append(
            f'<line x1="{px(x)}" x2="{px(x + 20)}" y1="{px(y)}" y2="{px(y)}" stroke="{colour}" '
            f'stroke-width="3"{dash}/>' + svg_text(x + 26, y + 4, name, room=180)
        )
    for t, label in zip(y_at, y_texts, strict=True):
        out.append(
            f'<line x1="{px(left)}" x2="{px(left + pw)}" y1="{px(sy(t))}" y2="{px(sy(t))}" '
            f'stroke="{GRID}"/>' + svg_text(left - 6, sy(t) + 4, label, anchor="end", fill=MUTED)
        )
    if x_pairs:
        room = pw / max(len(x_pairs) - 1, 1)
        stride = max(1, math.ceil((max(text_width(s) for _, s in x_pairs) + 8) / room))
        for x, label in x_pairs[::stride]:
            out.append(
                f'<line x1="{px(sx(x))}" x2="{px(sx(x))}" y1="{px(top + ph)}" '
                f'y2="{px(top + ph + 4)}" stroke="{MUTED}"/>'
                + svg_text(sx(x), top + ph + 17, label, anchor="middle", fill=MUTED)
            )
    out.append(
        f'<line x1="{px(left)}" x2="{px(left + pw)}" y1="{px(top + ph)}" y2="{px(top + ph)}" '
        f'stroke="{MUTED}"/>'
        + svg_text(left + pw / 2, height - 8, x_label, room=pw, anchor="middle")
        + svg_text(
            0,
            0,
            y_label,
            room=ph,
            anchor="middle",
            extra=(f'transform="translate(14 {px(top + ph / 2)}) rotate(-90)"'),
        )
    )
    # A nested <svg> clips to the plot (padded for dots on the edge) without a url(#id).
    pad = 5
    box = f"{px(left - pad)} {px(top - pad)} {px(pw + 2 * pad)} {px(ph + 2 * pad)}"
    out.append(
        f'<svg x="{px(left - pad)}" y="{px(top - pad)}" width="{px(pw + 2 * pad)}" '
        f'height="{px(ph + 2 * pad)}" viewBox="{box}">'
    )
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        if hi > lo:
            out.append(
                f'<line x1="{px(sx(lo))}" y1="{px(sy(lo))}" x2="{px(sx(hi))}" y2="{px(sy(hi))}" '
                f'stroke="{MUTED}" stroke-dasharray="4 4"/>'
            )
    total = sum(len(seg) for segs in runs.values() for seg in segs)
    for i, (name, segs) in enumerate(runs.items()):
        colour, dash = _style(i)
        out.append(f"<g><title>{esc(name)}</title>")
        path = "".join(
            f"M{px(sx(seg[0][0]))} {px(sy(seg[0][1]))}L"
            + " ".join(f"{px(sx(x))} {px(sy(y))}" for x, y in seg[1:])
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
                f'<circle cx="{px(sx(x))}" cy="{px(sy(y))}" r="3.5" fill="{colour}">'
                f"<title>{esc(name)}: {esc(fmt_value(x_format, x))}, {esc(fmt_value(y_format, y))}"
                "</title></circle>"
                for x, y in dots
            ]
        elif dots:  # many dots: one path of zero-length round-capped strokes is far smaller
            d = "".join(f"M{px(sx(x))} {px(sy(y))}h0" for x, y in dots)
            out.append(f'<path d="{d}" stroke="{colour}" stroke-width="6" stroke-linecap="round"/>')
        out.append("</g>")
    out.append("</svg>")
    shown = [(float(v), str(s)) for v, s in markers if math.isfinite(v) and x0 <= v <= x1]
    for k, (value, label) in enumerate(shown):
        x = sx(value)
        anchor, dx = ("end", -4) if x > left + pw * 0.7 else ("start", 4)
        out.append(
            f'<line x1="{px(x)}" x2="{px(x)}" y1="{px(top)}" y2="{px(top + ph)}" stroke="{INK}" '
            f'stroke-dasharray="3 3"/>'
            + svg_text(
                x + dx, top + 12 + 15 * (k % 3), label, room=pw / 2, anchor=anchor, extra=HALO
            )
        )
    if not xs or not ys:
        out.append(no_data(width, height))
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
    texts = [fmt_value(value_format, v) if math.isfinite(v) else "n/a" for v in vals]
    ref = float(reference) if reference is not None and math.isfinite(reference) else None
    ref_text = " ".join(s for s in (reference_label, fmt_value(value_format, ref or 0.0)) if s)
    lo, hi = extent([*vals, *([ref] if ref is not None else [])])
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if lo == hi:
        hi = 1.0
    value_w = max((text_width(t) for t in texts), default=0) + 6
    n = max(len(names), 1)
    if horizontal:
        top, bottom = 30 + (18 if ref is not None else 0), 10
        row = (height - top - bottom) / n if height else 26.0
        height = height or round(top + bottom + row * n)
        label_w = min(max((text_width(s) for s in names), default=0), width * 0.38)
        left = 8 + label_w + 8 + (value_w if lo < 0 else 0)
        pw = max(width - left - 8 - (value_w if hi > 0 else 0), 10.0)

        def sx(v: float) -> float:
            return left + (v - lo) / (hi - lo) * pw

        zero, bar = sx(0.0), min(row * 0.7, 20.0)
        out = [svg_open(width, height, title)]
        for i, (name, v, text) in enumerate(zip(names, vals, texts, strict=True)):
            mid = top + row * i + row / 2
            out.append(svg_text(8 + label_w, mid + 4, name, room=label_w, anchor="end"))
            if not math.isfinite(v):
                out.append(svg_text(zero + 4, mid + 4, text, fill=MUTED))
                continue
            a, b = sorted((zero, sx(v)))
            colour = HIGHLIGHT if i in highlight else PALETTE[0]
            out.append(
                f'<rect x="{px(a)}" y="{px(mid - bar / 2)}" width="{px(b - a)}" '
                f'height="{px(bar)}" fill="{colour}"><title>{esc(name)}: {esc(text)}</title>'
                "</rect>"
                + svg_text(
                    b + 4 if v >= 0 else a - 4, mid + 4, text, anchor="start" if v >= 0 else "end"
                )
            )
        out.append(
            f'<line x1="{px(zero)}" x2="{px(zero)}" y1="{px(top)}" y2="{px(height - bottom)}" '
            f'stroke="{MUTED}"/>'
        )
        if ref is not None:
            x = sx(ref)
            anchor = "end" if x > width * 0.6 else "start"
            out.append(
                f'<line x1="{px(x)}" x2="{px(x)}" y1="{px(top - 6)}" y2="{px(height - bottom)}" '
                f'stroke="{INK}" stroke-dasharray="4 3"/>'
                + svg_text(x, top - 10, ref_text, anchor=anchor, fill=INK)
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
        out = [svg_open(width, height, title)]
        for i, (name, v, text) in enumerate(zip(names, vals, texts, strict=True)):
            mid = 8 + col * i + col / 2
            out.append(svg_text(mid, height - 8, name, room=col - 4, anchor="middle"))
            if not math.isfinite(v):
                out.append(svg_text(mid, zero - 4, text, anchor="middle", fill=MUTED))
                continue
            a, b = sorted((zero, sy(v)))
            colour = HIGHLIGHT if i in highlight else PALETTE[0]
            out.append(
                f'<rect x="{px(mid - bar / 2)}" y="{px(a)}" width="{px(bar)}" '
                f'height="{px(b - a)}" fill="{colour}"><title>{esc(name)}: {esc(text)}</title>'
                "</rect>"
                + svg_text(mid, a - 4 if v >= 0 else b + 14, text, room=col, anchor="middle")
            )
        out.append(
            f'<line x1="8" x2="{width - 8}" y1="{px(zero)}" y2="{px(zero)}" stroke="{MUTED}"/>'
        )
        if ref is not None:
            y = sy(ref)
            out.append(
                f'<line x1="8" x2="{width - 8}" y1="{px(y)}" y2="{px(y)}" stroke="{INK}" '
                f'stroke-dasharray="4 3"/>'
                # the label sits in a key above the columns, where no bar can cover it
                + f'<line x1="{px(width - 32)}" x2="{width - 8}" y1="38" y2="38" stroke="{INK}" '
                f'stroke-dasharray="4 3"/>'
                + svg_text(width - 38, 42, ref_text, room=width / 2, anchor="end", fill=INK)
            )
    if not names:
        out.append(no_data(width, height))
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
    texts = [[fmt_value(value_format, v) if math.isfinite(v) else "n/a" for v in r] for r in grid]
    lo, hi = extent([v for r in grid for v in r])
    lo = min(lo, 0.0)
    row_w = min(max((text_width(str(s)) for s in rows), default=0) + 12, 220)
    widest = max(
        [text_width(str(s)) for s in cols] + [text_width(t, 15) for r in texts for t in r],
        default=0.0,
    )
    cell_w, cell_h = min(max(widest + 20, 90), 200), 44
    width = round(8 + row_w + cell_w * max(len(cols), 1) + 8)
    width = max(width, min(round(text_width(title, 14) + 16), 640))
    height = round(30 + 22 + cell_h * max(len(rows), 1) + 8)
    top, left = 52, 8 + row_w
    ink_l = _luminance((0x1F, 0x29, 0x33))
    out = [svg_open(width, height, title)]
    for j, name in enumerate(cols):
        out.append(
            svg_text(
                left + cell_w * (j + 0.5), top - 8, str(name), room=cell_w - 4, anchor="middle"
            )
        )
    for i, name in enumerate(rows):
        y = top + cell_h * i
        out.append(
            svg_text(left - 10, y + cell_h / 2 + 4, str(name), room=row_w - 10, anchor="end")
        )
        for j, v in enumerate(grid[i]):
            # square root: a confusion matrix's small cells would otherwise all look white
            share = math.sqrt((v - lo) / (hi - lo)) if math.isfinite(v) and hi > lo else 0.0
            rgb = _rgb(share)
            lum = _luminance(rgb)
            # whichever of white and ink stands out more against the cell
            fill = "#ffffff" if 1.05 / (lum + 0.05) > (lum + 0.05) / (ink_l + 0.05) else INK
            out.append(
                f'<rect x="{px(left + cell_w * j)}" y="{px(y)}" width="{px(cell_w - 2)}" '
                f'height="{cell_h - 2}" fill="rgb{rgb}"><title>{esc(name)}, {esc(cols[j])}: '
                f"{esc(texts[i][j])}</title></rect>"
                + svg_text(
                    left + cell_w * (j + 0.5) - 1,
                    y + cell_h / 2 + 4,
                    texts[i][j],
                    size=15,
                    anchor="middle",
                    fill=fill,
                )
            )
    if not grid or not cols:
        out.append(no_data(width, height))
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
    lo, hi, _ = axis(*extent(seq), nice=False)
    step = (width - 6) / max(len(seq) - 1, 1)

    def xy(i: int, v: float) -> str:
        x = 3 + i * step if len(seq) > 1 else width / 2
        return f"{px(x)} {px(height - 3 - (v - lo) / (hi - lo) * (height - 6))}"

    runs = segments([(float(i), v) for i, v in enumerate(seq)])
    path = "".join(
        f"M{xy(int(r[0][0]), r[0][1])}L" + " ".join(xy(int(i), v) for i, v in r[1:])
        for r in runs
        if len(r) > 1
    )
    out = [svg_open(width, height, title, heading=False)]
    if path:
        out.append(f'<path d="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/>')
    if runs:
        i, v = runs[-1][-1]
        x, y = xy(int(i), v).split()
        out.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{PALETTE[0]}"/>')
    out.append("</svg>")
    return "".join(out)
