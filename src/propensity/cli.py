"""The command line: one thin function per verb over :class:`propensity.project.Project`."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from propensity import __version__
from propensity.errors import PropensityError

app = typer.Typer(
    name="propensity",
    help="From raw customer tables to honest churn and conversion decisions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="The project folder (holds propensity.toml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"propensity {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """From raw customer tables to honest churn and conversion decisions."""


def _date(option: str, text: str | None) -> dt.date | None:
    """An ISO date given to an option, or a clear error naming it."""
    from propensity.errors import DataError

    try:
        return None if text is None else dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{option}: {text!r} is not a date; write e.g. 2025-10-01") from None


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The new project's folder.")],
    demo: Annotated[bool, typer.Option("--demo", help="Write simulated data too.")] = False,
    customers: Annotated[int, typer.Option(help="Customers in the demo.")] = 20_000,
    seed: Annotated[int, typer.Option(help="The demo's random seed.")] = 7,
    shift: Annotated[
        str | None,
        typer.Option(
            "--shift",
            help="Demo: from this date (ISO) a price change raises the churn of one plan.",
        ),
    ] = None,
    shift_plan: Annotated[
        str | None,
        typer.Option(help="Demo: the plan --shift hits: basic (default), plus or premium."),
    ] = None,
    shift_churn: Annotated[
        float | None,
        typer.Option(help="Demo: --shift multiplies that plan's weekly churn by this (10)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Demo: write the data as it stood on this date (ISO), to let time pass.",
        ),
    ] = None,
    data_only: Annotated[
        bool,
        typer.Option("--data-only", help="Demo: rewrite the data only; keep the project file."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a project; --demo writes simulated data and a spec that works as is."""
    from propensity.demo.project import init_project
    from propensity.demo.simulate import PLANS, Shift
    from propensity.errors import DataError

    moved, day = _date("--shift", shift), _date("--until", until)
    if moved is None and (shift_plan is not None or shift_churn is not None):
        raise DataError("--shift-plan and --shift-churn describe a --shift; add --shift DATE")
    shift_plan = shift_plan or "basic"
    shift_churn = 10.0 if shift_churn is None else shift_churn
    if shift_plan not in PLANS:
        raise DataError(f"--shift-plan: unknown plan {shift_plan!r}; plans are: {', '.join(PLANS)}")
    if not shift_churn > 0:
        raise DataError(f"--shift-churn: {shift_churn} must be a positive number (1: no change)")

    def run() -> dict[str, object]:
        return init_project(
            folder,
            demo=demo,
            customers=customers,
            seed=seed,
            force=force,
            shift=None if moved is None else Shift(moved, shift_plan, shift_churn),
            until=day,
            data_only=data_only,
        )

    if demo and not as_json and err.is_terminal:
        with err.status(f"simulating {customers:,} customers"):
            result = run()
    else:
        result = run()
    if as_json:
        _emit_json(result)
        return
    if not data_only:
        out.print(f"[green]created[/] {result['spec']}")
    rows = result["rows"]
    if isinstance(rows, dict) and rows:
        listed = ", ".join(f"{n} {v:,}" for n, v in rows.items())
        when = "" if day is None else f" (as it stood on {day})"
        out.print(f"simulated data in {folder / 'data'}{when}: {listed} rows")
    if moved is not None:
        out.print(
            f"from {moved} the {shift_plan} plan's weekly churn is {shift_churn:g} times what "
            "it was (a price change)"
        )
    out.print(f"next: propensity check --project {folder}")


