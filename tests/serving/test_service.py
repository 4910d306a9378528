"""A real uvicorn server on loopback, driven over HTTP: access, inputs, lookups, metrics.

Also, without a server: the request schema and the checks come from one definition, and
the exception handlers answer in the service's shape.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from propensity.errors import DataError, NotServable, PropensityError, RegistryError, SpecError
from propensity.serving.handlers import add_handlers
from propensity.serving.model import Input
from propensity.serving.routes.predict import read_json
from propensity.serving.schema import FLOAT32_MAX, RecordSchema
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
    assert body["schema"]["oneOf"][1]["items"] == record
    manifest = json.loads(
        (
            trained["root"] / ".propensity" / "bundles" / trained["trees"] / "manifest.json"
        ).read_text()
    )
    assert list(record["properties"]) == ["customer_id"] + [f["name"] for f in manifest["features"]]


def test_the_openapi_document_declares_the_key_where_a_route_needs_one(server):
    with server.client() as c:
        doc = c.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"] == {
        "APIKeyHeader": {
            "type": "apiKey",
            "description": "an API key",
            "in": "header",
            "name": "X-API-Key",
        }
    }
    secured = {
        (path, method)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == [{"APIKeyHeader": []}]
    }
    assert secured == {
        ("/v1/predict", "post"),
        ("/v1/models", "get"),
        ("/v1/models/promote", "post"),
        ("/v1/customers/{customer_id}", "get"),
    }


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
    with server.client() as c:  # the key is checked first, before the body is read
        anonymous = c.post("/v1/models/promote", json={"version": "/tmp/x"})
    assert anonymous.status_code == 401


# -- one definition for the request schema and the checks (no server) --------------------

INPUTS = [
    Input("tenure_days", True),
    Input("plan", False, ("basic", "plus")),
    Input("tier", False, ("gold",)),  # a single level: still an enum
    Input("empty", False, ()),  # a text feature never seen with a value
    Input("model_config", True),  # a name pydantic models use themselves
]
NAMES = ["customer_id", "tenure_days", "plan", "tier", "empty", "model_config", "extra"]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),
    st.floats(),  # NaN and infinity too: json.loads reads them
    st.sampled_from([FLOAT32_MAX, -FLOAT32_MAX, 1e39, "basic", "plus", "gold", "other"]),
    st.text(max_size=3),
)
VALUES = st.one_of(
    LEAVES, st.lists(LEAVES, max_size=2), st.dictionaries(st.text(max_size=2), LEAVES)
)


def _integral(value: object) -> bool:
    """JSON Schema counts 1.0 as an integer; a customer key must be sent as 1."""
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


@pytest.mark.parametrize("unknown_category", ["reject", "other"])
@settings(max_examples=400, deadline=None)
@given(record=st.one_of(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=6), VALUES))
def test_the_schema_accepts_exactly_what_the_checks_accept(unknown_category, record):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # schemathesis's validator
    schema = RecordSchema.from_inputs(INPUTS, "customer_id", unknown_category=unknown_category)
    if isinstance(record, dict) and _integral(record.get("customer_id")):
        record["customer_id"] = int(record["customer_id"])
    documented = jsonschema_rs.validator_for(schema.json_schema()).is_valid(record)
    found, warnings = schema.check([record], many=False)
    assert documented == (not found), found
    assert all(f["type"] != "unknown_category" for f in found) or unknown_category == "reject"
    if warnings[0]:
        assert unknown_category == "other"


def test_the_schema_is_the_models_with_levels_as_enums():
    schema = RecordSchema.from_inputs(INPUTS, "customer_id", unknown_category="reject")
    properties = schema.json_schema()["properties"]
    assert list(properties) == ["customer_id", *(i.name for i in INPUTS)]
    assert properties["tier"] == {
        "anyOf": [{"enum": ["gold"], "type": "string"}, {"type": "null"}],
        "default": None,
    }
    assert properties["empty"] == {"type": "null", "default": None}
    other = RecordSchema.from_inputs(INPUTS, "customer_id", unknown_category="other")
    assert other.json_schema()["properties"]["plan"]["anyOf"] == [
        {"type": "string"},
        {"type": "null"},
    ]
    assert RecordSchema.fallback().check([{"anything": 1}, 2], many=True) == (
        [
            {
                "field": "",
                "reason": "a record must be a JSON object",
                "type": "not_an_object",
                "record": 1,
            }
        ],
        [[], []],
    )


def test_problems_follow_the_records_field_order():
    schema = RecordSchema.from_inputs(INPUTS, "customer_id", unknown_category="reject")
    found, _ = schema.check(
        [{"\udfff": 1, "plan": "gold", "customer_id": "\ud800", "tenure_days": 10**400}],
        many=False,
    )
    assert [(f["field"], f["type"]) for f in found] == [
        ("\udfff", "unknown_field"),
        ("plan", "unknown_category"),
        ("customer_id", "invalid_text"),
        ("tenure_days", "out_of_range"),
    ]


def _parsed(body: bytes) -> tuple[str, object]:
    """What json.loads makes of a body: its value as JSON text (NaN kept), or a failure."""
    try:
        return "value", json.dumps(json.loads(body))
    except (ValueError, RecursionError):
        return "error", None


def _read(body: bytes) -> tuple[str, object]:
    """The same for the service's reader."""
    try:
        return "value", json.dumps(read_json(body))
    except (ValueError, RecursionError):
        return "error", None


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\ud800"}',  # an unpaired surrogate: pydantic refuses it, json.loads reads it
        b'{"\\udfff": 1}',
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b'{"b": 1, "a": 2, "b": 3}',  # the last value, in the first place
        b"[NaN, Infinity, -Infinity, -0, 1e400, 123456789012345678901234567890]",
        b"[" * 3000 + b"]" * 3000,  # too deep for both
        b'{"a": "x\ny"}',  # a raw control character: not JSON for either
        b"01",
        b"\xff",
    ],
)
def test_bodies_are_read_as_json_loads_reads_them(body):
    assert _read(body) == _parsed(body)  # the values, their types and the keys' order


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        JSON.map(lambda v: json.dumps(v).encode()),
        st.text(alphabet='{}[]",:0123456789.eE+-\\ untrfalsNIiy\n', max_size=30).map(str.encode),
        st.binary(max_size=20),
    )
)
def test_any_body_is_read_as_json_loads_reads_it(body):
    assert _read(body) == _parsed(body)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RegistryError("no version 'x'; known versions: a, b"), 409),
        (NotServable("bundle x: trained before serving was possible"), 409),
        (DataError("no rows"), 422),
        (SpecError("[serve] port: not a number"), 400),
    ],
)
def test_a_propensity_error_becomes_a_4xx_with_its_message(error, status):
    app = FastAPI()
    add_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    answer = asyncio.run(get())
    assert isinstance(error, PropensityError)
    assert answer.status_code == status
    assert answer.json() == {"detail": str(error)}
