"""Batch scoring: calibrated probabilities for everyone eligible at a date, in chunks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity._io import atomic_path
from propensity.decisions.policy import Policy, assign_tiers, expected_value
from propensity.decisions.reasons import contributions, reason_codes
from propensity.errors import DataError
from propensity.modeling.bundle import Bundle
from propensity.modeling.derived import add_derived, derived_columns, derived_inputs
from propensity.spec import Spec

__all__ = ["score_file"]

CHUNK_ROWS = 100_000
#: customers, by rank, whose scores get reason codes unless told otherwise
REASONS_FOR = 10_000


def score_file(
    bundle: Bundle,
    features: Path,
    out: Path,
    *,
    key: str,
    as_of: dt.date | None,
    policy: Policy | None = None,
    spec: Spec | None = None,
    reasons_for: int | None = REASONS_FOR,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Score a Parquet file of features chunk by chunk and write ``out`` (.csv or .parquet).

    Columns: the key first, then ``probability`` (calibrated; for an amount target
    ``expected_<measure>``), ``rank`` (1 is the likeliest or the largest) and ``decile``
    (1 is the top tenth). With a policy: ``tier``, ``action``, ``expected_value``
    (probability x benefit - cost) and ``in_capacity`` (among the first ``capacity``
    by rank, within the budget). With the spec: ``reason_1`` to ``reason_3``, the top
    drivers of each score in words, for the ``reasons_for`` first customers by rank
    (None: everyone; exact tree contributions cost far more than scores). ``keep``: a
    Parquet copy of the same results (the workspace's record of the run). Memory holds
    one chunk of features at a time plus one row of results per customer.
    """
    import pyarrow.parquet as pq

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise DataError(f"out: {out.name} must end in .csv or .parquet", option="out")
    wanted = bundle.info.inputs
    reader = pq.ParquetFile(features)
    missing = [c for c in wanted if c not in reader.schema_arrow.names]
    if missing:
        raise DataError(
            f"score: the features{'' if as_of is None else f' at {as_of}'} lack "
            f"{', '.join(missing[:5])}; the bundle was "
            "trained on another spec: retrain it, or score with the spec it was trained on"
        )
    columns = [key, "cutoff", *wanted]
    # derived columns (BG/NBD at the date) are fitted on every eligible customer at once:
    # a few narrow columns, read whole, then handed out chunk by chunk
    plan = bundle.info.derived
    derived = None
    if plan:
        inputs = pq.read_table(features, columns=["cutoff", *derived_inputs(plan)]).to_pandas()
        derived = add_derived(inputs, plan)[derived_columns(plan)]

    def chunks() -> Iterator[pd.DataFrame]:
        start = 0
        for batch in reader.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
            chunk = batch.to_pandas()
            if derived is not None:
                part = derived.iloc[start : start + len(chunk)].reset_index(drop=True)
                chunk = pd.concat([chunk, part], axis=1)
            start += len(chunk)
            yield chunk

    keys: list[Any] = []
    scores: list[np.ndarray] = []
    for chunk in chunks():
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
    data: dict[str, Any] = {key: key_values, column: probability, "rank": rank, "decile": decile}
    if policy is not None:
        if bundle.task == "binary":
            data["tier"], data["action"] = assign_tiers(probability, policy.tiers)
            data["expected_value"] = expected_value(probability, policy.benefit, policy.cost)
        else:  # the predicted amount is what reaching the customer is worth
            data["expected_value"] = probability - policy.cost
        data["in_capacity"] = rank <= policy.limit(len(rank))
    explained = 0
    if spec is not None and reasons_for != 0:
        # a second pass: contributions only for the rows that get reasons
        texts = np.full((len(rank), 3), "", dtype=object)
        chosen = rank <= (len(rank) if reasons_for is None else reasons_for)
        typical, info = bundle.typical(), bundle.feature_info()
        start = 0
        for chunk in chunks():
            mask = chosen[start : start + len(chunk)]
            if mask.any():
                rows = bundle.prepare(chunk[mask].reset_index(drop=True))
                contribs, _ = contributions(bundle, rows)  # prepared already: no new work
                codes = reason_codes(contribs, rows, typical, spec, info=info)
                where = np.flatnonzero(mask) + start
                for row, found in zip(where, codes, strict=True):
                    texts[row, : len(found)] = found[:3]
            start += len(chunk)
        explained = int(chosen.sum())
        for n in range(3):
            data[f"reason_{n + 1}"] = texts[:, n]
    result = pd.DataFrame(data).sort_values("rank", kind="mergesort")
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            result.to_csv(tmp, index=False)
        else:
            result.to_parquet(tmp, index=False)
    if keep is not None:  # the workspace's own copy, whatever format the user asked for
        with atomic_path(keep) as tmp:
            result.to_parquet(tmp, index=False)
    summary: dict[str, Any] = {
        "out": str(out),
        "as_of": None if as_of is None else str(as_of),
        "rows": len(result),
        "bundle": bundle.info.version,
        "column": column,
        f"mean_{column}": float(probability.mean()),
        "with_reasons": explained,
    }
    if policy is not None:
        summary["in_capacity"] = int(result["in_capacity"].sum())
        if "tier" in result:
            summary["tiers"] = {
                str(k) or "(none)": int(v) for k, v in result["tier"].value_counts().items()
            }
    return summary


def _amount_column(bundle: Bundle) -> str:
    measure = (bundle.info.target or {}).get("measure") or "amount"
    return f"expected_{measure}"
