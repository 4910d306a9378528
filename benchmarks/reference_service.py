"""The reference for `benchmarks/serve.py`: a model service written the way tutorials do.

FastAPI with a pydantic model for the input record; per request a one-row pandas DataFrame,
a scikit-learn ColumnTransformer (StandardScaler on the numbers, one-hot on the strings)
and LightGBM's scikit-learn wrapper, ``predict_proba``. One uvicorn process with its
defaults, as `propensity serve` runs.

It serves the same model in the sense that matters for speed, not byte for byte: the same
algorithm (LightGBM, the bundle's number of rounds, the parameters `propensity train`
uses) fitted at start-up on the same rows (the labelled rows of the project's frame), with
the same input record. It does not compute the BG/NBD columns that our service derives
per request, so if anything it has less to do.

    python benchmarks/reference_service.py --project benchmarks/results/serve-20000 --port 8001
"""

# no `from __future__ import annotations`: FastAPI must see the class built at start-up in
# the endpoint's signature, not the name of a local variable
import argparse
import json
import logging
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, create_model
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

log = logging.getLogger("reference_service")


def input_features(project: Path) -> tuple[str, list[str], int]:
    """The key, the input feature names (no derived BG/NBD columns) and the bundle's rounds."""
    bundles = project / ".propensity" / "bundles"
    bundle = bundles / (bundles / "LATEST").read_text().strip()
    manifest = json.loads((bundle / "manifest.json").read_text())
    model = json.loads((bundle / "model.json").read_text())
    names = [f["name"] for f in manifest["features"] if "_bgnbd_" not in f["name"]]
    return str(manifest["key"]), names, int(model["rounds"])


def fit_pipeline(project: Path, features: list[str], rounds: int) -> Pipeline:
    """Scaler, one-hot and LGBMClassifier fitted on the frame's labelled rows."""
    frame = pd.read_parquet(project / ".propensity" / "frames" / "frame.parquet")
    frame = frame[frame["label"].notna()]
    strings = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numbers = [c for c in features if c not in strings]
    pipeline = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("scale", StandardScaler(), numbers),
                        ("onehot", OneHotEncoder(handle_unknown="ignore"), strings),
                    ],
                    sparse_threshold=0.0,
                ),
            ),
            (
                "model",
                lgb.LGBMClassifier(
                    n_estimators=rounds,
                    learning_rate=0.1,
                    num_leaves=31,
                    min_child_samples=100,
                    subsample=0.8,
                    subsample_freq=1,
                    colsample_bytree=0.8,
                    reg_lambda=1.0,
                    random_state=0,
                    verbose=-1,
                ),
            ),
        ]
    )
    x = frame[features].astype(dict.fromkeys(strings, "object"))
    pipeline.fit(x, frame["label"].astype(int))
    return pipeline


def create_app(project: Path) -> FastAPI:
    """The app: ``GET /health`` and ``POST /v1/predict`` taking one record."""
    key, features, rounds = input_features(project)
    frame = pd.read_parquet(project / ".propensity" / "frames" / "frame.parquet", columns=features)
    strings = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    fields: dict[str, Any] = {key: (int | str | None, None)}
    for name in features:
        fields[name] = (str | None, None) if name in strings else (float | None, None)
    record_model: type[BaseModel] = create_model("Record", **fields)
    log.info("fitting LightGBM, %d rounds, on %s", rounds, project)
    pipeline = fit_pipeline(project, features, rounds)

    app = FastAPI(title="reference")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # `async def`, as many tutorials write it. The other spelling, `def` (FastAPI runs it in
    # its thread pool), measured about half the requests/s on 2 cores (115 against 201), so
    # this is the faster of the two: the comparison does not flatter ours.
    @app.post("/v1/predict")
    async def predict(record: record_model) -> dict[str, Any]:  # type: ignore[valid-type]
        df = pd.DataFrame([record.model_dump()])  # type: ignore[attr-defined]
        probability = float(pipeline.predict_proba(df[features])[:, 1][0])
        return {key: getattr(record, key), "probability": probability}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(args.project), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
