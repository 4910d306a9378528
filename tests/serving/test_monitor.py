"""`propensity monitor` on a trained project: drift, realized outcomes, exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from propensity.modeling.metrics import roc_auc_score
from propensity.project import Project
from tests.serving.conftest import copy_project
from tests.test_cli import cli


@pytest.fixture
def project(trained, tmp_path):
    return copy_project(trained, tmp_path)


def test_realized_performance_joins_past_scores_to_their_outcomes(project, trained):
    frame = pd.read_parquet(project / ".propensity" / "frames" / "frame.parquet")
    day = sorted(frame.loc[frame["label"].notna(), "cutoff"].unique())[-2]
    day = pd.Timestamp(day).date()
    Project.load(project).score(day, project / "past.csv", reasons_for=0)
    done = cli("monitor", "--project", project, "--json", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["bundle"] == trained["trees"]
    [run] = [r for r in result["realized"] if r["as_of"] == str(day)]
    # the same figure, computed here from the frame's own labels at that cutoff
    scores = pd.read_csv(project / "past.csv")
    labels = frame[pd.to_datetime(frame["cutoff"]).dt.date == day][["customer_id", "label"]]
    joined = scores.merge(labels, on="customer_id")
    assert run["customers"] == len(joined)
    assert run["realized"]["roc_auc"] == pytest.approx(
        roc_auc_score(joined["label"], joined["probability"])
    )
    assert run["promised"]["roc_auc"] == pytest.approx(
        Project.load(project).load_bundle().manifest["test"]["roc_auc"]
    )
    assert run["in_sample"] is True  # that cutoff was in the training window
    assert result["drift"]["population"]["rows"] > 0
    assert set(result["drift"]["features"]) >= {"orders_days_since_last", "plan"}
    assert (project / ".propensity" / "monitoring").is_dir()


def test_exit_codes_follow_the_verdict(project):
    text = (project / "propensity.toml").read_text()
    (project / "propensity.toml").write_text(
        text + "\n[monitor]\npsi_warn = 0.0001\npsi_alert = 0.0002\n"
    )
    alert = cli("monitor", "--project", project)
    assert alert.returncode == 1
    assert "alert" in alert.stdout
    assert cli("monitor", "--project", project, "--fail-on", "never").returncode == 0
    wrong = cli("monitor", "--project", project, "--as-of", "1999-01-01")
    assert wrong.returncode == 2
    assert "outside the data" in wrong.stderr
