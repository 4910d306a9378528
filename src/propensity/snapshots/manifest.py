"""The frame's manifest (``frames/frame.json``), typed: what ``build`` wrote and from what.

``stale_frame``, ``train``, the report and the service read it through
:class:`FrameManifest`; a manifest from an older version (no feature infos) still reads.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from propensity import __version__
from propensity._io import file_sha256
from propensity.errors import DataError
from propensity.snapshots.features import FeatureInfo, infos_from_manifest
from propensity.sources.reading import resolve_path

if TYPE_CHECKING:
    from propensity.engine import Engine
    from propensity.snapshots.frame import FramePlan
    from propensity.spec import Spec

__all__ = ["FrameFeature", "FrameManifest", "fingerprints", "frame_manifest", "frame_stats"]


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


def frame_stats(engine: Engine, path: Path, key: str) -> dict[str, Any]:
    """Rows, customers and label rates of a written frame, overall and per cutoff."""
    frame = engine.read_parquet(path, "__frame")
    per = engine.to_pandas(
        frame.group_by("cutoff")
        .aggregate(
            rows=frame.count(),
            labeled=frame.label.count(),
            label_mean=frame.label.cast("float64").mean(),
        )
        .order_by("cutoff")
    )
    totals = engine.to_pandas(
        frame.aggregate(
            rows=frame.count(),
            customers=frame[key].nunique(),
            label_mean=frame.label.cast("float64").mean(),
        )
    ).iloc[0]
    per_cutoff = [
        {
            "cutoff": None if pd.isna(r.cutoff) else str(r.cutoff)[:10],
            "rows": int(r.rows),
            "labeled": int(r.labeled),
            "label_rate": None if pd.isna(r.label_mean) else round(float(r.label_mean), 4),
        }
        for r in per.itertuples()
    ]
    mean = totals["label_mean"]
    return {
        "rows": int(totals["rows"]),
        "customers": int(totals["customers"]),
        "label_rate": None if pd.isna(mean) else round(float(mean), 4),
        "per_cutoff": per_cutoff,
        "schema": {n: str(t) for n, t in frame.schema().items()},
    }


def fingerprints(spec: Spec, root: Path) -> dict[str, dict[str, Any]]:
    """Each source file's size and SHA-256 (a missing one is left to the reader)."""
    out = {}
    for name, src in spec.sources.items():
        path = resolve_path(root, src.path)
        if path.exists():
            out[name] = {
                "path": str(src.path),
                "table": src.table,
                "bytes": _size(path),
                "sha256": file_sha256(path),
            }
    return out


def frame_manifest(
    spec: Spec,
    inputs: dict[str, dict[str, Any]],
    stats: dict[str, Any],
    features: list[str],
    plan: FramePlan | None,
    frame_path: Path,
) -> dict[str, Any]:
    """The manifest of a frame just written at ``frame_path`` (JSON-ready)."""
    return {
        "kind": "propensity.frame",
        "propensity_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "spec_hash": spec.spec_hash(),
        "frame_hash": spec.frame_hash(),
        "frame_sha256": file_sha256(frame_path),
        "key": spec.entity.key,
        "target": None if spec.target is None else spec.target.model_dump(mode="json"),
        "table_mode": spec.table_mode,
        "observed_end": None if plan is None else str(plan.observed_end),
        "inputs": inputs,
        "rows": stats["rows"],
        "customers": stats["customers"],
        "label_rate": stats["label_rate"],
        "per_cutoff": stats["per_cutoff"],
        "features": [{"name": f, "dtype": stats["schema"][f], **_info(plan, f)} for f in features],
    }


def _info(plan: FramePlan | None, feature: str) -> dict[str, Any]:
    """A feature's manifest entry ``info``: what the planner said it means."""
    found = None if plan is None else plan.info.get(feature)
    if found is None:
        return {}
    return {"info": found.entry()}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
