"""The report: one self-contained HTML page per trained bundle, for a manager first.

Computed once (:meth:`Report.summary`, a JSON-ready dict), rendered as HTML through the
template ``reporting/templates/report.html.j2`` with inline SVG charts
(:mod:`propensity.reporting._figures`): no script, no stylesheet, font or image from
anywhere else, so the file opens offline and can be mailed as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from propensity._io import atomic_path
from propensity.decisions.policy import Policy, assign_tiers, operating_point, sweep, whatif
from propensity.modeling import curves
from propensity.modeling.metrics import roc_auc_score
from propensity.reporting._figures import report_figures
from propensity.reporting._render import render, whole

if TYPE_CHECKING:
    from propensity.modeling.bundle import Bundle
    from propensity.sources.checks import CheckReport
    from propensity.spec import Spec

__all__ = ["Report"]

log = logging.getLogger(__name__)

#: rows of the test cutoff used for drivers and examples (contributions cost time)
EXPLAIN_ROWS = 20_000


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
        manifest = bundle.info
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
            "words": _words(manifest.target),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "bundle": manifest.version,
            "chosen": manifest.chosen,
            "reason": manifest.reason,
            "metric": manifest.metric or "roc_auc",
            "leaderboard": manifest.leaderboard,
            "rules": manifest.rules,
            "skipped": manifest.skipped,
            "calibration": manifest.calibration,
            "test": manifest.test,
            "warnings": manifest.warnings,
            "training_window": manifest.training_window or {},
            "frame": {
                "rows": frame_info.get("rows"),
                "customers": frame_info.get("customers"),
                "label_rate": frame_info.get("label_rate"),
                "per_cutoff": frame_info.get("per_cutoff", []),
                "features": len(frame_info.get("features", [])),
                "sha256": manifest.frame_sha256,
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
            "spec_hash": manifest.spec_hash,
            "packages": manifest.packages,
            "holdout_rows": len(holdout),
            "test_cutoff": str(holdout["cutoff"].iloc[0])[:10] if len(holdout) else None,
        }
        if task == "binary":
            out["curves"] = {
                "roc": curves.roc_points(y, p),
                "pr": curves.pr_points(y, p),
                "calibration": curves.calibration_points(y, p),
                "gain": curves.gain_points(y, p),
                "lift": curves.lift_points(y, p),
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
            codes = reason_codes(
                contribs.iloc[positions],
                sample.iloc[positions],
                typical,
                spec,
                info=bundle.feature_info(),
            )
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
                    "label": label(name, spec, self.bundle.feature_info()),
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
        """The whole page: the summary, its charts and a few figures derived for the text."""
        from propensity.decisions.reasons import label

        s = self.summary()
        drivers = s.get("drivers")
        meaning = self.bundle.feature_info()
        labels = [label(n, self.spec, meaning) for n, _ in drivers["top"]] if drivers else []
        board = {row["candidate"]: row for row in s["leaderboard"]}
        return render(
            "report.html.j2",
            s=s,
            fig=report_figures(s, labels),
            cutoffs=len([c for c in s["frame"]["per_cutoff"] if c.get("cutoff")]),
            folds=len(s["leaderboard"][0]["folds"]) if s["leaderboard"] else 0,
            lift_chosen=board.get(s["chosen"], {}).get("test", {}).get("lift_top10"),
            lift_rule=board.get("recency", {}).get("test", {}).get("lift_top10"),
            window=_window(s["training_window"]),
        )


def _window(window: dict[str, Any]) -> str:
    """The training window in words: its cutoffs, or its rows in table mode."""
    if "first_cutoff" in window:
        return f"cutoffs {window['first_cutoff']} to {window['last_cutoff']}"
    if "rows" in window:
        return f"{whole(window['rows'])} rows (no time: table mode)"
    return str(window)
