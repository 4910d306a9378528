"""The same Ibis expressions on DuckDB and on PySpark (local mode) give the same frame."""

import importlib.util
import shutil

import pandas as pd
import pytest

from propensity.project import Project
from tests.conftest import random_shop, shop_spec, shop_tables, to_toml

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
        reason="needs the spark extra and Java",
    ),
    # py4j leaves its gateway sockets to the garbage collector, and PySpark 4.0 still
    # passes pandas' deprecated `copy=`: neither is ours to fix
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def both_frames(root, spec):
    frames = []
    for backend in ("duckdb", "pyspark"):
        (root / "propensity.toml").write_text(to_toml({**spec, "engine": {"backend": backend}}))
        result = Project.load(root).build()
        frame = pd.read_parquet(result.frame_path)
        frames.append(frame.sort_values(["customer_id", "cutoff"]).reset_index(drop=True))
    return frames


def test_shop_frame_is_the_same_on_both_engines(make_project):
    root = make_project(shop_spec(), shop_tables())
    duck, spark = both_frames(root, shop_spec())
    assert list(duck.columns) == list(spark.columns)
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def test_random_log_is_the_same_on_both_engines(make_project):
    spec = shop_spec(
        features={"windows": ["30d", "90d"]},
        target={"kind": "inactivity", "source": "orders", "horizon": "60d"},
        cutoffs={"start": "2023-04-01", "every": "1mo"},
    )
    root = make_project(spec, random_shop(5, 60, 1500))
    duck, spark = both_frames(root, spec)
    assert len(duck) > 300
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)


def test_spark_keeps_its_log_banner_off_the_terminal(tmp_path):
    import subprocess
    import sys

    code = (
        "from pathlib import Path; import sys; "
        "from propensity.engine import Engine; from propensity.spec import EngineSection; "
        "e = Engine(EngineSection(backend='pyspark', threads=1), Path(sys.argv[1])); "
        "print(e.to_pandas(e.con.sql('SELECT 1 AS one'))['one'].iloc[0]); e.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    # the JVM's own notice about Spark's vector module is not Spark's logging
    lines = [line for line in done.stderr.splitlines() if line.strip() and "incubator" not in line]
    assert not lines, done.stderr
