"""The candidate protocol and the one registry every part of propensity looks candidates up in.

A candidate is a class that declares, besides ``fit`` and ``predict``:

- its ``name`` (what ``[train] candidates`` and the bundle's ``model.json`` say), the
  ``tasks`` it serves (``binary``, ``regression``) and its ``complexity`` (the simpler of two
  that score alike wins);
- :meth:`Candidate.make`: the candidate for one project (:class:`Setting`), or why it cannot
  run there;
- how it saves and loads: :meth:`~Candidate.to_dict` (JSON), :meth:`~Candidate.native_files`
  (files in the model's own format, e.g. LightGBM's text) and :meth:`~Candidate.load`;
- how it explains itself: :meth:`~Candidate.contributions` (None: no exact decomposition,
  and reasons fall back to a surrogate);
- how it scores a few records of the service: :meth:`~Candidate.score_records`.

``@register`` puts a class in the registry; :func:`candidate_class` and
:func:`candidate_names` read it. Training, bundles, serving and reasons never name a
concrete candidate.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import pandas as pd

from propensity.errors import BundleError, DataError

__all__ = [
    "Candidate",
    "Records",
    "Setting",
    "candidate_class",
    "candidate_names",
    "compact",
    "feature_columns",
    "register",
]

RESERVED = ("cutoff", "label")
TASKS = ("binary", "regression")


def feature_columns(frame: pd.DataFrame, key: str) -> list[str]:
    """The feature columns of a frame: everything but the key, ``cutoff`` and ``label``."""
    return [c for c in frame.columns if c not in (key, *RESERVED)]


def compact(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The frame with its numeric features as float32.

    Half the memory, and the same values whether a model is fitted or scores (trees split
    on float32 bins).
    """
    dtypes = frame.dtypes  # one lookup, not one column copy per feature
    wide = [
        c
        for c in feature_columns(frame, key)
        if pd.api.types.is_numeric_dtype(dtypes[c]) and dtypes[c] != np.float32
    ]
    if not wide:
        return frame
    cast = set(wide)
    columns = {
        c: frame[c].to_numpy(dtype=np.float32, na_value=np.nan) if c in cast else frame[c]
        for c in frame.columns
    }
    return pd.DataFrame(columns, index=frame.index)


def labels(frame: pd.DataFrame) -> np.ndarray:
    """The ``label`` column as floats; a missing label is an error."""
    y = frame["label"].to_numpy(dtype=float)
    if np.isnan(y).any():
        raise DataError("train: rows without a label cannot be trained on; drop them first")
    return y


def both(train: pd.DataFrame, valid: pd.DataFrame | None) -> pd.DataFrame:
    """``train`` and ``valid`` as one frame (``train`` alone when there is no ``valid``)."""
    return train if valid is None or not len(valid) else pd.concat([train, valid])


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return np.asarray(np.log(q / (1 - q)))


def require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise a clear error when ``frame`` lacks columns the ``what`` model reads."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"reasons: the frame lacks {', '.join(missing[:5])}"
            f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''}, which the "
            f"{what} model reads; score a frame built with the spec the model was trained on"
        )


def typical_number(typical: Mapping[str, object], column: str, values: np.ndarray) -> float:
    """The typical value of a column: the bundle's, else the values' median."""
    given = typical.get(column)
    if isinstance(given, int | float) and np.isfinite(given):
        return float(given)
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else float("nan")


@dataclass(frozen=True)
class Setting:
    """What a candidate needs to know about the project to be made for it.

    Parameters
    ----------
    key
        The entity key column.
    task
        ``binary`` or ``regression``.
    seed, threads
        ``[train] seed`` and ``[engine] threads`` (None: the library's default).
    columns
        The frame's columns.
    target_kind, source, horizon
        The target's kind, events source and horizon in days (None in table mode).
    """

    key: str
    task: str
    seed: int = 0
    threads: int | None = None
    columns: frozenset[str] = frozenset()
    target_kind: str | None = None
    source: str | None = None
    horizon: float = 0.0


class Records(Protocol):
    """A few records of a service request, as the model's inputs (see ``serving/model.py``)."""

    def __len__(self) -> int: ...

    def numbers(self, columns: list[str]) -> np.ndarray:
        """Numeric ``columns`` as training saw them (float32 values); text columns are NaN."""
        ...

    def texts(self, column: str) -> list[Any]:
        """The records' values of a text column (None where missing)."""
        ...

    def frame(self) -> pd.DataFrame:
        """The records as a prepared frame (derived columns added): the slow, general way."""
        ...


C = TypeVar("C", bound="Candidate")


