"""The prediction log: every answered prediction, committed before the answer leaves.

Rows go to the workspace database (SQLite in WAL mode). The commit happens before the
response is sent, so an acknowledged prediction survives the service being killed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["PredictionLog", "input_hash"]


def input_hash(record: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON (sorted keys): the same input, the same hash."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class PredictionLog:
    """Appends predictions to the ``predictions`` table of the workspace database."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def write(
        self,
        request_id: str,
        records: Sequence[dict[str, Any]],
        scores: Sequence[float],
        *,
        version: str | None,
        fallback: bool,
        key: str,
        key_name: str,
    ) -> None:
        """Record one request's predictions and commit."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        rows = [
            (
                request_id,
                n,
                now,
                version,
                input_hash(record),
                float(score),
                int(fallback),
                None if record.get(key) is None else str(record.get(key)),
                key_name,
            )
            for n, (record, score) in enumerate(zip(records, scores, strict=True))
        ]
        with self.con:
            self.con.executemany(
                "INSERT INTO predictions (request_id, item, at, model_version, input_hash, "
                "score, fallback, customer, key_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
