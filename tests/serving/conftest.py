"""A small trained project with two bundles, and real uvicorn servers on loopback ports."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from propensity.demo.project import init_project
from propensity.project import Project
from propensity.registry import Registry
from propensity.registry.keys import create_key
from propensity.store import connect


def _train(root: Path, candidates: list[str]) -> str:
    text = (root / "propensity.toml").read_text()
    head = text.split("\n[train]\n")[0]
    body = f"\n[train]\ncandidates = {json.dumps(candidates)}\n"
    (root / "propensity.toml").write_text(head + body)
    return Project.load(root).train().bundle.name


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two bundles (LightGBM, then logistic), production on the first, one score run."""
    root = tmp_path_factory.mktemp("served")
    init_project(root, demo=True, customers=1500, seed=11, force=True)
    text = (root / "propensity.toml").read_text()
    text = text.replace('start = "2024-01-01"', 'start = "2024-10-01"')
    text = text.replace('windows = ["30d", "90d", "365d"]', 'windows = ["30d", "90d"]')
    (root / "propensity.toml").write_text(text + "\n[backtest]\nfolds = 2\n")
    trees = _train(root, ["lightgbm"])
    linear = _train(root, ["logistic"])
    Registry(root / ".propensity").promote(trees, reason="first model", who="tests")
    Project.load(root).score(None, root / "scores.csv", bundle=trees, reasons_for=None)
    return {"root": root, "trees": trees, "linear": linear}


def records(root: Path, n: int = 5) -> list[dict[str, Any]]:
    """``n`` customers of the latest cutoff as request records (the key included)."""
    frame = pd.read_parquet(root / ".propensity" / "frames" / "frame.parquet")
    rows = frame[frame["cutoff"] == frame["cutoff"].max()].head(n)
    bundle = Project.load(root).load_bundle()
    names = [f["name"] for f in bundle.manifest["features"]]
    out = []
    for _, row in rows.iterrows():
        record: dict[str, Any] = {"customer_id": int(row["customer_id"])}
        for name in names:
            value = row[name]
            record[name] = (
                None if pd.isna(value) else (value if isinstance(value, str) else float(value))
            )
        out.append(record)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``propensity serve`` process on a loopback port."""

    root: Path
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)


def start_server(root: Path) -> Server:
    """Start the CLI's server on a free port with a key per role; waits until it answers."""
    keys = {}
    con = connect(root / ".propensity")
    try:
        for role in ("scorer", "analyst", "admin"):
            name = f"test-{role}-{int(time.time() * 1e6)}"
            keys[role] = create_key(con, name, role)
    finally:
        con.close()
    port = free_port()
    log = root / f"server-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "propensity.cli",
                "serve",
                "--project",
                str(root),
                "--port",
                str(port),
                "--access-log",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(root, proc, f"http://127.0.0.1:{port}", log, keys)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {server.output()}")
        try:
            if httpx.get(server.url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise AssertionError(f"server did not start: {server.output()}")


def copy_project(trained: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the trained project, for tests that change what serves."""
    root = tmp_path / "project"
    shutil.copytree(trained["root"], root, ignore=shutil.ignore_patterns("server-*.log"))
    return root


@pytest.fixture(scope="session")
def server(trained: dict[str, Any]) -> Any:
    """One server over the shared project, for tests that only read."""
    running = start_server(trained["root"])
    yield running
    running.stop()
