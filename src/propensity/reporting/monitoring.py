"""The monitoring page: one self-contained HTML file per ``propensity monitor`` run.

Same style as the training report (the same base template). It opens with the verdict in
words a sales manager acts on, then shows how many customers are scored, how the scores of
past runs turned out against what the backtest promised, and what moved (features and
score).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from propensity.reporting._render import render, trusted_svg
from propensity.reporting.charts import bar_chart, line_chart

__all__ = ["monitoring_html"]


def _headline(result: dict[str, Any]) -> str:
    """Which verdict to tell, apart by what is known: drift alone, or outcomes too.

    ``"moved, came true"`` when the customers moved but every score of this model whose
    outcomes are in came true, ``"not true"`` when one of them alerts, else the verdict.
    """
    mine = [r for r in result["realized"] if r.get("current", True)]
    fresh = [r for r in mine if not r.get("in_sample")]
    came_true = bool(fresh) and all(r["verdict"] == "ok" for r in mine)
    if result["verdict"] != "ok" and came_true:
        return "moved, came true"
    if any(r["verdict"] == "alert" for r in mine):
        return "not true"
    return str(result["verdict"])


def _came_true(realized: list[dict[str, Any]]) -> Markup:
    """Predicted against happened, run by run, with the model changes marked."""
    ticks = [(float(i), str(r["as_of"])) for i, r in enumerate(realized)]
    changes = [
        (i - 0.5, "new model")
        for i in range(1, len(realized))
        if realized[i]["bundle"] != realized[i - 1]["bundle"]
    ]
    return trusted_svg(
        line_chart(
            {
                "what happened": [(float(i), r["outcome_rate"]) for i, r in enumerate(realized)],
                "what the scores said": [
                    (float(i), r["mean_score"]) for i, r in enumerate(realized)
                ],
            },
            title="Predicted against what happened, by the date scored",
            x_label="scored as of",
            y_label="share of customers who did it",
            y_format="{:.0%}",
            x_ticks=ticks,
            markers=changes,
            points=True,
        )
    )


def _moved(top: list[tuple[str, dict[str, Any]]], psi_warn: float, psi_alert: float) -> Markup:
    """The population stability index of the features that moved most."""
    return trusted_svg(
        bar_chart(
            [name for name, _ in top],
            [f["psi"] for _, f in top],
            title=f"Population stability index by feature ({psi_warn:g} watch, {psi_alert:g} act)",
            value_format="{:.3f}",
            reference=psi_warn,
            reference_label="watch",
        )
    )


def monitoring_html(
    result: dict[str, Any], title: str, psi_warn: float = 0.1, psi_alert: float = 0.25
) -> str:
    """The page for a :func:`propensity.monitoring.check.monitor` result."""
    realized = result["realized"]
    features = list(result["drift"]["features"].items())
    top = features[:15]
    current = [r.get("current", True) for r in realized]
    return render(
        "monitoring.html.j2",
        title=title,
        result=result,
        headline=_headline(result),
        realized=realized,
        none_current=not any(current),
        all_current=all(current),
        features=features[:30],
        came_true=_came_true(realized) if realized else None,
        moved=_moved(top, psi_warn, psi_alert) if top else None,
    )
