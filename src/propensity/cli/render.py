"""What the commands print: tables and summaries of ``Project``'s results, with rich.

Every function takes a result as ``Project`` returns it and prints it; none computes
anything. Results go to stdout; progress, warnings and errors to stderr, so that
``--json`` and piped output stay clean.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from propensity.errors import PropensityError

if TYPE_CHECKING:
    import datetime as dt

    from propensity.demo.simulate import Shift
    from propensity.modeling.training import TrainResult
    from propensity.project import BuildResult
    from propensity.sources.checks import CheckReport

__all__ = [
    "alias_moved",
    "build_summary",
    "check_report",
    "emit_json",
    "err",
    "error",
    "init_summary",
    "interrupted",
    "key_created",
    "key_revoked",
    "keys_table",
    "leaderboard",
    "monitor_summary",
    "out",
    "progress_bar",
    "propensity_version",
    "registry_tables",
    "report_written",
    "retrain_summary",
    "rolled_back",
    "score_summary",
    "sql",
    "unexpected",
    "whatif_table",
    "working",
]

out = Console()
err = Console(stderr=True)

Progress = Callable[[str], None]
_COLOURS = {"ok": "green", "warn": "yellow", "alert": "red"}


def _ignore(_step: str) -> None:
    """A progress callback that shows nothing (off a terminal, or with ``--json``)."""


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON, as it is: no markup, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def sql(query: str) -> None:
    """The SQL of ``build --show-sql``, as it is."""
    sys.stdout.write(query + "\n")


def propensity_version(number: str) -> None:
    """What ``--version`` prints."""
    out.print(f"propensity {number}")


@contextmanager
def working(doing: str, *, quiet: bool = False) -> Iterator[Progress]:
    """A spinner on stderr while the block runs, on a terminal only and unless ``quiet``.

    Yields a callback that shows the step under way after ``doing``.
    """
    if quiet or not err.is_terminal:
        yield _ignore
        return
    with err.status(doing) as status:
        yield lambda step: status.update(f"{doing}: {step}")


@contextmanager
def progress_bar(total: int, *, quiet: bool = False) -> Iterator[Progress]:
    """A progress bar of ``total`` steps on stderr, on a terminal only and unless ``quiet``.

    Yields a callback that advances it, naming the step that starts.
    """
    if quiet or not err.is_terminal:
        yield _ignore
        return
    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(
        SpinnerColumn(),
        BarColumn(bar_width=24),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("building", total=total)

        def step(name: str) -> None:
            bar.update(task, description=name, advance=1)

        yield step


# -- errors ------------------------------------------------------------------------------


def error(exc: Exception) -> None:
    """The one line a user gets for bad input (a ``PropensityError``)."""
    text = exc.for_cli() if isinstance(exc, PropensityError) else str(exc)
    err.print(f"[red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)


def unexpected(exc: Exception) -> None:
    """The one line for a failure nobody foresaw, pointing at the traceback switch."""
    first = (str(exc).strip().splitlines() or [""])[0]
    err.print(
        f"[red]error:[/] unexpected {type(exc).__name__}: {escape(first)} "
        "(set PROPENSITY_DEBUG=1 for the traceback, and please report it)",
        highlight=False,
        soft_wrap=True,
    )


def interrupted() -> None:
    """What Ctrl-C leaves on stderr."""
    err.print("interrupted")


# -- the project and its data --------------------------------------------------------------


def init_summary(
    result: dict[str, object],
    folder: Path,
    *,
    data_only: bool,
    until: dt.date | None,
    shift: Shift | None,
) -> None:
    """What ``init`` wrote: the spec, the simulated tables, the shift, the next step."""
    if not data_only:
        out.print(f"[green]created[/] {result['spec']}")
    rows = result["rows"]
    if isinstance(rows, dict) and rows:
        listed = ", ".join(f"{n} {v:,}" for n, v in rows.items())
        when = "" if until is None else f" (as it stood on {until})"
        out.print(f"simulated data in {folder / 'data'}{when}: {listed} rows")
    if shift is not None:
        out.print(
            f"from {shift.start} the {shift.plan} plan's weekly churn is "
            f"{shift.churn_multiplier:g} times what it was (a price change)"
        )
    out.print(f"next: propensity check --project {folder}")


def check_report(name: str, report: CheckReport) -> None:
    """The sources as read, every finding, and the verdict."""
    table = Table(title=f"check: {name}", show_lines=False)
    for col in ("source", "kind", "rows", "used", "from", "to"):
        table.add_column(col)
    for source, info in report.sources.items():
        table.add_row(
            source,
            str(info.get("kind", "")),
            f"{info.get('rows', 0):,}",
            f"{info.get('used_rows', 0):,}",
            str(info.get("time_min", ""))[:10],
            str(info.get("time_max", ""))[:10],
        )
    out.print(table)
    colours = {"error": "red", "warning": "yellow", "info": "blue"}
    for f in report.findings:
        out.print(
            f"[{colours[f.severity]}]{f.severity}[/] {f.source}: {f.message}",
            soft_wrap=True,
            highlight=False,
        )
    verdict = "[green]ok[/]" if report.ok else "[red]errors found[/]"
    out.print(f"{verdict}: {len(report.errors)} errors, {len(report.warnings)} warnings")


def build_summary(name: str, result: BuildResult) -> None:
    """The frame's rows and label rate per cutoff, its totals and where it went."""
    table = Table(title=f"frame: {name}")
    for col in ("cutoff", "rows", "labelled", "label rate"):
        table.add_column(col, justify="right")
    for row in result.per_cutoff:
        rate = row["label_rate"]
        table.add_row(
            str(row["cutoff"] or "-"),
            f"{row['rows']:,}",
            f"{row['labeled']:,}",
            "-" if rate is None else f"{rate:.1%}",
        )
    out.print(table)
    rate = result.label_rate
    out.print(
        f"{result.rows:,} rows, {result.customers:,} customers, {len(result.features)} features, "
        f"label rate {'-' if rate is None else f'{rate:.1%}'}, {result.seconds:.1f} s"
    )
    for note in result.notes:
        out.print(f"[yellow]note[/] {note}")
    out.print(f"frame: {result.frame_path}")


