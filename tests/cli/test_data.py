"""``init``, ``check`` and ``build``: what they print, write and exit with."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.cli.conftest import invoke
from tests.conftest import shop_spec, shop_tables, to_toml


def test_build_json_and_table(make_project):
    root = make_project(shop_spec(), shop_tables())
    done = invoke("build", "--project", root, "--json")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout)
    frame = pd.read_parquet(summary["frame"])
    assert summary["rows"] == len(frame) == 4
    assert [c["cutoff"] for c in summary["cutoffs"]] == ["2024-02-01", "2024-03-01"]
    assert summary["features"] == len(frame.columns) - 3
    done = invoke("build", "--project", root)
    assert done.exit_code == 0, done.stderr
    assert "2024-03-01" in done.stdout
    assert "4 rows, 2 customers" in done.stdout
    assert str(root / ".propensity" / "frames" / "frame.parquet") in done.stdout


def test_show_sql_prints_the_query(make_project):
    root = make_project(shop_spec(), shop_tables())
    done = invoke("build", "--project", root, "--show-sql")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.lstrip().startswith(("SELECT", "WITH"))
    assert "OVER" in done.stdout
    assert not (root / ".propensity" / "frames" / "frame.parquet").exists()


def test_check_warnings_exit_zero_and_errors_exit_two(make_project):
    tables = shop_tables()
    tables["orders.parquet"].loc[0, "amount"] = -4.0
    root = make_project(shop_spec(), tables)
    done = invoke("check", "--project", root)
    assert done.exit_code == 0, done.stderr
    assert "warning orders: amount: 1 rows (14.3%) are negative" in done.stdout
    assert "ok: 0 errors, 1 warnings" in done.stdout
    summary = json.loads(invoke("check", "--project", root, "--json").stdout)
    assert summary["ok"] is True
    assert [f["check"] for f in summary["findings"]] == ["negative_measure"]

    spec = shop_spec()
    spec["sources"]["orders"]["path"] = "data/gone.parquet"
    root = make_project(spec, tables)
    done = invoke("check", "--project", root)
    assert done.exit_code == 2
    assert "error orders: sources.orders.path: data/gone.parquet not found" in done.stdout


def test_init_writes_a_template_and_refuses_to_overwrite(tmp_path):
    done = invoke("init", tmp_path / "shop")
    assert done.exit_code == 0, done.stderr
    text = (tmp_path / "shop" / "propensity.toml").read_text()
    assert 'name = "shop"' in text
    assert f"next: propensity check --project {tmp_path / 'shop'}" in done.stdout
    done = invoke("init", tmp_path / "shop")
    assert done.exit_code == 2
    assert "a project already exists here; pass --force" in done.stderr
    # the template is a valid spec whose data is not there yet: check says so
    done = invoke("check", "--project", tmp_path / "shop")
    assert done.exit_code == 2
    assert "data/customers.csv not found" in done.stdout


def test_to_toml_writes_what_the_cli_reads(tmp_path):
    (tmp_path / "propensity.toml").write_text(to_toml(shop_spec()))
    done = invoke("check", "--project", tmp_path)
    assert done.exit_code == 2  # valid spec, no data
    assert "sources.customers.path" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shift", "2025-13-01"], "--shift: '2025-13-01' is not a date; write e.g. 2025-10-01"),
        (["--shift", "2025-01-01", "--shift-plan", "gold"], "--shift-plan: unknown plan 'gold'"),
        (["--shift", "2025-01-01", "--shift-churn", "0"], "--shift-churn: 0.0 must be a positive"),
        (["--until", "soon"], "--until: 'soon' is not a date"),
        (["--data-only"], "--data-only: "),
        (["--shift-plan", "plus"], "describe a --shift; add --shift DATE"),
        (["--shift", "2022-06-01"], "--shift: 2022-06-01 is outside the demo's period"),
        (["--until", "2022-12-01"], "--until: 2022-12-01 is not after the demo's first day"),
    ],
)
def test_init_demo_options_refuse_bad_values_and_write_nothing(tmp_path, args, message):
    done = invoke("init", tmp_path / "shop", "--demo", "--customers", "200", *args)
    assert done.exit_code == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "shop" / "data").exists()
