"""Reading sources: files and database tables, typed, with keys and times normalized."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from propensity.engine import Engine
from propensity.errors import SourceError
from propensity.sources.filters import compile_value, compile_where
from propensity.spec import SourceSpec, Spec

__all__ = ["Source", "feature_columns", "open_sources", "resolve_path"]

_TYPES = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
_SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
_DUCKDB_SUFFIXES = {".duckdb", ".ddb"}


@dataclass(frozen=True)
class Source:
    """One source as the pipeline sees it.

    Attributes
    ----------
    raw
        The table as read, with type overrides applied and nothing dropped (for ``check``).
    table
        The table the pipeline uses: key normalized across sources, rows without a key
        dropped, the time column a naive UTC timestamp (rows whose time cannot be read
        dropped), and the source's ``where`` filter applied.
    """

    name: str
    spec: SourceSpec
    path: Path
    raw: ir.Table
    table: ir.Table


def resolve_path(root: Path, path: str) -> Path:
    """A source path relative to the project folder (absolute paths are kept)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def open_sources(engine: Engine, spec: Spec, root: Path) -> dict[str, Source]:
    """Read and normalize every source of a project.

    Raises
    ------
    SourceError
        A file or table is missing, unreadable, or lacks a column the spec names.
    """
    raws: dict[str, tuple[Path, ir.Table]] = {}
    for name, src in spec.sources.items():
        path = resolve_path(root, src.path)
        raw = _derive(_read(engine, name, src, path), name, src)
        _check_columns(name, src, path, raw, spec.entity.key)
        raws[name] = (path, _apply_types(raw, src))
    _check_numeric(spec, raws)
    key_type = _common_key_type([t[spec.entity.key].type() for _, t in raws.values()])
    out = {}
    for name, (path, raw) in raws.items():
        src = spec.sources[name]
        table = raw.mutate(**{spec.entity.key: _cast_key(raw[spec.entity.key], key_type)})
        table = table.filter(table[spec.entity.key].notnull())
        if src.time is not None:
            table = table.mutate(**{src.time: parse_time(table[src.time], f"sources.{name}.time")})
            if src.kind == "events":
                table = table.filter(table[src.time].notnull())
        if src.where:
            table = table.filter(compile_where(src.where, table, f"sources.{name}.where"))
        out[name] = Source(name, src, path, raw, table)
    return out


def feature_columns(source: Source, key: str) -> list[str]:
    """The columns of an entity or table source that may be used as features as they are."""
    spec = source.spec
    skip = {key, *spec.pii, *spec.exclude}
    if spec.time:
        skip.add(spec.time)
    if spec.label:
        skip.add(spec.label)
    return [c for c in source.table.columns if c not in skip]


def parse_time(col: ir.Value, where: str) -> ir.TimestampValue:
    """A column as a naive UTC timestamp; values that cannot be read become null."""
    kind = col.type()
    if kind.is_timestamp():
        return col.cast(dt.Timestamp(scale=kind.scale)) if kind.timezone else col
    if kind.is_date():
        return col.cast("timestamp")
    if kind.is_string():
        # via a zoned timestamp, so that "+02:00" or "Z" is honoured and naive text is UTC
        return col.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
    raise SourceError(
        f"{where}: the column holds {kind} values, not times; store dates as ISO text "
        '(2024-01-31 or 2024-01-31 10:00:00) or set types.COLUMN = "timestamp"'
    )


def _read(engine: Engine, name: str, src: SourceSpec, path: Path) -> ir.Table:
    if not path.exists():
        raise SourceError(
            f"sources.{name}.path: {src.path} not found (looked for {path}); "
            "fix the path, relative to the project folder"
        )
    suffix = path.suffix.lower()
    table_name = f"src_{name}"
    if suffix in _SQLITE_SUFFIXES | _DUCKDB_SUFFIXES:
        if not src.table:
            raise SourceError(
                f"sources.{name}.table: {src.path} is a database file; name the table to read, "
                'e.g. table = "orders"'
            )
        if suffix in _DUCKDB_SUFFIXES:
            return engine.read_duckdb_table(path, src.table, table_name)
        return engine.register_arrow(_read_sqlite(path, src.table), table_name)
    if suffix == ".csv" or path.name.lower().endswith(".csv.gz"):
        return engine.read_csv(path, table_name)
    if suffix in {".parquet", ".pq"} or path.is_dir():
        return engine.read_parquet(path, table_name)
    raise SourceError(
        f"sources.{name}.path: cannot tell the format of {src.path}; use .csv, .parquet, "
        ".sqlite/.db (with table = ...) or .duckdb (with table = ...)"
    )


