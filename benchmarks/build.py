"""Benchmark `propensity build` against the way a user writes it in pandas, on two logs.

* ``narrow``: an events-only log, 100,000 customers and about 10 million purchases with
  one amount (no categories, no entity table), windows 30d/90d/365d, no trends, the
  population active in the last 365 days.
* ``full``: the demo shop (100,000 customers, about 10 million events in three sources),
  windows 30d/90d/365d and every feature family.

Both have 12 monthly cutoffs from 2024-10-01 and a 90-day horizon. Each side runs in its
own process so that its peak memory is its own; the two frames are compared on a sample of
rows. The pandas side computes the same features (the year-ago ones included) the
straightforward way: loop over cutoffs, filter, group by.

    python benchmarks/build.py                      # both logs, one table
    python benchmarks/build.py --customers 20000    # a quick one
    python benchmarks/build.py --narrow             # the narrow log only (--full: the demo)

Prints a table and writes benchmarks/results/build.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WINDOWS = [30, 90, 365]
HORIZON = 90
ACTIVE = 365
START = dt.date(2024, 10, 1)
CUTOFFS = 12
YEAR = 365
FULL_SOURCES = {
    "orders": {"time": "order_time", "measures": ["amount"], "categories": ["category"]},
    "logins": {"time": "login_time", "measures": [], "categories": ["device"]},
    "tickets": {
        "time": "opened_at",
        "measures": ["satisfaction"],
        "categories": ["topic", "satisfaction"],
    },
}
NARROW_SOURCES = {"orders": {"time": "order_time", "measures": ["amount"], "categories": []}}
NARROW_SPEC = """\
[project]
name = "narrow"

[entity]
key = "customer_id"

[sources.orders]
path = "data/orders.parquet"
kind = "events"
time = "order_time"
measures = ["amount"]

[target]
kind = "inactivity"
source = "orders"
horizon = "90d"

[population]
active_within = "365d"

[cutoffs]
start = "{start}"
every = "1mo"
end = "{end}"