# -- models and decisions ----------------------------------------------------------------


def leaderboard(name: str, result: TrainResult) -> None:
    """The candidates' backtest and test figures, the choice, calibration and the bundle."""
    metric = result.metric
    shown = (
        ("roc_auc", "log_loss", "lift_top10")
        if result.task == "binary"
        else ("rmse", "mae", "r2")  # spearman too in --json; the table keeps 80 columns
    )
    # fits an 80-column terminal: the folds as their mean, spread and worst, headers on
    # two lines, names never cut
    worst = min if metric in ("roc_auc", "lift_top10", "r2", "spearman") else max
    heads = {"roc_auc": "ROC-AUC", "log_loss": "log loss", "lift_top10": "lift 10%"}
    folds_n = max((len(row["folds"]) for row in result.leaderboard), default=0)
    table = Table(title=f"leaderboard: {name} ({metric} over {folds_n} validation folds)")
    table.add_column("model", no_wrap=True)
    for col in ("folds\nmean ± std", "worst\nfold", *(f"test\n{heads.get(m, m)}" for m in shown)):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    for row in result.leaderboard:
        mark = " *" if row["candidate"] == result.chosen else ""
        folds = [fold[metric] for fold in row["folds"].values()]
        table.add_row(
            row["candidate"] + mark,
            f"{row['mean']:.3f} ± {row['std']:.3f}",
            f"{worst(folds):.3f}" if folds else "-",
            *(f"{row['test'][m]:.3f}" for m in shown),
            f"{row['seconds']:.0f}",
        )
    out.print(table)
    for skipped, why in result.skipped.items():
        out.print(f"{skipped}: skipped ({why})", highlight=False, soft_wrap=True, markup=False)
    if result.tuning and "trials" in result.tuning:
        tuning = result.tuning
        out.print(
            f"lightgbm tuned: {tuning['trials']} trials in {tuning['seconds']:.0f} s on "
            f"{tuning['tuned_on']}",
            highlight=False,
        )
    out.print(f"chosen: [bold]{result.chosen}[/] ({escape(result.reason)})", soft_wrap=True)
    blended = next((r for r in result.leaderboard if r.get("weights")), None)
    if blended is not None:
        saved = ", ".join(f"{k} {v:.2f}" for k, v in blended["weights"]["final"].items())
        out.print(f"{blended['candidate']} weights: {saved}", highlight=False)
    if result.rules:
        rules = Table(title="what each rule would have chosen (regret on the test cutoff)")
        regret_heads = (f"regret\n{heads.get(metric, metric)}", "regret\nlog loss")
        for col in ("rule", "picks", *regret_heads):
            rules.add_column(col, justify="left" if col in ("rule", "picks") else "right")
        for r in result.rules:
            rules.add_row(
                r["rule"],
                r["candidate"],
                f"{r['regret']:.3f}",
                f"{r['regret_log_loss']:.3f}" if "regret_log_loss" in r else "-",
            )
        out.print(rules)
    test = result.test
    if result.task == "binary":
        cal = result.calibration
        before, after = cal["before"], cal["after"]
        out.print(
            f"calibration: {cal['method']} (judged {cal['judged']}); on the latest validation "
            f"fold log loss {before['log_loss']:.4f} -> {after['log_loss']:.4f}, Brier "
            f"{before['brier']:.4f} -> {after['brier']:.4f}, ECE {before['ece']:.4f} -> "
            f"{after['ece']:.4f}",
            soft_wrap=True,
            highlight=False,
        )
        out.print(
            f"test (calibrated): ROC-AUC {test['roc_auc']:.4f}, log loss {test['log_loss']:.4f}, "
            f"Brier {test['brier']:.4f}, lift in the top 10% {test['lift_top10']:.2f}x",
            highlight=False,
        )
    else:
        out.print(
            f"test: RMSE {test['rmse']:.2f}, MAE {test['mae']:.2f}, R2 {test['r2']:.3f}, "
            f"Spearman {test['spearman']:.3f}",
            highlight=False,
        )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    out.print(f"trained in {result.seconds:.1f} s", highlight=False)
    out.print(f"bundle: {result.bundle}")


