"""The CLI as a user runs it: a real process, exit codes, stdout and stderr."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import shop_spec, shop_tables, to_toml


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "propensity.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_version():
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip().startswith("propensity 0.")


def test_build_json_and_table(make_project):
    root = make_project(shop_spec(), shop_tables())
    done = cli("build", "--project", root, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    frame = pd.read_parquet(summary["frame"])
    assert summary["rows"] == len(frame) == 4
    assert [c["cutoff"] for c in summary["cutoffs"]] == ["2024-02-01", "2024-03-01"]
    assert summary["features"] == len(frame.columns) - 3
    done = cli("build", "--project", root)
    assert done.returncode == 0, done.stderr
    assert "2024-03-01" in done.stdout
    assert "4 rows, 2 customers" in done.stdout
    assert str(root / ".propensity" / "frames" / "frame.parquet") in done.stdout


def test_show_sql_prints_the_query(make_project):
    root = make_project(shop_spec(), shop_tables())
    done = cli("build", "--project", root, "--show-sql")
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith(("SELECT", "WITH"))
    assert "OVER" in done.stdout
    assert not (root / ".propensity" / "frames" / "frame.parquet").exists()


def test_check_warnings_exit_zero_and_errors_exit_two(make_project):
    tables = shop_tables()
    tables["orders.parquet"].loc[0, "amount"] = -4.0
    root = make_project(shop_spec(), tables)
    done = cli("check", "--project", root)
    assert done.returncode == 0, done.stderr
    assert "warning orders: amount: 1 rows (14.3%) are negative" in done.stdout
    assert "ok: 0 errors, 1 warnings" in done.stdout
    summary = json.loads(cli("check", "--project", root, "--json").stdout)
    assert summary["ok"] is True
    assert [f["check"] for f in summary["findings"]] == ["negative_measure"]

    spec = shop_spec()
    spec["sources"]["orders"]["path"] = "data/gone.parquet"
    root = make_project(spec, tables)
    done = cli("check", "--project", root)
    assert done.returncode == 2
    assert "error orders: sources.orders.path: data/gone.parquet not found" in done.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["target"].update(horizon="90 days"),
            "error: propensity.toml: target.horizon: '90 days' is not a duration; "
            "write e.g. 90d, 12w, 3mo",
        ),
        (
            lambda s: s["sources"]["orders"].update(time="when"),
            "error: sources.orders.time: column 'when' not found in data/orders.parquet",
        ),
        (
            lambda s: s["cutoffs"].update(start="2030-01-01"),
            "error: cutoffs: no cutoff from 2030-01-01",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_two(make_project, change, message):
    spec = shop_spec()
    change(spec)
    root = make_project(spec, shop_tables())
    done = cli("build", "--project", root)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (root / ".propensity" / "frames" / "frame.parquet").exists()


def test_missing_project_is_exit_two(tmp_path):
    done = cli("check", "--project", tmp_path / "nowhere")
    assert done.returncode == 2
    assert "no project file here; create one with `propensity init DIR`" in done.stderr


def test_init_writes_a_template_and_refuses_to_overwrite(tmp_path):
    done = cli("init", tmp_path / "shop")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "shop" / "propensity.toml").read_text()
    assert 'name = "shop"' in text
    done = cli("init", tmp_path / "shop")
    assert done.returncode == 2
    assert "a project already exists here; pass --force" in done.stderr
    # the template is a valid spec whose data is not there yet: check says so
    done = cli("check", "--project", tmp_path / "shop")
    assert done.returncode == 2
    assert "data/customers.csv not found" in done.stdout


def test_to_toml_writes_what_the_cli_reads(tmp_path):
    (tmp_path / "propensity.toml").write_text(to_toml(shop_spec()))
    done = cli("check", "--project", tmp_path)
    assert done.returncode == 2  # valid spec, no data
    assert "sources.customers.path" in done.stdout


def test_score_refuses_a_bad_reasons_option(tmp_path):
    done = cli("score", "--project", tmp_path, "--out", tmp_path / "s.csv", "--reasons", "lots")
    assert done.returncode == 2
    assert "--reasons: 'lots' is not a number, 'all' or 'none'" in done.stderr
    assert "Traceback" not in done.stderr


def test_error_messages_keep_their_brackets(tmp_path):
    # rich would read "[y]" as markup and drop it; install lines like
    # pip install "propensity[tensorflow]" must reach the user whole
    done = cli(
        "score", "--project", tmp_path, "--out", tmp_path / "s.csv", "--as-of", "2025-x[tensorflow]"
    )
    assert done.returncode == 2
    assert "'2025-x[tensorflow]' is not a date" in done.stderr


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
    done = cli("init", tmp_path / "shop", "--demo", "--customers", "200", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "shop" / "data").exists()
