"""The application: the version, the commands in help order, and how errors end a run."""

from __future__ import annotations

import sys

import pytest

import propensity.project
from propensity.cli import main
from tests.cli.conftest import invoke
from tests.conftest import shop_spec, shop_tables

VERBS = [
    "init",
    "check",
    "build",
    "train",
    "score",
    "whatif",
    "report",
    "serve",
    "models",
    "promote",
    "rollback",
    "monitor",
    "retrain",
    "keys",
]


def test_version():
    done = invoke("--version")
    assert done.exit_code == 0
    assert done.stdout.strip().startswith("propensity 0.")


def test_help_lists_every_verb_in_order():
    done = invoke("--help")
    assert done.exit_code == 0
    listed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("│ ")]
    assert [word for word in listed if word in VERBS] == VERBS
    keys = invoke("keys", "--help")
    assert all(verb in keys.stdout for verb in ("create", "list", "revoke"))


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
    done = invoke("build", "--project", root)
    assert done.exit_code == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (root / ".propensity" / "frames" / "frame.parquet").exists()


def test_missing_project_is_exit_two(tmp_path):
    done = invoke("check", "--project", tmp_path / "nowhere")
    assert done.exit_code == 2
    assert "no project file here; create one with `propensity init DIR`" in done.stderr


def test_error_messages_keep_their_brackets(tmp_path):
    # rich would read "[y]" as markup and drop it; install lines like
    # pip install "propensity[tensorflow]" must reach the user whole
    done = invoke(
        "score", "--project", tmp_path, "--out", tmp_path / "s.csv", "--as-of", "2025-x[tensorflow]"
    )
    assert done.exit_code == 2
    assert "'2025-x[tensorflow]' is not a date" in done.stderr


def _boom(*args, **kwargs):
    raise RuntimeError("the engine fell over\nand said more")


def test_an_unforeseen_failure_is_one_line_and_exit_one(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(propensity.project.Project, "load", _boom)
    monkeypatch.setattr(sys, "argv", ["propensity", "check", "--project", str(tmp_path)])
    monkeypatch.delenv("PROPENSITY_DEBUG", raising=False)
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 1
    said = capsys.readouterr().err
    assert said.startswith("error: unexpected RuntimeError: the engine fell over (set PROPENSITY")
    assert len(said.strip().splitlines()) == 1
    monkeypatch.setenv("PROPENSITY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="the engine fell over"):
        main()
