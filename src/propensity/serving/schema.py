"""The request schemas: ``POST /v1/predict``'s record, generated from the serving bundle.

One definition per bundle: :func:`record_model` turns the bundle's inputs into a pydantic
model (strict types, ``extra="forbid"``, every field optional, null for missing), and
both the OpenAPI schema and the checks of a request come from that model alone. The JSON
schema is its ``model_json_schema()``; a record passes when the model validates it. The
levels of text inputs ride along as field metadata (:class:`Levels`), for the warnings of
``[serve] unknown_category = "other"`` and for the messages.

Why pydantic validates on the hot path rather than a hand-written walk over the record:
it is the faster of the two. On the records of ``benchmarks/serve.py`` (176 inputs) the
model's validator (Rust) takes about 30 µs a record where the former hand-written checks
took 38 µs (19 against 41 µs on synthetic ones). The record is
validated as parsed and the validated instance thrown away: the service scores and logs
the record as sent (field order, values as parsed).

What stays hand-written is the wording. A valid record costs one validation; only a
refused one is explained: each pydantic error is turned into the service's fixed shape
(``field``, ``reason``, ``type``, the offending ``value``, ``record`` for lists), in the
order of the record's fields, with messages that say how to fix it.

The model refuses what the former checks refused, with one exception too small to
matter: pydantic compares a bound as a double, so an integer within half a double's step
above the float32 maximum (about 3.4e38 + 2e22) passes, and is read as that maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from propensity.serving.model import Input, ServedModel

__all__ = [
    "FLOAT32_MAX",
    "Levels",
    "Problem",
    "Promotion",
    "RecordSchema",
    "check_records",
    "record_model",
]

#: models see float32 values; anything larger would become infinity
FLOAT32_MAX = 3.4028234663852886e38

Problem = dict[str, Any]

_DESCRIPTION = "One customer's features, as in the training frame; null is missing."


class Promotion(BaseModel):
    """Body of ``POST /v1/models/promote``."""

    version: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="a bundle version (a folder name under .propensity/bundles)",
    )
    reason: str = Field(
        min_length=1, max_length=1000, pattern=r"\S", description="why; kept in the history"
    )


# -- the definition ----------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """Metadata of a text field: the levels it took in training (pydantic ignores it)."""

    values: tuple[str, ...]


def _valid_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_text", "an unpaired surrogate") from None
    return value


#: a number a float32 model can read; an integer is fine, a boolean is not (strict)
_Number = Annotated[float, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False)]
#: the customer key: text (valid Unicode) or a whole number
_Key = Annotated[str, AfterValidator(_valid_text)] | int


def record_model(inputs: Sequence[Input], key: str, *, reject_unknown: bool) -> type[BaseModel]:
    """The pydantic model of one record: the bundle's inputs and the customer key.

    Parameters
    ----------
    inputs
        The bundle's features, as :class:`~propensity.serving.model.ServedModel` has them.
    key
        The entity key, accepted beside the features (text or a whole number).
    reject_unknown
        Text fields take only the levels seen in training (``[serve] unknown_category =
        "reject"``); otherwise any text.

    Returns
    -------
    type[BaseModel]
        Fields are named by position (``f0``, ``f1``, ...) with the feature's name as
        alias, so any name works, including ones ``BaseModel`` uses itself.
    """
    fields: dict[str, Any] = {"key": (_Key | None, Field(default=None, alias=key))}
    for n, item in enumerate(i for i in inputs if i.name != key):
        kind: Any = _Number | None
        if not item.numeric:
            text: Any = str | None
            if reject_unknown:  # with no level at all, nothing but null is known
                text = Literal[item.levels] | None if item.levels else type(None)
            kind = Annotated[text, Levels(item.levels)]
        fields[f"f{n}"] = (kind, Field(default=None, alias=item.name))
    config = ConfigDict(extra="forbid", strict=True, title="Record")
    model: type[BaseModel] = create_model(
        "Record", __config__=config, __doc__=_DESCRIPTION, **fields
    )
    return model


class _Untitled(GenerateJsonSchema):
    """JSON schemas without a title per field (the names say it), levels as ``enum``."""

    def field_title_should_be_set(self, schema: core_schema.CoreSchema | Any) -> bool:
        return False

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        found = super().literal_schema(schema)
        if "const" in found:  # one level: still a list of the levels, as for several
            found["enum"] = [found.pop("const")]
        return found


# -- the checks --------------------------------------------------------------------------


class RecordSchema:
    """One bundle's record: its pydantic model, its JSON schema and the checks of requests.

    Build one with :meth:`of`, :meth:`from_inputs` or :meth:`fallback`; what the
    explanations need (the field names, the levels) is read back from the model.

    Parameters
    ----------
    model
        The record's pydantic model (:func:`record_model`).
    key
        The entity key, a field of the model.
    unknown_category
        ``reject`` (a level never seen in training is refused) or ``other`` (scored as
        unknown, with a warning).
    not_an_object
        The reason given for a record that is not an object (``{kind}``: what it is).
    """

    def __init__(
        self,
        model: type[BaseModel],
        *,
        key: str,
        unknown_category: str = "reject",
        not_an_object: str = "a record must be a JSON object of feature values, not {kind}",
    ) -> None:
        self.model = model
        self.key = key
        self.unknown_category = unknown_category
        self._validate = model.__pydantic_validator__.validate_python
        self._not_an_object = not_an_object
        # what the explanations need, read back from the model: the one definition
        self._fields = {str(info.alias) for info in model.model_fields.values()}
        self._levels = {
            str(info.alias): frozenset(item.values)
            for info in model.model_fields.values()
            for item in info.metadata
            if isinstance(item, Levels)
        }
        self._watched = list(self._levels.items()) if unknown_category == "other" else []
        self._json: dict[str, Any] | None = None

    @classmethod
    def from_inputs(
        cls, inputs: Sequence[Input], key: str, *, unknown_category: str
    ) -> RecordSchema:
        """The schema of a bundle's records (see :func:`record_model`)."""
        model = record_model(inputs, key, reject_unknown=unknown_category == "reject")
        return cls(model, key=key, unknown_category=unknown_category)

    @classmethod
    def fallback(cls) -> RecordSchema:
        """Records of the fallback score: any JSON object."""
        config = ConfigDict(extra="allow", strict=True, title="Record")
        model: type[BaseModel] = create_model("Record", __config__=config)
        return cls(model, key="", not_an_object="a record must be a JSON object")

    @classmethod
    def of(cls, model: ServedModel) -> RecordSchema:
        """The request schema of a served model (the fallback takes any object)."""
        if model.fallback:
            return cls.fallback()
        return cls.from_inputs(model.inputs, model.key, unknown_category=model.unknown_category)

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of one record (worked out once)."""
        if self._json is None:
            self._json = self.model.model_json_schema(schema_generator=_Untitled)
        return self._json

    def request_schema(self, max_records: int) -> dict[str, Any]:
        """The JSON schema of a request body: one record, or a list of them."""
        record = self.json_schema()
        many = {"type": "array", "items": record, "minItems": 1, "maxItems": max_records}
        return {"oneOf": [record, many]}

    def check(self, records: list[Any], *, many: bool) -> tuple[list[Problem], list[list[str]]]:
        """Problems with the records (empty when all are fine) and per-record warnings.

        Parameters
        ----------
        records
            The parsed records, as sent.
        many
            The request was a list: each problem names its record by position.
        """
        problems: list[Problem] = []
        warnings: list[list[str]] = []
        validate = self._validate
        for n, record in enumerate(records):
            try:
                validate(record)
            except ValidationError as exc:
                problems.extend(self._explain(record, exc, n if many else None))
            warnings.append(self._notes(record) if self._watched else [])
        return problems, warnings

    # -- explanations --------------------------------------------------------------------

    def _notes(self, record: Any) -> list[str]:
        """Warnings for text levels never seen in training (``unknown_category = "other"``)."""
        if not isinstance(record, dict):
            return []
        unseen = [
            name
            for name, levels in self._watched
            if isinstance(value := record.get(name), str) and value not in levels
        ]
        if len(unseen) > 1:  # in the record's order
            order = {name: i for i, name in enumerate(record)}
            unseen.sort(key=order.__getitem__)
        return [
            f"{name}: {record[name]!r} was never seen in training; scored as unknown"
            for name in unseen
        ]

    def _explain(self, record: Any, exc: ValidationError, n: int | None) -> list[Problem]:
        """The service's problems for a record the model refused, in the record's order."""
        if not isinstance(record, dict):
            reason = self._not_an_object.format(kind=_kind(record))
            return [_entry("", reason, "not_an_object", n=n)]
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        found: dict[str, set[str]] = {}
        if all(e["loc"] for e in errors):
            for e in errors:
                found.setdefault(str(e["loc"][0]), set()).add(e["type"])
        else:  # a name that is not valid text stops pydantic at once: field by field
            for name, value in record.items():
                try:
                    self._validate({name: value})
                except ValidationError as one:
                    found[name] = {e["type"] for e in one.errors(include_url=False)}
        return [self._problem(k, v, found[k], n) for k, v in record.items() if k in found]

    def _problem(self, name: str, value: Any, types: set[str], n: int | None) -> Problem:
        """One field's problem, worded; ``types`` are pydantic's error types for it."""
        if name == self.key:
            if "invalid_text" in types:
                return _entry(
                    name,
                    "the customer key holds an unpaired surrogate (\\ud800-\\udfff); "
                    "send valid Unicode text",
                    "invalid_text",
                    n=n,
                )
            reason = f"the customer key must be text or a whole number, not {_kind(value)}"
            return _entry(name, reason, "wrong_type", value, n=n)
        if name not in self._fields:
            return _entry(
                name,
                "not an input of the serving model; check the spelling against the "
                "schema at /openapi.json",
                "unknown_field",
                n=n,
            )
        if name in self._levels:
            if not isinstance(value, str):
                reason = f"expected text or null, not {_kind(value)}"
                return _entry(name, reason, "wrong_type", value, n=n)
            known = sorted(self._levels[name])
            shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
            return _entry(
                name,
                f"{value!r} was never seen in training; known: {shown} "
                '(or set [serve] unknown_category = "other")',
                "unknown_category",
                value,
                n=n,
            )
        if "finite_number" in types:
            return _entry(
                name,
                "NaN and infinity are not values a model can use; send null for a missing value",
                "not_finite",
                value,
                n=n,
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            reason = f"expected a number or null, not {_kind(value)}"
            return _entry(name, reason, "wrong_type", value, n=n)
        # past the bounds, or an integer too large for any float
        reason = "out of range: the model reads 32-bit floats"
        return _entry(name, reason, "out_of_range", value, n=n)


def _entry(
    field: str, reason: str, kind: str, value: Any = ..., *, n: int | None = None
) -> Problem:
    entry: Problem = {"field": field, "reason": reason, "type": kind}
    if value is not ...:
        entry["value"] = _safe(value)
    if n is not None:
        entry["record"] = n
    return entry


def _safe(value: Any) -> Any:
    """The value as JSON can carry it (NaN and infinity as text, long values cut)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= 100 else value[:100] + "..."
    return type(value).__name__


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


_SCHEMAS: dict[tuple[int, str, str], tuple[Sequence[Input], RecordSchema]] = {}


def check_records(
    records: list[Any],
    inputs: Sequence[Input],
    key: str,
    *,
    unknown_category: str,
    many: bool,
) -> tuple[list[Problem], list[list[str]]]:
    """Problems with the records (empty when all are fine) and per-record warnings.

    :meth:`RecordSchema.check` for a list of inputs; the schema is built once per list.
    """
    cache_key = (id(inputs), key, unknown_category)
    found = _SCHEMAS.get(cache_key)
    if found is None or found[0] is not inputs:
        if len(_SCHEMAS) > 16:
            _SCHEMAS.clear()
        found = _SCHEMAS[cache_key] = (
            inputs,
            RecordSchema.from_inputs(inputs, key, unknown_category=unknown_category),
        )
    return found[1].check(records, many=many)
