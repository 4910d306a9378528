"""The monitoring page: one self-contained HTML file per ``propensity monitor`` run.

Same style as the training report. It opens with the verdict in words a sales manager
acts on, then shows how many customers are scored, how the scores of past runs turned
out against what the backtest promised, and what moved (features and score).
"""

from __future__ import annotations

import math
from typing import Any

from propensity.reporting.charts import bar_chart, line_chart
from propensity.reporting.report import _CSS, _esc

__all__ = ["monitoring_html"]

_SAY = {
    "ok": "The model still holds: the customers look like the ones it was checked on, and "
    "its past scores came true as promised.",
    "warn": "Watch: something moved. The model is still usable; look at what changed below "
    "before the next campaign.",
    "alert": "Act: the customers or the outcomes have changed enough that the scores may "
    "mislead. Run propensity retrain, or check the data.",
}


def _headline(result: dict[str, Any]) -> str:
    """The verdict in words, told apart by what is known: drift alone, or outcomes too."""
    mine = [r for r in result["realized"] if r.get("current", True)]
    fresh = [r for r in mine if not r.get("in_sample")]
    came_true = bool(fresh) and all(r["verdict"] == "ok" for r in mine)
    if result["verdict"] != "ok" and came_true:
        return (
            "The customers have moved away from the ones the model was checked on (below), "
            "yet every score of this model whose outcomes are in came true. Keep using it "
            "and watch the next outcomes; if they slip, run propensity retrain."
        )
    if any(r["verdict"] == "alert" for r in mine):
        return (
            "Act: the scores did not come true as promised (below: what was predicted and "
            "what happened). Run propensity retrain, or check the data."
        )
    return _SAY[result["verdict"]]


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else _esc(value)


def _badge(verdict: str) -> str:
    colour = {"ok": "#1a7f37", "warn": "#9a6700", "alert": "#cf222e"}[verdict]
    return (
        f"<span style='background:{colour};color:#fff;padding:2px 8px;border-radius:4px'>"
        f"{_esc(verdict)}</span>"
    )


def _came_true(realized: list[dict[str, Any]]) -> str:
    """Predicted against happened, run by run, with the model changes marked.

    A sentence on the latest run comes first.
    """
    ticks = [(float(i), str(r["as_of"])) for i, r in enumerate(realized)]
    changes = [
        (i - 0.5, "new model")
        for i in range(1, len(realized))
        if realized[i]["bundle"] != realized[i - 1]["bundle"]
    ]
    chart = line_chart(
        {
            "what happened": [(float(i), r["outcome_rate"]) for i, r in enumerate(realized)],
            "what the scores said": [(float(i), r["mean_score"]) for i, r in enumerate(realized)],
        },
        title="Predicted against what happened, by the date scored",
        x_label="scored as of",
        y_label="share of customers who did it",
        y_format="{:.0%}",
        x_ticks=ticks,
        markers=changes,
        points=True,
    )
    last = realized[-1]
    gap = last["outcome_rate"] - last["mean_score"]
    by = "" if last.get("current", True) else " (by an earlier model)"
    words = (
        f"Of the customers scored as of {_esc(last['as_of'])}{by}, "
        f"{last['outcome_rate']:.0%} did "
        f"it; the scores said {last['mean_score']:.0%}"
        + (
            " (about right)."
            if abs(gap) < 0.03
            else f" ({'too low' if gap > 0 else 'too high'} by {abs(gap):.0%} of customers)."
        )
        + f" The ranking realized a ROC-AUC of {_f(last['realized']['roc_auc'], 3)} against "
        f"{_f(last['promised'].get('roc_auc'), 3)} promised {_badge(last['verdict'])}."
    )
    return f"<p>{words}</p>{chart}"


