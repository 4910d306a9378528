"""Quality on real data: every candidate on Online Retail II's 2011-09-01 cutoff.

The protocol of the train issue: a purchase is a non-cancelled invoice of a customer with
an id; horizon 90 days; population: a purchase in the 365 days before; monthly cutoffs;
training uses only labels observed before the test cutoff. Cancellations are a second
events source and the country a category, as a user's spec would declare them.

    python benchmarks/quality.py            # every candidate but Keras
    python benchmarks/quality.py --keras    # and the network

Runs `train` as a user would, prints each candidate's ROC-AUC and log loss on the test
cutoff, and the chosen model's after calibration, beside the figures measured outside the
project; writes benchmarks/results/quality.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from propensity.project import Project

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "online_retail_ii.parquet"
TEST = dt.date(2011, 9, 1)
HORIZON = 90
KEY = "Customer ID"
REFERENCE = {  # measured outside the project (ROC-AUC, log loss)
    "recency": (0.709, None),
    "bgnbd": (0.766, 0.595),
    "logistic (RFM, one cutoff)": (0.749, 0.646),
    "lightgbm (18 cutoffs)": (0.770, 0.602),
    "autogluon best_quality": (0.768, 0.595),
}

SPEC = f"""
[project]
name = "online-retail"

[entity]
key = "{KEY}"

[sources.purchases]
path = "{DATA}"
kind = "events"
time = "InvoiceDate"
where = "not Invoice.startswith('C') and Quantity > 0"
derive = {{ amount = "Quantity * Price" }}
measures = ["amount", "Quantity"]
categories = ["Country"]

[sources.returns]
path = "{DATA}"
kind = "events"
time = "InvoiceDate"
where = "Invoice.startswith('C')"
derive = {{ refund = "-Quantity * Price" }}
measures = ["refund"]

[target]
kind = "inactivity"
source = "purchases"
horizon = "{HORIZON}d"

[population]
active_within = "365d"

[cutoffs]
start = "2010-03-01"
every = "1mo"
end = "{TEST}"
"""


def main() -> None:
    if not DATA.exists():
        sys.exit(f"{DATA} is not here")
    keras = "--keras" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = '"prior", "recency", "bgnbd", "logistic", "lightgbm", "ensemble"' + (
            ', "keras"' * keras
        )
        (root / "propensity.toml").write_text(SPEC + f"\n[train]\ncandidates = [{names}]\n")
        project = Project.load(root)
        started = time.perf_counter()
        built = project.build()
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        result = project.train()
        train_s = time.perf_counter() - started
    print(f"build {build_s:.1f} s ({built.rows:,} rows); train {train_s:.1f} s")
    print(f"{'candidate':28} {'ROC-AUC':>8} {'log loss':>9}   (test cutoff {TEST}, raw scores)")
    for row in result.leaderboard:
        test = row["test"]
        print(f"{row['candidate']:28} {test['roc_auc']:8.4f} {test['log_loss']:9.4f}")
    chosen = result.test
    print(
        f"{'chosen: ' + result.chosen + ' (calibrated)':28} {chosen['roc_auc']:8.4f} "
        f"{chosen['log_loss']:9.4f}   {result.calibration['method']}; {result.reason}"
    )
    print("measured outside the project:")
    for name, (auc, loss) in REFERENCE.items():
        print(f"{name:28} {auc:8.3f} {'' if loss is None else f'{loss:9.3f}'}")
    print("target: ROC-AUC >= 0.770 with log loss <= 0.595 (ambition 0.780), train < 60 s")
    out = HERE / "results" / "quality.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "date": dt.date.today().isoformat(),
                "test_cutoff": str(TEST),
                "build_seconds": build_s,
                "train_seconds": train_s,
                "summary": result.summary(),
                "reference": REFERENCE,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