@app.command()
def check(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Validate the spec and the data; flag leakage suspects. Exits 2 on errors."""
    from propensity.project import Project

    proj = Project.load(project)
    if as_json:
        report = proj.check()
        _emit_json(report.summary())
    else:
        if err.is_terminal:
            with err.status("checking sources"):
                report = proj.check()
        else:
            report = proj.check()
        table = Table(title=f"check: {proj.spec.project.name}", show_lines=False)
        for col in ("source", "kind", "rows", "used", "from", "to"):
            table.add_column(col)
        for name, info in report.sources.items():
            table.add_row(
                name,
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
    if not report.ok:
        raise typer.Exit(2)


@app.command()
def build(
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
    show_sql: Annotated[
        bool, typer.Option("--show-sql", help="Print the SQL that computes the frame, then stop.")
    ] = False,
) -> None:
    """Build the point-in-time frame: one row per (customer, cutoff) with label and features."""
    from propensity.project import Project

    proj = Project.load(project)
    if show_sql:
        sys.stdout.write(proj.frame_sql() + "\n")
        return
    if as_json:
        result = proj.build()
        _emit_json(result.summary())
        return
    result = _build_with_progress(proj) if err.is_terminal else proj.build()
    _print_build(proj, result)


def _build_with_progress(proj: Any) -> Any:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    steps = proj.build_steps
    with Progress(
        SpinnerColumn(),
        BarColumn(bar_width=24),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("building", total=steps)

        def step(name: str) -> None:
            progress.update(task, description=name, advance=1)

        return proj.build(step)


def _print_build(proj: Any, result: Any) -> None:
    table = Table(title=f"frame: {proj.spec.project.name}")
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


@app.command()
def train(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Backtest the candidates, choose and calibrate one, save it as a bundle."""
    from propensity.project import Project

    proj = Project.load(project)
    if as_json or not err.is_terminal:
        result = proj.train()
    else:
        with err.status("training") as status:
            result = proj.train(lambda step: status.update(f"training: {step}"))
    if as_json:
        _emit_json(result.summary())
        return
    _print_train(proj.spec.project.name, result)


def _print_train(name: str, result: Any) -> None:
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


@app.command()
def score(
    out_path: Annotated[Path, typer.Option("--out", help="scores.csv or scores.parquet")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The date to score at (ISO, e.g. 2025-10-01); default: the day after "
            "the last event. Not in table mode.",
        ),
    ] = None,
    project: ProjectOpt = Path("."),
    bundle: Annotated[
        str | None, typer.Option(help="A bundle version (default: production, else the latest).")
    ] = None,
    reasons: Annotated[
        str,
        typer.Option(
            help="How many customers, by rank, get reason codes: a number, 'all' or 'none'."
        ),
    ] = "10000",
    as_json: JsonOpt = False,
) -> None:
    """Score every eligible customer as of a date with the trained model."""
    from propensity.errors import DataError
    from propensity.project import Project

    day = _date("--as-of", as_of)
    choice = reasons.strip().lower()
    if choice == "all":
        reasons_for: int | None = None
    elif choice == "none":
        reasons_for = 0
    elif choice.isdigit():
        reasons_for = int(choice)
    else:
        raise DataError(f"--reasons: {reasons!r} is not a number, 'all' or 'none'")
    result = Project.load(project).score(day, out_path, bundle=bundle, reasons_for=reasons_for)
    if as_json:
        _emit_json(result)
        return
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


@app.command()
def whatif(
    project: ProjectOpt = Path("."),
    capacity: Annotated[int | None, typer.Option(help="Contacts per cycle (top-N).")] = None,
    cost: Annotated[float | None, typer.Option(help="Cost of one contact.")] = None,
    benefit: Annotated[
        float | None, typer.Option(help="Worth of reaching one customer with the outcome.")
    ] = None,
    budget: Annotated[float | None, typer.Option(help="Most to spend per cycle.")] = None,
    by: Annotated[str, typer.Option(help="Walk thresholds or capacities.")] = "threshold",
    steps: Annotated[int, typer.Option(min=2, max=100, help="Rows in the table.")] = 10,
    bundle: Annotated[
        str | None, typer.Option(help="A bundle version (default: production, else the latest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What contacting more or fewer customers would have cost and earned on the test cutoff."""
    from propensity.project import Project

    result = Project.load(project).whatif(
        bundle=bundle,
        by=by,
        steps=steps,
        capacity=capacity,
        cost=cost,
        benefit=benefit,
        budget=budget,
    )
    if as_json:
        _emit_json(result)
        return
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


@app.command()
def report(
    project: ProjectOpt = Path("."),
    bundle: Annotated[
        str | None, typer.Option(help="A bundle version (default: production, else the latest).")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the HTML file.")
    ] = None,
) -> None:
    """Write the one-page HTML report of a trained model and print its path."""
    from propensity.project import Project

    proj = Project.load(project)
    if err.is_terminal:
        with err.status("writing the report"):
            path = proj.report(bundle=bundle, out=out_path)
    else:
        path = proj.report(bundle=bundle, out=out_path)
    out.print(f"report: {path}", highlight=False, soft_wrap=True)


@app.command()
def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: [serve] host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: [serve] port).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request line (no keys, ever).")
    ] = False,
) -> None:
    """Serve the production model over HTTP (FastAPI on uvicorn) until interrupted."""
    from propensity.project import Project

    try:
        from propensity.serving.app import run
    except ImportError as exc:
        raise _missing_extra("serve", exc) from None
    proj = Project.load(project)
    settings = proj.spec.serve
    run(proj, host=host or settings.host, port=port or settings.port, access_log=access_log)


def _missing_extra(extra: str, exc: ImportError) -> PropensityError:
    return PropensityError(
        f"{exc.name or 'a package'} is not installed; install the {extra} extra: "
        f"pip install 'propensity[{extra}]'"
    )


