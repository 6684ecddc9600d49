"""Extra popup columns of interactive maps: the chiefs of each reach by level, partner chiefs.

Popups of handover sections name the unit of every chief (a section has chiefs of two units).

These come from the coverage and partner analyses (issues 3 and 4). When a project has no
roster, or an analysis is not available, the popups simply show the layer's own properties.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from rivernet import messages
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
    units = entry.id == "crossings"
    by_level = chiefs_by_level(project, as_of=as_of, with_units=units, lang=lang)
    for chief_level, chiefs in by_level.items():
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
    up, down = messages.relation("upstream", lang), messages.relation("downstream", lang)
    text: dict[Any, list[str]] = {}
    for row in found.itertuples(index=False):
        lines = text.setdefault(row.reach_id, [])
        for side, name, chiefs in (
            (up, row.upstream_name, getattr(row, "upstream_chiefs", None)),
            (down, row.downstream_name, getattr(row, "downstream_chiefs", None)),
        ):
            if _blank(chiefs):
                line = messages.text("popup.side_empty", lang, side=side, unit=name)
            else:
                line = messages.text("popup.side", lang, side=side, unit=name, chiefs=chiefs)
            if line not in lines:
                lines.append(line)
    return {reach: "\n".join(lines) for reach, lines in text.items()}


def chiefs_by_level(
    project: Project,
    *,
    as_of: dt.date | str | None,
    with_units: bool = False,
    lang: str = "zh",
) -> dict[str, pd.Series]:
    """For each level with any chief: reach id -> the chiefs' names (one line per chief).

    With ``with_units`` each name is followed by the unit the chief belongs to
    (``"周琳（吴中区）"``).

    Returns
    -------
    dict
        Level -> Series indexed by reach id.
    """
    from rivernet.coverage import coverage_status

    result: dict[str, pd.Series] = {}
    units = _chief_units(project) if with_units else {}
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
        if with_units:
            known = units.get(level, {})
            joined = joined.map(lambda text, known=known: _with_units(known, text, lang))
        result[level] = joined
    return result


def _with_units(units: dict[str, list[str]], text: str, lang: str) -> str:
    """Chief names (one per line) each followed by their unit(s) (name -> unit names)."""
    lines = []
    for name in text.splitlines():
        unit = "、".join(units.get(name, []))
        lines.append(messages.text("popup.chief_of", lang, name=name, unit=unit) if unit else name)
    return "\n".join(lines)


def _chief_units(project: Project) -> dict[str, dict[str, list[str]]]:
    """Level -> chief name -> the names of the units the chief is assigned for."""
    from rivernet.coverage import unit_names

    roster = project.roster
    if roster is None:
        return {}
    people = roster.people.drop_duplicates("person_id").set_index("person_id")["name"]
    names = unit_names(project)
    found: dict[str, dict[str, list[str]]] = {}
    assignments = roster.assignments
    for person, level, code in zip(
        assignments["person_id"], assignments["level"], assignments["unit_code"], strict=True
    ):
        name = people.get(person)
        unit = names.get(str(code), str(code)) if code is not None else None
        if name is None or unit is None:
            continue
        units = found.setdefault(level, {}).setdefault(str(name), [])
        if unit not in units:
            units.append(unit)
    return found


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
