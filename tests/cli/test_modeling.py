"""``score``: its options are checked before any work."""

from __future__ import annotations

from tests.cli.conftest import invoke


def test_score_refuses_a_bad_reasons_option(tmp_path):
    done = invoke("score", "--project", tmp_path, "--out", tmp_path / "s.csv", "--reasons", "lots")
    assert done.exit_code == 2
    assert "--reasons: 'lots' is not a number, 'all' or 'none'" in done.stderr
    assert "Traceback" not in done.stderr
