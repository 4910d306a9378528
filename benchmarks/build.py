"""Benchmark `propensity build` against the way a user writes it in pandas.

The demo shop (100,000 customers, about 10 million events by default), 12 monthly cutoffs,
windows 30d/90d/365d and every feature family. Each side runs in its own process so that
its peak memory is its own. Both frames are compared on a sample of rows.

    python benchmarks/build.py                      # the full benchmark
    python benchmarks/build.py --customers 20000    # a quick one

Prints a table and writes benchmarks/results/build.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WINDOWS = [30, 90, 365]
HORIZON = 90
ACTIVE = 365
START = dt.date(2024, 10, 1)
CUTOFFS = 12
SOURCES = {
    "orders": {"time": "order_time", "measures": ["amount"], "categories": ["category"]},
    "logins": {"time": "login_time", "measures": [], "categories": ["device"]},
    "tickets": {
        "time": "opened_at",
        "measures": ["satisfaction"],
        "categories": ["topic", "satisfaction"],
    },
}


def cutoffs() -> list[pd.Timestamp]:
    return [pd.Timestamp(START) + pd.DateOffset(months=i) for i in range(CUTOFFS)]


def make_project(folder: Path, customers: int) -> None:
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


# -- the pandas way ----------------------------------------------------------------------


def pandas_frame(folder: Path) -> pd.DataFrame:
    """Loop over cutoffs, filter, group by: the straightforward implementation."""
    data = folder / "data"
    customers = pd.read_csv(data / "customers.csv", parse_dates=["signup_date"])
    events = {}
    for name, src in SOURCES.items():
        frame = pd.read_parquet(data / f"{name}.parquet")
        frame["day"] = frame[src["time"]].dt.floor("D")
        events[name] = frame
    levels = {
        (name, c): events[name][c]
        .value_counts()
        .sort_index()
        .sort_values(ascending=False, kind="stable")
        .index[:10]
        for name, src in SOURCES.items()
        for c in src["categories"]
    }
    out = []
    for t in cutoffs():
        orders = events["orders"]
        recent = orders[(orders.day < t) & (orders.day >= t - pd.Timedelta(days=ACTIVE))]
        signed = customers[customers.signup_date < t]
        pop = pd.DataFrame(
            {"customer_id": np.intersect1d(signed.customer_id, recent.customer_id.unique())}
        ).set_index("customer_id")
        future = orders[(orders.day >= t) & (orders.day < t + pd.Timedelta(days=HORIZON))]
        pop["label"] = (~pop.index.isin(future.customer_id)).astype(int)
        for name, src in SOURCES.items():
            ev = events[name]
            past = ev[ev.day < t]
            for w in WINDOWS:
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
                prev = past[
                    (past.day >= t - pd.Timedelta(days=2 * w))
                    & (past.day < t - pd.Timedelta(days=w))
                ]
                pn = prev.groupby("customer_id").size().reindex(pop.index).fillna(0)
                cur = pop[f"{name}_count_{w}d"]
                pop[f"{name}_count_trend_{w}d"] = (cur / pn).where(pn > 0)
            g = past.groupby("customer_id")
            first = g.day.min().reindex(pop.index)
            last = g.day.max().reindex(pop.index)
            days = g.day.nunique().reindex(pop.index).fillna(0)
            pop[f"{name}_count_all"] = g.size().reindex(pop.index).fillna(0)
            pop[f"{name}_active_days_all"] = days
            pop[f"{name}_days_since_last"] = (t - last).dt.days
            pop[f"{name}_days_since_first"] = (t - first).dt.days
            pop[f"{name}_mean_gap_days"] = ((last - first).dt.days / (days - 1)).where(days > 1)
        pop["cutoff"] = t
        out.append(pop.reset_index())
    return pd.concat(out, ignore_index=True)


# -- workers: each measured in its own process -------------------------------------------


def worker(kind: str, folder: Path) -> None:
    started = time.perf_counter()
    if kind == "propensity":
        from propensity.project import Project

        result = Project.load(folder).build()
        rows, path = result.rows, str(result.frame_path)
    else:
        frame = pandas_frame(folder)
        path = str(folder / ".propensity" / "pandas_frame.parquet")
        frame.to_parquet(path)
        rows = len(frame)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": rows, "path": path}))


def run_worker(kind: str, folder: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--folder", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
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
        "rows_compared": len(joined),
        "mismatched": mismatched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--worker", choices=["propensity", "pandas"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "build.json")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.folder)
        return
    folder = HERE / ".cache" / f"demo-{args.customers}"
    folder.mkdir(parents=True, exist_ok=True)
    make_project(folder, args.customers)
    events = sum(len(pd.read_parquet(folder / "data" / f"{n}.parquet")) for n in SOURCES)
    results: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "python": platform.python_version(),
        "customers": args.customers,
        "events": events,
        "cutoffs": CUTOFFS,
        "windows": [f"{w}d" for w in WINDOWS],
    }
    ours = run_worker("propensity", folder)
    results["propensity"] = ours
    print(f"{'':12} {'seconds':>9} {'peak MB':>9} {'rows':>11}")
    print(f"{'propensity':12} {ours['seconds']:9.1f} {ours['peak_mb']:9.0f} {ours['rows']:11,}")
    if not args.skip_pandas:
        theirs = run_worker("pandas", folder)
        results["pandas"] = theirs
        results["speedup"] = theirs["seconds"] / ours["seconds"]
        results["agreement"] = compare(str(ours["path"]), str(theirs["path"]))
        print(
            f"{'pandas':12} {theirs['seconds']:9.1f} {theirs['peak_mb']:9.0f} {theirs['rows']:11,}"
        )
        print(f"speed-up {results['speedup']:.1f}x; agreement: {results['agreement']}")
    print(f"{args.customers:,} customers, {events:,} events, {CUTOFFS} cutoffs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