class Candidate:
    """The protocol: ``fit(train, valid)`` then ``predict(frame)`` -> probabilities."""

    name: ClassVar[str] = "candidate"
    #: the tasks it serves: ``binary`` (probabilities) and/or ``regression`` (amounts)
    tasks: ClassVar[tuple[str, ...]] = ("binary",)
    #: used to prefer the simpler of two candidates that score alike
    complexity: ClassVar[int] = 0
    #: how :meth:`contributions` computes them, as reasons and the report name it
    explanation: ClassVar[str | None] = None
    #: whether :meth:`contributions` reads the typical values (computing them costs a pass)
    uses_typical: ClassVar[bool] = False
    #: False: runs only when ``[train] candidates`` lists it (an option that costs time)
    by_default: ClassVar[bool] = True

    def __init__(self, *, key: str) -> None:
        self.key = key

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """The candidate for a project, or why it cannot run there (a short phrase)."""
        return cls(key=setting.key)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> Candidate:
        """Learn from ``train`` and ``valid`` together.

        ``valid`` is a later cutoff whose label window no training window reaches; models
        that stop early choose their size on it, then every model learns from both.
        """
        raise NotImplementedError

    def fit_round(
        self, train: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None
    ) -> Candidate:
        """Fit on one backtest round (or the final refit) the way that keeps stopping honest.

        ``inner`` leaves out the cutoffs whose label windows reach ``stop``, which
        ``train`` keeps. Models that stop early learn their size from ``inner`` and
        ``stop``; the others learn from all of ``train`` (the default).
        """
        return self.fit(train)

    def refit(self, rows: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None) -> None:
        """The final fit on every labelled row (``stop`` None: nothing left to stop on)."""
        self.fit_round(rows, inner, stop)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability that each row's label is 1."""
        raise NotImplementedError

    def features(self) -> list[str]:
        """The input features of the fitted model ([] when it reads none)."""
        return []

    def score_records(self, records: Records) -> np.ndarray:
        """Raw (uncalibrated) scores of a few service records (a fast path overrides it)."""
        return self.predict(records.frame())

    def contributions(
        self, frame: pd.DataFrame, typical: Mapping[str, object]
    ) -> pd.DataFrame | None:
        """Per row and input feature, the contribution to the score (None: not exact).

        ``frame`` is prepared (derived columns added); ``typical`` holds the typical value
        of each feature at training, the reference of models that explain relative to it.
        """
        return None

    # -- saving --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data (``name`` and ``key`` included)."""
        raise NotImplementedError

    def native_files(self) -> dict[str, bytes]:
        """Files in the model's own format saved beside ``model.json`` (name: content)."""
        return {}

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Rebuild a fitted model from :meth:`to_dict` alone."""
        raise NotImplementedError

    @classmethod
    def load(cls, data: dict[str, Any], files: Mapping[str, bytes], folder: Path) -> Candidate:
        """Rebuild a fitted model from its bundle: ``model.json``, its verified files."""
        return cls.from_dict(data)


_REGISTRY: dict[str, type[Candidate]] = {}
#: the modules whose import registers the built-in candidates, in the leaderboard's order
_BUILT_IN = (
    "propensity.modeling.candidates.baselines",
    "propensity.modeling.candidates.history",
    "propensity.modeling.candidates.linear",
    "propensity.modeling.candidates.trees",
    "propensity.modeling.network",
    "propensity.modeling.candidates.ensemble",
)


def register(cls: type[C]) -> type[C]:
    """Class decorator: make a candidate known to training, bundles, serving and reasons."""
    found = _REGISTRY.get(cls.name)
    if found is not None and found is not cls:
        raise ValueError(f"candidate {cls.name!r} is registered twice ({found} and {cls})")
    if not set(cls.tasks) <= set(TASKS):
        raise ValueError(f"candidate {cls.name!r}: tasks must be among {TASKS}")
    _REGISTRY[cls.name] = cls
    return cls


def _registry() -> dict[str, type[Candidate]]:
    for module in _BUILT_IN:
        importlib.import_module(module)
    return _REGISTRY


def candidate_names(task: str) -> tuple[str, ...]:
    """The names of the candidates that serve ``task``, in the leaderboard's order."""
    return tuple(name for name, cls in _registry().items() if task in cls.tasks)


def candidate_class(name: object, where: str = "bundle") -> type[Candidate]:
    """The registered class called ``name``; a clear :class:`BundleError` otherwise."""
    found = _registry().get(str(name))
    if found is None:
        raise BundleError(
            f"{where}: unknown model {name!r}; this version of propensity knows "
            f"{', '.join(sorted(_REGISTRY))}. Upgrade propensity, or retrain the model"
        )
    return found
