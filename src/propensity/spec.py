"""The project file, ``propensity.toml``: typed, validated configuration objects."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from propensity.errors import SpecError

__all__ = [
    "BacktestSection",
    "CutoffsSection",
    "Duration",
    "EngineSection",
    "EntitySection",
    "FeaturesSection",
    "MonitorSection",
    "PolicySection",
    "PopulationSection",
    "ProjectSection",
    "RetrainSection",
    "ServeSection",
    "SourceSpec",
    "Spec",
    "TargetSection",
    "Tier",
    "TrainSection",
    "parse_duration",
]

SPEC_FILE = "propensity.toml"
#: learning rows x (validation folds + 1) that `backtest.folds = "auto"` allows
AUTO_FOLD_ROWS = 1_000_000

_UNIT_DAYS = {"d": 1, "w": 7, "mo": 30, "y": 365}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(d|w|mo|y)\s*$")


@dataclass(frozen=True, order=True)
class Duration:
    """A length of time written as ``90d``, ``12w``, ``3mo`` or ``1y``.

    Windows, horizons and look-backs are measured in whole days: a month counts as 30
    days and a year as 365, so that every cutoff sees windows of the same length. Only the
    cutoff schedule (``cutoffs.every``) steps by calendar months and years.
    """

    n: int
    unit: str

    @property
    def days(self) -> int:
        """Length in days (a month is 30 days, a year 365)."""
        return self.n * _UNIT_DAYS[self.unit]

    def step(self, day: dt.date, times: int = 1) -> dt.date:
        """Move ``day`` forward by this duration ``times`` times, by the calendar."""
        if self.unit in ("mo", "y"):
            months = self.n * times * (12 if self.unit == "y" else 1)
            month0 = day.year * 12 + day.month - 1 + months
            year, month = divmod(month0, 12)
            month += 1
            last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
            return dt.date(year, month, min(day.day, last))
        return day + dt.timedelta(days=self.days * times)

    def __str__(self) -> str:
        return f"{self.n}{self.unit}"


def parse_duration(value: object) -> Duration:
    """Parse ``90d``, ``12w``, ``3mo`` or ``1y`` into a :class:`Duration`.

    Examples
    --------
    >>> parse_duration("12w").days
    84
    """
    if isinstance(value, Duration):
        return value
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise PydanticCustomError(
            "duration",
            "{value} is not a duration; write e.g. 90d, 12w, 3mo",
            {"value": repr(value)},
        )
    return Duration(int(match.group(1)), match.group(2))


DurationField = Annotated[
    Duration, BeforeValidator(parse_duration), PlainSerializer(str, return_type=str)
]
Scalar = str | int | float | bool
ColumnType = Literal["string", "int", "float", "bool", "date", "timestamp"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(_Section):
    """``[project]``: what the project is called and which question it answers."""

    name: str = Field(min_length=1)
    question: str = ""


class EntitySection(_Section):
    """``[entity]``: the column that identifies a customer in every source."""

    key: str = Field(min_length=1)


class SourceSpec(_Section):
    """``[sources.NAME]``: one table and how to read it."""

    path: str = Field(min_length=1)
    kind: Literal["entity", "events", "table"]
    table: str | None = None
    time: str | None = None
    where: str | None = None
    derive: dict[str, str] = {}
    pii: list[str] = []
    measures: list[str] = []
    categories: list[str] = []
    exclude: list[str] = []
    types: dict[str, ColumnType] = {}
    label: str | None = None
    positive: Scalar | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> SourceSpec:
        if self.kind == "events" and self.time is None:
            raise PydanticCustomError(
                "events_time", "an events source needs `time`, the column with each row's time"
            )
        if self.kind == "table" and self.label is None:
            raise PydanticCustomError(
                "table_label", "a table source needs `label`, the column holding the outcome"
            )
        if self.kind != "table" and (self.label is not None or self.positive is not None):
            raise PydanticCustomError(
                "label_kind", "`label` and `positive` belong to sources of kind 'table' only"
            )
        if self.kind != "events" and (self.measures or self.categories):
            raise PydanticCustomError(
                "measures_kind",
                "`measures` and `categories` belong to events sources; entity and table "
                "columns are used as features as they are",
            )
        return self


class TargetSection(_Section):
    """``[target]``: what counts as the outcome at each cutoff."""

    kind: Literal["inactivity", "event", "amount"]
    source: str
    horizon: DurationField
    where: str | None = None
    measure: str | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> TargetSection:
        if self.kind == "event" and not self.where:
            raise PydanticCustomError(
                "event_where",
                "an event target needs `where`, e.g. where = \"event_type == 'cancel'\"",
            )
        if self.kind == "amount" and not self.measure:
            raise PydanticCustomError(
                "amount_measure", "an amount target needs `measure`, the column to sum"
            )
        if self.kind != "amount" and self.measure:
            raise PydanticCustomError("measure_kind", "`measure` is used by amount targets only")
        return self


class PopulationSection(_Section):
    """``[population]``: who is eligible at a cutoff."""

    active_within: DurationField | None = None
    source: str | None = None


class CutoffsSection(_Section):
    """``[cutoffs]``: the dates at which predictions would have been made."""

    start: dt.date
    every: DurationField
    end: dt.date | None = None

    @model_validator(mode="after")
    def _check_order(self) -> CutoffsSection:
        if self.end is not None and self.end < self.start:
            raise PydanticCustomError(
                "cutoff_order",
                "end {end} is before start {start}; set end later or remove it",
                {"end": str(self.end), "start": str(self.start)},
            )
        return self


class FeaturesSection(_Section):
    """``[features]``: the look-back windows and feature families."""

    windows: list[DurationField] = Field(
        default_factory=lambda: [Duration(30, "d"), Duration(90, "d"), Duration(365, "d")],
        min_length=1,
    )
    trends: bool = True
    max_levels: int = Field(default=10, ge=1, le=100)

    @staticmethod
    def _year_ago_switch(value: object) -> object:
        if value is True or value is False or value == "auto":
            return value
        raise PydanticCustomError(
            "year_ago",
            '{value} is not allowed; write true, false or "auto"',
            {"value": repr(value)},
        )

    #: each events source's count (and measure sums) in the coming horizon's window one
    #: year before the cutoff; "auto": when the events span more than 365 days + horizon
    year_ago: Annotated[Literal[True, False, "auto"], BeforeValidator(_year_ago_switch)] = "auto"

    @staticmethod
    def _holiday_dates(value: object) -> object:
        """ISO dates (or TOML dates), sorted and once each; anything else is refused."""
        if not isinstance(value, list | tuple):
            raise PydanticCustomError(
                "holidays",
                '{value} is not a list of dates; write e.g. holidays = ["2024-12-25"]',
                {"value": repr(value)},
            )
        days = set()
        for item in value:
            day = None
            if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
                day = item
            elif isinstance(item, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.strip()):
                try:
                    day = dt.date.fromisoformat(item.strip())
                except ValueError:
                    day = None
            if day is None:
                raise PydanticCustomError(
                    "holiday_date",
                    '{value} is not a date; write each holiday as an ISO date, e.g. "2024-12-25"',
                    {"value": repr(item)},
                )
            days.add(day)
        return sorted(days)

    @staticmethod
    def _calendar_switch(value: object) -> object:
        if value is True or value is False or value == "auto":
            return value
        raise PydanticCustomError(
            "calendar",
            '{value} is not allowed; write true, false or "auto"',
            {"value": repr(value)},
        )

    #: month, quarter, day of the year of each cutoff; "auto": when the events span > 1 year
    calendar: Annotated[Literal[True, False, "auto"], BeforeValidator(_calendar_switch)] = "auto"
    #: days to the next and since the last of these dates, at each cutoff (each date once:
    #: list every year you need)
    holidays: Annotated[list[dt.date], BeforeValidator(_holiday_dates)] = []


class Tier(_Section):
    """``[policy.tiers.NAME]``: customers at or above a probability and what to do."""

    at_least: float = Field(ge=0.0, le=1.0)
    action: str = ""


class PolicySection(_Section):
    """``[policy]``: money and capacity, used to turn scores into actions."""

    capacity: int | None = Field(default=None, gt=0)
    benefit: float = Field(default=100.0, ge=0.0)
    cost: float = Field(default=1.0, ge=0.0)
    budget: float | None = Field(default=None, gt=0.0)
    tiers: dict[str, Tier] = {}


class EngineSection(_Section):
    """``[engine]``: where the point-in-time frame is computed, and on how many threads."""

    backend: Literal["duckdb", "pyspark"] = "duckdb"
    #: one setting for DuckDB, Spark's local[N], LightGBM and TensorFlow; None: all cores
    threads: int | None = Field(default=None, gt=0)
    memory_limit: str | None = None

    def thread_count(self) -> int:
        """The threads every engine and model uses: ``threads``, or the machine's cores."""
        return self.threads or os.cpu_count() or 1


