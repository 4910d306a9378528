"""The report's charts, drawn from its summary: what each section shows, as trusted SVG."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from propensity.reporting import charts
from propensity.reporting._render import trusted_svg

__all__ = ["report_figures"]


def report_figures(s: dict[str, Any], driver_labels: list[str]) -> dict[str, Any]:
    """Every chart of the report, by name, for :meth:`propensity.reporting.report.Report.summary`.

    ``driver_labels`` are the readable names of ``s["drivers"]["top"]``. A chart the
    summary has no data for is left out (``None``, or an empty list for ``data_says``).
    """
    fig: dict[str, Any] = {**_population(s), "data_says": _data_says(s), "drivers": None}
    if s["task"] == "binary":
        fig |= _quality(s)
        fig["profit"] = _profit(s)
    else:
        deciles = s["deciles"]
        fig["deciles"] = trusted_svg(
            charts.bar_chart(
                [f"tenth {d['decile']}" for d in deciles],
                [d["actual"] for d in deciles],
                title="Actual spend by tenth of predicted spend (test cutoff)",
                value_format="{:,.0f}",
            )
        )
    drivers = s.get("drivers")
    if drivers:
        fig["drivers"] = trusted_svg(
            charts.bar_chart(
                driver_labels,
                [v for _, v in drivers["top"]],
                title="What drives the score (mean absolute contribution)",
                value_format="{:.3f}",
            )
        )
    return fig


def _population(s: dict[str, Any]) -> dict[str, Markup | None]:
    """The population and the outcome rate at each cutoff (with two cutoffs or more)."""
    words = s["words"]
    per = [c for c in s["frame"]["per_cutoff"] if c.get("cutoff")]
    if len(per) < 2:
        return {"population": None, "rate": None}
    xs = list(range(len(per)))
    dates = [(float(i), str(c["cutoff"])[:7]) for i, c in zip(xs, per, strict=True)]
    population = charts.line_chart(
        {"customers in the population": [(i, c["rows"]) for i, c in zip(xs, per, strict=True)]},
        title="Population at each cutoff",
        x_label="cutoff",
        x_ticks=dates,
        y_label="customers",
        x_format="{:.0f}",
        y_format="{:,.0f}",
        points=True,
    )
    labelled = [
        (i, c["label_rate"])
        for i, c in zip(xs, per, strict=True)
        if c.get("label_rate") is not None
    ]
    rate = (
        charts.line_chart(
            {words["rate"]: labelled},
            title=f"{words['rate'].capitalize()} at each cutoff",
            x_label="cutoff",
            x_ticks=dates,
            y_label=words["rate"],
            x_format="{:.0f}",
            y_format="{:.0%}" if s["task"] == "binary" else "{:,.0f}",
            points=True,
        )
        if labelled
        else ""
    )
    return {"population": trusted_svg(population), "rate": trusted_svg(rate)}


def _data_says(s: dict[str, Any]) -> list[Markup]:
    """The outcome rate by the top drivers and by segments, one bar chart each (8 at most)."""
    words = s["words"]
    binary = s["task"] == "binary"
    return [
        trusted_svg(
            charts.bar_chart(
                [g for g, _ in item["groups"]],
                [v for _, v in item["groups"]],
                title=f"{words['rate'].capitalize()} by {item['label']}",
                value_format="{:.0%}" if binary else "{:,.0f}",
                reference=s["test"].get("base_rate") if binary else None,
                reference_label="overall",
            )
        )
        for item in s.get("data_says", [])[:8]
    ]


def _quality(s: dict[str, Any]) -> dict[str, Markup]:
    """The curves of the test cutoff and the confusion matrix at the chosen threshold."""
    curves = s["curves"]
    confusion = s["confusion"]
    who = s["words"]["who"]
    roc = _unit_chart(
        {s["chosen"]: curves["roc"]},
        "ROC curve (test cutoff)",
        "share of the others flagged",
        f"share of {who} found",
    )
    pr = _unit_chart(
        {s["chosen"]: curves["pr"]},
        "Precision and recall (test cutoff)",
        "recall",
        "precision",
        diagonal=False,
    )
    calibration = _unit_chart(
        {"observed": curves["calibration"]},
        "Calibration: predicted against observed",
        "predicted probability",
        "observed rate",
        points=True,
    )
    gain = _unit_chart(
        {s["chosen"]: curves["gain"]},
        "Gain: who is found as more are contacted",
        "share of customers contacted (likeliest first)",
        f"share of {who} found",
    )
    matrix = charts.heat_table(
        ["will have the outcome", "will not"],
        ["contacted", "not contacted"],
        [[confusion["tp"], confusion["fn"]], [confusion["fp"], confusion["tn"]]],
        title=f"At the chosen threshold {confusion['threshold']:.2f}",
        value_format="{:,.0f}",
    )
    return {
        name: trusted_svg(svg)
        for name, svg in (
            ("roc", roc),
            ("pr", pr),
            ("calibration", calibration),
            ("gain", gain),
            ("matrix", matrix),
        )
    }


def _profit(s: dict[str, Any]) -> Markup:
    """Profit by the number contacted, with the limit and the best volume marked."""
    best, limit = s["decision"]["profit"], s["decision"]["limit"]
    return trusted_svg(
        charts.line_chart(
            {"profit": s["profit_curve"]},
            title="Profit by number of customers contacted, were there no limit (test cutoff)",
            x_label="customers contacted, likeliest first",
            y_label="profit",
            x_format="{:,.0f}",
            y_format="{:,.0f}",
            markers=[(float(limit), f"limit {limit:,}")]
            + ([] if best["volume"] == limit else [(float(best["volume"]), "best")]),
        )
    )


def _unit_chart(
    series: dict[str, Any],
    title: str,
    x_label: str,
    y_label: str,
    *,
    diagonal: bool = True,
    points: bool = False,
) -> str:
    """A chart of shares against shares: both axes 0 to 100%."""
    return charts.line_chart(
        series,
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_format="{:.0%}",
        y_format="{:.0%}",
        diagonal=diagonal,
        points=points,
        x_range=(0, 1),
        y_range=(0, 1),
    )