def monitoring_html(
    result: dict[str, Any], title: str, psi_warn: float = 0.1, psi_alert: float = 0.25
) -> str:
    """The page for a :func:`propensity.monitoring.check.monitor` result."""
    drift, realized = result["drift"], result["realized"]
    features = list(drift["features"].items())
    top = features[:15]
    parts = [
        f"<h1>{_esc(title)}: is the model still true?</h1>",
        f"<p>As of <b>{_esc(result['as_of'])}</b>, model <code>{_esc(result['bundle'])}</code>: "
        f"{_badge(result['verdict'])}</p>",
        f"<p class='question'>{_esc(_headline(result))}</p>",
    ]
    size, score = drift["population"], drift["score"]
    parts.append(
        "<h2>Who is being scored</h2>"
        f"<p>{size['rows']:,} customers eligible, against {size['reference_rows']:,} when the "
        f"model was checked ({size['change']:+.0%}) {_badge(size['verdict'])}. "
        f"Mean score {_f(score.get('mean'))} against {_f(score.get('reference_mean'))}; "
        f"score PSI {_f(score.get('psi'))} {_badge(score['verdict'])}.</p>"
    )
    parts.append("<h2>Did past scores come true?</h2>")
    if realized:
        parts.append(_came_true(realized))
        rows = "".join(
            f"<tr><td>{_esc(r['as_of'])}{' (in sample)' if r.get('in_sample') else ''}</td>"
            f"<td><code>{_esc(r['bundle'])}</code></td>"
            f"<td>{r['customers']:,}</td><td>{_f(r['realized']['roc_auc'], 4)}</td>"
            f"<td>{_f(r['promised'].get('roc_auc'), 4)}</td>"
            f"<td>{_f(r['outcome_rate'])}</td><td>{_f(r['mean_score'])}</td>"
            f"<td>{_f(r['realized'].get('ece'))}</td><td>{_f(r['promised'].get('ece'))}</td>"
            f"<td>{_f(r['realized'].get('lift_top10'), 2)}</td><td>{_badge(r['verdict'])}</td></tr>"
            for r in realized
        )
        parts.append(
            "<table><thead><tr><th>scored as of</th><th>model</th><th>customers</th>"
            "<th>ROC-AUC realized</th><th>promised</th><th>outcome rate</th><th>mean score</th>"
            "<th>calibration error realized</th><th>promised</th><th>lift, top 10%</th>"
            f"<th>verdict</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        if not any(r.get("current", True) for r in realized):
            parts.append(
                f"<p>None of these runs was scored by <code>{_esc(result['bundle'])}</code>: "
                "its own outcomes are not in yet, so only drift judges it today. They stay "
                "on record for the earlier models.</p>"
            )
        elif not all(r.get("current", True) for r in realized):
            parts.append(
                "<p>Runs scored by an earlier model stay on record; only the runs of "
                f"<code>{_esc(result['bundle'])}</code> count in today's verdict.</p>"
            )
    else:
        parts.append(
            "<p>No score run has a closed outcome window yet: nothing to check against.</p>"
        )
    if top:
        parts.append("<h2>What moved</h2>")
        parts.append(
            bar_chart(
                [name for name, _ in top],
                [f["psi"] for _, f in top],
                title=f"Population stability index by feature ({psi_warn:g} watch, "
                f"{psi_alert:g} act)",
                value_format="{:.3f}",
                reference=psi_warn,
                reference_label="watch",
            )
        )
        rows = "".join(
            f"<tr><td>{_esc(name)}</td><td>{_f(f['psi'])}</td>"
            f"<td>{_f(f.get('ks'))}</td><td>{_f(f.get('chi2_p'))}</td>"
            f"<td>{f['missing_change']:+.3f}</td>"
            f"<td>{_esc(', '.join(f.get('new_levels', [])[:5]))}</td>"
            f"<td>{_badge(f['verdict'])}</td></tr>"
            for name, f in features[:30]
        )
        parts.append(
            "<table><thead><tr><th>feature</th><th>PSI</th><th>KS</th><th>chi-square p</th>"
            "<th>missing change</th><th>new levels</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    body = "\n".join(parts)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}: monitoring</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
