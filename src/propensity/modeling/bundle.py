"""Bundles: a trained model as a folder of text files, each checked by SHA-256 on load.

No pickle and no joblib anywhere: the model is JSON (and LightGBM's own text format for
trees), the calibrator is JSON, the reference distributions are JSON, and
``manifest.json`` lists every file with its checksum.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from propensity.errors import BundleError
from propensity.modeling.calibration import Calibrator, calibrator_from_dict
from propensity.modeling.candidates import Candidate, candidate_class, compact
from propensity.modeling.derived import add_derived, derived_columns, derived_info
from propensity.modeling.manifest import BundleManifest
from propensity.snapshots.features import FeatureInfo, infos_from_manifest

__all__ = ["Bundle", "BundleError", "load_bundle", "reference_profile", "save_bundle"]

FORMAT = 1


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    path: Path
    candidate: Candidate
    calibrator: Calibrator
    #: the manifest as written (JSON data); :attr:`info` is the same, typed
    manifest: dict[str, Any]

    @cached_property
    def info(self) -> BundleManifest:
        """The manifest, typed (validated when the bundle was loaded)."""
        return BundleManifest.model_validate(self.manifest)

    @property
    def task(self) -> str:
        """``binary`` (probabilities) or ``regression`` (amounts)."""
        return self.info.task

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame as the model saw it in training: float32 features, derived columns.

        Derived columns (BG/NBD per cutoff) are fitted on the rows given, so pass every
        eligible customer of a cutoff at once, or add the columns beforehand.
        """
        info = self.info
        frame = compact(frame, info.key)
        plan = info.derived
        if all(c in frame.columns for c in derived_columns(plan)):
            return frame
        return add_derived(frame, plan)

    def feature_info(self) -> dict[str, FeatureInfo]:
        """What each input and derived feature means (empty for bundles before 0.2)."""
        return self._meaning

    @cached_property
    def _meaning(self) -> dict[str, FeatureInfo]:
        info = self.info
        return {
            **infos_from_manifest([f.model_dump() for f in info.features]),
            **derived_info(info.derived),
        }

    def typical(self) -> dict[str, object]:
        """The typical value of every feature at training: medians and most common levels."""
        profile = json.loads((self.path / "reference.json").read_text()).get("features", {})
        return {
            name: entry.get("median", entry.get("most_common"))
            for name, entry in profile.items()
            if entry.get("median", entry.get("most_common")) is not None
        }

    def holdout(self) -> pd.DataFrame:
        """The test cutoff's rows as training judged them: key, label, ``score`` (calibrated).

        The checksum was verified when the bundle was loaded.
        """
        path = self.path / "holdout.parquet"
        if not path.is_file():
            raise BundleError(f"{self.path}: no holdout.parquet; retrain with this version")
        return pd.read_parquet(path)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities (or expected amounts) for the rows of a frame."""
        return self.calibrator.predict(self.candidate.predict(self.prepare(frame)))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_bundle(
    folder: Path,
    candidate: Candidate,
    calibrator: Calibrator,
    info: dict[str, Any],
    reference: dict[str, Any] | None = None,
    holdout: pd.DataFrame | None = None,
) -> Path:
    """Write a bundle folder; nothing appears at ``folder`` until it is complete.

    Parameters
    ----------
    folder
        Where the bundle goes; it must not exist yet.
    candidate
        The fitted model.
    calibrator
        Its calibrator.
    info
        Manifest entries (version, spec hash, training window, metrics...).
    reference
        Reference distributions of the features and the score, for monitoring.
    holdout
        The test cutoff's rows (key, label, score): what decisions and the report are
        judged on. Saved as Parquet.
    """
    if folder.exists():
        raise BundleError(f"{folder}: a bundle is already there; bundles are never overwritten")
    files: dict[str, bytes] = {
        "model.json": json.dumps(candidate.to_dict(), indent=1, sort_keys=True).encode(),
        "calibrator.json": json.dumps(calibrator.to_dict(), indent=1).encode(),
        "reference.json": json.dumps(reference or {}, indent=1, sort_keys=True).encode(),
    }
    files.update(candidate.native_files())
    if holdout is not None:
        buffer = io.BytesIO()
        holdout.to_parquet(buffer, index=False)
        files["holdout.parquet"] = buffer.getvalue()
    manifest = {
        **info,
        "format": FORMAT,
        "candidate": candidate.name,
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
    }
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
        )
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def load_bundle(folder: Path) -> Bundle:
    """Read a bundle and verify every file's checksum before using any of it."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(f"{folder}: not a bundle (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(
            f"{manifest_path}: bundle format {manifest.get('format')!r}; this version reads "
            f"format {FORMAT}"
        )
    try:
        typed = BundleManifest.model_validate(manifest)
    except ValidationError as exc:
        first = str(exc).splitlines()[0]
        raise BundleError(
            f"{manifest_path}: the manifest does not read ({first}); retrain the model"
        ) from None
    data: dict[str, bytes] = {}
    for name, digest in typed.files.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{path}: missing; the bundle is incomplete")
        data[name] = path.read_bytes()
        if _sha256(data[name]) != digest:
            raise BundleError(
                f"{path}: checksum mismatch; the file was altered after training. "
                "Retrain, or restore the bundle from a backup"
            )
    model = json.loads(data["model.json"])
    candidate = candidate_class(model.get("name"), str(folder)).load(model, data, folder)
    calibrator = calibrator_from_dict(json.loads(data["calibrator.json"]))
    return Bundle(folder, candidate, calibrator, manifest)


