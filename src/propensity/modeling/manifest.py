"""The bundle's manifest (``manifest.json``), typed: what was trained, on what, and how well.

``load_bundle`` validates it into :class:`BundleManifest` (a bundle whose manifest does not
read is refused with the fix) and the core reads its fields by name. Keys a newer version
adds are kept (``extra="allow"``), so an older reader never drops them.

>>> m = BundleManifest.model_validate({"format": 1, "version": "v1", "chosen": "logistic"})
>>> (m.task, m.chosen, m.last_cutoff)
('binary', 'logistic', None)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["BundleFeature", "BundleManifest"]


class BundleFeature(BaseModel):
    """One input of the model: name, dtype, levels of a text column, and what it means."""

    model_config = ConfigDict(extra="allow")

    name: str
    dtype: str = ""
    levels: list[str] | None = None
    #: the planner's :class:`~propensity.snapshots.features.FeatureInfo` without the name
    info: dict[str, Any] | None = None


class BundleManifest(BaseModel):
    """Everything ``train`` recorded about a bundle."""

    model_config = ConfigDict(extra="allow")

    format: int
    version: str = ""
    created_at: str | None = None
    spec_hash: str = ""
    frame_hash: str = ""
    frame_sha256: str = ""
    task: str = "binary"
    metric: str | None = None
    target: dict[str, Any] | None = None
    table_mode: bool = False
    key: str = ""
    training_window: dict[str, Any] | None = None
    features: list[BundleFeature] = []
    derived: dict[str, Any] = {}
    chosen: str | None = None
    candidate: str | None = None
    reason: str | None = None
    leaderboard: list[dict[str, Any]] = []
    #: what each choice rule would have picked and its regret on the test round
    rules: list[dict[str, Any]] = []
    #: the validation folds run (``backtest.folds``, or what "auto" made of it)
    folds: int | None = None
    skipped: dict[str, str] = {}
    calibration: dict[str, Any] = {}
    test: dict[str, Any] = {}
    tuning: dict[str, Any] | None = None
    warnings: list[str] = []
    packages: dict[str, str] = {}
    files: dict[str, str] = {}

    @property
    def last_cutoff(self) -> str | None:
        """The last cutoff the model learned from (None in table mode)."""
        found = (self.training_window or {}).get("last_cutoff")
        return None if found is None else str(found)

    @property
    def inputs(self) -> list[str]:
        """The model's input features, in order (derived columns not included)."""
        return [f.name for f in self.features]
