"""Benchmark `train` and `score` on the simulated demo shop.

The demo project exactly as `propensity init --demo` writes it (monthly cutoffs from
2024-01-01, windows 30d/90d/365d, every feature family), with every candidate but Keras
unless `--keras` is given. Each step runs in its own process so that its peak memory is
its own: build, train, score (as of the day after the last event).

    python benchmarks/train.py                      # 100,000 customers
    python benchmarks/train.py --customers 20000    # the `make demo` size
    python benchmarks/train.py --keras              # with the network too
    python benchmarks/train.py --customers 20000 --keras --concurrent
                                 # then two trainings at once, on two copies of the project
    python benchmarks/train.py --customers 20000 --keras --concurrent --threads 1

``--threads`` writes ``[engine] threads`` into the project file (default: unset, so every
engine uses the machine's cores). ``--concurrent`` trains two copies of the project at the
same time after the steps above, to show what two users on one machine see.

Prints a table and writes benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NO_KERAS = '["prior", "recency", "bgnbd", "logistic", "lightgbm", "ensemble"]'


def make_project(folder: Path, customers: int, keras: bool, threads: int | None) -> None:
    from propensity.demo.project import init_project

    if not (folder / "data" / "orders.parquet").exists():
        init_project(folder, demo=True, customers=customers, seed=7, force=True)
    spec = folder / "propensity.toml"
    text = spec.read_text().split("\n[train]")[0]
    if not keras:
        text += f"\n[train]\ncandidates = {NO_KERAS}\n"
    text = text.split("\n[engine]")[0].rstrip() + "\n"
    if threads is not None:
        text += f"\n[engine]\nthreads = {threads}\n"
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


def start(step: str, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", step, "--folder", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(step: str, process: subprocess.Popen[str]) -> dict[str, object]:
    stdout, stderr = process.communicate()
    if process.returncode:
        sys.exit(f"{step} failed:\n{stderr}")
    result: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return result


def run(step: str, folder: Path) -> dict[str, object]:
    return finish(step, start(step, folder))


def concurrent(folder: Path) -> list[dict[str, object]]:
    """Train two copies of the built project at the same time."""
    copies = []
    for n in (1, 2):
        copy = folder.with_name(f"{folder.name}-copy{n}")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy)
        copies.append(copy)
    processes = [start("train", copy) for copy in copies]
    return [finish("train", process) for process in processes]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--keras", action="store_true")
    parser.add_argument("--concurrent", action="store_true")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--worker")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.folder)
        return
    folder = HERE / "results" / f"demo-{args.customers}"
    make_project(folder, args.customers, args.keras, args.threads)
    steps = {step: run(step, folder) for step in ("build", "train", "score")}
    together = concurrent(folder) if args.concurrent else []
    print(f"demo shop, {args.customers:,} customers ({platform.machine()}, {dt.date.today()})")
    print(f"{'step':8} {'seconds':>8} {'peak MB':>8}  detail")
    for step, out in steps.items():
        detail = {k: v for k, v in out.items() if k not in ("seconds", "peak_mb", "candidates")}
        print(f"{step:8} {out['seconds']:8.1f} {out['peak_mb']:8.0f}  {detail}")
    for name, row in steps["train"]["candidates"].items():  # type: ignore[attr-defined]
        auc = row["test_roc_auc"]
        print(f"  {name:10} {row['seconds']:6.1f} s over the folds, test ROC-AUC {auc:.4f}")
    for n, out in enumerate(together, 1):
        print(f"train {n} of 2 at once: {out['seconds']:.1f} s, {out['peak_mb']:.0f} MB peak")
    out_path = HERE / "results" / "train.json"
    out_path.write_text(
        json.dumps(
            {
                "date": dt.date.today().isoformat(),
                "customers": args.customers,
                "threads": args.threads,
                "steps": steps,
                "concurrent_train": together,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {out_path}")


if __name__ == "__main__":
    main()
