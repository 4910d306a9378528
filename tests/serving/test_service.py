"""A real uvicorn server on loopback, driven over HTTP: access, inputs, lookups, metrics."""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest

from tests.serving.conftest import records

ROLES = [None, "scorer", "analyst", "admin"]


def test_health_ready_and_model(server, trained):
    with server.client("scorer") as c:
        assert c.get("/health").json() == {"status": "alive"}
        assert c.get("/ready").json() == {"status": "ready", "model_version": trained["trees"]}
        models = c.get("/v1/models").json()
    assert models["serving"]["version"] == trained["trees"]
    assert models["serving"]["model"] == "lightgbm"
    assert models["serving"]["fallback"] is False
    assert models["aliases"] == {"production": trained["trees"]}


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("POST", "/v1/predict", "scorer"),
        ("GET", "/v1/models", "scorer"),
        ("GET", "/v1/customers/1", "analyst"),
        ("POST", "/v1/models/promote", "admin"),
    ],
)
def test_every_route_checks_the_key_and_its_role(server, trained, method, path, needs):
    body = records(trained["root"], 1)[0]
    if path.endswith("promote"):  # a version that does not exist: 409 past the auth check
        body = {"version": "nope", "reason": "auth test"}
    for role in ROLES:
        with server.client(role) as c:
            answer = c.request(method, path, json=body)
        allowed = role is not None and ROLES.index(role) >= ROLES.index(needs)
        if role is None:
            assert answer.status_code == 401
            assert "missing API key" in answer.json()["detail"]
        elif not allowed:
            assert answer.status_code == 403
            assert f"this needs {needs}" in answer.json()["detail"]
        else:
            assert answer.status_code in (200, 404, 409), answer.text
    with server.client() as c:
        wrong = c.get("/v1/models", headers={"X-API-Key": "prop_not-a-key"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "unknown or revoked API key; ask an admin for a new one"}


def test_predict_answers_scores_decisions_and_reasons_by_role(server, trained):
    rows = records(trained["root"], 3)
    with server.client("scorer") as c:
        one = c.post("/v1/predict", json=rows[0]).json()
        many = c.post("/v1/predict", json=rows).json()
    with server.client("analyst") as c:
        explained = c.post("/v1/predict", json=rows[0]).json()
    assert set(one) == {
        "request_id",
        "model_version",
        "fallback",
        "probability",
        "tier",
        "action",
        "expected_value",
        "in_capacity",
        "customer_id",
    }
    assert one["model_version"] == trained["trees"]
    assert one["customer_id"] == rows[0]["customer_id"]
    assert 0 < one["probability"] < 1
    assert one["expected_value"] == pytest.approx(one["probability"] * 120.0 - 5.0)
    assert next(p["probability"] for p in many["predictions"]) == pytest.approx(one["probability"])
    assert len(many["predictions"]) == 3
    assert "reasons" not in one
    assert 1 <= len(explained["reasons"]) <= 3
    assert all(isinstance(r, str) and r for r in explained["reasons"])


def test_bad_inputs_get_422_naming_the_field_and_the_reason(server, trained):
    good = records(trained["root"], 1)[0]
    bad = {**good, "orders_count_30d": "many", "plan": "gold", "favourite_colour": "red"}
    with server.client("scorer") as c:
        answer = c.post("/v1/predict", json=bad)
        nan = c.post("/v1/predict", content=b'{"tenure_days": NaN}')
        broken = c.post("/v1/predict", content=b'{"tenure_days": ')
        listed = c.post("/v1/predict", json=[good, {"tenure_days": [1]}])
        empty = c.post("/v1/predict", json=[])
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [
            {
                "field": "orders_count_30d",
                "reason": "expected a number or null, not text",
                "type": "wrong_type",
                "value": "many",
            },
            {
                "field": "plan",
                "reason": "'gold' was never seen in training; known: basic, plus, premium "
                '(or set [serve] unknown_category = "other")',
                "type": "unknown_category",
                "value": "gold",
            },
            {
                "field": "favourite_colour",
                "reason": "not an input of the serving model; check the spelling against the "
                "schema at /openapi.json",
                "type": "unknown_field",
            },
        ]
    }
    assert nan.status_code == 422
    assert nan.json() == {
        "detail": [
            {
                "field": "tenure_days",
                "reason": "NaN and infinity are not values a model can use; send null for a "
                "missing value",
                "type": "not_finite",
                "value": "nan",
            }
        ]
    }
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    assert listed.json() == {
        "detail": [
            {
                "field": "tenure_days",
                "reason": "expected a number or null, not a list",
                "type": "wrong_type",
                "value": "list",
                "record": 1,
            }
        ]
    }
    assert empty.status_code == 422


def test_oversized_bodies_and_lists_get_413(server, trained):
    good = records(trained["root"], 1)[0]
    with server.client("scorer") as c:
        huge = c.post("/v1/predict", content=b"[" + b" " * 1_100_000 + b"]")
        many = c.post("/v1/predict", json=[{"tenure_days": 1.0}] * 1001)
        fine = c.post("/v1/predict", json=[good] * 50)

        def chunks(n: int):  # no Content-Length: sent chunked, read up to the limit only
            for _ in range(n):
                yield b" " * 65_536

        streamed = c.post("/v1/predict", content=chunks(64))  # 4 MiB
        small = c.post("/v1/predict", content=iter([b"[", json.dumps(good).encode(), b"]"]))
    assert streamed.status_code == 413
    reason = streamed.json()["detail"][0]["reason"]
    assert reason.startswith("the body is at least 1,")
    assert reason.endswith("bytes; at most 1,000,000 ([serve] max_body_bytes)")
    assert small.status_code == 200, small.text
    assert huge.status_code == 413
    assert huge.json()["detail"][0]["reason"] == (
        "the body is 1,100,002 bytes; at most 1,000,000 ([serve] max_body_bytes)"
    )
    assert many.status_code == 413
    assert "1001 records; at most 1000" in many.json()["detail"][0]["reason"]
    assert fine.status_code == 200


