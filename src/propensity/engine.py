"""The compute backend: an Ibis connection (DuckDB by default) and the sources registered on it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from propensity.errors import MissingExtraError, SourceError
from propensity.spec import EngineSection

__all__ = ["Engine"]

log = logging.getLogger(__name__)


#: Spark's JVM logs errors only. The gateway's own logger is named so that Spark sees a
#: level chosen for it and prints no "Setting default log level" banner.
_QUIET_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


class Engine:
    """An Ibis backend plus the few operations the pipeline needs from it.

    Everything above this class builds backend-free Ibis expressions; only this class
    knows which engine runs them.

    Parameters
    ----------
    settings
        The ``[engine]`` section of the project file.
    """

    def __init__(self, settings: EngineSection | None = None, workdir: Path | None = None) -> None:
        self.settings = settings or EngineSection()
        self.backend = self.settings.backend
        self._attached: set[str] = set()
        self._spark: Any = None
        self.con: Any
        if self.backend == "pyspark":
            self.con = self._connect_spark(workdir)
            return
        config: dict[str, Any] = {}
        threads = self.settings.thread_count()
        config["threads"] = threads
        if self.settings.memory_limit:
            config["memory_limit"] = self.settings.memory_limit
        self.con = ibis.duckdb.connect(**config)
        # Naive timestamps are UTC; aware ones are converted to UTC (see docs/data.md).
        self.con.raw_sql("SET TimeZone='UTC'")
        # rows carry their keys; streaming writes need no ordering and use less memory
        self.con.raw_sql("SET preserve_insertion_order = false")

    def _connect_spark(self, workdir: Path | None) -> Any:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise MissingExtraError(
                'engine.backend: "pyspark" needs the spark extra: '
                'pip install "propensity[spark]" (and Java 17)'
            ) from None
        import atexit
        import shutil
        import tempfile

        threads = self.settings.thread_count()
        # a fresh warehouse per process: Spark refuses to create a managed table where an
        # earlier run left one, and these tables are only scratch space
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        warehouse = Path(tempfile.mkdtemp(prefix="spark-", dir=workdir))
        atexit.register(shutil.rmtree, warehouse, ignore_errors=True)
        # errors only, from the JVM's first line on: Spark's default logging prints a
        # banner ("Setting default log level...") before setLogLevel can act
        quiet = warehouse / "log4j2.properties"
        quiet.write_text(_QUIET_LOG4J)
        java = f"-Dlog4j2.configurationFile={quiet}"
        builder: Any = SparkSession.builder
        self._spark = (
            builder.master(f"local[{threads}]")
            .appName("propensity")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.warehouse.dir", str(warehouse))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.extraJavaOptions", java)
            .config("spark.sql.shuffle.partitions", str(max(2, threads * 2)))
            .getOrCreate()
        )
        self._spark.sparkContext.setLogLevel("ERROR")
        return ibis.pyspark.connect(self._spark)

    # -- reading -------------------------------------------------------------------------

    def read_csv(self, path: Path, name: str) -> ir.Table:
        """Load a CSV file; types are inferred from the whole file, not a sample.

        The file is loaded into a table rather than left as a view: DuckDB pushes casts
        into a CSV scan, which turns a ``try_cast`` of a type override into a hard error.
        """
        try:
            if self.backend == "pyspark":
                return self.con.read_csv(str(path), table_name=name, inferSchema=True)
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
        if self.backend == "pyspark":
            import duckdb

            with duckdb.connect(str(path), read_only=True) as db:
                found = [r[0] for r in db.execute("show tables").fetchall()]
                if table not in found:
                    listed = ", ".join(sorted(found)) or "(none)"
                    raise SourceError(f"{path}: no table '{table}'; tables are: {listed}")
                data = db.execute(f'select * from "{table}"').to_arrow_table()
            return self.register_arrow(data, name)
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
        if self.backend == "pyspark":
            return self.con.create_table(name, expr, overwrite=True)
        return self.con.create_table(name, expr, temp=True, overwrite=True)

    def to_pandas(self, expr: ir.Table) -> Any:
        """Run an expression and return a pandas DataFrame."""
        return self.con.execute(expr)

    def to_pyarrow(self, expr: ir.Table) -> Any:
        """Run an expression and return an Arrow table."""
        return self.con.to_pyarrow(expr)

    def write_parquet(self, expr: ir.Table, path: Path) -> None:
        """Run an expression and write its result to ``path`` as one Parquet file."""
        if self.backend == "pyspark":
            # Spark writes folders of part files; the frame is one file, written here
            import pyarrow.parquet as pq

            pq.write_table(self.con.to_pyarrow(expr), str(path))
            return
        self.con.to_parquet(expr, str(path))

    def sql(self, expr: ir.Expr) -> str:
        """The SQL this engine runs for ``expr`` (for ``--show-sql``)."""
        return str(ibis.to_sql(expr, dialect=self.backend))

    def close(self) -> None:
        """Release the connection (the Spark session stays up for the next engine)."""
        if self.backend != "pyspark":
            self.con.disconnect()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
