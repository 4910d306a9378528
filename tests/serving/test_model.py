"""The served model answers exactly what batch scoring answers, one record at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from propensity.modeling.derived import add_derived, derived_columns
from propensity.project import Project
from propensity.serving.model import Input, load_served
from propensity.serving.schema import check_records
from tests.serving.conftest import records


@pytest.mark.parametrize("which", ["trees", "linear"])
def test_one_record_at_a_time_equals_batch_scores(trained, which):
    root = trained["root"]
    project = Project.load(root)
    version = trained[which]
    served = load_served(project.spec, project.workspace, version)
    frame = pd.read_parquet(root / ".propensity" / "frames" / "frame.parquet")
    latest = frame[frame["cutoff"] == frame["cutoff"].max()].reset_index(drop=True)
    batch = served.bundle.predict(latest)  # BG/NBD fitted on the whole cutoff, as in `score`
    sample = records(root, 40)
    single = np.concatenate([served.scores([r]) for r in sample])
    together = served.scores(sample)
    np.testing.assert_allclose(single, batch[:40], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(together, single, rtol=1e-12)
    assert served.bundle.candidate.name == {"trees": "lightgbm", "linear": "logistic"}[which]


def test_frozen_bgnbd_is_the_latest_cutoffs_fit(trained):
    project = Project.load(trained["root"])
    plan = project.load_bundle(trained["trees"]).manifest["derived"]
    frame = pd.read_parquet(trained["root"] / ".propensity" / "frames" / "frame.parquet")
    latest = frame[frame["cutoff"] == frame["cutoff"].max()].reset_index(drop=True)
    assert plan["bgnbd"]["frozen"]["cutoff"] == str(pd.Timestamp(latest["cutoff"].iloc[0]).date())
    names = derived_columns(plan)
    fitted = add_derived(latest, plan)[names]
    served = load_served(project.spec, project.workspace, trained["trees"])
    frozen = served.frame(records(trained["root"], len(latest)))[names]  # one record at a time
    np.testing.assert_allclose(frozen.to_numpy(float), fitted.to_numpy(float), rtol=1e-6)
    assert fitted.notna().any().all()


INPUTS = [Input("tenure_days", True), Input("plan", False, ("basic", "plus"))]


def test_records_are_checked_field_by_field():
    rows = [
        {"customer_id": 1, "tenure_days": 3, "plan": "basic"},
        {"tenure_days": True, "plan": 4, "extra": 1},
        {"tenure_days": float("inf"), "plan": "gold", "customer_id": [1]},
        "not a record",
        {"tenure_days": 1e39, "plan": None},
    ]
    problems, warnings = check_records(
        rows, INPUTS, "customer_id", unknown_category="reject", many=True
    )
    assert [(p["record"], p["field"], p["type"]) for p in problems] == [
        (1, "tenure_days", "wrong_type"),
        (1, "plan", "wrong_type"),
        (1, "extra", "unknown_field"),
        (2, "tenure_days", "not_finite"),
        (2, "plan", "unknown_category"),
        (2, "customer_id", "wrong_type"),
        (3, "", "not_an_object"),
        (4, "tenure_days", "out_of_range"),
    ]
    assert problems[3]["value"] == "inf"
    assert "known: basic, plus" in problems[4]["reason"]
    assert warnings == [[], [], [], [], []]


def test_unknown_categories_can_be_scored_as_other_with_a_warning():
    problems, warnings = check_records(
        [{"plan": "gold"}], INPUTS, "customer_id", unknown_category="other", many=False
    )
    assert problems == []
    assert warnings == [["plan: 'gold' was never seen in training; scored as unknown"]]
