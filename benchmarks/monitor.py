"""Drift on a million rows and fifty features: how long `monitor`'s comparison takes.

The reference is computed once, at training (``reference_profile`` on the test cutoff's
rows); monitoring then bins the new population into the stored edges and levels. This
times both on synthetic data: 40 numeric features (some with missing values) and 10 text
features, a reference of 200,000 rows and a current population of 1,000,000 rows in which
a quarter of the features moved.

    python benchmarks/monitor.py [--rows 1000000] [--features 50]

Prints a table and writes benchmarks/results/monitor.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from propensity.modeling.bundle import reference_profile
from propensity.monitoring import Thresholds, compare

RESULTS = Path(__file__).parent / "results"


def population(rows: int, features: int, shift: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    text = max(features // 5, 1)
    columns: dict[str, object] = {}
    for j in range(features - text):
        moved = shift and j % 4 == 0
        x = rng.gamma(2.0 + (1.0 if moved else 0.0), 10.0, rows).astype(np.float32)
        if j % 5 == 0:
            x[rng.random(rows) < (0.25 if moved else 0.1)] = np.nan
        columns[f"num_{j}"] = x
    levels = np.array([f"level_{k}" for k in range(12)])
    for j in range(text):
        weights = np.linspace(1, 3, 12) if shift and j % 4 == 0 else np.ones(12)
        columns[f"cat_{j}"] = rng.choice(levels, rows, p=weights / weights.sum())
    return pd.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=50)
    args = parser.parse_args()

    reference_frame = population(args.reference_rows, args.features, False, 0)
    names = list(reference_frame.columns)
    started = time.perf_counter()
    reference = reference_profile(
        reference_frame, names, np.random.default_rng(1).uniform(0, 1, len(reference_frame))
    )
    profile_s = time.perf_counter() - started
    del reference_frame

    current = population(args.rows, args.features, True, 2)
    scores = np.random.default_rng(3).beta(2, 5, len(current))
    started = time.perf_counter()
    result = compare(current, scores, reference, Thresholds())
    compare_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    moved = [n for n, f in result["features"].items() if f["verdict"] != "ok"]
    expected = [n for n in names if int(n.split("_")[1]) % 4 == 0]
    print(
        f"drift of {args.rows:,} rows x {args.features} features "
        f"({platform.machine()}, {os.cpu_count()} cores, {dt.date.today()})"
    )
    print(f"{'step':<34}{'seconds':>9}")
    print(f"{'reference profile (training, once)':<34}{profile_s:>9.2f}")
    print(f"{'compare (monitor)':<34}{compare_s:>9.2f}")
    print(
        f"peak memory {peak_mb:,.0f} MB (data included); flagged {len(moved)} features, "
        f"{len(set(moved) & set(expected))} of the {len(expected)} that moved"
    )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "date": str(dt.date.today()),
        "rows": args.rows,
        "reference_rows": args.reference_rows,
        "features": args.features,
        "profile_seconds": round(profile_s, 3),
        "compare_seconds": round(compare_s, 3),
        "peak_mb": round(peak_mb),
        "flagged": sorted(moved),
        "moved": expected,
        "machine": {"machine": platform.machine(), "cores": os.cpu_count()},
    }
    (RESULTS / "monitor.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {RESULTS / 'monitor.json'}")


if __name__ == "__main__":
    main()