def reference_profile(
    frame: pd.DataFrame,
    features: list[str],
    scores: np.ndarray,
    bins: int = 10,
    *,
    task: str = "binary",
) -> dict[str, Any]:
    """Distributions to compare later populations with: computed once, at training time.

    Numbers get decile edges and the share of rows in each bin plus the missing share, the
    mean and the median; text gets the share of each level (the 50 most frequent, the rest
    as ``<other>``) and the most common one. The medians and most common levels are the
    "typical" values reason codes compare a customer with.
    """
    out: dict[str, Any] = {"rows": len(frame), "features": {}}
    for col in features:
        values = frame[col]
        missing = float(values.isna().mean())
        if pd.api.types.is_numeric_dtype(values):
            x = values.to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            if not len(x):
                out["features"][col] = {"kind": "numeric", "missing": missing, "edges": []}
                continue
            edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
            counts = np.histogram(x, bins=edges)[0] if len(edges) > 1 else np.array([len(x)])
            out["features"][col] = {
                "kind": "numeric",
                "missing": missing,
                "edges": edges.tolist(),
                "shares": (counts / max(len(x), 1)).tolist(),
                "mean": float(x.mean()),
                "median": float(np.median(x)),
            }
        else:
            shares = values.astype("string").fillna("<missing>").value_counts(normalize=True)
            top = shares.iloc[:50]
            levels = {str(k): float(v) for k, v in top.items()}
            if len(shares) > 50:
                levels["<other>"] = float(shares.iloc[50:].sum())
            out["features"][col] = {
                "kind": "category",
                "missing": missing,
                "levels": levels,
                "most_common": str(shares.index[0]) if len(shares) else None,
            }
    scores = np.asarray(scores, dtype=float)
    if task != "binary":  # amounts: quantile bins
        edges = np.unique(np.quantile(scores, np.linspace(0, 1, 21)))
    else:
        edges = np.linspace(0.0, 1.0, 21)
        scores = np.clip(scores, 0, 1)
    counts = np.histogram(scores, bins=edges)[0] if len(edges) > 1 else np.array([len(scores)])
    out["score"] = {
        "edges": edges.tolist(),
        "shares": (counts / max(len(scores), 1)).tolist(),
        "mean": float(np.mean(scores)) if len(scores) else None,
    }
    return out