class BacktestSection(_Section):
    """``[backtest]``: how cutoffs are split into training and validation folds."""

    #: "auto": six validation folds on small frames, down to three on large ones
    folds: int | Literal["auto"] = "auto"
    gap: DurationField | None = None

    @field_validator("folds")
    @classmethod
    def _folds_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 24:
            raise ValueError(f'{value} validation folds: choose 1 to 24, or "auto"')
        return value

    def fold_count(self, rows: int, *, table: bool = False) -> int:
        """The validation folds to run: ``folds``, or for "auto" 3 to 6 by the frame's size.

        "auto" runs as many folds as :data:`AUTO_FOLD_ROWS` learning rows allow (each
        round learns from about all ``rows``), at least three and at most six; in table
        mode three.
        """
        if isinstance(self.folds, int):
            return self.folds
        if table:  # each holdout part shrinks as the parts multiply
            return 3
        return max(3, min(6, AUTO_FOLD_ROWS // max(rows, 1) - 1))


class TrainSection(_Section):
    """``[train]``: which candidates compete and how the winner is picked."""

    candidates: list[str] | None = None
    #: None: roc_auc for yes/no targets, rmse for amount targets
    metric: str | None = None
    tolerance: float = Field(default=0.005, ge=0.0)
    tune_trials: int = Field(default=0, ge=0)
    tune_seconds: float = Field(default=300.0, gt=0)
    #: rows sampled for each fit when the training cutoffs hold more
    max_rows: int = Field(default=300_000, ge=1_000)
    seed: int = 0


class ServeSection(_Section):
    """``[serve]``: the HTTP service (``propensity serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: records one ``POST /v1/predict`` may hold
    max_records: int = Field(default=1000, ge=1, le=100_000)
    #: request bodies above this answer 413
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    #: a category never seen in training: "reject" answers 422, "other" scores it as
    #: unknown (missing) and says so in the answer's warnings
    unknown_category: Literal["reject", "other"] = "reject"
    #: the score answered with no loadable model; None: the frame's base rate
    fallback_score: float | None = Field(default=None, ge=0.0)


class MonitorSection(_Section):
    """``[monitor]``: when drift and realized performance warn or alert."""

    #: population stability index of a feature or of the score
    psi_warn: float = Field(default=0.1, gt=0)
    psi_alert: float = Field(default=0.25, gt=0)
    #: change in a feature's share of missing values (absolute)
    missing_warn: float = Field(default=0.05, gt=0)
    missing_alert: float = Field(default=0.2, gt=0)
    #: relative change in the number of customers scored
    size_warn: float = Field(default=0.2, gt=0)
    size_alert: float = Field(default=0.5, gt=0)
    #: realized ROC-AUC below what the backtest promised, by this much
    auc_drop_warn: float = Field(default=0.03, gt=0)
    auc_drop_alert: float = Field(default=0.05, gt=0)
    #: realized calibration error (ECE) above what the backtest promised, by this much:
    #: the scores still rank but no longer mean what they say (expected values mislead)
    ece_rise_warn: float = Field(default=0.03, gt=0)
    ece_rise_alert: float = Field(default=0.06, gt=0)
    #: the outcome rate against the mean score, as a shift in log-odds (0.2: 40 % against
    #: 35 %, or 2.4 % against 2 %); flagged only when beyond chance (3 standard errors)
    rate_shift_warn: float = Field(default=0.2, gt=0)
    rate_shift_alert: float = Field(default=0.3, gt=0)

    @model_validator(mode="after")
    def _warn_before_alert(self) -> MonitorSection:
        for check in ("psi", "missing", "size", "auc_drop", "ece_rise", "rate_shift"):
            warn, alert = getattr(self, f"{check}_warn"), getattr(self, f"{check}_alert")
            if warn > alert:
                raise PydanticCustomError(
                    "warn_above_alert",
                    "{check}_warn ({warn}) is above {check}_alert ({alert}); a check warns "
                    "before it alerts: lower {check}_warn or raise {check}_alert",
                    {"check": check, "warn": warn, "alert": alert},
                )
        return self


class RetrainSection(_Section):
    """``[retrain]``: when ``propensity retrain`` trains a challenger, and when it wins."""

    #: retrain when the drift verdict reaches this ("never": drift is no trigger)
    on_drift: Literal["warn", "alert", "never"] = "alert"
    #: retrain when a realized check of the serving model's past scores reaches this
    on_outcomes: Literal["warn", "alert", "never"] = "alert"
    #: retrain when a realized ROC-AUC falls below this
    auc_floor: float | None = Field(default=None, gt=0, lt=1)
    #: retrain when the production model is older than this
    max_age: DurationField | None = None
    #: the challenger replaces the champion when its ROC-AUC on the latest labelled
    #: cutoff is higher by at least this much ...
    margin: float = 0.005
    #: ... or when it ranks as well (within ``margin``) and its log loss there is lower by
    #: at least this much (the champion's probabilities no longer mean what they say)
    log_loss_margin: float = Field(default=0.01, ge=0)


#: the sections that decide what the frame holds (not policy, engine, backtest, train)
FRAME_SECTIONS = ("entity", "sources", "target", "population", "cutoffs", "features")


class Spec(_Section):
    """A whole project file.

    Load one with :meth:`Spec.load`; every error names the file, the key and the fix.
    """

    project: ProjectSection
    entity: EntitySection
    sources: dict[str, SourceSpec] = Field(min_length=1)
    target: TargetSection | None = None
    population: PopulationSection = PopulationSection()
    cutoffs: CutoffsSection | None = None
    features: FeaturesSection = FeaturesSection()
    policy: PolicySection = PolicySection()
    engine: EngineSection = EngineSection()
    backtest: BacktestSection = BacktestSection()
    train: TrainSection = TrainSection()
    serve: ServeSection = ServeSection()
    monitor: MonitorSection = MonitorSection()
    retrain: RetrainSection = RetrainSection()

    @model_validator(mode="after")
    def _check_references(self) -> Spec:
        kinds = {name: src.kind for name, src in self.sources.items()}
        entities = [n for n, k in kinds.items() if k == "entity"]
        tables = [n for n, k in kinds.items() if k == "table"]
        if len(entities) > 1:
            raise PydanticCustomError(
                "entities",
                "sources {names} are all of kind 'entity'; keep one per project",
                {"names": ", ".join(entities)},
            )
        if tables:
            if len(kinds) > 1:
                raise PydanticCustomError(
                    "table_mode",
                    "table source '{name}' must be the only source (table mode); "
                    "remove the others or describe the data as entity and events sources",
                    {"name": tables[0]},
                )
            return self
        if self.target is None:
            raise PydanticCustomError(
                "no_target", "[target] is missing; it says what counts as the outcome"
            )
        if self.cutoffs is None:
            raise PydanticCustomError(
                "no_cutoffs", '[cutoffs] is missing; e.g. start = "2024-01-01", every = "1mo"'
            )
        events = sorted(n for n, k in kinds.items() if k == "events")
        for where, name in (
            ("target.source", self.target.source),
            ("population.source", self.population.source),
        ):
            if name is not None and kinds.get(name) != "events":
                raise PydanticCustomError(
                    "source_ref",
                    "{where}: '{name}' is not an events source; events sources are: {events}",
                    {"where": where, "name": name, "events": ", ".join(events) or "(none)"},
                )
        return self

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Spec:
        """Read and validate a project file.

        Parameters
        ----------
        path
            The ``propensity.toml`` file, or the project folder that holds it.
        """
        path = Path(path)
        if path.is_dir():
            path = path / SPEC_FILE
        if not path.is_file():
            raise SpecError(
                f"{path}: no project file here; create one with `propensity init DIR` "
                "or pass --project DIR"
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"{path.name}: not valid TOML: {exc}") from None
        return cls.from_dict(data, origin=path.name)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = SPEC_FILE) -> Spec:
        """Validate a parsed project file; ``origin`` names it in error messages."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(_format_errors(exc, origin)) from None

    def spec_hash(self) -> str:
        """SHA-256 of the canonical JSON form: equal for equal meaning, whatever the layout."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def frame_hash(self) -> str:
        """SHA-256 of the sections the frame depends on: a new ``[train]`` setting keeps it."""
        data = self.model_dump(mode="json", include=set(FRAME_SECTIONS))
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def table_mode(self) -> bool:
        """True when the project is one ready-made table with a label column."""
        return any(s.kind == "table" for s in self.sources.values())

    def entity_source(self) -> tuple[str, SourceSpec] | None:
        """The entity source and its name, if the project has one."""
        for name, src in self.sources.items():
            if src.kind == "entity":
                return name, src
        return None

    def events_sources(self) -> dict[str, SourceSpec]:
        """Every events source, by name."""
        return {n: s for n, s in self.sources.items() if s.kind == "events"}


def _format_errors(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            msg = f"unknown key; allowed keys are: {', '.join(allowed)}"
        elif kind == "missing":
            msg = "required key is missing"
        elif kind in (
            "literal_error",
            "date_from_datetime_parsing",
            "date_parsing",
        ) or kind.endswith("_type"):
            msg = f"{err['input']!r} is not allowed; {err['msg'][0].lower()}{err['msg'][1:]}"
            if kind.startswith("date"):
                msg += " (write an ISO date, e.g. 2024-01-31)"
        else:
            msg = err["msg"]
        lines.append(f"{origin}: {loc}: {msg}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a section accepts, found by walking the models along ``loc``."""
    model: Any = Spec
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            # inside a dict such as sources.NAME or policy.tiers.NAME: take its value type
            model = getattr(model, "__args__", (model,))[-1]
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if (isinstance(candidate, type) and issubclass(candidate, BaseModel)) or getattr(
                candidate, "__origin__", None
            ) is dict:
                model = candidate
                break
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []
