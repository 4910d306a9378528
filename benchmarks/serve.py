"""Benchmark `propensity serve` against a service written the way tutorials do.

Single-record ``POST /v1/predict`` at 32 concurrent connections on loopback, for 30 s after
a 3 s warm-up, first our service, then `benchmarks/reference_service.py` serving the same
model (LightGBM on the same rows), never both at once. Each service runs in its own process,
one uvicorn process each. The records are 1,000 customers of the frame's last cutoff, sent
in turn. The load comes from `wrk` when it is on PATH (Debian: `apt-get install wrk`),
otherwise from a bounded async httpx client in this process, which needs far more CPU of
its own: on 2 cores it takes some away from the service.

The demo project (LightGBM only) is built and trained once into
benchmarks/results/serve-<customers>; later runs reuse its bundle unless `--retrain`.

    python benchmarks/serve.py                       # 20,000 customers, 30 s each
    python benchmarks/serve.py --seconds 10 --generator httpx

Prints a table and writes benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).with_name("propensity")
TARGET_RATIO = 3.0
TARGET_P99_MS = 20.0


# -- the project and the records ----------------------------------------------------------


def propensity(*args: str) -> str:
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"propensity {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def bundle_dir(folder: Path) -> Path | None:
    latest = folder / ".propensity" / "bundles" / "LATEST"
    if not latest.exists():
        return None
    bundle = latest.parent / latest.read_text().strip()
    return bundle if (bundle / "model.txt").exists() else None


def make_project(folder: Path, customers: int, retrain: bool) -> Path:
    """A demo project whose latest bundle is LightGBM, trained when there is none."""
    bundle = bundle_dir(folder)
    if bundle is not None and not retrain:
        return bundle
    if not (folder / "propensity.toml").exists():
        propensity("init", str(folder), "--demo", "--customers", str(customers), "--force")
    spec = folder / "propensity.toml"
    text = spec.read_text().split("\n[train]")[0].rstrip("\n")
    spec.write_text(text + '\n\n[train]\ncandidates = ["lightgbm"]\n')
    for step in ("build", "train"):
        started = time.perf_counter()
        propensity(step, "--project", str(folder))
        print(f"{step} in {time.perf_counter() - started:.0f} s")
    bundle = bundle_dir(folder)
    if bundle is None:
        sys.exit(f"no LightGBM bundle in {folder / '.propensity' / 'bundles'} after training")
    return bundle


def make_records(folder: Path, bundle: Path, count: int) -> list[bytes]:
    """JSON bodies: the key and input features of customers at the frame's last cutoff."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    key = manifest["key"]
    names = [f["name"] for f in manifest["features"] if "_bgnbd_" not in f["name"]]
    frame = pd.read_parquet(folder / ".propensity" / "frames" / "frame.parquet")
    last = frame[frame["cutoff"] == frame["cutoff"].max()]
    rows = last.sample(n=min(count, len(last)), random_state=7)[[key, *names]]
    bodies = []
    for row in rows.to_dict("records"):
        clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        bodies.append(json.dumps(clean, default=lambda v: v.item()).encode())
    return bodies


