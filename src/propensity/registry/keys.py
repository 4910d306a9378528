"""API keys: random secrets shown once, stored only as SHA-256 hashes, each with a role.

Roles nest: ``scorer`` may predict; ``analyst`` may also look customers up and read
reasons; ``admin`` may also change the serving model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass

from propensity.errors import ApiKeyError

__all__ = ["ROLES", "ApiKey", "ApiKeyError", "create_key", "find_key", "list_keys", "revoke_key"]

ROLES = ("scorer", "analyst", "admin")
PREFIX = "prop_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ApiKey:
    """A stored key: never the secret, only who holds it and what they may do."""

    name: str
    role: str
    created_at: str
    revoked_at: str | None = None

    def allows(self, role: str) -> bool:
        """Whether this key's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(secret: str) -> str:
    """The stored form of a key (keys are 256 random bits, so a plain hash suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(con: sqlite3.Connection, name: str, role: str) -> str:
    """Store a new key and return its secret, the only time it is ever seen."""
    if role not in ROLES:
        raise ApiKeyError(f"--role: {role!r} is not a role; choose {', '.join(ROLES)}")
    if not _NAME.match(name):
        raise ApiKeyError(
            f"--name: {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit"
        )
    if con.execute("SELECT 1 FROM api_keys WHERE name = ?", (name,)).fetchone():
        raise ApiKeyError(f"--name: a key named {name!r} exists; revoke it or pick another name")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with con:
        con.execute(
            "INSERT INTO api_keys (name, role, digest, created_at) VALUES (?, ?, ?, ?)",
            (name, role, digest(secret), now),
        )
    return secret


def find_key(con: sqlite3.Connection, secret: str) -> ApiKey | None:
    """The live key with this secret, or None (unknown or revoked)."""
    row = con.execute(
        "SELECT name, role, created_at FROM api_keys WHERE digest = ? AND revoked_at IS NULL",
        (digest(secret),),
    ).fetchone()
    return None if row is None else ApiKey(*row)


def list_keys(con: sqlite3.Connection) -> list[ApiKey]:
    """Every key ever created, revoked ones included."""
    rows = con.execute(
        "SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, name"
    ).fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_key(con: sqlite3.Connection, name: str) -> None:
    """Revoke a key by name; a running service refuses it within a few seconds."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with con:
        done = con.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (now, name),
        )
    if not done.rowcount:
        known = ", ".join(k.name for k in list_keys(con) if k.revoked_at is None) or "none"
        raise ApiKeyError(f"keys revoke: no live key named {name!r}; live keys: {known}")
