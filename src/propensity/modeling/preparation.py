"""One preparation of tabular features for the models that need numbers on one scale.

Logistic regression, ridge regression and the Keras network see the same design matrix:
numeric columns with missing values imputed by the median and a 0/1 flag per column that
had missing values, all standardised, then one 0/1 column per frequent level of each text
column and one "other" column for rarer, unseen and missing values. The network also
compresses heavy tails first (a signed ``log1p``). The preparation is learned and applied
in NumPy and saved as JSON beside the model, so that a bundle scores without
scikit-learn, and the service applies the very same code to one record at a time
(:meth:`TabularPreparation.design`).

>>> import pandas as pd
>>> rows = pd.DataFrame({"orders": [1.0, None, 3.0], "plan": ["a", "a", None]})
>>> prep = TabularPreparation.fit(rows, ["orders", "plan"], min_count=1)
>>> prep.flags, prep.levels
(['orders'], {'plan': ['<missing>', 'a']})
>>> prep.transform(rows).shape  # orders, its flag, plan=<missing>, plan=a, plan=other
(3, 5)
>>> TabularPreparation.from_dict(prep.to_dict()) == prep
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError

__all__ = ["MISSING", "TabularPreparation"]

#: the text level a missing value takes; it is kept by name when it is frequent enough
MISSING = "<missing>"


@dataclass(eq=True)
class TabularPreparation:
    """Imputation, missing flags, scaling and one-hot levels, learned once.

    Parameters
    ----------
    numeric
        Numeric feature columns, in design order.
    categorical
        Text feature columns, in design order after the numeric block.
    medians
        The imputed value of each numeric column (after ``log1p`` when it is on).
    flags
        Numeric columns that had missing values when fitted: each gets a 0/1 column.
    levels
        The levels kept by name for each text column; every other value shares one column.
    mean, scale
        Standardisation of the numeric columns and the flags.
    log1p
        Apply ``sign(x) * log1p(|x|)`` to numeric columns before anything else.
    dtype
        ``"float64"`` or ``"float32"`` (the network's); not saved, the model chooses it.
    """

    numeric: list[str]
    categorical: list[str]
    medians: list[float]
    flags: list[str]
    levels: dict[str, list[str]]
    mean: list[float]
    scale: list[float]
    log1p: bool = False
    dtype: str = field(default="float64", compare=False)

    @classmethod
    def fit(
        cls,
        rows: pd.DataFrame,
        columns: Sequence[str],
        *,
        max_levels: int = 20,
        min_count: int = 20,
        log1p: bool = False,
        dtype: str = "float64",
    ) -> TabularPreparation:
        """Learn the preparation of ``columns`` from ``rows``.

        A text column keeps its ``max_levels`` most frequent values seen at least
        ``min_count`` times (ties broken by name, so the choice never depends on row
        order); a missing value is the level ``"<missing>"`` and is kept like any other.
        """
        numeric = [c for c in columns if pd.api.types.is_numeric_dtype(rows[c])]
        categorical = [c for c in columns if c not in numeric]
        prep = cls(numeric, categorical, [], [], {}, [], [], log1p=log1p, dtype=dtype)
        raw = prep._numbers(rows)
        with warnings.catch_warnings():
            # an all-missing column has no median; it is imputed with 0
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(raw, axis=0) if raw.shape[1] else np.zeros(0)
        prep.medians = [0.0 if np.isnan(m) else float(m) for m in medians]
        prep.flags = [c for j, c in enumerate(numeric) if np.isnan(raw[:, j]).any()]
        for c in categorical:
            counts = _text(rows[c]).value_counts()
            counts = counts[counts >= min_count]
            ranked = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
            prep.levels[c] = sorted(str(v) for v, _ in ranked[:max_levels])
        dense = prep._dense(raw)
        if len(dense):
            prep.mean = dense.mean(axis=0, dtype=np.float64).tolist()
            spread = dense.std(axis=0, dtype=np.float64)
        else:
            prep.mean, spread = [0.0] * dense.shape[1], np.zeros(dense.shape[1])
        prep.scale = np.where(spread > 0, spread, 1.0).tolist()
        return prep

    # -- applying it -----------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The feature columns the preparation reads, numeric first."""
        return [*self.numeric, *self.categorical]

    @property
    def width(self) -> int:
        """Columns of the design matrix."""
        return (
            len(self.numeric)
            + len(self.flags)
            + sum(len(self.levels[c]) + 1 for c in self.categorical)
        )

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The design matrix of a frame that holds (at least) :attr:`columns`."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"predict: the frame lacks the feature columns {', '.join(missing)}; "
                f"the model was trained on {', '.join(self.columns)}"
            )
        codes = [_level_codes(_text(frame[c]), self.levels[c]) for c in self.categorical]
        return self._assemble(self._numbers(frame), codes)

    def design(
        self, numbers: np.ndarray, texts: Sequence[Sequence[Any] | np.ndarray]
    ) -> np.ndarray:
        """The design matrix from raw values: what :meth:`transform` and the service share.

        Parameters
        ----------
        numbers
            One row per record, one column per :attr:`numeric` column; NaN (or any
            non-finite value) is missing.
        texts
            For each :attr:`categorical` column, the records' values (None is missing).
        """
        codes = [
            _codes(values, self.levels[c])
            for c, values in zip(self.categorical, texts, strict=True)
        ]
        return self._assemble(self._compress(np.asarray(numbers)), codes)

    def _assemble(self, raw: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
        """Scaled numbers and flags, then a one-hot block per text column from its codes."""
        dtype = np.dtype(self.dtype)
        dense = self._dense(raw)
        parts = [(dense - np.asarray(self.mean, dtype=dtype)) / np.asarray(self.scale, dtype=dtype)]
        for c, found in zip(self.categorical, codes, strict=True):
            onehot = np.zeros((len(found), len(self.levels[c]) + 1), dtype=dtype)
            onehot[np.arange(len(found)), found] = 1
            parts.append(onehot)
        return np.column_stack(parts).astype(dtype, copy=False)

    def _compress(self, x: np.ndarray) -> np.ndarray:
        """Raw numbers in the working dtype, tails compressed if asked, non-finite as NaN."""
        x = x.astype(np.dtype(self.dtype), copy=False)
        if self.log1p:
            with np.errstate(invalid="ignore"):
                # heavy-tailed counts and amounts: compress the tail, keep the sign
                x = np.sign(x) * np.log1p(np.abs(x))
        return np.where(np.isfinite(x), x, np.nan)

    def _numbers(self, frame: pd.DataFrame) -> np.ndarray:
        # read in the working dtype: a float64 copy of a wide frame is not needed
        return self._compress(frame[self.numeric].to_numpy(dtype=self.dtype, na_value=np.nan))

    def _dense(self, raw: np.ndarray) -> np.ndarray:
        """Imputed numeric columns, then a 0/1 flag per column that had missing values."""
        dtype = np.dtype(self.dtype)
        filled = np.where(np.isnan(raw), np.asarray(self.medians, dtype=dtype), raw)
        where = {c: j for j, c in enumerate(self.numeric)}
        flags = [np.isnan(raw[:, where[c]]) for c in self.flags]
        dense = np.column_stack([filled, *flags]) if flags else filled
        return dense.astype(dtype, copy=False)

    def block(self, column: str) -> slice:
        """The design columns that come from one text column (its levels, then "other")."""
        start = len(self.numeric) + len(self.flags)
        for c in self.categorical:
            width = len(self.levels[c]) + 1
            if c == column:
                return slice(start, start + width)
            start += width
        raise KeyError(column)

    # -- saving it -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; the keys are the ones bundles have always held."""
        data: dict[str, Any] = {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "medians": self.medians,
            "flags": self.flags,
            "levels": self.levels,
            "mean": self.mean,
            "scale": self.scale,
        }
        if self.log1p:
            data["log1p"] = True
        return data

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, log1p: bool | None = None, dtype: str = "float64"
    ) -> TabularPreparation:
        """Rebuild from :meth:`to_dict` (or a model's saved JSON, which holds the same keys).

        ``log1p`` overrides what the data says, for bundles written before it was saved.
        """
        return cls(
            numeric=list(data["numeric"]),
            categorical=list(data["categorical"]),
            medians=[float(v) for v in data["medians"]],
            flags=list(data["flags"]),
            levels={k: list(v) for k, v in data["levels"].items()},
            mean=[float(v) for v in data["mean"]],
            scale=[float(v) for v in data["scale"]],
            log1p=bool(data.get("log1p", False)) if log1p is None else log1p,
            dtype=dtype,
        )


def _codes(values: Sequence[Any] | np.ndarray, levels: list[str]) -> np.ndarray:
    """The position of each value among ``levels``; ``len(levels)`` for any other value."""
    if len(values) <= 32:  # a request's few records: a dictionary walk beats pandas
        index = {v: j for j, v in enumerate(levels)}
        other = len(levels)
        return np.array(
            [index.get(MISSING if v is None else str(v), other) for v in values], dtype=np.intp
        )
    return _level_codes(pd.Series(values, dtype="string").fillna(MISSING), levels)


def _level_codes(text: pd.Series, levels: list[str]) -> np.ndarray:
    """:func:`_codes` of a text column already holding ``"<missing>"`` for missing values."""
    codes = pd.Index(levels, dtype=object).get_indexer(pd.Index(text.to_numpy(dtype=object)))
    return np.where(codes < 0, len(levels), codes).astype(np.intp)


def _text(values: pd.Series) -> pd.Series:
    """A text column with missing values as the level ``"<missing>"``."""
    return values.astype("string").fillna(MISSING)
