"""Reading a built frame back: the one way training, retraining and the report load it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

__all__ = ["read_frame"]


def read_frame(path: Path, key: str, *, cutoff: dt.date | None = None) -> pd.DataFrame:
    """Read a frame for training: numeric features as float32 from the start, cutoffs as dates.

    Casting column by column while the data is still Arrow keeps the peak near one float32
    copy instead of a float64 copy plus a float32 one. With ``cutoff``, only that cutoff's
    rows are read.

    Rows come sorted by cutoff, then key, whatever order the engine wrote them in (its
    parallel plan changes it from build to build): tree learners bin and split on row
    order, and the same data must give the same model. Sorting here, one column at a
    time, costs one column of extra memory; an ORDER BY in the build costs the whole frame.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    at = None if cutoff is None else pc.field("cutoff") == pa.scalar(cutoff, pa.date32())
    table = pq.read_table(path, filters=at)
    names = [c for c in ("cutoff", key) if c in table.column_names]
    order = pc.sort_indices(table.select(names), sort_keys=[(c, "ascending") for c in names])
    for i, f in enumerate(table.schema):
        column = table.column(i).take(order)
        numeric = pa.types.is_floating(f.type) or pa.types.is_integer(f.type)
        if f.name not in (key, "cutoff", "label") and numeric and f.type != pa.float32():
            column = pc.cast(column, pa.float32(), safe=False)
        table = table.set_column(i, f.name, column)
    return table.to_pandas(date_as_object=False, self_destruct=True)
