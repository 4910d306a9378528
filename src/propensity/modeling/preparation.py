"""One preparation of tabular features for the models that need numbers on one scale.

Logistic regression, ridge regression and the Keras network see the same design matrix:
numeric columns with missing values imputed by the median and a 0/1 flag per column that
had missing values, all standardised, then one 0/1 column per frequent level of each text
column and one "other" column for rarer, unseen and missing values. The network also
compresses heavy tails first (a signed ``log1p``). The preparation is learned and applied
in NumPy and saved as JSON beside the model, so that a bundle scores without
scikit-learn, and the service applies the very same code to one record at a time
(:meth:`TabularPreparation.design`).

Two richer inputs, shared with the trees (:mod:`.candidates.trees`):

- **ratios** across sources (:func:`plan_ratios`): tickets per order, spend per active
  day, computed from the frame's own columns at training and scoring alike;
- **target encoding** of text columns with many levels (:class:`TargetEncoding`): each
  level's label mean smoothed toward the overall mean, out of fold by customer for the
  rows the model learns from, so that no row's encoding ever saw its own label.

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

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError

__all__ = [
    "ENCODE_ABOVE",
    "MISSING",
    "PRIOR_WEIGHT",
    "Ratio",
    "TabularPreparation",
    "TargetEncoding",
    "customer_folds",
    "plan_ratios",
    "ratio_values",
    "to_encode",
]

#: the text level a missing value takes; it is kept by name when it is frequent enough
MISSING = "<missing>"
#: a text column with more distinct levels than this is target-encoded instead of one-hot
ENCODE_ABOVE = 20
#: the m of the m-estimate: a level seen this many times is half its own mean, half the prior
PRIOR_WEIGHT = 20.0
#: folds of the out-of-fold encoding, drawn by customer
FOLDS = 5

_WINDOW = re.compile(r"^(\d+)(d|w|mo|y)$")
_DAYS = {"d": 1, "w": 7, "mo": 30, "y": 365}


# -- ratios across sources ---------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A feature computed from two frame columns: ``numerator / denominator``."""

    name: str
    numerator: str
    denominator: str

    def to_list(self) -> list[str]:
        """``[name, numerator, denominator]``, as bundles hold it."""
        return [self.name, self.numerator, self.denominator]


