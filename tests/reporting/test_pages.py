"""The pages' templates: autoescaped, strict about what they are given, one base for both."""

import math
import re

import pytest
from jinja2 import UndefinedError

from propensity.reporting import _render
from propensity.reporting._render import fixed, num, pct, rate, render, whole
from propensity.reporting.monitoring import monitoring_html

MARKUP = "<b onclick='x'>plan & \"co\"</b>"


def result(**drift_features):
    run = {
        "bundle": "v1",
        "verdict": "ok",
        "as_of": "2025-01-01",
        "customers": 1200,
        "outcome_rate": 0.4,
        "mean_score": 0.38,
        "realized": {"roc_auc": 0.8, "ece": 0.02, "lift_top10": 2.5},
        "promised": {"roc_auc": 0.81, "ece": 0.03},
    }
    return {
        "as_of": "2025-03-01",
        "bundle": "v1",
        "verdict": "warn",
        "drift": {
            "features": drift_features,
            "population": {"rows": 1300, "reference_rows": 1200, "change": 0.083, "verdict": "ok"},
            "score": {"psi": 0.05, "mean": 0.39, "reference_mean": 0.38, "verdict": "ok"},
            "verdict": "warn",
        },
        "realized": [run],
    }


def moved(**extra):
    return {"psi": 0.3, "ks": 0.2, "missing_change": 0.01, "verdict": "alert", **extra}


def test_the_monitoring_page_escapes_every_text_from_the_data():
    page = monitoring_html(result(**{MARKUP: moved(new_levels=[MARKUP, "b"])}), title=MARKUP)
    assert MARKUP not in page
    assert "<b onclick" not in page
    escaped = "&lt;b onclick=&#39;x&#39;&gt;plan &amp; &#34;co&#34;&lt;/b&gt;"
    assert f"<h1>{escaped}: is the model still true?</h1>" in page
    assert f"<td>{escaped}</td>" in page  # the feature's row
    assert f"<td>{escaped}, b</td>" in page  # its new levels
    # inside the chart's SVG too, where the name labels a bar
    svg = page[page.index("<svg") : page.rindex("</svg>")]
    assert "plan &amp; &quot;co&quot;" in svg
    assert "<b" not in svg.replace("<b onclick", "")


def test_the_monitoring_page_is_whole_and_self_contained():
    page = monitoring_html(result(orders_30d=moved()), "shop", psi_warn=0.1, psi_alert=0.25)
    assert page.startswith("<!doctype html>\n<html lang='en'><head>")
    assert page.endswith("</main></body></html>\n")
    assert "<title>shop: monitoring</title>" in page
    # the customers moved, but the one fresh run of this model came true
    assert "yet every score of this model whose outcomes are in came true" in page
    assert "Population stability index by feature (0.1 watch, 0.25 act)" in page
    assert "Predicted against what happened" in page
    base = render("base.html.j2")  # the report's frame too (tests/reporting/test_report.py)
    assert page[: page.index("<title>")] == base[: base.index("<title>")]
    assert page[page.index("</title>") : page.index("<main>")] in base
    assert page.count("<svg") == page.count("</svg>") >= 2
    without_ns = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://", without_ns)
    for pattern in (r"<script", r"<link", r"\bsrc\s*=", r"\bhref\s*=", r"url\(", r"@import"):
        assert not re.search(pattern, page, re.IGNORECASE), pattern


def test_a_missing_figure_fails_rather_than_shows_blank():
    broken = result(orders_30d=moved())
    del broken["drift"]["population"]["reference_rows"]
    with pytest.raises(UndefinedError, match="reference_rows"):
        monitoring_html(broken, "shop")
    with pytest.raises(UndefinedError, match="'result' is undefined"):
        render("monitoring.html.j2", title="shop")


def test_the_environment_escapes_and_is_strict():
    env = _render._environment()
    assert env.autoescape is True
    assert env.undefined.__name__ == "StrictUndefined"
    assert env.from_string("{{ x }}").render(x="<a & b>") == "&lt;a &amp; b&gt;"
    assert env.from_string("{{ x }}").render(x=_render.trusted_svg("<svg/>")) == "<svg/>"


def test_the_figure_filters():
    assert num(1234.5678) == "1,234.568"
    assert num(0.5, 1) == "0.5"
    assert [num(None), num(math.nan), num(math.inf)] == ["n/a"] * 3
    assert pct(0.1234) == "12%"
    assert pct(0.1234, 1) == "12.3%"
    assert pct(None) == "n/a"
    assert whole(1234567.0) == "1,234,567"
    assert whole(None) == "n/a"
    assert whole("many") == "many"
    assert rate(0.25, "binary") == "25.0%"
    assert rate(1234.5, "regression") == "1,234.50"
    assert rate(None, "binary") == "n/a"
    assert fixed(0.12345) == "0.123"
    assert fixed(0.12345, 4) == "0.1235"
    assert fixed(3) == "3"
    assert [fixed(None), fixed(math.nan)] == ["n/a", "n/a"]
