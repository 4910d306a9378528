"""The registry: bundles are versions; aliases point at them; every move is recorded.

A bundle folder never changes after training, so a version names one model for good. An
alias (``production`` above all) is a row in the workspace database, and every time one
moves the history gains who moved it, when, why and from what, so "what served on a
given day" always has an answer. Without any ``production`` alias yet, the latest trained
bundle serves.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
from pathlib import Path
from typing import Any

from propensity.errors import PropensityError, RegistryError
from propensity.store import connect
from propensity.workspace import Workspace

__all__ = ["PRODUCTION", "Registry", "RegistryError"]

PRODUCTION = "production"
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def whoami() -> str:
    """The operating-system user, for the history of CLI moves."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


class Registry:
    """The bundles of one workspace and their aliases.

    Parameters
    ----------
    workspace
        The project's ``.propensity`` folder.
    """

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.bundles = Workspace(workspace).bundles

    def versions(self) -> list[dict[str, Any]]:
        """Every bundle, oldest first: version, created, model, test figures, aliases."""
        aliases = self.aliases()
        out = []
        folders = sorted(self.bundles.iterdir()) if self.bundles.is_dir() else []
        for folder in folders:
            manifest = folder / "manifest.json"
            if folder.name.startswith(".") or not manifest.is_file():
                continue
            data = json.loads(manifest.read_text())
            out.append(
                {
                    "version": folder.name,
                    "created_at": data.get("created_at"),
                    "model": data.get("chosen"),
                    "test": data.get("test", {}),
                    "aliases": sorted(a for a, v in aliases.items() if v == folder.name),
                }
            )
        return out

    def latest(self) -> str | None:
        """The most recently trained version (``bundles/LATEST``)."""
        return Workspace(self.workspace).latest()

    def aliases(self) -> dict[str, str]:
        """Every alias and the version it points at."""
        con = connect(self.workspace)
        try:
            return dict(con.execute("SELECT alias, version FROM aliases").fetchall())
        finally:
            con.close()

    def alias(self, name: str) -> str | None:
        """The version an alias points at, or None."""
        return self.aliases().get(name)

    def serving(self) -> str | None:
        """The version that serves: ``production``, else the latest trained bundle."""
        return self.alias(PRODUCTION) or self.latest()

    def check(self, version: str) -> Path:
        """The folder of a version after verifying every checksum (raises if it fails)."""
        from propensity.modeling.bundle import load_bundle

        folder = self.bundles / version
        bad = not version or "/" in version or version.startswith(".")  # "." is mid-write
        if bad or not (folder / "manifest.json").is_file():
            known = [v["version"] for v in self.versions()]
            raise RegistryError(
                f"version {version!r} is not a bundle in {self.bundles}; known: "
                f"{', '.join(known[-5:]) or 'none (run `propensity train`)'}"
            )
        try:
            load_bundle(folder)
        except PropensityError as exc:
            raise RegistryError(f"version {version} is refused: {exc}") from None
        return folder

    def move(self, alias: str, version: str, *, reason: str, who: str | None = None) -> str | None:
        """Point ``alias`` at ``version`` (verified first) and record it; returns the old one."""
        if not _ALIAS.match(alias):
            raise RegistryError(
                f"alias {alias!r}: use 1-32 lower-case letters, digits, '_' or '-', "
                "starting with a letter"
            )
        if not reason.strip():
            raise RegistryError(
                "reason: say why the model changes; it goes in the history", option="reason"
            )
        self.check(version)
        con = connect(self.workspace)
        try:
            with con:
                row = con.execute("SELECT version FROM aliases WHERE alias = ?", (alias,))
                found = row.fetchone()
                previous = None if found is None else str(found[0])
                if previous is None and alias == PRODUCTION:
                    previous = self.latest() if self.latest() != version else None
                now = _now()
                con.execute(
                    "INSERT INTO aliases (alias, version, moved_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(alias) DO UPDATE SET version = excluded.version, "
                    "moved_at = excluded.moved_at",
                    (alias, version, now),
                )
                con.execute(
                    "INSERT INTO alias_events (alias, version, previous, at, who, reason) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (alias, version, previous, now, who or whoami(), reason.strip()),
                )
            return previous
        finally:
            con.close()

    def promote(self, version: str, *, reason: str, who: str | None = None) -> str | None:
        """Make ``version`` the production model; returns the one it replaces."""
        return self.move(PRODUCTION, version, reason=reason, who=who)

    def rollback(self, *, reason: str = "rollback", who: str | None = None) -> str:
        """Put back the production model that served before the current one."""
        events = self.history(PRODUCTION)
        if not events or not events[-1]["previous"]:
            raise RegistryError(
                "rollback: production has no earlier model to go back to; see `propensity models`"
            )
        target = str(events[-1]["previous"])
        self.move(PRODUCTION, target, reason=reason, who=who)
        return target

    def history(self, alias: str | None = None) -> list[dict[str, Any]]:
        """Every alias move, oldest first (of one alias, or all)."""
        con = connect(self.workspace)
        try:
            sql = "SELECT alias, version, previous, at, who, reason FROM alias_events"
            args: tuple[str, ...] = ()
            if alias is not None:
                sql += " WHERE alias = ?"
                args = (alias,)
            rows = con.execute(sql + " ORDER BY id", args).fetchall()
        finally:
            con.close()
        names = ("alias", "version", "previous", "at", "who", "reason")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def served_at(self, when: str) -> str | None:
        """The production version at an ISO time (the latest move at or before it)."""
        moves = [e for e in self.history(PRODUCTION) if e["at"] <= when]
        return str(moves[-1]["version"]) if moves else None
