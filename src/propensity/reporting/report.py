"""The report: one self-contained HTML page per trained bundle, for a manager first.

Computed once (:meth:`Report.summary`, a JSON-ready dict), rendered as HTML with inline
SVG charts: no script, no stylesheet, font or image from anywhere else, so the file opens
offline and can be mailed as it is.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from propensity._io import atomic_path
from propensity.decisions.policy import Policy, assign_tiers, operating_point, sweep, whatif
from propensity.modeling.metrics import roc_auc_score
from propensity.reporting import charts

if TYPE_CHECKING:
    from propensity.modeling.bundle import Bundle
    from propensity.sources.checks import CheckReport
    from propensity.spec import Spec

__all__ = ["Report"]

log = logging.getLogger(__name__)

#: rows of the test cutoff used for drivers and examples (contributions cost time)
EXPLAIN_ROWS = 20_000


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None, digits: int = 0) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _words(spec_target: dict[str, Any] | None) -> dict[str, str]:
    """How to name the outcome in sentences."""
    if spec_target is None:
        return {"outcome": "the outcome", "who": "customers with the outcome", "rate": "rate"}
    kind = spec_target.get("kind")
    if kind == "inactivity":
        return {"outcome": "churn", "who": "churners", "rate": "churn rate"}
    if kind == "amount":
        return {"outcome": "spend", "who": "big spenders", "rate": "mean spend"}
    return {"outcome": "the event", "who": "customers with the event", "rate": "event rate"}


class Report:
    """Everything the page shows, computed from a spec, one of its bundles and its frame.

    ``check`` is the data's check report, ``frame_info`` the frame's manifest (empty when
    none was built) and ``frame_path`` the frame, whose test cutoff the page explains.
    """

    def __init__(
        self,
        spec: Spec,
        bundle: Bundle,
        *,
        check: CheckReport,
        frame_info: dict[str, Any],
        frame_path: Path,
    ) -> None:
        self.spec = spec
        self.bundle = bundle
        self.check = check
        self.frame_info = frame_info
        self.frame_path = frame_path
        self._summary: dict[str, Any] | None = None

    # -- computing -----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """All figures of the report as JSON-ready data (computed once)."""
        if self._summary is None:
            self._summary = self._compute()
        return self._summary

    def _compute(self) -> dict[str, Any]:
        from propensity.decisions.reasons import contributions, global_drivers, reason_codes

        bundle = self.bundle
        manifest = bundle.manifest
        spec = self.spec
        key = spec.entity.key
        task = bundle.task
        frame_info = self.frame_info
        check = self.check
        holdout = bundle.holdout()
        y = holdout["label"].to_numpy(dtype=float)
        p = holdout["score"].to_numpy(dtype=float)
        rows = self._test_rows(holdout)
        policy = Policy.from_spec(spec.policy)
        out: dict[str, Any] = {
            "title": spec.project.name,
            "question": spec.project.question or "",
            "task": task,
            "words": _words(manifest.get("target")),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "bundle": manifest.get("version"),
            "chosen": manifest.get("chosen"),
            "reason": manifest.get("reason"),
            "metric": manifest.get("metric", "roc_auc"),
            "leaderboard": manifest.get("leaderboard", []),
            "skipped": manifest.get("skipped", {}),
            "calibration": manifest.get("calibration", {}),
            "test": manifest.get("test", {}),
            "warnings": manifest.get("warnings", []),
            "training_window": manifest.get("training_window", {}),
            "frame": {
                "rows": frame_info.get("rows"),
                "customers": frame_info.get("customers"),
                "label_rate": frame_info.get("label_rate"),
                "per_cutoff": frame_info.get("per_cutoff", []),
                "features": len(frame_info.get("features", [])),
                "sha256": manifest.get("frame_sha256"),
            },
            "sources": [
                {
                    "name": name,
                    "kind": info.get("kind"),
                    "path": str(info.get("path")),
                    "rows": info.get("rows"),
                    "used_rows": info.get("used_rows"),
                }
                for name, info in check.sources.items()
            ],
            "findings": [
                {"severity": f.severity, "source": f.source, "message": f.message}
                for f in check.findings
            ],
            "spec_hash": manifest.get("spec_hash"),
            "packages": manifest.get("packages", {}),
            "holdout_rows": len(holdout),
            "test_cutoff": str(holdout["cutoff"].iloc[0])[:10] if len(holdout) else None,
        }
        if task == "binary":
            out["curves"] = {
                "roc": charts.roc_points(y, p),
                "pr": charts.pr_points(y, p),
                "calibration": charts.calibration_points(y, p),
                "gain": charts.gain_points(y, p),
                "lift": charts.lift_points(y, p),
            }
            point = operating_point(y, p, policy)
            out["decision"] = point
            chosen = point["profit"]
            threshold = float(chosen["threshold"])
            contacted = self._contacted(p, policy, threshold)
            out["confusion"] = {
                "threshold": threshold,
                "tp": int(((y == 1) & contacted).sum()),
                "fp": int(((y == 0) & contacted).sum()),
                "fn": int(((y == 1) & ~contacted).sum()),
                "tn": int(((y == 0) & ~contacted).sum()),
            }
            unlimited = Policy(policy.benefit, policy.cost, None, None, policy.tiers)
            table = sweep(y, p, unlimited)
            best_by_volume = table.groupby("volume")["profit"].max()
            out["profit_curve"] = [
                (float(v), float(pr))
                for v, pr in zip(
                    best_by_volume.index.to_numpy(), best_by_volume.to_numpy(), strict=True
                )
            ]
            out["whatif"] = whatif(y, p, policy).to_dict(orient="records")
            out["whatif_capacity"] = whatif(y, p, policy, by="capacity").to_dict(orient="records")
            names, actions = assign_tiers(p, policy.tiers)
            tiers = []
            for name, at_least, action in policy.tiers:
                mask = names == name
                tiers.append(
                    {
                        "tier": name,
                        "at_least": at_least,
                        "action": action or "no action",
                        "customers": int(mask.sum()),
                        "share": float(mask.mean()) if len(mask) else 0.0,
                        "rate": float(y[mask].mean()) if mask.any() else None,
                    }
                )
            rest = names == ""
            if rest.any():
                tiers.append(
                    {
                        "tier": "(none)",
                        "at_least": 0.0,
                        "action": "no action",
                        "customers": int(rest.sum()),
                        "share": float(rest.mean()),
                        "rate": float(y[rest].mean()),
                    }
                )
            out["tiers"] = tiers
            del actions
        else:
            out["deciles"] = self._amount_deciles(y, p)
        out["policy"] = policy.describe()
        # drivers, examples, what the data says, weak segments: need the test rows' features
        if rows is not None and len(rows):
            sample = bundle.prepare(rows.head(EXPLAIN_ROWS))
            contribs, method = contributions(bundle, sample)
            drivers = global_drivers(contribs, top=10)
            out["drivers"] = {"method": method, "top": [(n, float(v)) for n, v in drivers]}
            typical = bundle.typical()
            top_rows = sample.assign(__score=p[: len(sample)]).nlargest(3, "__score")
            positions = [int(sample.index.get_loc(i)) for i in top_rows.index]  # type: ignore[arg-type]
            codes = reason_codes(contribs.iloc[positions], sample.iloc[positions], typical, spec)
            out["examples"] = [
                {
                    "key": str(row[key]),
                    "score": float(row["__score"]),
                    "reasons": reasons,
                }
                for (_, row), reasons in zip(top_rows.iterrows(), codes, strict=True)
            ]
            out["data_says"] = self._data_says(rows, y, [n for n, _ in drivers[:4]])
            out["segments"] = self._segments(rows, y, p) if task == "binary" else []
        return out

    def _test_rows(self, holdout: pd.DataFrame) -> pd.DataFrame | None:
        """The frame's rows at the test cutoff, in the holdout's order."""
        key = self.spec.entity.key
        if not self.frame_path.is_file():
            return None
        from propensity.snapshots.reading import read_frame

        at = None if self.spec.table_mode else pd.Timestamp(holdout["cutoff"].iloc[0]).date()
        frame = read_frame(self.frame_path, key, cutoff=at)
        frame = frame.drop_duplicates(subset=[key]).set_index(key).copy()
        wanted = holdout[key]
        if not wanted.isin(frame.index).all():
            log.warning("report: the frame no longer holds every test row; drivers skipped")
            return None
        rows = frame.loc[wanted.to_numpy()].reset_index()
        return rows

    @staticmethod
    def _contacted(p: np.ndarray, policy: Policy, threshold: float) -> np.ndarray:
        order = np.argsort(-p, kind="mergesort")
        limit = policy.limit(len(p))
        chosen = np.zeros(len(p), dtype=bool)
        chosen[order[:limit]] = True
        return chosen & (p >= threshold)

    @staticmethod
    def _amount_deciles(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
        order = np.argsort(-p, kind="mergesort")
        out = []
        for i, part in enumerate(np.array_split(order, 10)):
            if len(part):
                out.append(
                    {
                        "decile": i + 1,
                        "predicted": float(p[part].mean()),
                        "actual": float(y[part].mean()),
                    }
                )
        return out

    def _data_says(
        self, rows: pd.DataFrame, y: np.ndarray, drivers: list[str]
    ) -> list[dict[str, Any]]:
        """The outcome rate by decile of each top driver and by each small text column."""
        out: list[dict[str, Any]] = []
        spec = self.spec
        from propensity.decisions.reasons import label

        for name in drivers:
            if name not in rows.columns or not pd.api.types.is_numeric_dtype(rows[name]):
                continue
            values = rows[name].to_numpy(dtype=float)
            known = np.isfinite(values)
            if known.sum() < 20 or len(np.unique(values[known])) < 3:
                continue
            codes = np.asarray(pd.qcut(values[known], 10, duplicates="drop").codes)
            table = pd.DataFrame({"code": codes, "x": values[known], "y": y[known]})
            stats = table.groupby("code").agg(lo=("x", "min"), hi=("x", "max"), rate=("y", "mean"))
            groups = [
                (f"{lo:,.4g}" if lo == hi else f"{lo:,.4g} to {hi:,.4g}", float(rate))
                for lo, hi, rate in zip(stats.lo, stats.hi, stats.rate, strict=True)
            ]
            if (~known).sum() >= 20:
                groups.append(("missing", float(y[~known].mean())))
            out.append(
                {
                    "feature": name,
                    "label": label(name, spec),
                    "groups": groups,
                }
            )
        for name, levels in self._text_columns(rows):
            counts = levels.value_counts()
            if not 2 <= len(counts) <= 12:
                continue
            rates = pd.Series(y).groupby(levels.to_numpy()).mean()
            out.append(
                {
                    "feature": name,
                    "label": name,
                    "groups": [(str(k), float(v)) for k, v in rates.sort_values().items()],
                }
            )
        return out

    def _text_columns(self, rows: pd.DataFrame) -> Iterator[tuple[str, pd.Series]]:
        """Each text feature with its values as strings, missing ones as "(missing)"."""
        for name in rows.columns:
            if name in (self.spec.entity.key, "cutoff", "label"):
                continue
            if not pd.api.types.is_numeric_dtype(rows[name]):
                yield name, rows[name].astype("string").fillna("(missing)")

    def _segments(self, rows: pd.DataFrame, y: np.ndarray, p: np.ndarray) -> list[dict[str, Any]]:
        """ROC-AUC per level of each small text column: where the model is weakest."""
        out: list[dict[str, Any]] = []
        for name, text in self._text_columns(rows):
            levels = text.to_numpy()
            for level in np.unique(levels):
                mask = levels == level
                if mask.sum() < 100 or len(np.unique(y[mask])) < 2:
                    continue
                out.append(
                    {
                        "segment": f"{name} = {level}",
                        "rows": int(mask.sum()),
                        "roc_auc": roc_auc_score(y[mask], p[mask]),
                        "rate": float(y[mask].mean()),
                    }
                )
        return sorted(out, key=lambda seg: float(seg["roc_auc"]))[:5]

    # -- rendering -----------------------------------------------------------------------

    def to_json(self) -> str:
        """The summary as JSON."""
        return json.dumps(self.summary(), indent=2, default=str)

    def write_html(self, path: Path) -> Path:
        """Write the page (through a temporary file and a rename) and return its path."""
        text = self.to_html()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path

    def to_html(self) -> str:
        """The whole page."""
        s = self.summary()
        words = s["words"]
        parts = [
            self._header(s),
            self._section_question(s),
            self._section_data_says(s),
            self._section_models(s),
        ]
        if s["task"] == "binary":
            parts += [self._section_quality(s), self._section_decision(s)]
        else:
            parts.append(self._section_amounts(s))
        parts += [self._section_why(s), self._section_card(s)]
        body = "\n".join(parts)
        title = _esc(f"{s['title']}: {words['outcome']} report")
        return (
            "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n"
        )

    def _header(self, s: dict[str, Any]) -> str:
        words = s["words"]
        test = s["test"]
        lines = [f"<h1>{_esc(s['title'])}</h1>"]
        if s["question"]:
            lines.append(f"<p class='question'>{_esc(s['question'])}</p>")
        cards = []
        if s["task"] == "binary":
            lift = test.get("lift_top10")
            cards.append(
                (
                    f"{lift:.1f}x" if lift and np.isfinite(lift) else "n/a",
                    f"as many {words['who']} in the model's top 10% as in a random 10%",
                )
            )
            decision = s.get("decision", {}).get("profit", {})
            if decision:
                cards.append(
                    (
                        f"{decision.get('volume', 0):,}",
                        f"customers to contact at the best threshold "
                        f"({_num(decision.get('threshold'), 2)}), for an expected profit of "
                        f"{_num(decision.get('profit'), 0)} on the test month",
                    )
                )
            cards.append((_pct(test.get("base_rate")), f"{words['rate']} at the test cutoff"))
            cards.append(
                (_num(test.get("roc_auc"), 3), "ROC-AUC on the test cutoff (0.5 is chance)")
            )
        else:
            cards.append((_num(test.get("spearman"), 2), "rank correlation with actual spend"))
            cards.append((_num(test.get("mae"), 2), "mean absolute error"))
        lines.append(
            "<div class='cards'>"
            + "".join(
                f"<div class='card'><b>{_esc(big)}</b><span>{_esc(small)}</span></div>"
                for big, small in cards
            )
            + "</div>"
        )
        lines.append(
            f"<p class='meta'>Model <b>{_esc(s['chosen'])}</b>, bundle {_esc(s['bundle'])}, "
            f"report written {_esc(s['created_at'])}.</p>"
        )
        for warning in s["warnings"]:
            lines.append(f"<p class='warn'>{_esc(warning)}</p>")
        return "<header>" + "".join(lines) + "</header>"

    def _section_question(self, s: dict[str, Any]) -> str:
        frame = s["frame"]
        words = s["words"]
        rows = "".join(
            f"<tr><td>{_esc(src['name'])}</td><td>{_esc(src['kind'])}</td>"
            f"<td>{_esc(src['path'])}</td><td class='n'>{_esc(_fmt_int(src['rows']))}</td>"
            f"<td class='n'>{_esc(_fmt_int(src['used_rows']))}</td></tr>"
            for src in s["sources"]
        )
        findings = "".join(
            f"<li class='{_esc(f['severity'])}'><b>{_esc(f['severity'])}</b> "
            f"{_esc(f['source'])}: {_esc(f['message'])}</li>"
            for f in s["findings"]
        )
        per = [c for c in frame["per_cutoff"] if c.get("cutoff")]
        chart = ""
        if len(per) >= 2:
            xs = list(range(len(per)))
            dates = [(float(i), str(c["cutoff"])[:7]) for i, c in zip(xs, per, strict=True)]
            population = charts.line_chart(
                {
                    "customers in the population": [
                        (i, c["rows"]) for i, c in zip(xs, per, strict=True)
                    ]
                },
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
            chart = f"<div class='row'>{population}{rate}</div>"
        return (
            "<section><h2>1. The question and the data</h2>"
            f"<p>{_fmt_int(frame['customers'])} customers over {len(per)} cutoffs, "
            f"{_fmt_int(frame['rows'])} customer-cutoff rows with {frame['features']} "
            f"features each; overall {words['rate']} {_rate(frame['label_rate'], s['task'])}. "
            "Every feature at a cutoff is computed from events before it; every outcome from "
            "the horizon after it.</p>"
            "<table><tr><th>source</th><th>kind</th><th>file</th><th>rows</th><th>rows used</th>"
            f"</tr>{rows}</table>"
            + (
                f"<h3>What the checks found</h3><ul class='findings'>{findings}</ul>"
                if findings
                else "<p>The checks found nothing to report.</p>"
            )
            + chart
            + "</section>"
        )

    def _section_data_says(self, s: dict[str, Any]) -> str:
        words = s["words"]
        blocks = []
        for item in s.get("data_says", [])[:8]:
            labels = [g for g, _ in item["groups"]]
            values = [v for _, v in item["groups"]]
            blocks.append(
                charts.bar_chart(
                    labels,
                    values,
                    title=f"{words['rate'].capitalize()} by {item['label']}",
                    value_format="{:.0%}" if s["task"] == "binary" else "{:,.0f}",
                    reference=s["test"].get("base_rate") if s["task"] == "binary" else None,
                    reference_label="overall",
                )
            )
        if not blocks:
            return ""
        return (
            "<section><h2>2. What the data already says</h2>"
            f"<p>The {words['rate']} on the test cutoff, before any model, by the features the "
            "model leans on most (in tenths of customers) and by customer segments. The dashed "
            "line is the overall rate.</p>"
            f"<div class='grid'>{''.join(blocks)}</div></section>"
        )

    def _section_models(self, s: dict[str, Any]) -> str:
        metric = s["metric"]
        words = s["words"]
        binary = s["task"] == "binary"
        shown = (
            ("roc_auc", "pr_auc", "log_loss", "lift_top10")
            if binary
            else ("rmse", "mae", "r2", "spearman")
        )
        head = "".join(f"<th>test {_esc(m)}</th>" for m in shown)
        rows = []
        for row in s["leaderboard"]:
            folds = " ".join(_num(f.get(metric), 3) for f in row["folds"].values())
            mark = " class='chosen'" if row["candidate"] == s["chosen"] else ""
            cells = "".join(f"<td class='n'>{_num(row['test'].get(m), 3)}</td>" for m in shown)
            rows.append(
                f"<tr{mark}><td>{_esc(row['candidate'])}</td><td class='n'>{folds}</td>"
                f"<td class='n'>{_num(row['mean'], 3)} ± {_num(row['std'], 3)}</td>{cells}"
                f"<td class='n'>{row['seconds']:.1f}</td></tr>"
            )
        skipped = "".join(
            f"<li>{_esc(name)}: {_esc(why)}</li>" for name, why in s["skipped"].items()
        )
        plain = ""
        if binary:
            board = {r["candidate"]: r for r in s["leaderboard"]}
            chosen = board.get(s["chosen"], {})
            lift = chosen.get("test", {}).get("lift_top10")
            rule = board.get("recency", {}).get("test", {}).get("lift_top10")
            plain = (
                f"<p class='plain'>On the test cutoff the chosen model finds "
                f"<b>{_num(lift, 1)}x</b> as many {words['who']} in its top 10% as random "
                "outreach would"
                + (f"; the days-since-last-purchase rule finds {_num(rule, 1)}x" if rule else "")
                + ".</p>"
            )
        n_folds = len(s["leaderboard"][0]["folds"]) if s["leaderboard"] else 0
        return (
            "<section><h2>3. Models compared</h2>"
            f"<p>Each candidate was trained only on cutoffs whose outcomes were known before "
            f"the cutoff it is judged on, and judged on {n_folds} "
            f"validation cutoffs and the test cutoff {_esc(s['test_cutoff'])}. "
            f"Chosen: <b>{_esc(s['chosen'])}</b> ({_esc(s['reason'])}).</p>"
            + plain
            + f"<table><tr><th>candidate</th><th>{_esc(metric)} per fold</th><th>mean ± sd</th>"
            f"{head}<th>seconds</th></tr>{''.join(rows)}</table>"
            + (f"<p>Not run:</p><ul>{skipped}</ul>" if skipped else "")
            + "</section>"
        )

    def _section_quality(self, s: dict[str, Any]) -> str:
        curves = s["curves"]
        cal = s["calibration"]
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
        before, after = cal.get("before", {}), cal.get("after", {})
        return (
            "<section><h2>4. How good, and how sure</h2>"
            f"<p>Calibration: <b>{_esc(cal.get('method', 'none'))}</b> (judged "
            f"{_esc(cal.get('judged', ''))}). On the latest validation cutoff, log loss "
            f"{_num(before.get('log_loss'))} before and {_num(after.get('log_loss'))} after; "
            f"expected calibration error {_num(before.get('ece'))} and "
            f"{_num(after.get('ece'))}. On the test cutoff: log loss "
            f"{_num(s['test'].get('log_loss'))}, Brier {_num(s['test'].get('brier'))}, "
            f"calibration error {_num(s['test'].get('ece'))}.</p>"
            f"<div class='grid'>{roc}{pr}{calibration}{gain}{matrix}</div></section>"
        )

    def _section_decision(self, s: dict[str, Any]) -> str:
        decision = s["decision"]
        best, accurate = decision["profit"], decision["accuracy"]
        limit = decision["limit"]
        profit = charts.line_chart(
            {"profit": s["profit_curve"]},
            title="Profit by number of customers contacted, were there no limit (test cutoff)",
            x_label="customers contacted, likeliest first",
            y_label="profit",
            x_format="{:,.0f}",
            y_format="{:,.0f}",
            markers=[(float(limit), f"limit {limit:,}")]
            + ([] if best["volume"] == limit else [(float(best["volume"]), "best")]),
        )

        def table(rows: list[dict[str, Any]], first: str) -> str:
            head = (
                f"<tr><th>{first}</th><th>at or above</th><th>contacts</th>"
                f"<th>{_esc(s['words']['who'])} reached</th>"
                "<th>precision</th><th>cost</th><th>profit</th></tr>"
            )

            def cell(value: object) -> str:
                return f"<td class='n'>{value}</td>"

            body = "".join(
                "<tr>"
                + cell(_num(r[first], 2) if first == "threshold" else _fmt_int(r[first]))
                + cell(_fmt_int(r["above"]))
                + cell(_fmt_int(r["volume"]))
                + cell(_fmt_int(r["reached"]))
                + cell(_pct(r["precision"]))
                + cell(_num(r["cost"], 0))
                + cell(_num(r["profit"], 0))
                + "</tr>"
                for r in rows
            )
            return f"<table>{head}{body}</table>"

        tiers = "".join(
            f"<tr><td>{_esc(t['tier'])}</td><td class='n'>{t['at_least']:.2f}</td>"
            f"<td>{_esc(t['action'])}</td><td class='n'>{_fmt_int(t['customers'])}</td>"
            f"<td class='n'>{_pct(t['share'])}</td><td class='n'>{_pct(t['rate'])}</td></tr>"
            for t in s["tiers"]
        )
        return (
            "<section><h2>5. The decision</h2>"
            f"<p>With {_esc(s['policy'])}: contacting the <b>{_fmt_int(best['volume'])}</b> "
            f"likeliest customers (score {_num(best['cut'], 2)} or more) would have "
            f"reached {_fmt_int(best['reached'])} {_esc(s['words']['who'])} for a profit of "
            f"<b>{_num(best['profit'], 0)}</b> on the test cutoff"
            + (" (the capacity or the budget is what binds)." if best["capped"] else ".")
            + f" A classifier's threshold (the most accurate, {_num(accurate['threshold'], 2)}, "
            f"blind to capacity and money) would contact {_fmt_int(accurate['volume'])} for "
            f"{_num(accurate['profit'], 0)}; contacting everyone allowed, "
            f"{_num(decision['contact_everyone']['profit'], 0)}.</p>"
            f"{profit}"
            "<h3>What if: thresholds</h3>"
            + table(s["whatif"], "threshold")
            + "<h3>What if: capacity</h3>"
            + table(s["whatif_capacity"], "capacity")
            + "<p>Try other numbers with <code>propensity whatif --capacity 1000 --cost 8</code>."
            "</p><h3>Tiers</h3><table><tr><th>tier</th><th>from score</th><th>action</th>"
            "<th>customers</th><th>share</th><th>observed rate</th></tr>"
            f"{tiers}</table></section>"
        )

    def _section_amounts(self, s: dict[str, Any]) -> str:
        deciles = s["deciles"]
        chart = charts.bar_chart(
            [f"tenth {d['decile']}" for d in deciles],
            [d["actual"] for d in deciles],
            title="Actual spend by tenth of predicted spend (test cutoff)",
            value_format="{:,.0f}",
        )
        return f"<section><h2>4. How good</h2>{chart}</section>"

    def _section_why(self, s: dict[str, Any]) -> str:
        drivers = s.get("drivers")
        if not drivers:
            return ""
        from propensity.decisions.reasons import label

        spec = self.spec
        labels = [label(n, spec) for n, _ in drivers["top"]]
        chart = charts.bar_chart(
            labels,
            [v for _, v in drivers["top"]],
            title="What drives the score (mean absolute contribution)",
            value_format="{:.3f}",
        )
        examples = "".join(
            f"<div class='example'><b>customer {_esc(e['key'])}</b>: score "
            f"{_num(e['score'], 2)}<ul>"
            + "".join(f"<li>{_esc(r)}</li>" for r in e["reasons"])
            + "</ul></div>"
            for e in s.get("examples", [])
        )
        approximate = (
            "<p class='warn'>These contributions come from a linear approximation of the "
            "model, not from the model itself.</p>"
            if "approximate" in drivers["method"]
            else ""
        )
        return (
            "<section><h2>6. Why</h2>"
            f"<p>Contributions by {_esc(drivers['method'])}.</p>{approximate}{chart}"
            f"<h3>Three customers at the top of the list</h3><div class='row'>{examples}</div>"
            "</section>"
        )

    def _section_card(self, s: dict[str, Any]) -> str:
        window = s["training_window"]
        weak = "".join(
            f"<tr><td>{_esc(seg['segment'])}</td><td class='n'>{_fmt_int(seg['rows'])}</td>"
            f"<td class='n'>{_num(seg['roc_auc'])}</td><td class='n'>{_pct(seg['rate'])}</td></tr>"
            for seg in s.get("segments", [])
        )
        packages = ", ".join(f"{k} {v}" for k, v in sorted(s["packages"].items()))
        limits = [
            "Probabilities were calibrated on the latest validation cutoff; when the "
            f"{s['words']['rate']} moves (a season, a campaign), they move off until the next "
            "training.",
            "The model knows only what the sources record: a contact, a price change or a "
            "competitor's offer it cannot see changes the outcome without changing the score.",
        ]
        limits += s["warnings"]
        return (
            "<section><h2>7. Model card</h2><table>"
            f"<tr><td>model</td><td>{_esc(s['chosen'])} ({_esc(s['bundle'])})</td></tr>"
            f"<tr><td>training window</td><td>{_esc(_window(window))}</td></tr>"
            f"<tr><td>test cutoff</td><td>{_esc(s['test_cutoff'])} "
            f"({_fmt_int(s['holdout_rows'])} customers)</td></tr>"
            f"<tr><td>frame fingerprint</td><td><code>{_esc(s['frame']['sha256'])}</code></td></tr>"
            f"<tr><td>spec hash</td><td><code>{_esc(s['spec_hash'])}</code></td></tr>"
            f"<tr><td>packages</td><td>{_esc(packages)}</td></tr></table>"
            + (
                "<h3>Where it is weakest</h3><table><tr><th>segment</th><th>customers</th>"
                f"<th>ROC-AUC</th><th>rate</th></tr>{weak}</table>"
                if weak
                else ""
            )
            + "<h3>Limitations</h3><ul>"
            + "".join(f"<li>{_esc(x)}</li>" for x in limits)
            + "</ul></section>"
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


def _window(window: dict[str, Any]) -> str:
    if "first_cutoff" in window:
        return f"cutoffs {window['first_cutoff']} to {window['last_cutoff']}"
    if "rows" in window:
        return f"{_fmt_int(window['rows'])} rows (no time: table mode)"
    return str(window)


def _fmt_int(value: object) -> str:
    if value is None:
        return "n/a"
    try:
        return f"{int(value):,}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)


def _rate(value: float | None, task: str) -> str:
    if value is None:
        return "n/a"
    return _pct(value, 1) if task == "binary" else f"{value:,.2f}"


_CSS = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#dde1e8;--accent:#0072b2;--warn:#d55e00;
--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:24px}
header,section{background:#fff;border:1px solid var(--line);border-radius:8px;
padding:20px 24px;margin:0 0 18px}
h1{margin:0 0 4px;font-size:26px}h2{margin:0 0 10px;font-size:20px}h3{font-size:16px;
margin:16px 0 6px}.question{font-size:18px;color:var(--muted);margin:0 0 14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}.card{flex:1 1 200px;
border:1px solid var(--line);border-radius:6px;padding:10px 14px}.card b{display:block;
font-size:28px;color:var(--accent)}.card span{color:var(--muted);font-size:13px}
.meta{color:var(--muted);font-size:13px}.warn{color:var(--warn)}
.plain{font-size:17px}table{border-collapse:collapse;margin:8px 0;width:100%;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.chosen td{background:#eef6fb;
font-weight:600}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));
gap:12px}.row{display:flex;flex-wrap:wrap;gap:12px}.row>*{flex:1 1 300px}
svg{max-width:100%;height:auto}.findings .error{color:var(--warn)}
.example{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
code{font-size:12px;word-break:break-all}
"""
