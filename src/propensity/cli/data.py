"""The project and its data: ``init``, ``check`` and ``build``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propensity.cli import render
from propensity.cli.options import JsonOpt, ProjectOpt, parse_date
from propensity.errors import DataError

__all__ = ["app", "build", "check", "init"]

app = typer.Typer()


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

    moved, day = parse_date("--shift", shift), parse_date("--until", until)
    if moved is None and (shift_plan is not None or shift_churn is not None):
        raise DataError("--shift-plan and --shift-churn describe a --shift; add --shift DATE")
    shift_plan = shift_plan or "basic"
    shift_churn = 10.0 if shift_churn is None else shift_churn
    if shift_plan not in PLANS:
        raise DataError(f"--shift-plan: unknown plan {shift_plan!r}; plans are: {', '.join(PLANS)}")
    if not shift_churn > 0:
        raise DataError(f"--shift-churn: {shift_churn} must be a positive number (1: no change)")
    change = None if moved is None else Shift(moved, shift_plan, shift_churn)
    with render.working(f"simulating {customers:,} customers", quiet=not demo or as_json):
        result = init_project(
            folder,
            demo=demo,
            customers=customers,
            seed=seed,
            force=force,
            shift=change,
            until=day,
            data_only=data_only,
        )
    if as_json:
        render.emit_json(result)
    else:
        render.init_summary(result, folder, data_only=data_only, until=day, shift=change)


@app.command()
def check(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Validate the spec and the data; flag leakage suspects. Exits 2 on errors."""
    from propensity.project import Project

    proj = Project.load(project)
    with render.working("checking sources", quiet=as_json):
        report = proj.check()
    if as_json:
        render.emit_json(report.summary())
    else:
        render.check_report(proj.spec.project.name, report)
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
        render.sql(proj.frame_sql())
        return
    with render.progress_bar(proj.build_steps, quiet=as_json) as step:
        result = proj.build(step)
    if as_json:
        render.emit_json(result.summary())
    else:
        render.build_summary(proj.spec.project.name, result)
