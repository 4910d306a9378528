"""The registry and the key verbs as a user runs them: promote, models, rollback, keys."""

from __future__ import annotations

import json
import sqlite3

import pytest

from propensity.registry import Registry, RegistryError
from tests.cli.conftest import invoke
from tests.serving.conftest import copy_project


@pytest.fixture
def project(trained, tmp_path):
    return copy_project(trained, tmp_path)


def test_promote_models_and_rollback_keep_a_history(project, trained):
    done = invoke("promote", trained["linear"], "--reason", "challenger wins", "--project", project)
    assert done.exit_code == 0, done.stderr
    assert f"production: {trained['trees']} -> {trained['linear']}" in done.stdout
    shown = json.loads(invoke("models", "--project", project, "--json").stdout)
    assert shown["serving"] == trained["linear"]
    assert [v["version"] for v in shown["versions"]] == [trained["trees"], trained["linear"]]
    assert shown["versions"][1]["aliases"] == ["production"]
    assert [e["reason"] for e in shown["history"]] == ["first model", "challenger wins"]
    table = invoke("models", "--project", project)
    assert "challenger wins" in table.stdout
    assert "(serves)" in table.stdout
    back = invoke("rollback", "--project", project, "--reason", "complaints")
    assert back.exit_code == 0, back.stderr
    registry = Registry(project / ".propensity")
    assert registry.serving() == trained["trees"]
    last = registry.history("production")[-1]
    assert (last["version"], last["previous"], last["reason"]) == (
        trained["trees"],
        trained["linear"],
        "complaints",
    )
    assert registry.served_at(last["at"]) == trained["trees"]
    assert registry.served_at("2000-01-01") is None


def test_registry_refuses_unknown_and_altered_versions(project, trained):
    unknown = invoke("promote", "nope", "--reason", "x", "--project", project)
    assert unknown.exit_code == 2
    assert "version 'nope' is not a bundle" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    model = project / ".propensity" / "bundles" / trained["linear"] / "model.json"
    model.write_text(model.read_text() + "\n")
    altered = invoke("promote", trained["linear"], "--reason", "x", "--project", project)
    assert altered.exit_code == 2
    assert "checksum mismatch" in altered.stderr
    registry = Registry(project / ".propensity")
    assert registry.serving() == trained["trees"]  # nothing moved
    with pytest.raises(RegistryError, match="say why"):
        registry.promote(trained["trees"], reason="  ")
    with pytest.raises(RegistryError, match="alias 'Prod!'"):
        registry.move("Prod!", trained["trees"], reason="x")


def test_rollback_without_an_earlier_model_says_so(project):
    con = sqlite3.connect(project / ".propensity" / "propensity.db")
    with con:
        con.execute("DELETE FROM alias_events")
        con.execute("DELETE FROM aliases")
    con.close()
    done = invoke("rollback", "--project", project)
    assert done.exit_code == 2
    assert "no earlier model to go back to" in done.stderr


def test_keys_are_printed_once_and_stored_as_hashes(project):
    made = invoke("keys", "create", "--role", "analyst", "--name", "crm-sync", "--project", project)
    assert made.exit_code == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("prop_")
    assert len(secret) > 40
    db = (project / ".propensity" / "propensity.db").read_bytes()
    assert secret.encode() not in db
    listed = json.loads(invoke("keys", "list", "--project", project, "--json").stdout)
    assert [k["role"] for k in listed if k["name"] == "crm-sync"] == ["analyst"]
    assert all("key" not in k for k in listed)
    again = invoke(
        "keys", "create", "--role", "analyst", "--name", "crm-sync", "--project", project
    )
    assert again.exit_code == 2
    assert "a key named 'crm-sync' exists" in again.stderr
    role = invoke("keys", "create", "--role", "boss", "--name", "x", "--project", project)
    assert role.exit_code == 2
    assert "'boss' is not a role; choose scorer, analyst, admin" in role.stderr
    assert invoke("keys", "revoke", "crm-sync", "--project", project).exit_code == 0
    gone = invoke("keys", "revoke", "crm-sync", "--project", project)
    assert gone.exit_code == 2
    assert "no live key named 'crm-sync'" in gone.stderr
