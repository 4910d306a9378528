"""The request schema of ``POST /v1/predict``, generated from the serving bundle.

Validation is hand-written rather than a generated pydantic model: a record is a flat
object of numbers and texts, the checks are few, and each error must name the record,
the field, the value and the fix in one fixed shape that clients can rely on.
"""

from __future__ import annotations

import math
from typing import Any

from propensity.serving.model import Input

__all__ = ["FLOAT32_MAX", "Problem", "check_records", "record_schema"]

#: models see float32 values; anything larger would become infinity
FLOAT32_MAX = 3.4028234663852886e38

Problem = dict[str, Any]


def _safe(value: Any) -> Any:
    """The value as JSON can carry it (NaN and infinity as text, long values cut)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= 100 else value[:100] + "..."
    return type(value).__name__


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_LOOKUPS: dict[int, tuple[list[Input], dict[str, Input], dict[str, set[str]]]] = {}


def _lookups(inputs: list[Input]) -> tuple[dict[str, Input], dict[str, set[str]]]:
    """Each input by name, and the levels of the text ones (worked out once per model)."""
    found = _LOOKUPS.get(id(inputs))
    if found is None or found[0] is not inputs:
        fields = {item.name: item for item in inputs}
        levels = {item.name: set(item.levels) for item in inputs if not item.numeric}
        if len(_LOOKUPS) > 16:
            _LOOKUPS.clear()
        found = _LOOKUPS[id(inputs)] = (inputs, fields, levels)
    return found[1], found[2]


def check_records(
    records: list[Any],
    inputs: list[Input],
    key: str,
    *,
    unknown_category: str,
    many: bool,
) -> tuple[list[Problem], list[list[str]]]:
    """Problems with the records (empty when all are fine) and per-record warnings."""
    fields, levels = _lookups(inputs)
    problems: list[Problem] = []
    warnings: list[list[str]] = []
    for n, record in enumerate(records):
        notes: list[str] = []
        warnings.append(notes)

        def problem(field: str, reason: str, kind: str, value: Any, n: int = n) -> None:
            entry: Problem = {"field": field, "reason": reason, "type": kind}
            if value is not ...:
                entry["value"] = _safe(value)
            if many:
                entry["record"] = n
            problems.append(entry)

        if not isinstance(record, dict):
            problem(
                "",
                f"a record must be a JSON object of feature values, not {_kind(record)}",
                "not_an_object",
                ...,
            )
            continue
        for name, value in record.items():
            if name == key:
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, str | int)
                ):
                    problem(
                        name,
                        f"the customer key must be text or a whole number, not {_kind(value)}",
                        "wrong_type",
                        value,
                    )
                elif isinstance(value, str) and not _encodable(value):
                    problem(
                        name,
                        "the customer key holds an unpaired surrogate (\\ud800-\\udfff); "
                        "send valid Unicode text",
                        "invalid_text",
                        ...,
                    )
                continue
            item = fields.get(name)
            if item is None:
                problem(
                    name,
                    "not an input of the serving model; check the spelling against the "
                    "schema at /openapi.json",
                    "unknown_field",
                    ...,
                )
            elif value is None:
                continue
            elif item.numeric:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    problem(
                        name, f"expected a number or null, not {_kind(value)}", "wrong_type", value
                    )
                elif isinstance(value, float) and not math.isfinite(value):
                    problem(
                        name,
                        "NaN and infinity are not values a model can use; send null for a "
                        "missing value",
                        "not_finite",
                        value,
                    )
                elif abs(value) > FLOAT32_MAX:
                    problem(
                        name, "out of range: the model reads 32-bit floats", "out_of_range", value
                    )
            elif not isinstance(value, str):
                problem(name, f"expected text or null, not {_kind(value)}", "wrong_type", value)
            elif value not in levels[name]:
                known = sorted(levels[name])
                shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
                if unknown_category == "other":
                    notes.append(f"{name}: {value!r} was never seen in training; scored as unknown")
                else:
                    problem(
                        name,
                        f"{value!r} was never seen in training; known: {shown} "
                        '(or set [serve] unknown_category = "other")',
                        "unknown_category",
                        value,
                    )
    return problems, warnings


def record_schema(inputs: list[Input], key: str, *, reject_unknown: bool) -> dict[str, Any]:
    """The JSON schema of one record (every field optional; null means missing)."""
    properties: dict[str, Any] = {key: {"anyOf": [{"type": "string"}, {"type": "integer"}]}}
    for item in inputs:
        if item.numeric:
            value: dict[str, Any] = {
                "type": "number",
                "minimum": -FLOAT32_MAX,
                "maximum": FLOAT32_MAX,
            }
        else:
            value = {"type": "string"}
            if reject_unknown and item.levels:
                value["enum"] = list(item.levels)
        properties[item.name] = {"anyOf": [value, {"type": "null"}]}
    return {
        "type": "object",
        "title": "Record",
        "description": "One customer's features, as in the training frame; null is missing.",
        "properties": properties,
        "additionalProperties": False,
    }
