"""Customer lookups: the latest stored score of a customer, read from a ``score`` run."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException

from propensity.workspace import ScoreRuns

__all__ = ["CustomerLookups"]


class CustomerLookups:
    """The rows of the latest score run, by customer, cached per model version.

    Parameters
    ----------
    runs
        The workspace's score runs.
    key
        The entity key (``[entity] key``), the column customers are looked up by.
    """

    def __init__(self, runs: ScoreRuns, key: str) -> None:
        self.runs = runs
        self.key = key
        self.tables: dict[tuple[str | None, int], dict[str, dict[str, Any]]] = {}
        self.lock = asyncio.Lock()

    async def customer(self, version: str | None, customer: str) -> dict[str, Any]:
        """The latest stored score of a customer (no recomputation).

        The newest run of ``version`` is read, else the newest of any version. The first
        lookup in a run reads it into a table in a worker thread (seconds on a large run),
        so predictions go on meanwhile; concurrent first lookups wait for one read.
        """
        run = self.runs.latest(version)
        if run is None:
            raise HTTPException(
                404,
                "no score run to look customers up in; run `propensity score` "
                "(lookups read its results, they do not recompute)",
            )
        cache_key = (version, run.id)
        table = self.tables.get(cache_key)
        if table is None:
            async with self.lock:
                table = self.tables.get(cache_key)
                if table is None:
                    table = await asyncio.to_thread(_lookup_table, self.runs.path(run), self.key)
                    self.tables = {cache_key: table}  # one run per model version is kept
        row = table.get(customer)
        if row is None:
            raise HTTPException(
                404,
                f"customer {customer!r} is not in the score run of {run.as_of or run.at} "
                f"({len(table):,} customers); it was not eligible then, or the id is wrong",
            )
        row = dict(row)  # the cached row stays whole for the next lookup
        reasons = [row.pop(f"reason_{n}", None) for n in (1, 2, 3)]
        return {
            **{k: _plain(v) for k, v in row.items()},
            "reasons": [r for r in reasons if r],
            "as_of": run.as_of,
            "scored_at": run.at,
            "model_version": run.bundle,
        }


def _lookup_table(path: Path, key: str) -> dict[str, dict[str, Any]]:
    """A score run's rows by customer key (text), missing values as None."""
    frame = pd.read_parquet(path)
    frame[key] = frame[key].astype(str)
    frame = frame.astype(object).where(frame.notna(), None)
    return {str(r[key]): {str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")}


def _plain(value: Any) -> Any:
    """A cell as JSON carries it: NumPy scalars as Python ones, NaN and infinity as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