def _read_sqlite(path: Path, table: str) -> object:
    import pandas as pd
    import pyarrow as pa

    uri = f"file:{path}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "select name from sqlite_master where type in ('table', 'view')"
                )
            ]
            if table not in names:
                listed = ", ".join(sorted(names)) or "(none)"
                raise SourceError(f"{path}: no table '{table}'; tables are: {listed}")
            quoted = '"' + table.replace('"', '""') + '"'
            frame = pd.read_sql_query(f"select * from {quoted}", conn)
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path}: cannot open it as a SQLite file: {exc}") from None
    return pa.Table.from_pandas(frame, preserve_index=False)


def _check_numeric(spec: Spec, raws: dict[str, tuple[Path, ir.Table]]) -> None:
    """Measures are summed: they must hold numbers (or be overridden to numbers)."""
    wanted = [(f"sources.{n}.measures", n, m) for n, s in spec.sources.items() for m in s.measures]
    if spec.target is not None and spec.target.measure is not None:
        wanted.append(("target.measure", spec.target.source, spec.target.measure))
    for where, name, column in wanted:
        table = raws[name][1]
        if column not in table.columns:
            raise SourceError(
                f"{where}: column '{column}' not found in {spec.sources[name].path}; columns "
                f"are: {', '.join(table.columns)}"
            )
        kind = table[column].type()
        if not (kind.is_numeric() or kind.is_boolean()):
            raise SourceError(
                f"{where}: column '{column}' of {spec.sources[name].path} holds {kind} values, "
                f'not numbers; fix the data or set sources.{name}.types.{column} = "float"'
            )


def _derive(table: ir.Table, name: str, src: SourceSpec) -> ir.Table:
    """Add the source's derived columns (``derive.amount = "Quantity * Price"``)."""
    if not src.derive:
        return table
    return table.mutate(
        **{
            col: compile_value(text, table, f"sources.{name}.derive.{col}")
            for col, text in src.derive.items()
        }
    )


def _check_columns(name: str, src: SourceSpec, path: Path, table: ir.Table, key: str) -> None:
    columns = set(table.columns)
    wanted: list[tuple[str, str]] = [("entity.key", key)]
    if src.time:
        wanted.append((f"sources.{name}.time", src.time))
    if src.label:
        wanted.append((f"sources.{name}.label", src.label))
    for field in ("measures", "categories", "pii", "exclude"):
        wanted += [(f"sources.{name}.{field}", c) for c in getattr(src, field)]
    wanted += [(f"sources.{name}.types", c) for c in src.types]
    for where, column in wanted:
        if column not in columns:
            raise SourceError(
                f"{where}: column '{column}' not found in {src.path}; columns are: "
                f"{', '.join(table.columns)}"
            )


def _apply_types(table: ir.Table, src: SourceSpec) -> ir.Table:
    if not src.types:
        return table
    return table.mutate(**{col: _cast(table[col], _TYPES[kind]) for col, kind in src.types.items()})


def _cast(col: ir.Value, kind: str) -> ir.Value:
    if kind == "timestamp":
        return parse_time(col.cast("string") if col.type().is_numeric() else col, "types")
    return col.try_cast(kind)


def _common_key_type(types: list[dt.DataType]) -> str:
    if all(t.is_integer() or t.is_floating() or t.is_decimal() for t in types):
        return "int64"
    return "string"


def _cast_key(col: ir.Value, kind: str) -> ir.Value:
    kind_now = col.type()
    if kind == "int64":
        return col if kind_now == dt.int64 else col.cast("int64")
    if kind_now.is_floating() or kind_now.is_decimal():
        return col.cast("int64").cast("string")
    return col.cast("string")
