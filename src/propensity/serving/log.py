"""The prediction log: every answered prediction, committed before the answer leaves.

Rows go to the workspace database (SQLite in WAL mode). The commit happens before the
response is sent, so an acknowledged prediction survives the service being killed.
Under load the commits are grouped: requests answered in the same turn of the event loop
wait for one shared commit (a "group commit", as databases do for their own logs), so
durability costs one write per turn instead of one per request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["PredictionLog", "input_hash"]


_INSERT = (
    "INSERT INTO predictions (request_id, item, at, model_version, input_hash, score, "
    "fallback, customer, key_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def input_hash(record: dict[str, Any]) -> str:
    """SHA-256 of a record's compact JSON, as it arrived (fields in the order sent)."""
    text = json.dumps(record, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class PredictionLog:
    """Appends predictions to the ``predictions`` table of the workspace database."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self._rows: list[tuple[Any, ...]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._scheduled = False

    def rows(
        self,
        request_id: str,
        records: Sequence[dict[str, Any]],
        scores: Sequence[float],
        *,
        version: str | None,
        fallback: bool,
        key: str,
        key_name: str,
        body: bytes | None = None,
    ) -> list[tuple[Any, ...]]:
        """The rows of one request's predictions.

        The input hash is SHA-256 of ``body`` when given (a request of one record: the
        bytes as received), else of each record's compact JSON.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        return [
            (
                request_id,
                n,
                now,
                version,
                hashlib.sha256(body).hexdigest() if body is not None else input_hash(record),
                float(score),
                int(fallback),
                None if record.get(key) is None else str(record.get(key)),
                key_name,
            )
            for n, (record, score) in enumerate(zip(records, scores, strict=True))
        ]

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows and commit, now."""
        with self.con:
            self.con.executemany(_INSERT, rows)

    async def commit(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows and return once they are committed (shared with concurrent requests)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._rows.extend(rows)
        self._waiting.append(done)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after the requests already ready in this turn
        await done

    def _flush(self) -> None:
        rows, waiting = self._rows, self._waiting
        self._rows, self._waiting, self._scheduled = [], [], False
        try:
            self.write(rows)
        except Exception as exc:  # the callers answer 503; nothing was acknowledged
            for done in waiting:
                if not done.done():
                    done.set_exception(exc)
            return
        for done in waiting:
            if not done.done():
                done.set_result(None)
