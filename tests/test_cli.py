"""The CLI as a user runs it: a real process, exit codes, stdout and stderr.

Most CLI tests run in-process (``tests/cli/``); these start the interpreter, as the
console script and ``python -m propensity.cli`` do. ``cli`` is shared by the tests that
need a separate process (a server, time passing between runs).
"""

import subprocess
import sys
from pathlib import Path

from tests.conftest import shop_spec, shop_tables

ENV = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "propensity.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=ENV,
    )


def test_version_as_a_module():
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip().startswith("propensity 0.")


def test_the_console_script_gives_one_line_and_exit_two(make_project, tmp_path):
    spec = shop_spec()
    spec["target"]["horizon"] = "90 days"
    root = make_project(spec, shop_tables())
    script = Path(sys.executable).with_name("propensity")  # the installed entry point
    runs = {
        "target.horizon: '90 days' is not a duration": ["build", "--project", root],
        "no project file here": ["check", "--project", tmp_path / "nowhere"],
    }
    for message, args in runs.items():
        done = subprocess.run(
            [script, *map(str, args)], capture_output=True, text=True, timeout=300, env=ENV
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith("error: "), done.stderr
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
