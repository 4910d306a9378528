"""SVG charts: well-formed, self-contained, accessible, and every text in them escaped."""

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from propensity.errors import DataError
from propensity.modeling.curves import roc_points
from propensity.reporting import _svg
from propensity.reporting.charts import bar_chart, heat_table, line_chart, sparkline

NS = "http://www.w3.org/2000/svg"
SVG = f"{{{NS}}}"
NAN = math.nan
TITLE = 'Churn <&> "rate"'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def line(**kwargs: object) -> str:
    series = kwargs.pop("series", {"model": [(0.0, 0.0), (0.5, 0.7), (1.0, 1.0)]})
    args: dict[str, object] = {"title": TITLE, "x_label": "share", "y_label": "found"}
    return line_chart(series, **{**args, **kwargs})


def bars(labels: list[str] | None = None, values: list[float] | None = None, **kw: object) -> str:
    labels = ["a", "b", "c"] if labels is None else labels
    values = [0.1, 0.25, 0.05] if values is None else values
    return bar_chart(labels, values, **{"title": TITLE, **kw})


CHARTS: dict[str, Callable[[], str]] = {
    "line": lambda: line(diagonal=True, markers=[(0.4, "limit")], x_format="{:.0%}"),
    "line, several series and dots": lambda: line(
        series={f"model {i}": [(0, 0), (0.3, 0.1 * i), (1, 1)] for i in range(9)}, points=True
    ),
    "line, date ticks": lambda: line(
        series={"rows": [(i, 100 + i) for i in range(24)]},
        x_ticks=[(i, f"2024-{i % 12 + 1:02d}") for i in range(24)],
    ),
    "line, empty": lambda: line(series={}),
    "line, no points": lambda: line(series={"a": []}),
    "line, constant": lambda: line(series={"a": [(0, 3), (1, 3), (2, 3)]}),
    "line, NaN": lambda: line(series={"a": [(0, 1), (1, NAN), (2, 2), (NAN, 1), (3, 4)]}),
    "line, all NaN": lambda: line(series={"a": [(NAN, NAN)]}, markers=[(NAN, "x")]),
    "line, one point": lambda: line(series={"a": [(5, 5)]}),
    "line, clipped": lambda: line(x_range=(0.2, 0.6), y_range=(0.1, 0.5)),
    "line, huge": lambda: line(series={"a": [(0, -1e12), (1, 1e12)]}, y_format="{:,.0f}"),
    "bars": lambda: bars(highlight=[1], reference=0.12, reference_label="overall"),
    "bars, negative": lambda: bars(values=[0.2, -0.3, 0.0], value_format="{:+.2f}"),
    "bars, NaN": lambda: bars(values=[NAN, 0.2, NAN]),
    "bars, all zero": lambda: bars(values=[0.0, 0.0, 0.0]),
    "bars, empty": lambda: bars([], []),
    "bars, long labels": lambda: bars(["x" * 200, "y" * 80, "z"]),
    "columns": lambda: bars(horizontal=False, reference=0.1, reference_label="mean"),
    "columns, negative": lambda: bars(values=[-1.0, 2.0, NAN], horizontal=False),
    "bars, fixed height": lambda: bars(height=90),
    "heat table": lambda: heat_table(
        ["will", "will not"],
        ["contacted", "not contacted"],
        [[812, 190], [1200, 17800]],
        title=TITLE,
        value_format="{:,.0f}",
    ),
    "heat table, NaN and constant": lambda: heat_table(
        ["a", "b"], ["c"], [[NAN], [0.0]], title=TITLE
    ),
    "heat table, empty": lambda: heat_table([], [], [], title=TITLE),
    "sparkline": lambda: sparkline([1, 3, NAN, 2, 5], title=TITLE),
    "sparkline, empty": lambda: sparkline([], title=TITLE),
    "sparkline, constant": lambda: sparkline([2, 2, 2], title=TITLE),
    "sparkline, one value": lambda: sparkline([7.0], title=TITLE),
}


@pytest.fixture(params=sorted(CHARTS))
def svg(request: pytest.FixtureRequest) -> str:
    return CHARTS[request.param]()


def test_every_chart_is_svg_with_a_view_box_title_and_label(svg):
    root = parse(svg)
    assert re.fullmatch(r"0 0 \d+ \d+", root.attrib["viewBox"])
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == TITLE
    assert root[0].tag == f"{SVG}title"
    assert root[0].text == TITLE
    assert "font-family:inherit" in root.attrib["style"]


def test_every_chart_escapes_its_text(svg):
    assert TITLE not in svg
    assert "Churn &lt;&amp;&gt; &quot;rate&quot;" in svg


def test_every_chart_stands_alone(svg):
    assert svg.count("http") == 1  # the namespace, nothing fetched
    assert f'xmlns="{NS}"' in svg
    for reference in ("href", "src=", "url(", "<script", "<image", "<style", "@import"):
        assert reference not in svg.lower()
    assert not re.search(r"\son\w+=", svg)  # no event handlers


def test_long_labels_are_cut_with_the_full_text_in_a_tooltip():
    root = parse(bars(["x" * 200, "short"], [1.0, 2.0]))
    texts = [t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None]
    cut = [t for t in texts if t.find(f"{SVG}title").text == "x" * 200]
    assert len(cut) == 1
    shown = cut[0][0].tail  # the visible text follows the tooltip
    assert shown.endswith("…")
    assert shown[:-1] == "x" * (len(shown) - 1)
    assert len(shown) < 100
    # short labels carry no tooltip of their own
    assert not [t for t in texts if t.find(f"{SVG}title").text == "short"]


