"""New projects: the demo project (simulated data plus a spec that works as is) and a template."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from propensity._io import write_text
from propensity.demo.simulate import END, START, Shift
from propensity.errors import PropensityError
from propensity.spec import SPEC_FILE, Spec

__all__ = ["DEMO_SPEC", "TEMPLATE_SPEC", "init_project"]

DEMO_SPEC = """\
# The demo project: a simulated subscription shop with known churn drivers.
# Every key is explained in docs/project-file.md.

[project]
name = "{name}"
question = "Which active customers will not order in the next 90 days?"

[entity]
key = "customer_id"

[sources.customers]
path = "data/customers.csv"
kind = "entity"
time = "signup_date"
pii = ["email", "name"]

[sources.orders]
path = "data/orders.parquet"
kind = "events"
time = "order_time"
measures = ["amount"]
categories = ["category"]

[sources.logins]
path = "data/logins.parquet"
kind = "events"
time = "login_time"
categories = ["device"]

[sources.tickets]
path = "data/tickets.parquet"
kind = "events"
time = "opened_at"
measures = ["satisfaction"]
categories = ["topic", "satisfaction"]

[target]
kind = "inactivity"
source = "orders"
horizon = "90d"

[population]
active_within = "365d"

[cutoffs]
start = "2024-01-01"
every = "1mo"
# end = "2025-09-01"   # default: the last cutoff whose 90-day label window is observed

[features]
windows = ["30d", "90d", "365d"]

[policy]
capacity = 500
benefit = 120.0
cost = 5.0

[policy.tiers.high]
at_least = 0.6
action = "call within a week"

[policy.tiers.medium]
at_least = 0.3
action = "retention email"

[policy.tiers.low]
at_least = 0.0
action = "no action"
"""

TEMPLATE_SPEC = """\
# A new propensity project. Point the sources at your tables, then run
#   propensity check --project {folder}
# Every key is explained in docs/project-file.md.

[project]
name = "{name}"
question = "Which active customers will not order in the next 90 days?"

[entity]
key = "customer_id"            # the column that identifies a customer in every source

[sources.customers]            # one row per customer
path = "data/customers.csv"
kind = "entity"
time = "signup_date"           # optional: when the customer appears
pii = ["email", "name"]        # never used as features

[sources.orders]               # many rows per customer, each with a time
path = "data/orders.parquet"   # .csv, .parquet, or a table in a SQLite/DuckDB file
kind = "events"
time = "order_date"
measures = ["amount"]          # numeric columns to aggregate
categories = ["channel"]       # low-cardinality columns to count by level

[target]
kind = "inactivity"            # no event in `source` within `horizon`
source = "orders"
horizon = "90d"

[population]
active_within = "365d"

[cutoffs]
start = "2024-01-01"
every = "1mo"

[features]
windows = ["30d", "90d", "365d"]

[policy]
capacity = 500
benefit = 120.0
cost = 5.0
"""


#: written beside the demo's data: which history it is (``--data-only`` must extend it)
DEMO_MARK = ".demo.json"


def _same_history(mark: Path, history: dict[str, object]) -> None:
    """Refuse ``--data-only`` outside a demo, or on a different simulated history."""
    if not mark.is_file():
        raise PropensityError(
            f"data_only: {mark} does not exist, so {mark.parent} holds no data written by "
            "`init --demo`; `data_only` only rewrites the demo's data (never a real "
            "project's)",
            option="data_only",
            mentions=("data_only",),
        )
    before = json.loads(mark.read_text())
    for name, value in history.items():
        if before.get(name) != value:
            option = name if name in ("customers", "seed") else "shift"
            raise PropensityError(
                f"{option}: {value} differs from {before.get(name)}, which this demo was "
                "written with; time can only pass on the same history (or start again "
                "with `force`)",
                option=option,
                mentions=("force",),
            )


def init_project(
    folder: Path,
    *,
    demo: bool = False,
    customers: int = 20_000,
    seed: int = 7,
    force: bool = False,
    shift: Shift | None = None,
    until: dt.date | None = None,
    data_only: bool = False,
) -> dict[str, object]:
    """Create a project folder with a ``propensity.toml``.

    Parameters
    ----------
    folder
        The new project's folder (created if missing).
    demo
        Also write simulated data, with a spec that works as is.
    customers
        How many customers the demo simulates.
    seed
        The demo's random seed: the same seed gives the same data.
    force
        Overwrite an existing ``propensity.toml``.
    shift
        Demo: a change of behaviour from a date (a price rise that raises one plan's churn).
    until
        Demo: write the data as it stood on this day, to replay time month by month.
    data_only
        Demo: rewrite the data of an existing demo project and keep its
        ``propensity.toml``; the customers, seed and shift must be those it was written
        with (``data/.demo.json``).
    """
    spec_path = folder / SPEC_FILE
    if not demo and (shift is not None or until is not None or data_only):
        raise PropensityError(
            "`shift`, `until` and `data_only` shape the demo's data; add `demo`",
            mentions=("shift", "until", "data_only", "demo"),
        )
    if data_only and not spec_path.is_file():
        raise PropensityError(
            f"data_only: {spec_path} does not exist; run without `data_only` to create it",
            option="data_only",
            mentions=("data_only",),
        )
    if spec_path.exists() and not (force or data_only):
        raise PropensityError(
            f"{spec_path}: a project already exists here; pass `force` to overwrite it "
            "(or `data_only` to rewrite only the demo's data)",
            mentions=("force", "data_only"),
        )
    if customers < 100:
        raise PropensityError(
            f"customers: {customers} is too few; use at least 100", option="customers"
        )
    history: dict[str, object] = {
        "customers": customers,
        "seed": seed,
        "shift": None
        if shift is None
        else {"start": str(shift.start), "plan": shift.plan, "churn": shift.churn_multiplier},
    }
    if shift is not None and not START < shift.start <= END:
        raise PropensityError(
            f"shift: {shift.start} is outside the demo's period ({START} to {END}); "
            "choose a date within it",
            option="shift",
        )
    if until is not None and until <= START:
        raise PropensityError(
            f"until: {until} is not after the demo's first day ({START}); no event would "
            "be written",
            option="until",
        )
    if data_only:
        _same_history(folder / "data" / DEMO_MARK, history)
    folder.mkdir(parents=True, exist_ok=True)
    name = folder.resolve().name
    text = (DEMO_SPEC if demo else TEMPLATE_SPEC).format(name=name, folder=folder)
    Spec.from_dict(__import__("tomllib").loads(text))  # the templates must always validate
    rows: dict[str, int] = {}
    if demo:
        from propensity.demo.simulate import write_demo

        rows = write_demo(folder / "data", customers, seed=seed, shift=shift, until=until)
        write_text(folder / "data" / DEMO_MARK, json.dumps(history, indent=1) + "\n")
    else:
        (folder / "data").mkdir(exist_ok=True)
    if not data_only:
        write_text(spec_path, text)
    return {
        "project": str(folder),
        "spec": str(spec_path),
        "demo": demo,
        "rows": rows,
        "until": None if until is None else str(until),
        "shift": history["shift"],
    }
