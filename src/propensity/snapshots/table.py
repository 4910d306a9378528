"""Table mode: a ready-made table with a label column is its own frame."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from propensity.engine import Engine
from propensity.errors import SpecError
from propensity.sources.reading import Source, feature_columns
from propensity.spec import Spec

__all__ = ["guess_positive", "table_frame"]

_POSITIVE_WORDS = {"yes", "true", "1", "churn", "churned", "y", "t", "positive"}


def table_frame(engine: Engine, spec: Spec, sources: dict[str, Source]) -> ir.Table:
    """The frame of a project in table mode: the table itself, with a 0/1 label."""
    ((name, source),) = sources.items()
    src = source.spec
    table = source.table
    key = spec.entity.key
    label_col = table[str(src.label)]
    positive: object = src.positive
    if positive is None:
        kind = label_col.type()
        if kind.is_boolean():
            positive = True
        elif kind.is_numeric():
            positive = 1
        else:
            values = list(engine.to_pandas(table.select(src.label).distinct().limit(20))[src.label])
            positive = guess_positive(values)
            if positive is None:
                shown = ", ".join(repr(v) for v in values if not pd.isna(v))
                raise SpecError(
                    f"sources.{name}.positive: say which value of '{src.label}' is the outcome "
                    f"to predict; the column holds: {shown}"
                )
    if isinstance(positive, str) and label_col.type().is_string():
        label = (label_col.strip().lower() == positive.strip().lower()).cast("int8")
    else:
        label = (label_col == positive).cast("int8")
    label = ibis.ifelse(label_col.isnull(), ibis.null("int8"), label)
    cutoff = table[src.time].date() if src.time else ibis.null("date")
    feats = feature_columns(source, key)
    return table.select(
        table[key], cutoff.name("cutoff"), label.name("label"), *[table[c] for c in feats]
    )


def guess_positive(values: list[object]) -> object | None:
    """The value of a label column that most likely means "yes, it happened"."""
    for value in values:
        if str(value).strip().lower() in _POSITIVE_WORDS:
            return value
    return None
