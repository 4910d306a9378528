"""BG/NBD on Online Retail II reproduces the figure measured outside the project (FACTS.md)."""

import pandas as pd
import pytest

from propensity.modeling.bgnbd import BGNBD
from propensity.modeling.metrics import log_loss, roc_auc_score
from propensity.project import Project
from tests.conftest import ONLINE_RETAIL as DATA
from tests.conftest import online_retail_spec, to_toml

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not here")


def test_bgnbd_scores_the_2011_09_01_cutoff(tmp_path):
    spec = online_retail_spec(
        cutoffs={"start": "2011-09-01", "every": "1mo", "end": "2011-09-01"},
        features={"windows": ["90d"], "trends": False},
    )
    (tmp_path / "propensity.toml").write_text(to_toml(spec))
    frame = pd.read_parquet(Project.load(tmp_path).build().frame_path)
    # the model sees only purchase history before the cutoff: no label is used to fit it
    x = frame.purchases_active_days_all - 1
    T = frame.purchases_days_since_first
    t_x = T - frame.purchases_days_since_last
    model = BGNBD().fit(x, t_x, T)
    churn = model.p_no_event(x, t_x, T, horizon=90)
    # measured outside the project: ROC-AUC 0.766, log loss 0.595
    assert roc_auc_score(frame.label, churn) == pytest.approx(0.766, abs=0.01)
    assert log_loss(frame.label, churn) < 0.60