def test_customer_lookup_reads_the_latest_score_run(server, trained):
    scores = pd.read_csv(trained["root"] / "scores.csv")
    top = scores.iloc[0]
    with server.client("analyst") as c:
        found = c.get(f"/v1/customers/{top['customer_id']}")
        again = c.get(f"/v1/customers/{top['customer_id']}")  # from the cache
        missing = c.get("/v1/customers/no-such-customer")
    assert again.json() == found.json()
    assert found.status_code == 200
    body = found.json()
    assert body["probability"] == pytest.approx(top["probability"])
    assert body["rank"] == 1
    assert body["tier"] == top["tier"]
    assert body["model_version"] == trained["trees"]
    assert body["reasons"] == [
        top[f"reason_{n}"] for n in (1, 2, 3) if isinstance(top[f"reason_{n}"], str)
    ]
    assert missing.status_code == 404
    assert "'no-such-customer' is not in the score run" in missing.json()["detail"]


def test_metrics_count_requests_scores_and_the_model(server, trained):
    rows = records(trained["root"], 2)
    with server.client("scorer") as c:
        c.post("/v1/predict", json=rows)
        text = c.get("/metrics").text
    assert 'propensity_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert 'propensity_request_seconds_bucket{le="0.01",route="/v1/predict"}' in text
    assert f'propensity_model_info{{version="{trained["trees"]}"}} 1.0' in text
    count = [line for line in text.splitlines() if line.startswith("propensity_scores_count")]
    assert count
    assert float(count[0].split()[-1]) >= 2
    assert "propensity_fallback_predictions_total 0.0" in text


def test_keys_never_reach_the_log(server, trained):
    with server.client("admin") as c:
        c.get("/v1/models")
        c.get("/v1/models", headers={"X-API-Key": "prop_leaked-secret-value"})
    output = server.output()
    assert "GET /v1/models" in output  # the access log is on
    for secret in [*server.keys.values(), "prop_leaked-secret-value"]:
        assert secret not in output


def test_the_openapi_schema_is_the_bundles_features(server, trained):
    with server.client() as c:
        doc = c.get("/openapi.json").json()
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    record = body["schema"]["oneOf"][0]
    assert record["additionalProperties"] is False
    assert "tenure_days" in record["properties"]
    assert record["properties"]["plan"]["anyOf"][0]["enum"] == ["basic", "plus", "premium"]
    assert body["schema"]["oneOf"][1]["maxItems"] == 1000


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(server, tmp_path):
    st = shutil.which("st") or str(
        __import__("pathlib").Path(__import__("sys").executable).with_name("st")
    )
    done = subprocess.run(
        [
            st,
            "run",
            server.url + "/openapi.json",
            "--checks",
            "not_a_server_error",
            "-H",
            f"X-API-Key: {server.keys['admin']}",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--phases",
            "coverage,fuzzing",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "passed" in done.stdout


def test_histories_bgnbd_cannot_read_get_422(server, trained):
    good = records(trained["root"], 1)[0]
    backwards = {
        **good,
        "orders_active_days_all": 3.0,
        "orders_days_since_first": 100.0,
        "orders_days_since_last": 150.0,
    }
    single = {
        **good,
        "orders_active_days_all": 1.0,
        "orders_days_since_first": 100.0,
        "orders_days_since_last": 40.0,
    }
    never = {
        **good,
        "orders_active_days_all": 0.0,
        "orders_days_since_first": None,
        "orders_days_since_last": None,
    }
    with server.client("scorer") as c:
        answer = c.post("/v1/predict", json=[backwards, single])
        fine = c.post("/v1/predict", json=never)
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [
            {
                "field": "orders_days_since_last",
                "reason": "orders_days_since_last (150) must lie between 0 and "
                "orders_days_since_first (100): the last event cannot come before the first",
                "type": "inconsistent_history",
                "record": 0,
            },
            {
                "field": "orders_active_days_all",
                "reason": "orders_active_days_all is 1, so orders_days_since_first and "
                "orders_days_since_last must be equal (got 100 and 40)",
                "type": "inconsistent_history",
                "record": 1,
            },
        ]
    }
    assert fine.status_code == 200, fine.text  # no event yet: no BG/NBD score, as in training
    fractional = {**good, "orders_active_days_all": 1.5}
    surrogate = b'{"customer_id": "\\ud800", "tenure_days": 3}'
    with server.client("scorer") as c:
        half = c.post("/v1/predict", json=fractional)
        broken = c.post("/v1/predict", content=surrogate)
        after = c.post("/v1/predict", json=good)
    assert half.status_code == 422
    assert half.json()["detail"][0]["type"] == "inconsistent_history"
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["field"] == "customer_id"
    assert after.status_code == 200


def test_promote_takes_only_version_names(server):
    with server.client("admin") as c:
        outside = c.post("/v1/models/promote", json={"version": "/tmp/x", "reason": "r"})
        unknown = c.post("/v1/models/promote", json={"version": "nope", "reason": "r"})
        silent = c.post("/v1/models/promote", json={"version": "nope"})
    assert outside.status_code == 422
    assert outside.json()["detail"][0]["field"] == "version"
    assert unknown.status_code == 404
    assert "no bundle 'nope'; known versions: " in unknown.json()["detail"]
    assert silent.status_code == 422
    assert silent.json()["detail"][0]["field"] == "reason"