keys_app = typer.Typer(help="API keys of the service: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="scorer, analyst or admin.")],
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. crm-sync.")],
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from propensity.project import Project
    from propensity.serving.keys import create_key
    from propensity.store import connect

    con = connect(Project.load(project).workspace)
    try:
        secret = create_key(con, name, role)
    finally:
        con.close()
    if as_json:
        _emit_json({"name": name, "role": role, "key": secret})
        return
    out.print(secret, highlight=False, soft_wrap=True)
    err.print(f"key {name!r} ({role}): shown once, store it now; send it as the X-API-Key header")


@keys_app.command("list")
def keys_list(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Every key's name, role and dates (never the keys themselves)."""
    from dataclasses import asdict

    from propensity.project import Project
    from propensity.serving.keys import list_keys
    from propensity.store import connect

    con = connect(Project.load(project).workspace)
    try:
        found = list_keys(con)
    finally:
        con.close()
    if as_json:
        _emit_json([asdict(k) for k in found])
        return
    table = Table("name", "role", "created", "revoked")
    for k in found:
        table.add_row(k.name, k.role, k.created_at, k.revoked_at or "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Revoke a key; a running service refuses it within 5 seconds."""
    from propensity.project import Project
    from propensity.serving.keys import revoke_key
    from propensity.store import connect

    con = connect(Project.load(project).workspace)
    try:
        revoke_key(con, name)
    finally:
        con.close()
    out.print(f"revoked {name}")


@app.command()
def models(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """The registry: every bundle, its aliases, and the history of alias moves."""
    from propensity.project import Project
    from propensity.registry import Registry

    registry = Registry(Project.load(project).workspace)
    versions, history = registry.versions(), registry.history()
    if as_json:
        _emit_json({"serving": registry.serving(), "versions": versions, "history": history})
        return
    table = Table("version", "created", "model", "test ROC-AUC", "aliases")
    serving = registry.serving()
    for v in versions:
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
    if history:
        moves = Table("when", "alias", "version", "from", "who", "why")
        for e in history:
            moves.add_row(
                e["at"], e["alias"], e["version"], e["previous"] or "", e["who"], e["reason"]
            )
        out.print(moves)
    else:
        out.print("no alias has moved yet; the latest bundle serves")


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="The bundle version to serve.")],
    reason: Annotated[str, typer.Option(help="Why; kept in the history.")],
    project: ProjectOpt = Path("."),
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
) -> None:
    """Point production (or another alias) at a version, verified first; services follow."""
    from propensity.project import Project
    from propensity.registry import Registry

    previous = Registry(Project.load(project).workspace).move(alias, version, reason=reason)
    out.print(f"{alias}: {previous or '(none)'} -> {version}", highlight=False)


@app.command()
def rollback(
    project: ProjectOpt = Path("."),
    reason: Annotated[str, typer.Option(help="Why; kept in the history.")] = "rollback",
) -> None:
    """Put back the production model that served before the current one."""
    from propensity.project import Project
    from propensity.registry import Registry

    version = Registry(Project.load(project).workspace).rollback(reason=reason)
    out.print(f"production -> {version}", highlight=False)


@app.command()
def monitor(
    project: ProjectOpt = Path("."),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date to look at (ISO); default: the end of the data."),
    ] = None,
    bundle: Annotated[
        str | None, typer.Option(help="A bundle version (default: production, else the latest).")
    ] = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 at this verdict or worse: warn, alert or never.")
    ] = "alert",
    as_json: JsonOpt = False,
) -> None:
    """Drift against the model's reference and realized performance of past score runs."""
    from propensity.errors import DataError
    from propensity.project import Project

    if fail_on not in ("warn", "alert", "never"):
        raise DataError(f"--fail-on: {fail_on!r} is not warn, alert or never")
    day = _date("--as-of", as_of)
    result = Project.load(project).monitor(day, bundle)
    if as_json:
        _emit_json(result)
    else:
        _print_monitor(result)
    levels = ("ok", "warn", "alert")
    if fail_on != "never" and levels.index(result["verdict"]) >= levels.index(fail_on):
        raise typer.Exit(1)


def _print_monitor(result: dict[str, Any]) -> None:
    colour = {"ok": "green", "warn": "yellow", "alert": "red"}
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

        for r in result["realized"]:
            real, promised = r["realized"], r["promised"]
            runs.add_row(
                r["as_of"] + ("*" if r.get("in_sample") else ""),
                "this" if r.get("current", True) else "earlier",
                f"{fmt(real['roc_auc'])} ({fmt(promised.get('roc_auc'))})",
                f"{fmt(r['outcome_rate'])} / {fmt(r['mean_score'])}",
                f"{fmt(real['ece'])} ({fmt(promised.get('ece'))})",
                f"[{colour[r['verdict']]}]{r['verdict']}[/]",
            )
        if any(r.get("in_sample") for r in result["realized"]):
            legend += "; *: scored at a date the model was trained on"
        out.print(runs)
        out.print(legend, highlight=False)
    else:
        out.print("no score run has a closed label window yet: nothing realized to judge")
    out.print(f"details: {result['path']}", highlight=False, soft_wrap=True)
    out.print(f"page: {result['page']}", highlight=False, soft_wrap=True)


@app.command()
def retrain(
    project: ProjectOpt = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Retrain whatever the triggers say.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train a challenger when a [retrain] trigger fires; promote it only if it is better."""
    from propensity.project import Project

    result = Project.load(project).retrain(force=force)
    if as_json:
        _emit_json(result)
        return
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


def main() -> None:
    """Entry point: bad input gives one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except PropensityError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # an engine or library failure we did not foresee
        if os.environ.get("PROPENSITY_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        err.print(
            f"[red]error:[/] unexpected {type(exc).__name__}: {escape(first)} "
            "(set PROPENSITY_DEBUG=1 for the traceback, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