def report_written(path: Path) -> None:
    """Where ``report`` wrote the page."""
    out.print(f"report: {path}", highlight=False, soft_wrap=True)


def score_summary(result: dict[str, Any]) -> None:
    """How many customers were scored, with what, the tiers, and where the scores went."""
    out.print(
        f"scored {result['rows']:,} customers"
        f"{'' if result['as_of'] is None else ' as of ' + result['as_of']} with bundle "
        f"{result['bundle']}; mean {result['column'].replace('_', ' ')} "
        f"{result['mean_' + result['column']]:.3f}",
        highlight=False,
    )
    if "in_capacity" in result:
        tiers = ", ".join(f"{k} {v:,}" for k, v in result.get("tiers", {}).items())
        out.print(
            f"{result['in_capacity']:,} within capacity" + (f"; tiers: {tiers}" if tiers else ""),
            highlight=False,
        )
    out.print(f"scores: {result['out']}")


def whatif_table(result: dict[str, Any], by: str) -> None:
    """The what-if table (walking thresholds or capacities) and its best operating point."""
    table = Table(title=f"what if: {result['policy']} ({result['rows']:,} customers)")
    first = "capacity" if by == "capacity" else "threshold"
    for col in (first, "contacts", "reached", "precision", "recall", "cost", "profit"):
        table.add_column(col, justify="right")
    for row in result["table"]:
        table.add_row(
            f"{row[first]:,}" if first == "capacity" else f"{row[first]:.2f}",
            f"{row['volume']:,}",
            f"{row['reached']:,}",
            "n/a"
            if row["precision"] is None or row["precision"] != row["precision"]
            else f"{row['precision']:.1%}",
            f"{row['recall']:.1%}",
            f"{row['cost']:,.0f}",
            f"{row['profit']:,.0f}",
        )
    out.print(table)
    best, accurate = result["best"]["profit"], result["best"]["accuracy"]
    binds = " (the capacity or the budget binds)" if best["capped"] else ""
    out.print(
        f"best: the {best['volume']:,} likeliest (score {best['cut']:.2f} or more){binds}, "
        f"profit {best['profit']:,.0f}; the most accurate threshold "
        f"({accurate['threshold']:.2f}, blind to capacity and money) would contact "
        f"{accurate['volume']:,} for {accurate['profit']:,.0f}",
        highlight=False,
        soft_wrap=True,
    )


# -- the registry and the service's keys -------------------------------------------------


def registry_tables(models: dict[str, Any]) -> None:
    """Every bundle with its aliases, then every alias move (``Project.models()``)."""
    table = Table("version", "created", "model", "test ROC-AUC", "aliases")
    serving = models["serving"]
    for v in models["versions"]:
        auc = v["test"].get("roc_auc")
        names = ", ".join(v["aliases"]) + (" (serves)" if v["version"] == serving else "")
        table.add_row(
            v["version"],
            str(v["created_at"]),
            str(v["model"]),
            "" if auc is None else f"{auc:.4f}",
            names,
        )
    out.print(table)
    if models["history"]:
        moves = Table("when", "alias", "version", "from", "who", "why")
        for e in models["history"]:
            moves.add_row(
                e["at"], e["alias"], e["version"], e["previous"] or "", e["who"], e["reason"]
            )
        out.print(moves)
    else:
        out.print("no alias has moved yet; the latest bundle serves")


