"""The workspace's metadata database: one SQLite file in WAL mode beside the bundles.

It holds what must survive a crash and be shared between the CLI and a running service:
API keys (hashes only), the prediction log, the registry's aliases and their history, and
the score runs. WAL lets the service write while the CLI reads; ``synchronous=NORMAL``
makes every commit durable against a killed process (the operating system still has the
write), which is what the prediction log promises.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["DB_FILE", "connect"]

DB_FILE = "propensity.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS predictions (
    request_id TEXT NOT NULL,
    item INTEGER NOT NULL,
    at TEXT NOT NULL,
    model_version TEXT,
    input_hash TEXT NOT NULL,
    score REAL NOT NULL,
    fallback INTEGER NOT NULL,
    customer TEXT,
    key_name TEXT,
    PRIMARY KEY (request_id, item)
);
CREATE TABLE IF NOT EXISTS score_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    as_of TEXT,
    bundle TEXT NOT NULL,
    out TEXT NOT NULL,
    copy TEXT NOT NULL,
    rows INTEGER NOT NULL,
    score_column TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    moved_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alias_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alias TEXT NOT NULL,
    version TEXT NOT NULL,
    previous TEXT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""


def connect(workspace: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (and create if needed) the workspace database, in WAL mode."""
    workspace.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(workspace / DB_FILE, timeout=10.0, check_same_thread=check_same_thread)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA busy_timeout=10000")
    con.executescript(_SCHEMA)
    return con
