"""Extra popup columns of interactive maps: the chiefs of each reach by level, partner chiefs.

These come from the coverage and partner analyses (issues 3 and 4). When a project has no
roster, or an analysis is not available, the popups simply show the layer's own properties.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from rivernet.admin import LEVELS
from rivernet.errors import RivernetError
from rivernet.layers.catalog import Layer

if TYPE_CHECKING:
    import geopandas as gpd

    from rivernet.project import Project

logger = logging.getLogger(__name__)


def popup_columns(
    project: Project,
    frame: gpd.GeoDataFrame,
    entry: Layer,
    *,
    as_of: dt.date | str | None,
    level: str = "county",
    lang: str = "zh",
) -> pd.DataFrame:
    """Columns ``chiefs_<level>`` (and ``partners`` for handover sections) for each row.

    Parameters
    ----------
    project
        The project the frame comes from.
    frame
        The layer's features; rows are matched on ``reach_id``.
    entry
        The catalog layer.
    as_of
        Date of the roster.
    level
        Admin level of the layer (for handover sections).
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``frame`` (same length, positional); empty when nothing is known.
    """
    if "reach_id" not in frame.columns or project.roster is None:
        return pd.DataFrame()
    reach_ids = pd.Series(frame["reach_id"].to_numpy())
    columns: dict[str, Any] = {}
    for chief_level, chiefs in chiefs_by_level(project, as_of=as_of).items():
        values = reach_ids.map(chiefs)
        if values.notna().any():
            columns[f"chiefs_{chief_level}"] = values.to_numpy()
    if entry.id == "crossings":
        text = handover_partners(project, level=level, as_of=as_of, lang=lang)
        if text:
            columns["partners"] = reach_ids.map(text).to_numpy()
    return pd.DataFrame(columns)


def handover_partners(
    project: Project, *, level: str, as_of: dt.date | str | None, lang: str = "zh"
) -> dict[Any, str]:
    """Reach id -> the chiefs on both sides of its handover sections at ``level``."""
    from rivernet.boundary import crossings

    try:
        found = crossings(project, level=level, as_of=as_of)
    except RivernetError as error:
        logger.info("no handover partners for popups: %s", error)
        return {}
    up, down = ("上游", "下游") if lang == "zh" else ("upstream", "downstream")
    text: dict[Any, list[str]] = {}
    for row in found.itertuples(index=False):
        lines = text.setdefault(row.reach_id, [])
        for side, name, chiefs in (
            (up, row.upstream_name, getattr(row, "upstream_chiefs", None)),
            (down, row.downstream_name, getattr(row, "downstream_chiefs", None)),
        ):
            line = f"{side} {name}: {'' if _blank(chiefs) else chiefs}".rstrip(": ")
            if line not in lines:
                lines.append(line)
    return {reach: "\n".join(lines) for reach, lines in text.items()}


def chiefs_by_level(project: Project, *, as_of: dt.date | str | None) -> dict[str, pd.Series]:
    """For each level with any chief: reach id -> the chiefs' names (one line per chief).

    Returns
    -------
    dict
        Level -> Series indexed by reach id.
    """
    from rivernet.coverage import coverage_status

    result: dict[str, pd.Series] = {}
    for level in LEVELS:
        try:
            status = coverage_status(project, level=level, as_of=as_of)
        except RivernetError as error:
            logger.info("no chiefs at %s level for popups: %s", level, error)
            continue
        if "chiefs" not in status.columns or "reach_id" not in status.columns:
            continue
        chiefs = status[["reach_id", "chiefs"]].dropna()
        chiefs = chiefs[chiefs["chiefs"].astype(str).str.strip() != ""]
        if chiefs.empty:
            continue
        joined = chiefs.groupby("reach_id")["chiefs"].agg(_join_unique)
        result[level] = joined
    return result


def _join_unique(values: pd.Series) -> str:
    seen: list[str] = []
    for value in values:
        for line in str(value).replace("；", ";").replace(";", "\n").splitlines():
            line = line.strip()
            if line and line not in seen:
                seen.append(line)
    return "\n".join(seen)


def _blank(value: object) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    return not isinstance(value, str) and bool(pd.isna(cast(Any, value)))
