"""The compute backend: an Ibis connection (DuckDB by default) and the sources registered on it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from propensity.errors import SourceError, SpecError
from propensity.spec import EngineSection

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    """An Ibis backend plus the few operations the pipeline needs from it.

    Everything above this class builds backend-free Ibis expressions; only this class
    knows which engine runs them.

    Parameters
    ----------
    settings
        The ``[engine]`` section of the project file.
    """

    def __init__(self, settings: EngineSection | None = None) -> None:
        self.settings = settings or EngineSection()
        self.backend = self.settings.backend
        if self.backend == "pyspark":
            raise SpecError(
                "engine.backend: 'pyspark' is not available in this release yet; "
                'use backend = "duckdb" (the default)'
            )
        config: dict[str, Any] = {}
        threads = self.settings.threads or os.cpu_count() or 1
        config["threads"] = threads
        if self.settings.memory_limit:
            config["memory_limit"] = self.settings.memory_limit
        self.con: Any = ibis.duckdb.connect(**config)
        # Naive timestamps are UTC; aware ones are converted to UTC (see docs/data.md).
        self.con.raw_sql("SET TimeZone='UTC'")
        # rows carry their keys; streaming writes need no ordering and use less memory
        self.con.raw_sql("SET preserve_insertion_order = false")
        self._attached: set[str] = set()

    # -- reading -------------------------------------------------------------------------

    def read_csv(self, path: Path, name: str) -> ir.Table:
        """Load a CSV file; types are inferred from the whole file, not a sample.

        The file is loaded into a table rather than left as a view: DuckDB pushes casts
        into a CSV scan, which turns a ``try_cast`` of a type override into a hard error.
        """
        try:
            view = self.con.read_csv(str(path), table_name=f"{name}_csv", sample_size=-1)
            return self.con.create_table(name, view, temp=True, overwrite=True)
        except Exception as exc:
            raise SourceError(f"{path}: cannot read it as CSV: {_first_line(exc)}") from None

    def read_parquet(self, path: Path, name: str) -> ir.Table:
        """Register a Parquet file (or a folder of them)."""
        target = str(path / "*.parquet") if path.is_dir() else str(path)
        try:
            return self.con.read_parquet(target, table_name=name)
        except Exception as exc:
            raise SourceError(f"{path}: cannot read it as Parquet: {_first_line(exc)}") from None

    def read_duckdb_table(self, path: Path, table: str, name: str) -> ir.Table:
        """A table inside a DuckDB database file, attached read-only."""
        alias = f"{name}_db"
        if alias not in self._attached:
            try:
                self.con.attach(str(path), name=alias, read_only=True)
            except Exception as exc:
                raise SourceError(
                    f"{path}: cannot open it as a DuckDB file: {_first_line(exc)}"
                ) from None
            self._attached.add(alias)
        rows = self.con.raw_sql(
            "select table_name from information_schema.tables where table_catalog = ?",
            parameters=[alias],
        ).fetchall()
        tables = [r[0] for r in rows]
        if table not in tables:
            raise SourceError(
                f"{path}: no table '{table}'; tables are: {', '.join(sorted(tables)) or '(none)'}"
            )
        return self.con.table(table, database=f"{alias}.main")

    def register_arrow(self, data: Any, name: str) -> ir.Table:
        """Register an in-memory Arrow table (used for SQLite sources and small helpers)."""
        return self.con.create_table(name, data, overwrite=True)

    # -- running -------------------------------------------------------------------------

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        """Compute ``expr`` into a temporary table now and return that table."""
        return self.con.create_table(name, expr, temp=True, overwrite=True)

    def to_pandas(self, expr: ir.Table) -> Any:
        """Run an expression and return a pandas DataFrame."""
        return self.con.execute(expr)

    def to_pyarrow(self, expr: ir.Table) -> Any:
        """Run an expression and return an Arrow table."""
        return self.con.to_pyarrow(expr)

    def write_parquet(self, expr: ir.Table, path: Path) -> None:
        """Run an expression and write its result to ``path`` as Parquet."""
        self.con.to_parquet(expr, str(path))

    def sql(self, expr: ir.Expr) -> str:
        """The SQL this engine runs for ``expr`` (for ``--show-sql``)."""
        return str(ibis.to_sql(expr, dialect=self.backend))

    def close(self) -> None:
        """Release the connection."""
        self.con.disconnect()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
