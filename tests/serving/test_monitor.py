"""`propensity monitor` on a trained project: drift, realized outcomes, exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from propensity.modeling.metrics import roc_auc_score
from propensity.project import Project
from propensity.registry import Registry
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
    page = (project / ".propensity" / "monitoring" / result["path"].split("/")[-1]).with_suffix(
        ".html"
    )
    html = page.read_text()
    assert "is the model still true?" in html
    assert f"{run['realized']['roc_auc']:.4f}" in html
    assert next(iter(result["drift"]["features"])) in html  # the feature that moved most
    without_ns = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in without_ns  # self-contained: nothing fetched
    assert "https://" not in without_ns
    assert {"ok": "still holds", "warn": "Watch", "alert": "Act"}[result["verdict"]] in html


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


def test_retrain_promotes_only_a_better_challenger(project, trained):
    quiet = cli("retrain", "--project", project, "--json")  # default triggers: drift alert
    assert quiet.returncode == 0, quiet.stderr
    first = json.loads(quiet.stdout)
    assert first["champion"] == trained["trees"]
    if not first["triggers"]:
        assert first["decision"] == "no trigger: nothing retrained"
        assert "challenger" not in first
    done = cli("retrain", "--project", project, "--force", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    registry = Registry(project / ".propensity")
    assert registry.alias("challenger") == result["challenger"] != trained["trees"]
    # the champion's figure, recomputed here on the same cutoff
    frame = pd.read_parquet(project / ".propensity" / "frames" / "frame.parquet")
    rows = frame[pd.to_datetime(frame["cutoff"]).dt.date.astype(str) == result["cutoff"]]
    rows = rows[rows["label"].notna()].reset_index(drop=True)
    champion = Project.load(project).load_bundle(trained["trees"])
    assert result["champion_roc_auc"] == pytest.approx(  # BG/NBD refitted: row order
        roc_auc_score(rows["label"], champion.predict(rows)), abs=1e-4
    )
    # the champion learned from that cutoff: judging it there would be unfair, so it stays
    assert result["champion_in_sample"] is True
    assert result["promoted"] is False
    assert "would be judged on outcomes it learned from" in result["decision"]
    assert registry.serving() == trained["trees"]
    saved = (project / ".propensity" / "retrain").joinpath(result["path"].split("/")[-1])
    assert json.loads(saved.read_text())["decision"] == result["decision"]


def test_retrain_judges_an_older_champion_on_newer_outcomes(project):
    spec = project / "propensity.toml"
    text = spec.read_text()
    assert '# end = "2025-09-01"' in text
    spec.write_text(text.replace('# end = "2025-09-01"', 'end = "2025-07-01"'))
    old = Project.load(project).train().bundle.name  # rebuilds the frame to 2025-07-01
    registry = Registry(project / ".propensity")
    registry.promote(old, reason="trained before the newest outcomes", who="tests")
    spec.write_text(text + "\n[retrain]\nmargin = -1.0\n")  # any fair challenger wins
    done = cli("retrain", "--project", project, "--force")
    assert done.returncode == 0, done.stderr
    assert "promoted" in done.stdout
    record = sorted((project / ".propensity" / "retrain").glob("*.json"))[-1]
    result = json.loads(record.read_text())
    assert result["cutoff"] > "2025-07-01"
    assert result["champion_in_sample"] is False
    assert result["promoted"] is True
    assert registry.serving() == result["challenger"] != old
    last = registry.history("production")[-1]
    assert last["who"] == "retrain"
    assert last["reason"].startswith("retrain: ROC-AUC ")
