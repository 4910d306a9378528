"""The API keys of one workspace: each call opens its database, does one thing, closes it.

What ``Project``'s key methods (and so ``propensity keys``) use; the service keeps one
connection and calls :mod:`propensity.registry.keys` directly.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from propensity.registry.keys import create_key, list_keys, revoke_key
from propensity.store import connect

__all__ = ["Keyring"]


class Keyring:
    """The service's API keys, stored (as hashes) in a workspace's database.

    Parameters
    ----------
    workspace
        The project's ``.propensity`` folder.
    """

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    def create(self, name: str, role: str) -> str:
        """Store a new key and return its secret, the only time it is ever seen."""
        con = connect(self.workspace)
        try:
            return create_key(con, name, role)
        finally:
            con.close()

    def keys(self) -> list[dict[str, Any]]:
        """Every key ever created, revoked ones included: name, role and dates."""
        con = connect(self.workspace)
        try:
            return [asdict(key) for key in list_keys(con)]
        finally:
            con.close()

    def revoke(self, name: str) -> None:
        """Revoke a live key by name (raises ``ApiKeyError`` naming the live ones if none)."""
        con = connect(self.workspace)
        try:
            revoke_key(con, name)
        finally:
            con.close()