# -- the services ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], url: str, log: Path, timeout: float) -> subprocess.Popen[bytes]:
    """Start a service and wait for ``GET /health`` (the reference fits its model first)."""
    import httpx

    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{' '.join(command)} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    stop(proc)
    sys.exit(f"{' '.join(command)} not healthy after {timeout:.0f} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children so far (Linux)."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# -- the load generators -----------------------------------------------------------------

WRK_SCRIPT = """
local bodies = {%(bodies)s}
local i = 0
wrk.method = "POST"
%(headers)s
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_load(
    url: str, headers: dict[str, str], bodies: list[bytes], args: argparse.Namespace
) -> dict[str, float]:
    """One wrk thread holding ``connections`` connections: warm-up, then the measured run."""
    lua = WRK_SCRIPT % {
        "bodies": ",\n".join(f"[==[{b.decode()}]==]" for b in bodies),
        "headers": "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = {}
        for seconds in (args.warmup, args.seconds):
            command = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s"]
            done = subprocess.run(
                [*command, "--latency", "-s", f.name, url],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
            if done.returncode or not lines:
                sys.exit(f"wrk failed:\n{done.stdout}{done.stderr}")
            out = json.loads(lines[-1].removeprefix("RESULT "))
    finally:
        os.unlink(f.name)
    good = out["requests"] - out["non_2xx"]
    return {
        "requests_per_s": good / (out["duration_us"] / 1e6),
        "p50_ms": out["p50_us"] / 1e3,
        "p99_ms": out["p99_us"] / 1e3,
        "max_ms": out["max_us"] / 1e3,
        "requests": out["requests"],
        "errors": out["non_2xx"] + out["socket_errors"],
    }


async def _httpx_load(
    url: str, headers: dict[str, str], bodies: list[bytes], args: argparse.Namespace
) -> dict[str, float]:
    import httpx

    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + args.warmup
    end = start + args.seconds

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal errors
        i = offset
        while (sent := time.perf_counter()) < end:
            i = (i + 1) % len(bodies)
            try:
                response = await client.post(url, content=bodies[i], headers=headers)
                ok = response.is_success
            except httpx.HTTPError:
                ok = False
            took = time.perf_counter()
            if sent >= start and took <= end:
                latencies.append(took - sent)
                errors += not ok

    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        await asyncio.gather(*(worker(client, n * 31) for n in range(args.connections)))
    ms = np.asarray(latencies) * 1e3
    return {
        "requests_per_s": (len(ms) - errors) / args.seconds,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "requests": len(ms),
        "errors": errors,
    }


def measure(
    command: list[str],
    port: int,
    headers: dict[str, str],
    bodies: list[bytes],
    args: argparse.Namespace,
    log: Path,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a service, check one request, put it under load, stop it."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    headers = {"Content-Type": "application/json", **headers}
    proc = start(command, base, log, timeout=args.start_timeout)
    try:
        sample = httpx.post(f"{base}/v1/predict", content=bodies[0], headers=headers, timeout=10)
        if sample.status_code != 200:
            sys.exit(
                f"{log.stem}: POST /v1/predict answered {sample.status_code}:\n{sample.text}\n"
                f"(log: {log}; a bundle older than the service? try --retrain)"
            )
        if sample.json().get("fallback"):
            sys.exit(
                f"{log.stem} answers with its fallback score, not a model: "
                f"{sample.text}\n(log: {log}; a bundle older than the service? try --retrain)"
            )
        answers = [
            httpx.post(f"{base}/v1/predict", content=b, headers=headers, timeout=10).json()
            for b in bodies[:200]
        ]
        cpu = cpu_seconds(proc.pid)
        started = time.perf_counter()
        if args.generator == "wrk":
            result = wrk_load(f"{base}/v1/predict", headers, bodies, args)
        else:
            result = asyncio.run(_httpx_load(f"{base}/v1/predict", headers, bodies, args))
        # over the warm-up and the measured run together
        result["server_cpu_percent"] = (
            100 * (cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - started)
        )
        rss = Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()[0]
        result["server_rss_mb"] = int(rss) / 1024
    finally:
        stop(proc)
    return result, {"sample": sample.json(), "answers": answers}


# -- the run -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = ("fastapi", "uvicorn", "pydantic", "lightgbm", "pandas", "scikit-learn", "httpx")
    return {
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        # anything else busy on the machine shows here, and skews the run
        "load_average_1min_before": os.getloadavg()[0],
        "packages": {name: version(name) for name in packages},
    }


def probability(answer: dict[str, Any]) -> float:
    for name in ("probability", "score"):
        if isinstance(answer.get(name), int | float):
            return float(answer[name])
    return math.nan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, help="default benchmarks/results/serve-<N>")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--records", type=int, default=1_000)
    parser.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument("--only", choices=("propensity", "reference"))
    parser.add_argument("--retrain", action="store_true", help="build and train again")
    args = parser.parse_args()
    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "httpx"
    elif args.generator == "wrk" and not shutil.which("wrk"):
        sys.exit("wrk is not on PATH; install it (Debian: apt-get install wrk) or use httpx")
    if args.generator == "wrk":
        args.seconds = max(1, round(args.seconds))
        args.warmup = max(1, round(args.warmup))
    folder = args.project or HERE / "results" / f"serve-{args.customers}"
    bundle = make_project(folder, args.customers, args.retrain)
    bodies = make_records(folder, bundle, args.records)
    logs = HERE / "results" / "serve-logs"
    logs.mkdir(parents=True, exist_ok=True)

    info = machine()
    services: dict[str, dict[str, Any]] = {}
    answers: dict[str, list[dict[str, Any]]] = {}
    if args.only != "reference":
        name = ("--name", f"bench-{dt.datetime.now():%Y%m%dT%H%M%S}", "--json")
        created = json.loads(
            propensity("keys", "create", "--project", str(folder), "--role", "scorer", *name)
        )
        port = free_port()
        command = [str(CLI), "serve", "--project", str(folder), "--host", "127.0.0.1"]
        services["propensity"], seen = measure(
            [*command, "--port", str(port)],
            port,
            {"X-API-Key": created["key"]},
            bodies,
            args,
            logs / "propensity.log",
        )
        print(f"propensity answers: {json.dumps(seen['sample'])[:300]}")
        answers["propensity"] = seen["answers"]
    if args.only != "propensity":
        port = free_port()
        script = str(HERE / "reference_service.py")
        services["reference"], seen = measure(
            [sys.executable, script, "--project", str(folder), "--port", str(port)],
            port,
            {},
            bodies,
            args,
            logs / "reference.log",
        )
        answers["reference"] = seen["answers"]

    print(
        f"POST /v1/predict, one record, {args.connections} connections, {args.seconds:g} s, "
        f"load from {args.generator} ({info['cores']} cores, {dt.date.today()})"
    )
    print(
        f"{'service':11} {'requests/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU %':>5}"
    )
    for name, row in services.items():
        print(
            f"{name:11} {row['requests_per_s']:10.0f} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} "
            f"{row['errors']:6d} {row['server_cpu_percent']:5.0f}"
        )
    out: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "customers": args.customers,
        "project": str(folder),
        "bundle": bundle.name,
        "generator": args.generator,
        "connections": args.connections,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "records": len(bodies),
        "machine": info,
        "services": services,
    }
    if len(services) == 2:
        ours, ref = services["propensity"], services["reference"]
        ratio = ours["requests_per_s"] / ref["requests_per_s"]
        pairs = np.array(
            [[probability(a), probability(b)] for a, b in zip(*answers.values(), strict=True)]
        )
        agree = pd.DataFrame(pairs).corr(method="spearman").iloc[0, 1]
        met = {"ratio": ratio >= TARGET_RATIO, "p99": ours["p99_ms"] < TARGET_P99_MS}
        print(
            f"ours / reference: {ratio:.1f}x requests/s (target {TARGET_RATIO:g}x: "
            f"{'met' if met['ratio'] else 'missed'}); our p99 {ours['p99_ms']:.1f} ms "
            f"(target < {TARGET_P99_MS:g} ms: {'met' if met['p99'] else 'missed'})"
        )
        print(f"rank correlation of the two services' probabilities: {agree:.3f}")
        out |= {
            "ratio": ratio,
            "targets": {
                "ratio_at_least": TARGET_RATIO,
                "p99_under_ms": TARGET_P99_MS,
                "ratio_met": met["ratio"],
                "p99_met": met["p99"],
            },
            "probability_rank_correlation": float(agree),
        }
    out_path = HERE / "results" / "serve.json"
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {out_path}")


if __name__ == "__main__":
    main()
