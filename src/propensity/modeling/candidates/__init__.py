"""Candidate models behind one protocol: baselines, BG/NBD, linear models, LightGBM.

Every candidate takes frames as ``build`` writes them (key, ``cutoff``, ``label``, then
features) and returns the probability that ``label`` is 1, or, for ``amount`` targets
(``task="regression"``), the expected amount. Candidates follow the scikit-learn habit:
parameters in ``__init__``, ``fit`` returns ``self``, learned state ends in ``_``.

Each one lives in its own module and registers itself (:mod:`.base` explains the
protocol); the network is :mod:`propensity.modeling.network`, kept apart because it needs
the TensorFlow extra.
"""

from __future__ import annotations

from propensity.modeling.candidates.base import (
    Candidate,
    Records,
    Setting,
    candidate_class,
    candidate_names,
    compact,
    feature_columns,
    register,
)
from propensity.modeling.candidates.baselines import (
    MeanCandidate,
    PriorCandidate,
    RecencyCandidate,
)
from propensity.modeling.candidates.history import BGNBDCandidate
from propensity.modeling.candidates.linear import LinearCandidate, LogisticCandidate
from propensity.modeling.candidates.segmented import SegmentedCandidate
from propensity.modeling.candidates.trees import LightGBMCandidate

__all__ = [
    "BGNBDCandidate",
    "Candidate",
    "LightGBMCandidate",
    "LinearCandidate",
    "LogisticCandidate",
    "MeanCandidate",
    "PriorCandidate",
    "RecencyCandidate",
    "Records",
    "SegmentedCandidate",
    "Setting",
    "candidate_class",
    "candidate_names",
    "compact",
    "feature_columns",
    "register",
]
