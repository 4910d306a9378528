"""Table mode: a ready-made table with a label column (Telco, bank churners)."""

import pandas as pd
import pytest

from propensity.errors import SpecError
from propensity.project import Project
from tests.conftest import SHARED_DATA, to_toml


def table_spec(path, key, label, **extra):
    source = {"path": str(path), "kind": "table", "label": label, **extra}
    return {"project": {"name": "t"}, "entity": {"key": key}, "sources": {"t": source}}


def build(tmp_path, spec):
    (tmp_path / "propensity.toml").write_text(to_toml(spec))
    result = Project.load(tmp_path).build()
    return result, pd.read_parquet(result.frame_path)


def test_table_mode_frame(tmp_path):
    table = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "tenure": [1, 20, 3, 40],
            "email": ["x", "y", "z", "w"],
            "Churn": ["Yes", "No", "yes ", None],
        }
    )
    table.to_csv(tmp_path / "t.csv", index=False)
    result, frame = build(tmp_path, table_spec(tmp_path / "t.csv", "id", "Churn", pii=["email"]))
    assert list(frame.columns) == ["id", "cutoff", "label", "tenure"]
    assert frame.label.tolist()[:3] == [1, 0, 1]
    assert pd.isna(frame.label.iloc[3])
    assert result.table_mode
    assert "time is not respected" in result.notes[0]


def test_table_mode_needs_positive_for_unusual_labels(tmp_path):
    pd.DataFrame({"id": [1, 2], "status": ["Attrited", "Existing"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    with pytest.raises(SpecError, match=r"sources\.t\.positive: say which value of 'status'"):
        build(tmp_path, table_spec(tmp_path / "t.csv", "id", "status"))


TELCO = SHARED_DATA / "telco_churn.csv"
BANK = SHARED_DATA / "bank_churners.csv"


@pytest.mark.skipif(not TELCO.exists(), reason=f"{TELCO} is not here")
def test_telco(tmp_path):
    spec = table_spec(TELCO, "customerID", "Churn", types={"TotalCharges": "float"})
    result, frame = build(tmp_path, spec)
    assert result.rows == 7043
    assert frame.label.mean() == pytest.approx(1869 / 7043)
    assert frame.TotalCharges.isna().sum() == 11  # blank for tenure 0
    report = Project.load(tmp_path).check()
    assert report.ok


@pytest.mark.skipif(not BANK.exists(), reason=f"{BANK} is not here")
def test_bank_churners(tmp_path):
    spec = table_spec(BANK, "CLIENTNUM", "Attrition_Flag", positive="Attrited Customer")
    result, frame = build(tmp_path, spec)
    assert result.rows == 10127
    assert frame.label.sum() == 1627
