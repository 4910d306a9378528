"""Benchmark `train` and `score` on the simulated demo shop.

The demo project exactly as `propensity init --demo` writes it (monthly cutoffs from
2024-01-01, windows 30d/90d/365d, every feature family), with every candidate but Keras
unless `--keras` is given. Each step runs in its own process so that its peak memory is
its own: build, train, score (as of the day after the last event).

    python benchmarks/train.py                      # 100,000 customers
    python benchmarks/train.py --customers 20000    # the `make demo` size
    python benchmarks/train.py --keras              # with the network too

Prints a table and writes benchmarks/results/train.json.
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

HERE = Path(__file__).resolve().parent
NO_KERAS = '["prior", "recency", "bgnbd", "logistic", "lightgbm"]'


def make_project(folder: Path, customers: int, keras: bool) -> None:
    from propensity.demo.project import init_project

    if not (folder / "data" / "orders.parquet").exists():
        init_project(folder, demo=True, customers=customers, seed=7, force=True)
    spec = folder / "propensity.toml"
    text = spec.read_text().split("\n[train]")[0]
    if not keras:
        text += f"\n[train]\ncandidates = {NO_KERAS}\n"
    spec.write_text(text)


def worker(step: str, folder: Path) -> None:
    from propensity.project import Project

    project = Project.load(folder)
    started = time.perf_counter()
    out: dict[str, object] = {}
    if step == "build":
        result = project.build()
        out = {"rows": result.rows, "features": len(result.features)}
    elif step == "train":
        trained = project.train()
        out = {
            "chosen": trained.chosen,
            "test": {k: trained.test[k] for k in ("roc_auc", "log_loss", "brier")},
            "candidates": {
                row["candidate"]: {
                    "seconds": row["seconds"],
                    "test_roc_auc": row["test"]["roc_auc"],
                }
                for row in trained.leaderboard
            },
        }
    else:
        scored = project.score(None, folder / "scores.parquet")
        out = {"rows": scored["rows"], "as_of": scored["as_of"]}
    out["seconds"] = time.perf_counter() - started
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run(step: str, folder: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", step, "--folder", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"{step} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--keras", action="store_true")
    parser.add_argument("--worker")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.folder)
        return
    folder = HERE / "results" / f"demo-{args.customers}"
    make_project(folder, args.customers, args.keras)
    steps = {step: run(step, folder) for step in ("build", "train", "score")}
    print(f"demo shop, {args.customers:,} customers ({platform.machine()}, {dt.date.today()})")
    print(f"{'step':8} {'seconds':>8} {'peak MB':>8}  detail")
    for step, out in steps.items():
        detail = {k: v for k, v in out.items() if k not in ("seconds", "peak_mb", "candidates")}
        print(f"{step:8} {out['seconds']:8.1f} {out['peak_mb']:8.0f}  {detail}")
    for name, row in steps["train"]["candidates"].items():  # type: ignore[attr-defined]
        auc = row["test_roc_auc"]
        print(f"  {name:10} {row['seconds']:6.1f} s over the folds, test ROC-AUC {auc:.4f}")
    out_path = HERE / "results" / "train.json"
    out_path.write_text(
        json.dumps(
            {"date": dt.date.today().isoformat(), "customers": args.customers, "steps": steps},
            indent=2,
        )
        + "\n"
    )
    print(f"written {out_path}")


if __name__ == "__main__":
    main()