[features]
windows = ["30d", "90d", "365d"]
trends = false
"""


def cutoffs() -> list[pd.Timestamp]:
    return [pd.Timestamp(START) + pd.DateOffset(months=i) for i in range(CUTOFFS)]


# -- the two logs --------------------------------------------------------------------


def make_full(folder: Path, customers: int) -> None:
    from propensity.demo.project import DEMO_SPEC
    from propensity.demo.simulate import write_demo

    if not (folder / "data" / "orders.parquet").exists():
        started = time.perf_counter()
        rows = write_demo(folder / "data", customers, seed=7)
        print(f"simulated {rows} in {time.perf_counter() - started:.1f} s")
    end = cutoffs()[-1].date().isoformat()
    text = (
        DEMO_SPEC.format(name="bench")
        .replace('# end = "2025-09-01"', f'end = "{end}"')
        .replace('start = "2024-01-01"', f'start = "{START.isoformat()}"')
    )
    (folder / "propensity.toml").write_text(text)


def simulate_narrow(customers: int, seed: int = 11) -> pd.DataFrame:
    """Purchases of customers who come and go: about 100 per customer over 800 days.

    Each customer is active over a stretch of days (some before the data starts, some
    still active at its end) and buys at their own Poisson rate, at any second of a day.
    """
    rng = np.random.default_rng(seed)
    origin = np.datetime64("2023-10-01", "s")
    days = 800
    start = rng.integers(-200, days - 30, customers)
    length = rng.exponential(400, customers).astype(np.int64) + 10
    lo = np.clip(start, 0, days)
    span = np.maximum(np.clip(start + length, 0, days) - lo, 1)
    rate = rng.gamma(1.5, 1 / 1.5, customers) * 150 / 380
    n = rng.poisson(rate * span)
    total = int(n.sum())
    seconds = np.repeat(lo, n) * 86400 + (rng.random(total) * np.repeat(span, n) * 86400).astype(
        np.int64
    )
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(1, customers + 1), n),
            "order_time": origin + seconds.astype("timedelta64[s]"),
            "amount": np.round(rng.gamma(2.0, 25.0, total), 2),
        }
    )


def make_narrow(folder: Path, customers: int) -> None:
    data = folder / "data"
    if not (data / "orders.parquet").exists():
        started = time.perf_counter()
        data.mkdir(parents=True, exist_ok=True)
        orders = simulate_narrow(customers)
        orders.to_parquet(data / "orders.parquet", index=False)
        print(f"simulated {len(orders):,} purchases in {time.perf_counter() - started:.1f} s")
    text = NARROW_SPEC.format(start=START.isoformat(), end=cutoffs()[-1].date().isoformat())
    (folder / "propensity.toml").write_text(text)


# -- the pandas way ----------------------------------------------------------------------


def window_features(pop, name, src, ev, t, w, levels, trends):
    """Counts, active days, measure sums/means/maxima and level counts of [t - w, t)."""
    past = ev[ev.day < t]
    win = past[past.day >= t - pd.Timedelta(days=w)]
    g = win.groupby("customer_id")
    n = g.size()
    pop[f"{name}_count_{w}d"] = n.reindex(pop.index).fillna(0)
    pop[f"{name}_active_days_{w}d"] = g.day.nunique().reindex(pop.index).fillna(0)
    for m in src["measures"]:
        pop[f"{name}_{m}_sum_{w}d"] = g[m].sum().reindex(pop.index).fillna(0)
        pop[f"{name}_{m}_mean_{w}d"] = g[m].mean().reindex(pop.index)
        pop[f"{name}_{m}_max_{w}d"] = g[m].max().reindex(pop.index)
    for c in src["categories"]:
        counts = win.groupby(["customer_id", c]).size().unstack(fill_value=0)
        for level in levels[(name, c)]:
            col = counts[level] if level in counts else pd.Series(dtype=float)
            cnt = col.reindex(pop.index).fillna(0)
            key = f"{name}_{c}_{str(level).lower()}"
            pop[f"{key}_count_{w}d"] = cnt
            total = pop[f"{name}_count_{w}d"]
            pop[f"{key}_share_{w}d"] = (cnt / total).where(total > 0)
    if trends:
        prev = past[
            (past.day >= t - pd.Timedelta(days=2 * w)) & (past.day < t - pd.Timedelta(days=w))
        ]
        pn = prev.groupby("customer_id").size().reindex(pop.index).fillna(0)
        cur = pop[f"{name}_count_{w}d"]
        pop[f"{name}_count_trend_{w}d"] = (cur / pn).where(pn > 0)


def history_features(pop, name, src, ev, t):
    """All history before t, and the coming horizon's window one year earlier."""
    past = ev[ev.day < t]
    g = past.groupby("customer_id")
    first = g.day.min().reindex(pop.index)
    last = g.day.max().reindex(pop.index)
    days = g.day.nunique().reindex(pop.index).fillna(0)
    pop[f"{name}_count_all"] = g.size().reindex(pop.index).fillna(0)
    pop[f"{name}_active_days_all"] = days
    pop[f"{name}_days_since_last"] = (t - last).dt.days
    pop[f"{name}_days_since_first"] = (t - first).dt.days
    pop[f"{name}_mean_gap_days"] = ((last - first).dt.days / (days - 1)).where(days > 1)
    lo = t - pd.Timedelta(days=YEAR)
    ago = past[(past.day >= lo) & (past.day < lo + pd.Timedelta(days=HORIZON))]
    ga = ago.groupby("customer_id")
    pop[f"{name}_count_next{HORIZON}d_year_ago"] = ga.size().reindex(pop.index).fillna(0)
    for m in src["measures"]:
        total = ga[m].sum().reindex(pop.index).fillna(0)
        pop[f"{name}_{m}_sum_next{HORIZON}d_year_ago"] = total


def pandas_frame(folder: Path, log: str) -> pd.DataFrame:
    """Loop over cutoffs, filter, group by: the straightforward implementation."""
    warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
    data = folder / "data"
    sources = NARROW_SOURCES if log == "narrow" else FULL_SOURCES
    customers = None
    if log == "full":
        customers = pd.read_csv(data / "customers.csv", parse_dates=["signup_date"])
    events = {}
    for name, src in sources.items():
        frame = pd.read_parquet(data / f"{name}.parquet")
        frame["day"] = frame[src["time"]].dt.floor("D")
        events[name] = frame
    levels = {
        (name, c): events[name][c]
        .value_counts()
        .sort_index()
        .sort_values(ascending=False, kind="stable")
        .index[:10]
        for name, src in sources.items()
        for c in src["categories"]
    }
    out = []
    for t in cutoffs():
        orders = events["orders"]
        recent = orders[(orders.day < t) & (orders.day >= t - pd.Timedelta(days=ACTIVE))]
        active = recent.customer_id.unique()
        if customers is not None:
            active = np.intersect1d(customers[customers.signup_date < t].customer_id, active)
        pop = pd.DataFrame({"customer_id": np.sort(active)}).set_index("customer_id")
        future = orders[(orders.day >= t) & (orders.day < t + pd.Timedelta(days=HORIZON))]
        pop["label"] = (~pop.index.isin(future.customer_id)).astype(int)
        for name, src in sources.items():
            for w in WINDOWS:
                window_features(pop, name, src, events[name], t, w, levels, log == "full")
            history_features(pop, name, src, events[name], t)
        pop["cutoff"] = t
        out.append(pop.reset_index())
    return pd.concat(out, ignore_index=True)


