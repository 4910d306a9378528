"""The demo's story, through the CLI as a user runs it, with time passing month by month.

A price change on 2025-01-01 makes the basic plan's customers leave far more often. The
model is trained just before it; each month the data grows (``init --demo --until ...
--data-only``) and the customers are scored. By August the outcomes of the first months
after the change are in: ``monitor`` alerts, because the scores said far fewer customers
would stop ordering than did. ``retrain`` trains on the data as it now stands and
promotes the challenger once it is better on the latest labelled cutoff (judged by the
model its backtest trained on outcomes closed by then, it may need one more month of
them). Its own scores, once their outcomes are in, come true again, and the monitoring
page shows both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from propensity.spec import MonitorSection
from tests.test_cli import cli

THRESHOLDS = MonitorSection().model_dump()

SHIFT = "2025-01-01"
CUSTOMERS = 2500
# the story is about the shift, not the model zoo: keep training quick
SETTINGS = """
[backtest]
folds = 2

[train]
candidates = ["recency", "bgnbd", "logistic", "lightgbm"]
seed = 0

[engine]
threads = 2
"""


def _ok(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _months(year: int, first: int, last: int) -> list[str]:
    return [f"{year}-{m:02d}-01" for m in range(first, last + 1)]


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """Run the whole story once; the tests below read what it left."""
    root = tmp_path_factory.mktemp("story") / "shop"
    init = ["init", root, "--demo", "--customers", CUSTOMERS, "--shift", SHIFT]
    made = _ok(cli(*init, "--until", SHIFT))
    assert "churn is 10 times" in made.stdout
    (root / "propensity.toml").write_text((root / "propensity.toml").read_text() + SETTINGS)
    first = json.loads(_ok(cli("train", "--project", root, "--json")).stdout)

    def today(day: str) -> None:  # the data as it stands on that day
        _ok(cli(*init, "--until", day, "--data-only"))

    def score(day: str) -> None:
        out = root / f"scores-{day}.parquet"
        _ok(cli("score", "--project", root, "--out", out, "--reasons", "none"))

    for day in _months(2025, 1, 7):
        today(day)
        score(day)
    # from August, as a scheduler would: monitor, retrain while the old model serves, score
    alarm, retrains = None, []
    for day in _months(2025, 8, 10):
        today(day)
        if alarm is None:
            alarm = cli("monitor", "--project", root, "--json")
        if not any(r["promoted"] for r in retrains):
            retrains.append(json.loads(_ok(cli("retrain", "--project", root, "--json")).stdout))
        score(day)
    today("2026-01-01")
    later = cli("monitor", "--project", root, "--json", "--fail-on", "never")
    return {
        "root": root,
        "first": first,
        "alarm": alarm,
        "retrains": retrains,
        "later": json.loads(_ok(later).stdout),
    }


def _pooled(runs: list[dict]) -> tuple[float, float]:
    """The runs' calibration in the large taken together: (log-odds shift, z-score).

    The shift compares the customer-weighted outcome rate with the weighted mean score;
    the z-score is Stouffer's, each run's z weighted by the root of its size. A single
    run sits a few standard errors from its promise, at the mercy of one machine's
    floating point; four runs together sit many, unless the story is really broken.
    """
    n = np.array([r["customers"] for r in runs], dtype=float)
    rate = float(np.dot(n, [r["outcome_rate"] for r in runs]) / n.sum())
    score = float(np.dot(n, [r["mean_score"] for r in runs]) / n.sum())
    shift = float(np.log(rate / (1 - rate)) - np.log(score / (1 - score)))
    z = float(np.dot(np.sqrt(n), [r["rate_z"] for r in runs]) / np.sqrt(n.sum()))
    return shift, z


def test_the_alert_comes_when_the_outcomes_after_the_shift_arrive(story):
    alarm = story["alarm"]
    assert alarm.returncode == 1  # --fail-on alert, the default: a scheduler acts on it
    result = json.loads(alarm.stdout)
    assert result["verdict"] == "alert"
    runs = {r["as_of"]: r for r in result["realized"]}
    # by 2025-08-01 the label windows of the runs up to 2025-05-01 have closed
    assert sorted(runs) == _months(2025, 1, 5)
    after = [runs[day] for day in _months(2025, 2, 5)]
    assert not any(run["in_sample"] for run in after)
    # more customers stopped ordering than the scores said, in every run after the
    # shift, and together far beyond chance, by a gap of at least half the warning
    # margin (the story's runs sit near 0.2-0.4 log-odds): the probabilities no longer
    # mean what they say ...
    assert all(run["rate_z"] > 0 for run in after), after
    shift, z = _pooled(after)
    assert z > 6.0, (shift, z)
    assert shift > THRESHOLDS["rate_shift_warn"] / 2, (shift, z)
    # ... while the ranking still holds: it is the level that moved
    assert not any(run["checks"]["roc_auc"] == "alert" for run in after), after
    # the runs' own checks say so, and the alert is the outcomes', not only the drift's
    assert any(run["checks"]["rate"] != "ok" for run in after), after
    assert any(run["verdict"] == "alert" for run in after if run["current"]), after


def _switch(story) -> int:
    """The month the new model took over: the month of the promoting retrain."""
    return 7 + len(story["retrains"])


def test_retrain_learns_from_the_new_outcomes_and_is_promoted_when_better(story):
    first, retrains = story["first"], story["retrains"]
    # a challenger has to win by September, and only a kept champion is retrained again
    assert len(retrains) in (1, 2)
    assert retrains[-1]["promoted"]
    for kept in retrains[:-1]:
        assert not kept["promoted"]
        assert "not better by the margins" in kept["decision"]
    # the outcomes trigger it (drift alerts too: the customers age, with or without change)
    for r in retrains:
        said = " ".join(r["triggers"])
        assert re.search(r"the outcomes of the run as of 2025-0[2-5]-01 say alert", said), said
    # the first model served until then: a losing challenger never serves
    assert all(r["champion"] == Path(first["bundle"]).name for r in retrains)
    assert not any(r["champion_in_sample"] for r in retrains)
    # Trained on the data as it stands that day, not on the frame built in January: the
    # latest labelled cutoff is three months back (2025-05-01 + 90 days <= 2025-07-31)
    assert [r["cutoff"] for r in retrains] == ["2025-05-01", "2025-06-01"][: len(retrains)]
    promoted = retrains[-1]
    auc = promoted["challenger_roc_auc"] - promoted["champion_roc_auc"]
    loss = promoted["champion_log_loss"] - promoted["challenger_log_loss"]
    assert auc >= 0.005 or (auc >= -0.005 and loss >= 0.01), promoted
    assert loss > 0, promoted
    models = json.loads(_ok(cli("models", "--project", story["root"], "--json")).stdout)
    assert models["serving"] == promoted["challenger"]
    assert models["history"][-1]["who"] == "retrain"


def test_the_new_models_scores_come_true_again(story):
    later, promoted = story["later"], story["retrains"][-1]
    assert later["bundle"] == promoted["challenger"]
    runs = {r["as_of"]: r for r in later["realized"]}
    assert sorted(runs) == _months(2025, 1, 10)
    switch = _switch(story)
    old = [runs[d] for d in _months(2025, 2, switch - 1)]
    new = [runs[d] for d in _months(2025, switch, 10)]
    assert {r["bundle"] for r in old} == {promoted["champion"]}
    assert {r["bundle"] for r in new} == {promoted["challenger"]}
    # the old model's runs stay on record but no longer judge the model now serving
    assert not any(r["current"] for r in old)
    assert all(r["current"] for r in new)
    # together, the new scores sit within chance of what happened
    shift, z = _pooled(new)
    assert abs(z) < 3.5, (shift, z)
    for run in new:
        assert run["verdict"] == "ok", run
        assert run["realized"]["ece"] < min(r["realized"]["ece"] for r in old), run
    assert max(r["realized"]["log_loss"] for r in new) < min(r["realized"]["log_loss"] for r in old)


def test_the_monitoring_page_shows_the_story(story):
    later, retrained = story["later"], story["retrains"][-1]
    page = Path(later["page"]).read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", page)
    # both models' runs, the model change marked on the chart, the latest run in words
    assert retrained["champion"] in page
    assert retrained["challenger"] in page
    assert "new model" in text
    assert "Predicted against what happened" in text
    last = later["realized"][-1]
    assert f"Of the customers scored as of {last['as_of']}" in text
    assert "(about right)" in text
    # the champion's runs after the shift stay on record, with their verdicts
    past = page[page.index("Did past scores come true?") : page.index("What moved")]
    alerts = sum(r["verdict"] == "alert" for r in later["realized"])
    assert alerts >= 1
    assert past.count(">alert</span>") >= alerts
    assert "Runs scored by an earlier model stay on record" in text
    # drift still alerts (the customers have changed), but the new scores came true
    assert later["verdict"] == "alert"
    assert "every score of this model whose outcomes are in came true" in text
    alarm = Path(json.loads(story["alarm"].stdout)["page"]).read_text(encoding="utf-8")
    assert "Act: the scores did not come true as promised" in alarm
