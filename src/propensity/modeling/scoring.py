"""Batch scoring: calibrated probabilities for everyone eligible at a date, in chunks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity._io import atomic_path
from propensity.errors import DataError
from propensity.modeling.bundle import Bundle
from propensity.modeling.derived import add_derived, derived_columns, derived_inputs

__all__ = ["score_file"]

CHUNK_ROWS = 100_000


def score_file(
    bundle: Bundle, features: Path, out: Path, *, key: str, as_of: dt.date | None
) -> dict[str, Any]:
    """Score a Parquet file of features chunk by chunk and write ``out`` (.csv or .parquet).

    Columns: the key first, then ``probability`` (calibrated; for an amount target
    ``expected_<measure>``), ``rank`` (1 is the likeliest or the largest) and ``decile``
    (1 is the top tenth). Memory holds one chunk of features at a time plus
    one key and one probability per customer.
    """
    import pyarrow.parquet as pq

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise DataError(f"--out: {out.name} must end in .csv or .parquet")
    wanted = [f["name"] for f in bundle.manifest.get("features", [])]
    reader = pq.ParquetFile(features)
    missing = [c for c in wanted if c not in reader.schema_arrow.names]
    if missing:
        raise DataError(
            f"score: the features{'' if as_of is None else f' at {as_of}'} lack "
            f"{', '.join(missing[:5])}; the bundle was "
            "trained on another spec: retrain it, or score with the spec it was trained on"
        )
    keys: list[Any] = []
    scores: list[np.ndarray] = []
    columns = [key, "cutoff", *wanted]
    # derived columns (BG/NBD at the date) are fitted on every eligible customer at once:
    # a few narrow columns, read whole, then handed out chunk by chunk
    plan = bundle.manifest.get("derived") or {}
    derived = None
    if plan:
        inputs = pq.read_table(features, columns=["cutoff", *derived_inputs(plan)]).to_pandas()
        derived = add_derived(inputs, plan)[derived_columns(plan)]
    start = 0
    for batch in reader.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
        chunk = batch.to_pandas()
        if derived is not None:
            part = derived.iloc[start : start + len(chunk)].reset_index(drop=True)
            chunk = pd.concat([chunk, part], axis=1)
        start += len(chunk)
        keys.append(chunk[key].to_numpy())
        scores.append(bundle.predict(chunk))
    if not keys:
        raise DataError(
            "score: no row to score"
            if as_of is None
            else f"score: no customer is eligible on {as_of}"
        )
    key_values = np.concatenate(keys)
    probability = np.concatenate(scores)
    order = np.argsort(-probability, kind="mergesort")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    decile = np.minimum((rank - 1) * 10 // len(rank) + 1, 10)
    column = "probability" if bundle.task == "binary" else _amount_column(bundle)
    result = pd.DataFrame(
        {key: key_values, column: probability, "rank": rank, "decile": decile}
    ).sort_values("rank", kind="mergesort")
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            result.to_csv(tmp, index=False)
        else:
            result.to_parquet(tmp, index=False)
    return {
        "out": str(out),
        "as_of": None if as_of is None else str(as_of),
        "rows": len(result),
        "bundle": bundle.manifest.get("version"),
        "column": column,
        f"mean_{column}": float(probability.mean()),
    }


def _amount_column(bundle: Bundle) -> str:
    measure = (bundle.manifest.get("target") or {}).get("measure") or "amount"
    return f"expected_{measure}"