# -- workers: each measured in its own process -------------------------------------------


def worker(kind: str, log: str, folder: Path) -> None:
    started = time.perf_counter()
    if kind == "propensity":
        from propensity.project import Project

        result = Project.load(folder).build()
        rows, path = result.rows, str(result.frame_path)
    else:
        frame = pandas_frame(folder, log)
        path = str(folder / "pandas_frame.parquet")
        frame.to_parquet(path)
        rows = len(frame)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_mb": usage.ru_maxrss / 1024,
                "rows": rows,
                "path": path,
            }
        )
    )


def run_worker(kind: str, log: str, folder: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--log", log, "--folder", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} on the {log} log failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def compare(ours_path: str, theirs_path: str, sample: int = 5000) -> dict[str, object]:
    ours = pd.read_parquet(ours_path)
    ours["cutoff"] = pd.to_datetime(ours.cutoff)
    theirs = pd.read_parquet(theirs_path)
    theirs["cutoff"] = pd.to_datetime(theirs.cutoff)
    keys = ["customer_id", "cutoff"]
    same_rows = len(ours) == len(theirs) and ours[keys].merge(theirs[keys]).shape[0] == len(ours)
    picked = theirs.sample(min(sample, len(theirs)), random_state=0)
    joined = picked.merge(ours, on=keys, suffixes=("_pd", ""))
    columns = [c for c in picked.columns if c not in keys and c in ours.columns]
    mismatched = []
    for col in columns:
        a = joined[f"{col}_pd"].astype(float).to_numpy()
        b = joined[col].astype(float).to_numpy()
        if not np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True):
            mismatched.append(col)
    return {
        "same_rows": bool(same_rows),
        "columns_compared": len(columns),
        "features": len(ours.columns) - 3,
        "rows_compared": len(joined),
        "mismatched": mismatched,
    }


def bench(log: str, customers: int, skip_pandas: bool) -> dict[str, object]:
    folder = HERE / ".cache" / f"{'narrow' if log == 'narrow' else 'demo'}-{customers}"
    folder.mkdir(parents=True, exist_ok=True)
    (make_narrow if log == "narrow" else make_full)(folder, customers)
    names = NARROW_SOURCES if log == "narrow" else FULL_SOURCES
    events = sum(len(pd.read_parquet(folder / "data" / f"{n}.parquet")) for n in names)
    out: dict[str, object] = {"customers": customers, "events": events}
    out["propensity"] = ours = run_worker("propensity", log, folder)
    if not skip_pandas:
        out["pandas"] = theirs = run_worker("pandas", log, folder)
        out["speedup"] = theirs["seconds"] / ours["seconds"]
        out["agreement"] = compare(str(ours["path"]), str(theirs["path"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--narrow", action="store_true", help="the narrow log only")
    parser.add_argument("--full", action="store_true", help="the demo shop only")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--worker", choices=["propensity", "pandas"])
    parser.add_argument("--log", choices=["narrow", "full"], default="full")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "build.json")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.log, args.folder)
        return
    logs = [x for x, on in (("narrow", args.narrow), ("full", args.full)) if on]
    results: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "python": platform.python_version(),
        "cutoffs": CUTOFFS,
        "windows": [f"{w}d" for w in WINDOWS],
        "logs": {},
    }
    runs: dict[str, dict[str, object]] = {}
    for log in logs or ["narrow", "full"]:
        runs[log] = bench(log, args.customers, args.skip_pandas)
    results["logs"] = runs
    print(
        f"{'log':8} {'events':>11} {'rows':>9} {'features':>8} {'propensity':>11} "
        f"{'pandas':>8} {'speed-up':>8} {'peak MB':>15}  agreement"
    )
    for log, run in runs.items():
        ours = run["propensity"]
        theirs = run.get("pandas")
        agree = run.get("agreement", {})
        pandas_s = f"{theirs['seconds']:7.1f}s" if theirs else f"{'-':>8}"
        speed = f"{run['speedup']:7.1f}x" if theirs else f"{'-':>8}"
        peaks = f"{ours['peak_mb']:.0f}" + (f" / {theirs['peak_mb']:.0f}" if theirs else "")
        verdict = (
            f"{agree['columns_compared']} columns on {agree['rows_compared']:,} rows, "
            f"same rows: {agree['same_rows']}, mismatched: {agree['mismatched'] or 'none'}"
            if agree
            else ""
        )
        print(
            f"{log:8} {run['events']:>11,} {ours['rows']:>9,} {agree.get('features', ''):>8} "
            f"{ours['seconds']:10.1f}s {pandas_s} {speed} {peaks:>15}  {verdict}"
        )
    print(f"{args.customers:,} customers, {CUTOFFS} cutoffs; peak MB: propensity / pandas")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
