"""Models and decisions: ``train``, ``score``, ``whatif`` and ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from propensity.cli import render
from propensity.cli.options import BundleOpt, JsonOpt, ProjectOpt, parse_date
from propensity.errors import DataError

__all__ = ["app", "report", "score", "train", "whatif"]

app = typer.Typer()


@app.command()
def train(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Backtest the candidates, choose and calibrate one, save it as a bundle."""
    from propensity.project import Project

    proj = Project.load(project)
    with render.working("training", quiet=as_json) as step:
        result = proj.train(step)
    if as_json:
        render.emit_json(result.summary())
    else:
        render.leaderboard(proj.spec.project.name, result)


def _reasons_for(reasons: str) -> int | None:
    """``--reasons``: how many customers get reason codes (None: all of them)."""
    choice = reasons.strip().lower()
    if choice == "all":
        return None
    if choice == "none":
        return 0
    if choice.isdigit():
        return int(choice)
    raise DataError(f"--reasons: {reasons!r} is not a number, 'all' or 'none'")


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
    bundle: BundleOpt = None,
    reasons: Annotated[
        str,
        typer.Option(
            help="How many customers, by rank, get reason codes: a number, 'all' or 'none'."
        ),
    ] = "10000",
    as_json: JsonOpt = False,
) -> None:
    """Score every eligible customer as of a date with the trained model."""
    from propensity.project import Project

    day = parse_date("--as-of", as_of)
    reasons_for = _reasons_for(reasons)
    result = Project.load(project).score(day, out_path, bundle=bundle, reasons_for=reasons_for)
    if as_json:
        render.emit_json(result)
    else:
        render.score_summary(result)


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
    bundle: BundleOpt = None,
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
        render.emit_json(result)
    else:
        render.whatif_table(result, by)


@app.command()
def report(
    project: ProjectOpt = Path("."),
    bundle: BundleOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the HTML file.")
    ] = None,
) -> None:
    """Write the one-page HTML report of a trained model and print its path."""
    from propensity.project import Project

    proj = Project.load(project)
    with render.working("writing the report"):
        path = proj.report(bundle=bundle, out=out_path)
    render.report_written(path)
