"""What happens to a running service: killed, swapped under load, left without a model."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from propensity.registry import Registry
from tests.serving.conftest import copy_project, records, start_server


def test_every_acknowledged_prediction_survives_sigkill(trained, tmp_path):
    root = copy_project(trained, tmp_path)
    server = start_server(root)
    rows = records(root, 5)
    acknowledged: list[str] = []
    try:

        def send(n: int) -> str | None:
            with server.client("scorer") as c:
                answer = c.post("/v1/predict", json=rows[n % 5] if n % 3 else rows[:2])
            return answer.json()["request_id"] if answer.status_code == 200 else None

        with ThreadPoolExecutor(8) as pool:
            acknowledged = [r for r in pool.map(send, range(120)) if r]
    finally:
        server.stop(signal.SIGKILL)
    assert len(acknowledged) == 120
    con = sqlite3.connect(root / ".propensity" / "propensity.db")
    logged = {r[0] for r in con.execute("SELECT DISTINCT request_id FROM predictions")}
    rows_logged = con.execute(
        "SELECT model_version, score, input_hash, fallback FROM predictions LIMIT 1"
    ).fetchone()
    con.close()
    assert set(acknowledged) <= logged
    assert rows_logged[0] == trained["trees"]
    assert 0 < rows_logged[1] < 1
    assert len(rows_logged[2]) == 64
    assert rows_logged[3] == 0


def test_promotion_swaps_the_model_under_load_and_refuses_a_broken_bundle(trained, tmp_path):
    root = copy_project(trained, tmp_path)
    # a third bundle whose model file was altered after training
    bundles = root / ".propensity" / "bundles"
    broken = "20000101T000000000000Z"
    subprocess.run(
        ["cp", "-r", str(bundles / trained["linear"]), str(bundles / broken)], check=True
    )
    (bundles / broken / "model.json").write_text(
        (bundles / broken / "model.json").read_text() + " "
    )
    server = start_server(root)
    row = records(root, 1)[0]
    seen: list[tuple[int, int, str | None]] = []
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with server.client("scorer") as c:
            while not stop.is_set():
                answer = c.post("/v1/predict", json=row)
                seen.append((worker, answer.status_code, answer.json().get("model_version")))

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    try:
        for w in workers:
            w.start()
        time.sleep(1.5)
        with server.client("admin") as c:
            swapped = c.post(
                "/v1/models/promote", json={"version": trained["linear"], "reason": "better"}
            )
            time.sleep(1.5)
            refused = c.post("/v1/models/promote", json={"version": broken, "reason": "oops"})
            time.sleep(0.5)
            after = c.get("/v1/models").json()
        stop.set()
        for w in workers:
            w.join(30)
        # the CLI moves the alias; the running service follows within its polling interval
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "propensity.cli",
                "rollback",
                "--project",
                str(root),
                "--reason",
                "back to the trees",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 15
        serving = None
        while time.monotonic() < deadline:
            with server.client("scorer") as c:
                serving = c.get("/v1/models").json()["serving"]["version"]
            if serving == trained["trees"]:
                break
            time.sleep(0.3)
    finally:
        stop.set()
        server.stop()
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["previous"] == trained["trees"]
    assert refused.status_code == 409
    assert "checksum mismatch" in refused.json()["detail"]
    assert after["serving"]["version"] == trained["linear"]
    assert serving == trained["trees"]
    statuses = {s for _, s, _ in seen}
    versions = [v for _, _, v in seen]
    assert statuses == {200}, statuses  # not one request dropped or failed
    assert trained["trees"] in versions
    assert trained["linear"] in versions
    for worker in range(4):  # each client, once it sees the new model, never sees the old
        mine = [v for w, _, v in seen if w == worker]
        first_new = mine.index(trained["linear"])
        assert set(mine[first_new:]) == {trained["linear"]}
    history = Registry(root / ".propensity").history("production")
    assert [e["version"] for e in history[-2:]] == [trained["linear"], trained["trees"]]
    assert history[-2]["who"].startswith("api key test-admin-")
    assert history[-1]["reason"] == "back to the trees"


def test_without_a_loadable_model_the_service_answers_the_fallback(trained, tmp_path):
    root = copy_project(trained, tmp_path)
    bundles = root / ".propensity" / "bundles"
    for version in (trained["trees"], trained["linear"]):
        model = bundles / version / "model.json"
        model.write_text(model.read_text().replace('"', "'", 1))  # altered: refused on load
    server = start_server(root)
    try:
        with server.client("analyst") as c:
            ready = c.get("/ready")
            answer = c.post("/v1/predict", json={"anything": 1})
            metrics = c.get("/metrics").text
    finally:
        server.stop()
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert "checksum mismatch" in body["reason"]
    base_rate = __import__("json").loads(
        (root / ".propensity" / "frames" / "frame.json").read_text()
    )["label_rate"]
    assert body["fallback_score"] == base_rate
    assert answer.status_code == 200
    assert answer.json()["fallback"] is True
    assert answer.json()["probability"] == base_rate
    assert answer.json()["model_version"] is None
    assert "propensity_fallback_predictions_total 1.0" in metrics


def test_revoked_keys_are_refused_within_seconds(server):
    from propensity.registry.keys import create_key, revoke_key
    from propensity.store import connect

    con = connect(server.root / ".propensity")
    name = f"short-lived-{time.time_ns()}"
    secret = create_key(con, name, "scorer")
    assert httpx.get(server.url + "/v1/models", headers={"X-API-Key": secret}).status_code == 200
    revoke_key(con, name)
    con.close()
    time.sleep(5.5)
    assert httpx.get(server.url + "/v1/models", headers={"X-API-Key": secret}).status_code == 401


def test_concurrent_first_lookups_and_predictions_all_answer_right(trained, tmp_path):
    import pandas as pd

    root = copy_project(trained, tmp_path)
    scores = pd.read_csv(root / "scores.csv").head(24)
    rows = records(root, 2)
    server = start_server(root)  # no lookup yet: the run is read on the first one
    try:

        def look(n: int) -> tuple[int, float]:
            if n % 4 == 3:  # predictions in between, while the run is being read
                with server.client("scorer") as c:
                    answer = c.post("/v1/predict", json=rows)
                return answer.status_code, -1.0
            customer = scores.iloc[n]["customer_id"]
            with server.client("analyst") as c:
                answer = c.get(f"/v1/customers/{customer}")
            return answer.status_code, answer.json()["probability"]

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(look, range(24)))
    finally:
        server.stop()
    assert [status for status, _ in answers] == [200] * 24
    for n, (_, probability) in enumerate(answers):
        if n % 4 != 3:
            assert abs(probability - scores.iloc[n]["probability"]) < 1e-9


def test_a_broken_production_model_gives_way_to_the_previous_one_until_it_is_restored(
    trained, tmp_path
):
    root = copy_project(trained, tmp_path)
    registry = Registry(root / ".propensity")
    rows = records(root, 1)
    registry.promote(trained["linear"], reason="a newer model", who="tests")
    model = root / ".propensity" / "bundles" / trained["linear"] / "model.json"
    good = model.read_text()
    model.write_text(good + " ")  # altered after promotion: refused on load
    server = start_server(root)
    try:
        with server.client("admin") as c:
            ready = c.get("/ready").json()
            answer = c.post("/v1/predict", json=rows[0]).json()
            models = c.get("/v1/models").json()
            # the bundle restored from a backup: the service tries it again and serves it
            time.sleep(0.05)  # a file time after the refusal's
            model.write_text(good)
            deadline = time.monotonic() + 15
            after = c.get("/ready").json()
            while after["status"] != "ready" and time.monotonic() < deadline:
                time.sleep(0.2)
                after = c.get("/ready").json()
    finally:
        server.stop()
    # the earlier production version serves, not the fallback score, and it says why
    assert ready["status"] == "degraded"
    assert ready["model_version"] == trained["trees"]
    assert ready["reason"].startswith(f"{trained['linear']} was refused (")
    assert ready["reason"].endswith(f"serving {trained['trees']}")
    assert answer["model_version"] == trained["trees"]
    assert answer["fallback"] is False
    assert trained["linear"] in models["refused"]
    assert models["standin"] == ready["reason"]
    assert after == {"status": "ready", "model_version": trained["linear"]}


def test_a_new_score_run_moves_the_capacity_cut_of_the_running_service(trained, tmp_path):
    import datetime as dt

    import numpy as np
    import pandas as pd

    from propensity.decisions.policy import Policy
    from propensity.project import Project
    from propensity.serving.model import capacity_cut

    root = copy_project(trained, tmp_path)
    server = start_server(root)
    try:
        with server.client("scorer") as c:
            before = c.get("/v1/models").json()["serving"]["capacity_cut"]
            project = Project.load(root)
            project.score(dt.date(2025, 3, 1), root / "march.csv", reasons_for=0)
            scores = pd.read_csv(root / "march.csv")["probability"].to_numpy(dtype=float)
            expected = capacity_cut(Policy.from_spec(project.spec.policy), scores)
            deadline = time.monotonic() + 15
            after = before
            while after != expected and time.monotonic() < deadline:
                time.sleep(0.2)
                after = c.get("/v1/models").json()["serving"]["capacity_cut"]
    finally:
        server.stop()
    assert np.isfinite(expected)
    assert expected != before
    assert after == expected
