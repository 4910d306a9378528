"""``monitor``: its options are checked before any work."""

from __future__ import annotations

from tests.cli.conftest import invoke


def test_monitor_refuses_a_bad_fail_on(tmp_path):
    done = invoke("monitor", "--project", tmp_path, "--fail-on", "sometimes")
    assert done.exit_code == 2
    assert "--fail-on: 'sometimes' is not warn, alert or never" in done.stderr
