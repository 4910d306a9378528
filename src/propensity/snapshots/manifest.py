"""The frame's manifest (``frames/frame.json``), typed: what ``build`` wrote and from what.

``stale_frame``, ``train``, the report and the service read it through
:class:`FrameManifest`; a manifest from an older version (no feature infos) still reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from propensity.errors import DataError
from propensity.snapshots.features import FeatureInfo, infos_from_manifest

__all__ = ["FrameFeature", "FrameManifest"]


class FrameFeature(BaseModel):
    """One feature column of the frame: its name, its dtype and what it means."""

    model_config = ConfigDict(extra="allow")

    name: str
    dtype: str = ""
    #: the planner's :class:`FeatureInfo` without the name (absent before 0.2)
    info: dict[str, Any] | None = None


class FrameManifest(BaseModel):
    """What ``build`` wrote: fingerprints of the inputs, row counts, the features."""

    model_config = ConfigDict(extra="allow")

    kind: str = "propensity.frame"
    propensity_version: str = ""
    created_at: str = ""
    spec_hash: str = ""
    frame_hash: str = ""
    frame_sha256: str = ""
    key: str = ""
    target: dict[str, Any] | None = None
    table_mode: bool = False
    observed_end: str | None = None
    inputs: dict[str, dict[str, Any]] = {}
    rows: int = 0
    customers: int = 0
    label_rate: float | None = None
    per_cutoff: list[dict[str, Any]] = []
    features: list[FrameFeature] = []

    @classmethod
    def read(cls, path: Path) -> FrameManifest:
        """Read and check a manifest; a damaged one is refused with the fix."""
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (json.JSONDecodeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise DataError(
                f"{path}: not a frame manifest ({first}); run `propensity build` again"
            ) from None

    def feature_info(self) -> dict[str, FeatureInfo]:
        """What each feature means, by name (empty for frames built before 0.2)."""
        return infos_from_manifest([f.model_dump() for f in self.features])

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, as written to ``frame.json``."""
        return self.model_dump(mode="json", exclude_none=False)