def ratio_values(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float32 values; NaN where either is missing or it is 0.

    Divided in float64 then rounded, so that a frame and a service record of the same
    numbers give the very same value.
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = num / den
    q[(den == 0) | ~np.isfinite(q)] = np.nan
    return q.astype(np.float32)


def _windows(columns: set[str], prefix: str) -> list[str]:
    """The windows ``w`` of the columns ``{prefix}{w}``, shortest first."""
    found = []
    for c in columns:
        if c.startswith(prefix):
            match = _WINDOW.match(c[len(prefix) :])
            if match is not None:
                found.append((int(match.group(1)) * _DAYS[match.group(2)], c[len(prefix) :]))
    return [w for _, w in sorted(found)]


def _ends(windows: list[str]) -> list[str]:
    """The shortest and the longest window (one when there is one)."""
    return list(dict.fromkeys([windows[0], windows[-1]])) if windows else []


def plan_ratios(columns: Sequence[str], source: str | None) -> list[Ratio]:
    """The ratio features a frame with these columns gets, for the target's events source.

    For the target source ``a``, at its shortest and longest window ``w`` only (where
    rates differ most; the middle windows add columns, not signal):

    - ``{b}_per_{a}_{w}`` = ``{b}_count_{w} / {a}_count_{w}`` for each other events
      source ``b`` (support tickets per order);
    - ``{a}_{m}_per_active_day_{w}`` = ``{a}_{m}_sum_{w} / {a}_active_days_{w}`` for each
      measure ``m`` (spend per active day).

    An events source is the prefix of a ``{b}_days_since_last`` column. Nothing without a
    target source (table mode, entity targets). The value is missing where the
    denominator is 0.

    >>> columns = ["orders_count_30d", "orders_count_90d", "orders_active_days_90d",
    ...            "orders_amount_sum_90d", "orders_days_since_last",
    ...            "tickets_count_30d", "tickets_days_since_last"]
    >>> [r.name for r in plan_ratios(columns, "orders")]
    ['tickets_per_orders_30d', 'orders_amount_per_active_day_90d']
    """
    if source is None:
        return []
    names = set(columns)
    suffix = "_days_since_last"
    sources = sorted(c[: -len(suffix)] for c in names if c.endswith(suffix) and c != suffix)
    # a source whose name starts with the target's ("orders_returns"): its columns are its own
    longer = [s for s in sources if s.startswith(f"{source}_")]
    out: list[Ratio] = []
    for w in _ends(_windows(names, f"{source}_count_")):
        for other in sources:
            if other != source and f"{other}_count_{w}" in names:
                out.append(
                    Ratio(f"{other}_per_{source}_{w}", f"{other}_count_{w}", f"{source}_count_{w}")
                )
    for w in _ends(_windows(names, f"{source}_active_days_")):
        tail = f"_sum_{w}"
        for c in sorted(names):
            if not (c.startswith(f"{source}_") and c.endswith(tail)):
                continue
            if any(c.startswith(f"{s}_") for s in longer):
                continue
            measure = c[len(source) + 1 : -len(tail)]
            out.append(
                Ratio(f"{source}_{measure}_per_active_day_{w}", c, f"{source}_active_days_{w}")
            )
    return [r for r in out if r.name not in names]


# -- target encoding -----------------------------------------------------------------------


def customer_folds(groups: np.ndarray | pd.Series, folds: int = FOLDS) -> np.ndarray:
    """A fold number per row, drawn from a hash of its customer key.

    Every row of a customer lands in the same fold whatever the rows' order, so an
    out-of-fold value never reads that customer's other cutoffs.
    """
    values = np.asarray(groups)
    if values.dtype.kind in "OUS":
        values = values.astype(str).astype(object)
    hashed = pd.util.hash_array(values, categorize=False)
    return (hashed % np.uint64(folds)).astype(np.intp)


def to_encode(rows: pd.DataFrame, columns: Sequence[str], above: int = ENCODE_ABOVE) -> list[str]:
    """The text columns with more than ``above`` distinct levels (missing is one)."""
    return [c for c in columns if _text(rows[c]).nunique() > above]


@dataclass(eq=True)
class TargetEncoding:
    """Each level's label mean smoothed toward the overall mean (an m-estimate).

    A level seen ``n`` times with labels summing to ``s`` is worth
    ``(s + weight * prior) / (n + weight)``; an unseen level is worth ``prior``.

    Parameters
    ----------
    values
        The value of each level seen when fitted (missing values are ``"<missing>"``).
    prior
        The mean label of the rows it was fitted on.
    weight
        The prior's weight, in rows.
    """

    values: dict[str, float]
    prior: float
    weight: float = PRIOR_WEIGHT

    @classmethod
    def fit(
        cls,
        text: pd.Series,
        y: np.ndarray,
        groups: np.ndarray | pd.Series,
        *,
        weight: float = PRIOR_WEIGHT,
        folds: int = FOLDS,
    ) -> tuple[TargetEncoding, np.ndarray]:
        """The encoding learned from every row, and each row's out-of-fold value.

        A row's out-of-fold value is the smoothed mean label of its level among the rows
        of the other folds (folds by customer, :func:`customer_folds`), smoothed toward
        those rows' mean: neither its own label nor its customer's other rows enter it.
        It is NaN when the other folds hold no row at all.
        """
        codes, uniques = pd.factorize(_text(text).to_numpy(dtype=object))
        y = np.asarray(y, dtype=np.float64)
        width = max(len(uniques), 1)
        fold = customer_folds(groups, folds)
        cell = fold * width + codes
        sums = np.bincount(cell, weights=y, minlength=folds * width).reshape(folds, width)
        counts = np.bincount(cell, minlength=folds * width).reshape(folds, width)
        level_sum, level_count = sums.sum(axis=0), counts.sum(axis=0)
        total, size = float(y.sum()), len(y)
        prior = total / size if size else 0.0
        values = {
            str(level): float((s + weight * prior) / (n + weight))
            for level, s, n in zip(uniques, level_sum, level_count, strict=False)
        }
        rest_size = size - counts.sum(axis=1)
        other_sum = level_sum[codes] - sums[fold, codes]
        other_count = level_count[codes] - counts[fold, codes]
        with np.errstate(divide="ignore", invalid="ignore"):
            rest_prior = ((total - sums.sum(axis=1)) / rest_size)[fold]
            oof = (other_sum + weight * rest_prior) / (other_count + weight)
        # no row of the level elsewhere and no prior weight: the prior is all there is
        oof = np.where(other_count + weight > 0, oof, rest_prior)
        return cls(values, float(prior), float(weight)), oof

    def apply(self, text: pd.Series) -> np.ndarray:
        """The value of each row's level (the prior for a level never seen)."""
        index = pd.Index(list(self.values), dtype=object)
        found = index.get_indexer(pd.Index(_text(text).to_numpy(dtype=object)))
        table = np.append(np.fromiter(self.values.values(), float, len(self.values)), self.prior)
        return table[np.where(found < 0, len(self.values), found)]

    def apply_values(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """:meth:`apply` on raw values (None is missing): the service's few records."""
        get, prior = self.values.get, self.prior
        return np.array(
            [get(MISSING if v is None else str(v), prior) for v in values], dtype=np.float64
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: level -> value, the prior and its weight."""
        return {"values": self.values, "prior": self.prior, "weight": self.weight}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetEncoding:
        """Rebuild from :meth:`to_dict`."""
        return cls(
            {str(k): float(v) for k, v in data["values"].items()},
            float(data["prior"]),
            float(data.get("weight", PRIOR_WEIGHT)),
        )


# -- the preparation -------------------------------------------------------------------------


@dataclass(eq=True)
class TabularPreparation:
    """Imputation, missing flags, scaling, one-hot levels, ratios and target encodings.

    The dense block of the design holds, in this order, the numeric columns, the ratios
    and the target-encoded text columns (:attr:`dense_names`), each imputed by its
    median and standardised, then a 0/1 flag per dense column that had missing values;
    the one-hot blocks of the other text columns follow.

    Parameters
    ----------
    numeric
        Numeric feature columns, in design order.
    categorical
        Text feature columns (target-encoded or one-hot), in the order they are read.
    medians
        The imputed value of each dense column (after ``log1p`` when it is on).
    flags
        Dense columns that had missing values when fitted: each gets a 0/1 column.
    levels
        The levels kept by name for each one-hot text column; every other value shares
        one column.
    mean, scale
        Standardisation of the dense columns and the flags.
    log1p
        Apply ``sign(x) * log1p(|x|)`` to numeric columns and ratios before anything else.
    ratios
        Features computed from two numeric columns (:func:`plan_ratios`).
    encodings
        The target encoding of each text column with many levels.
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
    ratios: list[Ratio] = field(default_factory=list)
    encodings: dict[str, TargetEncoding] = field(default_factory=dict)
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
        ratios: Sequence[Ratio] = (),
        target: np.ndarray | None = None,
        groups: np.ndarray | pd.Series | None = None,
        encode_above: int = ENCODE_ABOVE,
        prior_weight: float = PRIOR_WEIGHT,
    ) -> TabularPreparation:
        """Learn the preparation of ``columns`` from ``rows``.

        A one-hot text column keeps its ``max_levels`` most frequent values seen at least
        ``min_count`` times (ties broken by name, so the choice never depends on row
        order); a missing value is the level ``"<missing>"`` and is kept like any other.
        Given the rows' labels (``target``) and customer keys (``groups``), a text column
        with more than ``encode_above`` levels is target-encoded instead
        (:class:`TargetEncoding`); the scaling learns from the rows' out-of-fold values.
        ``ratios`` whose columns are among the numeric ones are added.
        """
        return cls._learn(
            rows,
            columns,
            max_levels=max_levels,
            min_count=min_count,
            log1p=log1p,
            dtype=dtype,
            ratios=ratios,
            target=target,
            groups=groups,
            encode_above=encode_above,
            prior_weight=prior_weight,
        )[0]

    @classmethod
    def fit_transform(
        cls,
        rows: pd.DataFrame,
        columns: Sequence[str],
        *,
        max_levels: int = 20,
        min_count: int = 20,
        log1p: bool = False,
        dtype: str = "float64",
        ratios: Sequence[Ratio] = (),
        target: np.ndarray | None = None,
        groups: np.ndarray | pd.Series | None = None,
        encode_above: int = ENCODE_ABOVE,
        prior_weight: float = PRIOR_WEIGHT,
    ) -> tuple[TabularPreparation, np.ndarray]:
        """:meth:`fit`, and the design matrix of ``rows`` to learn from.

        The target-encoded columns of that matrix hold the rows' out-of-fold values, not
        the encoding learned from every row (which has seen their labels).
        """
        prep, raw, texts = cls._learn(
            rows,
            columns,
            max_levels=max_levels,
            min_count=min_count,
            log1p=log1p,
            dtype=dtype,
            ratios=ratios,
            target=target,
            groups=groups,
            encode_above=encode_above,
            prior_weight=prior_weight,
        )
        codes = [_level_codes(texts[c], prep.levels[c]) for c in prep.onehot]
        return prep, prep._assemble(raw, codes)

    @classmethod
    def _learn(
        cls,
        rows: pd.DataFrame,
        columns: Sequence[str],
        *,
        max_levels: int,
        min_count: int,
        log1p: bool,
        dtype: str,
        ratios: Sequence[Ratio],
        target: np.ndarray | None,
        groups: np.ndarray | pd.Series | None,
        encode_above: int,
        prior_weight: float,
    ) -> tuple[TabularPreparation, np.ndarray, dict[str, pd.Series]]:
        numeric = [c for c in columns if pd.api.types.is_numeric_dtype(rows[c])]
        categorical = [c for c in columns if c not in numeric]
        known = set(numeric)
        usable = [
            r
            for r in ratios
            if r.numerator in known and r.denominator in known and r.name not in columns
        ]
        prep = cls(numeric, categorical, [], [], {}, [], [], log1p=log1p, dtype=dtype)
        prep.ratios = list(dict.fromkeys(usable))
        texts = {c: _text(rows[c]) for c in categorical}
        oof: list[np.ndarray] = []
        if target is not None:
            if groups is None:
                raise ValueError("target encoding needs the rows' customer keys (groups)")
            for c in categorical:
                if texts[c].nunique() > encode_above:
                    found, values = TargetEncoding.fit(
                        texts[c], target, groups, weight=prior_weight
                    )
                    prep.encodings[c] = found
                    oof.append(values)
        raw = prep._raw(prep._read(rows), oof)
        with warnings.catch_warnings():
            # an all-missing column has no median; it is imputed with 0
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(raw, axis=0) if raw.shape[1] else np.zeros(0)
        prep.medians = [0.0 if np.isnan(m) else float(m) for m in medians]
        prep.flags = [c for j, c in enumerate(prep.dense_names) if np.isnan(raw[:, j]).any()]
        for c in prep.onehot:
            counts = texts[c].value_counts()
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
        return prep, raw, texts

    # -- applying it -----------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The feature columns the preparation reads, numeric first."""
        return [*self.numeric, *self.categorical]

    @property
    def onehot(self) -> list[str]:
        """The text columns coded one-hot (the others are target-encoded)."""
        return [c for c in self.categorical if c not in self.encodings]

    @property
    def dense_names(self) -> list[str]:
        """The dense block's columns: numeric, ratios, then target-encoded text columns."""
        encoded = [c for c in self.categorical if c in self.encodings]
        return [*self.numeric, *(r.name for r in self.ratios), *encoded]

    @property
    def width(self) -> int:
        """Columns of the design matrix."""
        return (
            len(self.dense_names)
            + len(self.flags)
            + sum(len(self.levels[c]) + 1 for c in self.onehot)
        )

    def inputs_of(self, name: str) -> list[str]:
        """The feature columns a dense column is computed from (a ratio has two)."""
        for r in self.ratios:
            if r.name == name:
                return [r.numerator, r.denominator]
        return [name]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The design matrix of a frame that holds (at least) :attr:`columns`."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"predict: the frame lacks the feature columns {', '.join(missing)}; "
                f"the model was trained on {', '.join(self.columns)}"
            )
        texts = {c: _text(frame[c]) for c in self.categorical}
        encoded = [
            self.encodings[c].apply(texts[c]) for c in self.categorical if c in self.encodings
        ]
        codes = [_level_codes(texts[c], self.levels[c]) for c in self.onehot]
        return self._assemble(self._raw(self._read(frame), encoded), codes)

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
        given = dict(zip(self.categorical, texts, strict=True))
        encoded = [
            self.encodings[c].apply_values(given[c])
            for c in self.categorical
            if c in self.encodings
        ]
        codes = [_codes(given[c], self.levels[c]) for c in self.onehot]
        return self._assemble(self._raw(np.asarray(numbers), encoded), codes)

    def _assemble(self, raw: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
        """Scaled dense columns and flags, then a one-hot block per text column from its codes."""
        dtype = np.dtype(self.dtype)
        dense = self._dense(raw)
        parts = [(dense - np.asarray(self.mean, dtype=dtype)) / np.asarray(self.scale, dtype=dtype)]
        for c, found in zip(self.onehot, codes, strict=True):
            onehot = np.zeros((len(found), len(self.levels[c]) + 1), dtype=dtype)
            onehot[np.arange(len(found)), found] = 1
            parts.append(onehot)
        return np.column_stack(parts).astype(dtype, copy=False)

    def _raw(self, numbers: np.ndarray, encoded: Sequence[np.ndarray]) -> np.ndarray:
        """The dense columns before imputation: numbers and ratios compressed, encodings."""
        dtype = np.dtype(self.dtype)
        x = numbers.astype(dtype, copy=False)
        if self.ratios:
            where = {c: j for j, c in enumerate(self.numeric)}
            quotients = [
                ratio_values(x[:, where[r.numerator]], x[:, where[r.denominator]])
                for r in self.ratios
            ]
            x = np.column_stack([x, *quotients]).astype(dtype, copy=False)
        x = self._compress(x)
        if encoded:
            x = np.column_stack([x, *encoded]).astype(dtype, copy=False)
        return x

    def _compress(self, x: np.ndarray) -> np.ndarray:
        """Raw numbers in the working dtype, tails compressed if asked, non-finite as NaN."""
        x = x.astype(np.dtype(self.dtype), copy=False)
        if self.log1p:
            with np.errstate(invalid="ignore"):
                # heavy-tailed counts and amounts: compress the tail, keep the sign
                x = np.sign(x) * np.log1p(np.abs(x))
        return np.where(np.isfinite(x), x, np.nan)

    def _read(self, frame: pd.DataFrame) -> np.ndarray:
        # read in the working dtype: a float64 copy of a wide frame is not needed
        return frame[self.numeric].to_numpy(dtype=self.dtype, na_value=np.nan)

    def _dense(self, raw: np.ndarray) -> np.ndarray:
        """Imputed dense columns, then a 0/1 flag per column that had missing values."""
        dtype = np.dtype(self.dtype)
        filled = np.where(np.isnan(raw), np.asarray(self.medians, dtype=dtype), raw)
        where = {c: j for j, c in enumerate(self.dense_names)}
        flags = [np.isnan(raw[:, where[c]]) for c in self.flags]
        dense = np.column_stack([filled, *flags]) if flags else filled
        return dense.astype(dtype, copy=False)

    def block(self, column: str) -> slice:
        """The design columns that come from one one-hot text column (levels, then "other")."""
        start = len(self.dense_names) + len(self.flags)
        for c in self.onehot:
            width = len(self.levels[c]) + 1
            if c == column:
                return slice(start, start + width)
            start += width
        raise KeyError(column)

    # -- saving it -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; the keys are the ones bundles have always held, and new ones."""
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
        if self.ratios:
            data["ratios"] = [r.to_list() for r in self.ratios]
        if self.encodings:
            data["encodings"] = {c: e.to_dict() for c, e in self.encodings.items()}
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
            ratios=[Ratio(*map(str, r)) for r in data.get("ratios", [])],
            encodings={
                str(c): TargetEncoding.from_dict(e) for c, e in data.get("encodings", {}).items()
            },
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