def test_negative_bars_go_left_of_zero():
    root = parse(bars(["up", "down"], [2.0, -1.0]))
    up, down = list(root.iter(f"{SVG}rect"))
    zero = float(up.attrib["x"])
    assert float(down.attrib["x"]) + float(down.attrib["width"]) == pytest.approx(zero, abs=0.1)
    # twice the value, twice the length
    assert float(up.attrib["width"]) == pytest.approx(2 * float(down.attrib["width"]), rel=0.01)


def test_bars_show_formatted_values_highlight_and_reference():
    svg = bars(
        values=[0.1, 0.25, 0.05],
        value_format="{:.0%}",
        highlight=[1],
        reference=0.12,
        reference_label="overall",
    )
    texts = ["".join(t.itertext()) for t in parse(svg).iter(f"{SVG}text")]
    assert {"10%", "25%", "5%", "overall 12%"} <= set(texts)
    fills = [r.attrib["fill"] for r in parse(svg).iter(f"{SVG}rect")]
    assert fills[1] != fills[0] == fills[2]
    assert 'stroke-dasharray="4 3"' in svg


def test_bars_need_one_value_per_label():
    with pytest.raises(DataError, match="bar_chart: 2 labels but 1 values"):
        bar_chart(["a", "b"], [1.0], title="t")


def test_heat_table_needs_one_value_per_cell():
    with pytest.raises(DataError, match=r"heat_table: 2 rows x 2 columns"):
        heat_table(["a", "b"], ["c", "d"], [[1, 2], [3]], title="t")


def test_heat_table_shades_larger_values_darker():
    root = parse(heat_table(["a"], ["small", "large"], [[1, 100]], title="t"))
    small, large = (r.attrib["fill"] for r in root.iter(f"{SVG}rect"))
    assert sum(map(int, re.findall(r"\d+", large))) < sum(map(int, re.findall(r"\d+", small)))


def test_line_chart_ticks_are_round_and_few():
    svg = line(series={"a": [(0.0, 0.013), (1.0, 0.87)]}, y_format="{:.0%}", x_format="{:.1f}")
    texts = ["".join(t.itertext()) for t in parse(svg).iter(f"{SVG}text")]
    percents = [t for t in texts if t.endswith("%")]
    assert percents == ["0%", "20%", "40%", "60%", "80%", "100%"]


def test_line_chart_shows_markers_in_range_only():
    svg = line(markers=[(0.5, "capacity 1,000"), (7.0, "far away")], x_range=(0, 1))
    assert "capacity 1,000" in svg
    assert "far away" not in svg


def test_line_chart_thins_date_ticks_to_fit():
    dates = [(float(i), f"2024-{i:02d}-01") for i in range(60)]
    svg = line(series={"a": [(i, i) for i in range(60)]}, x_ticks=dates)
    shown = [d for _, d in dates if f">{d}<" in svg]
    assert 2 <= len(shown) <= 12
    assert shown[0] == "2024-00-01"


def test_several_series_get_a_legend_and_distinct_styles():
    svg = line(series={"first": [(0, 0), (1, 1)], "second": [(0, 1), (1, 0)]})
    strokes = [p.attrib["stroke"] for p in parse(svg).iter(f"{SVG}path")]
    assert len(set(strokes)) == 2
    assert ">first<" in svg
    assert ">second<" in svg


def test_three_series_of_200_points_stay_small():
    rng = np.random.default_rng(0)
    series = {
        name: list(zip(np.linspace(0, 1, 200), rng.random(200), strict=True))
        for name in ("logistic", "lightgbm", "recency")
    }
    svg = line(series=series, diagonal=True, x_format="{:.0%}", y_format="{:.0%}")
    assert len(svg.encode()) < 30_000
    svg = line(series=series, points=True)
    assert len(svg.encode()) < 40_000


@given(st.floats(-1e9, 1e9), st.floats(1e-6, 1e9))
def test_axis_ticks_step_by_one_two_or_five_and_cover_the_data(lo, relative_span):
    hi = lo + relative_span * max(1.0, abs(lo))
    a, b, ticks = _svg.axis(lo, hi)
    assert 2 <= len(ticks) <= 6
    step = ticks[1] - ticks[0]
    assert a <= lo + 1e-6 * step
    assert b >= hi - 1e-6 * step
    assert a - 1e-6 * step <= ticks[0] <= ticks[-1] <= b + 1e-6 * step
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-3


def test_axis_of_a_constant_widens_around_it():
    assert _svg.axis(3.0, 3.0) == (2.6, 3.4, [2.6, 2.8, 3.0, 3.2, 3.4])
    assert _svg.axis(0.0, 0.0)[2] == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_formats_never_show_minus_zero_or_raise():
    assert _svg.fmt_value("{:.0%}", -0.001) == "0%"
    assert _svg.fmt_value("{:,.0f}", 1234567.0) == "1,234,567"
    assert _svg.fmt_value("{:d}", 3.0) == "3"
    assert _svg.fmt_value("{:d}", 3.5) == "3.5"


def test_curve_charts_render():
    rng = np.random.default_rng(4)
    y, p = rng.random(5000) < 0.2, rng.random(5000)
    svg = line_chart(
        {"model": roc_points(y, p)},
        title="ROC",
        x_label="false positive rate",
        y_label="true positive rate",
        x_format="{:.0%}",
        y_format="{:.0%}",
        diagonal=True,
        x_range=(0, 1),
        y_range=(0, 1),
    )
    parse(svg)