def alias_moved(alias: str, previous: str | None, version: str) -> None:
    """An alias move (``promote``): from what to what."""
    out.print(f"{alias}: {previous or '(none)'} -> {version}", highlight=False)


def rolled_back(version: str) -> None:
    """The version production went back to."""
    out.print(f"production -> {version}", highlight=False)


def key_created(name: str, role: str, secret: str) -> None:
    """A new key: the secret alone on stdout (to pipe), the advice on stderr."""
    out.print(secret, highlight=False, soft_wrap=True)
    err.print(f"key {name!r} ({role}): shown once, store it now; send it as the X-API-Key header")


def keys_table(keys: list[dict[str, Any]]) -> None:
    """Every key's name, role and dates (``Project.keys()``; never the secrets)."""
    table = Table("name", "role", "created", "revoked")
    for k in keys:
        table.add_row(k["name"], k["role"], k["created_at"], k["revoked_at"] or "")
    out.print(table)


def key_revoked(name: str) -> None:
    """A revoked key's name."""
    out.print(f"revoked {name}")


# -- monitoring --------------------------------------------------------------------------


def monitor_summary(result: dict[str, Any]) -> None:
    """The verdict, drift of the population, the score and the features, and past runs."""
    colour = _COLOURS
    drift = result["drift"]
    out.print(
        f"monitor {result['bundle']} as of {result['as_of']}: "
        f"[{colour[result['verdict']]}]{result['verdict']}[/]",
        highlight=False,
    )
    size, score = drift["population"], drift["score"]
    shown = "n/a" if score["psi"] is None else f"{score['psi']:.3f}"
    out.print(
        f"population {size['rows']:,} (reference {size['reference_rows']:,}, "
        f"{size['change']:+.0%}): {size['verdict']}; score PSI {shown}: {score['verdict']}",
        highlight=False,
    )
    table = Table("feature", "PSI", "missing change", "new levels", "verdict")
    for name, f in list(drift["features"].items())[:10]:
        table.add_row(
            name,
            f"{f['psi']:.3f}",
            f"{f['missing_change']:+.3f}",
            ", ".join(f.get("new_levels", [])[:3]),
            f"[{colour[f['verdict']]}]{f['verdict']}[/]",
        )
    out.print(table)
    if result["realized"]:
        _realized(result["realized"])
    else:
        out.print("no score run has a closed label window yet: nothing realized to judge")
    out.print(f"details: {result['path']}", highlight=False, soft_wrap=True)
    out.print(f"page: {result['page']}", highlight=False, soft_wrap=True)


def _realized(realized: list[dict[str, Any]]) -> None:
    """Past score runs whose label window has closed: what they promised, what came true."""
    colour = _COLOURS
    # narrow enough for 80 columns; the page and the JSON have every figure
    runs = Table(
        "as of",
        "model",
        "AUC (promised)",
        "did / said",
        "ECE (promised)",
        "verdict",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    legend = (
        "AUC: realized ROC-AUC; did: the share who did it; said: the mean score; "
        "ECE: the calibration error; model: this one or an earlier one"
    )

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    for r in realized:
        real, promised = r["realized"], r["promised"]
        runs.add_row(
            r["as_of"] + ("*" if r.get("in_sample") else ""),
            "this" if r.get("current", True) else "earlier",
            f"{fmt(real['roc_auc'])} ({fmt(promised.get('roc_auc'))})",
            f"{fmt(r['outcome_rate'])} / {fmt(r['mean_score'])}",
            f"{fmt(real['ece'])} ({fmt(promised.get('ece'))})",
            f"[{colour[r['verdict']]}]{r['verdict']}[/]",
        )
    if any(r.get("in_sample") for r in realized):
        legend += "; *: scored at a date the model was trained on"
    out.print(runs)
    out.print(legend, highlight=False)


def retrain_summary(result: dict[str, Any]) -> None:
    """What fired, how champion and challenger compared, and what was decided."""
    for reason in result["triggers"]:
        out.print(f"trigger: {escape(reason)}", highlight=False)
    if "challenger" in result:
        out.print(
            f"on {result['cutoff']} ({result['customers']:,} customers): champion "
            f"{result['champion']} ROC-AUC {result['champion_roc_auc']:.4f} log loss "
            f"{result['champion_log_loss']:.4f}; challenger {result['challenger']} ROC-AUC "
            f"{result['challenger_roc_auc']:.4f} log loss {result['challenger_log_loss']:.4f}",
            highlight=False,
        )
    out.print(escape(result["decision"]), highlight=False)
    out.print(f"recorded: {result['path']}", highlight=False, soft_wrap=True)
