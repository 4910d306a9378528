"""What each column of the frame means, said by the planner that made it.

Every feature the planner writes gets a :class:`FeatureInfo`: its family (a count, a sum
of a measure, the share of a category level, days since the last event...), the events
source, window, measure, category and level it comes from. The frame's manifest
(``frames/frame.json``) and the bundle's manifest carry them, and reason codes phrase a
feature from its info: nothing reads a feature's name to learn what it means.

>>> info = FeatureInfo(name="orders_amount_sum_90d", family="sum", source="orders",
...                    window="90d", measure="amount")
>>> FeatureInfo.model_validate(info.to_json()) == info
True
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["FAMILIES", "FeatureInfo", "infos_from_manifest"]

Family = Literal[
    # per events source and window
    "count",
    "active_days",
    "count_trend",
    "sum",
    "mean",
    "max",
    "sum_trend",
    "level_count",
    "level_share",
    # per events source: the coming horizon's window one year before the cutoff
    "count_year_ago",
    "sum_year_ago",
    # per events source, over all history
    "days_since_last",
    "days_since_first",
    "mean_gap_days",
    "last_gap_days",
    # BG/NBD's scores, derived at training
    "bgnbd_p_alive",
    "bgnbd_expected",
    "bgnbd_p_no_event",
    # the entity table's columns
    "tenure",
    "days_since",
    "column",
    # the cutoff's own calendar (month, quarter, days to a holiday)
    "calendar",
]
FAMILIES: tuple[str, ...] = Family.__args__  # type: ignore[attr-defined]


class FeatureInfo(BaseModel):
    """The meaning of one feature column.

    Parameters
    ----------
    name
        The column's name in the frame.
    family
        What kind of figure it is (see ``FAMILIES``).
    source
        The spec's name of the source it comes from (events or entity).
    window
        The window it covers, as the spec writes it (``30d``, ``12w``), or ``all``; for
        the year-ago families, the horizon (the window ``[t - 365, t - 365 + horizon)``).
    measure
        The measure column summed, averaged or maximised.
    category
        The category column, for level counts and shares.
    level
        The category's level, as the data spells it.
    column
        The entity table's column, for entity features.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    family: Family
    source: str | None = None
    window: str | None = None
    measure: str | None = None
    category: str | None = None
    level: str | None = None
    column: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data without the empty fields."""
        return self.model_dump(exclude_none=True)

    def entry(self) -> dict[str, Any]:
        """A manifest entry's ``info``: :meth:`to_json` less the name, which the entry holds."""
        return self.model_dump(exclude_none=True, exclude={"name"})


def infos_from_manifest(features: list[dict[str, Any]]) -> dict[str, FeatureInfo]:
    """The infos in a frame or bundle manifest's ``features`` list, by name.

    Manifests written before the planner said what features mean have none; their
    features are simply absent from the result.
    """
    out = {}
    for entry in features:
        info = entry.get("info")
        if isinstance(info, dict):
            parsed = FeatureInfo.model_validate({"name": entry["name"], **info})
            out[parsed.name] = parsed
    return out
