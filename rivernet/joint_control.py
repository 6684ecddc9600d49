"""Joint-control partners (上下游、左右岸、干支流联防联控) of units, chiefs and reaches.

Built on the handover sections of :mod:`rivernet.boundary` and the crossing chains of
:mod:`rivernet._chains`: partners are found for all crossings at once by walking the chains.
Distances are along the network, in km, between the crossing points (or from the reach outlet,
for reach queries). The jurisdiction flow graph is in :mod:`rivernet.jurisdiction`, incident
routing in :mod:`rivernet.incidents`.

Relations, seen from the unit (or reach) asked about:

- ``upstream``: the partner's water flows into it (the partner is on the upstream side);
- ``downstream``: its water flows into the partner;
- ``tributary`` / ``main_stem``: at a confluence on the boundary, the partner holds the
  tributary that joins its main stem, or the main stem its tributary joins;
- ``left_bank`` / ``right_bank``: on a boundary river, the partner holds that bank (looking
  downstream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rivernet._chains import (
    FloatArray,
    IntArray,
    chain_pairs,
    distance_limit_m,
    first_down,
    next_crossing,
    river_ids,
    upstream_crossings,
    walk,
)
from rivernet.admin import level_of_code
from rivernet.boundary import (
    CrossingArrays,
    boundary_rivers,
    crossing_arrays,
    crossing_ids,
    require_level,
    unit_chiefs,
)
from rivernet.errors import InputError, NotFoundError
from rivernet.jurisdiction import jurisdiction_table
from rivernet.messages import Message, counted, items, text
from rivernet.names import reach_names
from rivernet.pieces import (
    PIECE_LEVELS,
    _code_array,
    _name_array,
    admin_units,
    piece_arrays,
)
from rivernet.roster import as_date

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["partner_summary", "partner_table", "partners"]

PARTNER_COLUMNS = (
    "unit_code", "unit_name", "level", "relation", "partner_code", "partner_name", "river_id",
    "river_name", "distance_km", "crossing_id", "via", "connections", "partner_chiefs",
)  # fmt: skip


# --- partners ---------------------------------------------------------------------------------


def partner_table(
    project: Project,
    *,
    level: str,
    distance_km: float | None = None,
    as_of: Any = None,
    banks: bool = True,
    tolerance_m: float = 250.0,
) -> pd.DataFrame:
    """The joint-control partners of every unit at one level, in one pass.

    Parameters
    ----------
    project
        The project.
    level
        ``"province"``, ``"city"`` or ``"county"``.
    distance_km
        Only partners reached within this along-network distance (None: all).
    as_of
        Date for the partners' chiefs (default today).
    banks
        Include left/right-bank partners on boundary rivers.
    tolerance_m
        Tolerance of the boundary-river search (see :func:`rivernet.boundary_rivers`).

    Returns
    -------
    pandas.DataFrame
        One row per unit, relation, partner and river: ``unit_code``, ``unit_name``,
        ``level``, ``relation``, ``partner_code``, ``partner_name``, ``river_id``,
        ``river_name`` (the name of the river where the connection is, None if unnamed),
        ``distance_km`` (nearest connection), ``crossing_id`` (the handover section on the
        unit's boundary), ``via`` (where the partner is reached: a crossing or boundary
        stretch), ``connections`` (how many) and ``partner_chiefs``.
    """
    limit = distance_limit_m(distance_km)
    arrays = crossing_arrays(project, level=level)
    upper, lower, dist = chain_pairs(project, level, limit)
    ids = crossing_ids(project, arrays, level=level)
    river = river_ids(project, arrays)
    frames = [
        _rows(arrays.upstream[upper], arrays.downstream[lower], "downstream", dist,
              ids[upper], ids[lower], river[upper], arrays.position[upper]),
        _rows(arrays.downstream[lower], arrays.upstream[upper], "upstream", dist,
              ids[lower], ids[upper], river[lower], arrays.position[lower]),
    ]  # fmt: skip
    frames += _confluence_rows(arrays, ids, river)
    if banks:
        frames += _bank_rows(project, level, tolerance_m)
    return _finish(project, pd.concat(frames, ignore_index=True), level=level, as_of=as_of)


def _rows(
    unit: IntArray,
    partner: IntArray,
    relation: str,
    dist: FloatArray,
    crossing: npt.NDArray[Any],
    via: npt.NDArray[Any],
    river: npt.NDArray[Any],
    position: IntArray,
) -> pd.DataFrame:
    keep = unit != partner
    return pd.DataFrame(
        {
            "unit": unit[keep],
            "relation": relation,
            "partner": partner[keep],
            "river_id": river[keep],
            "distance_m": dist[keep],
            "crossing_id": crossing[keep],
            "via": via[keep],
            "position": position[keep],
        }
    )


def _confluence_rows(
    arrays: CrossingArrays, ids: npt.NDArray[Any], river: npt.NDArray[Any]
) -> list[pd.DataFrame]:
    tributary = arrays.at_junction & arrays.tributary
    zero = np.zeros(int(tributary.sum()))
    up, down = arrays.upstream[tributary], arrays.downstream[tributary]
    ident, rivers, at = ids[tributary], river[tributary], arrays.position[tributary]
    return [
        _rows(down, up, "tributary", zero, ident, ident, rivers, at),
        _rows(up, down, "main_stem", zero, ident, ident, rivers, at),
    ]


def _bank_rows(project: Project, level: str, tolerance_m: float) -> list[pd.DataFrame]:
    stretches = boundary_rivers(project, level=level, tolerance_m=tolerance_m)
    if stretches.empty:
        return []
    units = admin_units(project)
    left = np.array([units.row_of[c] for c in stretches["left_code"]], dtype=np.int64)
    right = np.array([units.row_of[c] for c in stretches["right_code"]], dtype=np.int64)
    zero = np.zeros(len(stretches))
    ident = stretches["stretch_id"].to_numpy(dtype=object)
    rivers = stretches["river_id"].to_numpy()
    at = project.network.core.position(stretches["reach_id"].to_numpy())
    return [
        _rows(left, right, "right_bank", zero, ident, ident, rivers, at),
        _rows(right, left, "left_bank", zero, ident, ident, rivers, at),
    ]


def _finish(project: Project, rows: pd.DataFrame, *, level: str, as_of: Any) -> pd.DataFrame:
    """Keep the nearest connection per unit, relation, partner and river; add names, chiefs."""
    units = admin_units(project)
    if rows.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in PARTNER_COLUMNS})
    rows = rows.sort_values(
        ["unit", "relation", "partner", "river_id", "distance_m"], kind="stable"
    )
    group = rows.groupby(["unit", "relation", "partner", "river_id"], sort=False)
    best = rows.loc[group["distance_m"].idxmin()].copy()
    best["connections"] = group.size().to_numpy()
    unit = best["unit"].to_numpy(dtype=np.int64)
    partner = best["partner"].to_numpy(dtype=np.int64)
    result = pd.DataFrame(
        {
            "unit_code": _code_array(units, unit),
            "unit_name": _name_array(units, unit),
            "level": level,
            "relation": best["relation"].to_numpy(),
            "partner_code": _code_array(units, partner),
            "partner_name": _name_array(units, partner),
            "river_id": best["river_id"].to_numpy(),
            "river_name": _river_names(project, best["position"]),
            "distance_km": best["distance_m"].to_numpy(dtype=float) / 1000.0,
            "crossing_id": best["crossing_id"].to_numpy(),
            "via": best["via"].to_numpy(),
            "connections": best["connections"].to_numpy(),
        }
    )
    result["partner_chiefs"] = unit_chiefs(
        project, result["partner_code"], level=level, as_of=as_of
    )
    order = ["unit_code", "relation", "distance_km", "partner_code"]
    return result.sort_values(order, kind="stable").reset_index(drop=True)


def partners(
    project: Project,
    *,
    unit: str | None = None,
    chief: str | None = None,
    reach: Any = None,
    level: str | None = None,
    distance_km: float | None = None,
    as_of: Any = None,
    banks: bool = True,
) -> pd.DataFrame:
    """The joint-control partners of a unit, a chief or a reach.

    Parameters
    ----------
    project
        The project.
    unit
        A unit code (its level is the code's level).
    chief
        A person id or name from the roster: the partners of every unit and reach they are
        assigned to, as of ``as_of``.
    reach
        A reach id: its own chiefs first (relation ``own``, one row per level and unit, the
        chiefs :func:`rivernet.chiefs_at` lists at the reach), then the partners of the units
        it flows through, with distances from the reach's outlet.
    level
        Level for ``reach`` (default: the finest level with polygons) and ``chief`` queries.
    distance_km
        Only partners within this along-network distance.
    as_of
        Date for the chiefs (default today).
    banks
        Include left/right-bank partners on boundary rivers.

    Returns
    -------
    pandas.DataFrame
        As :func:`partner_table`: ``relation`` is ``own`` (reach queries), ``upstream``,
        ``downstream``, ``tributary``, ``main_stem``, ``left_bank`` or ``right_bank``.
        ``distance_km`` is along the network: for a unit, from the handover section on its
        boundary to the section where the partner is reached, so a direct neighbour sharing
        the section is at 0 km and units farther along the flow path at their real distance;
        for a reach, from the reach's outlet.

    Raises
    ------
    InputError
        Unless exactly one of ``unit``, ``chief`` and ``reach`` is given.
    NotFoundError
        If the unit, reach or chief does not exist, or no roster is loaded for ``chief``.
    """
    given = [name for name, value in (("unit", unit), ("chief", chief), ("reach", reach))
             if value is not None]  # fmt: skip
    if len(given) != 1:
        named = items([Message("err_joint.argument", name=name) for name in given])
        got = Message("err_joint.given", names=named) if given else Message("err_joint.none")
        raise InputError.from_key("err_joint.one_target", got=got)
    if unit is not None:
        return _unit_partners(project, str(unit), distance_km, as_of, banks)
    if reach is not None:
        return _reach_partners(project, reach, level, distance_km, as_of, banks)
    return _chief_partners(project, str(chief), level, distance_km, as_of, banks)


def _unit_partners(
    project: Project, code: str, distance_km: float | None, as_of: Any, banks: bool
) -> pd.DataFrame:
    units = admin_units(project)
    if code not in units.row_of:
        raise NotFoundError.from_key(
            "error.unknown_unit", code=repr(code), examples=items(list(units.row_of)[:5], limit=5)
        )
    level = level_of_code(code)
    table = partner_table(project, level=level, distance_km=distance_km, as_of=as_of, banks=banks)
    return table[table["unit_code"] == code].reset_index(drop=True)


def _reach_partners(
    project: Project,
    reach: Any,
    level: str | None,
    distance_km: float | None,
    as_of: Any,
    banks: bool,
) -> pd.DataFrame:
    level = level or _finest_level(project)
    arrays = crossing_arrays(project, level=level)
    core = project.network.core
    position = int(core.position(reach)[0])
    origin = core.distance_to_outlet_m()[position]
    pieces = piece_arrays(project)
    home = set(pieces.codes[level][pieces.first[position] : pieces.last[position] + 1].tolist())
    limit = distance_limit_m(distance_km)
    up_rows = upstream_crossings(project, arrays, position, core.length_m[position], limit)
    frames = [
        _point_rows(arrays, up_rows, "upstream", arrays.to_outlet_m[up_rows] - origin,
                    arrays.upstream[up_rows], project, level),
    ]  # fmt: skip
    start = first_down(project, level, position, core.length_m[position] - 1e-9)
    _, down_rows, dist = walk(
        next_crossing(project, level), arrays.to_outlet_m, np.array([start]),
        np.array([origin]), limit,
    )  # fmt: skip
    frames.append(
        _point_rows(arrays, down_rows, "downstream", dist, arrays.downstream[down_rows],
                    project, level)
    )  # fmt: skip
    frames += _reach_confluences(project, arrays, position, level)
    if banks:
        frames += _reach_banks(project, reach, level)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[~rows["partner"].isin(home - {-1})]
    rows["unit"] = -1
    table = _finish(project, rows, level=level, as_of=as_of)
    table = pd.concat([_own_rows(project, reach, position, as_of), table], ignore_index=True)
    table["unit_code"] = None
    table["unit_name"] = f"reach {reach}"
    return table


def _river_names(project: Project, positions: Any) -> npt.NDArray[np.object_]:
    """The river name at each reach position (where the connection is), or None."""
    network = project.network
    return reach_names(network, network.ids[np.asarray(positions, dtype=np.int64)])


def _own_rows(project: Project, reach: Any, position: int, as_of: Any) -> pd.DataFrame:
    """The reach's own chiefs (relation ``own``), one row per unit, as :func:`rivernet.chiefs_at`.

    Without a roster: the units the reach flows through, with no chiefs.
    """
    net = project.network
    river = net.ids[net.core.main_stem()[position]]
    if project.roster is None:
        pieces = piece_arrays(project)
        units = admin_units(project)
        rows: list[tuple[str, str, Any, str | None]] = []
        for level in PIECE_LEVELS:
            span = pieces.codes[level][pieces.first[position] : pieces.last[position] + 1]
            for row in dict.fromkeys(int(r) for r in span if r >= 0):
                rows.append((level, str(units.codes[row]), units.name(str(units.codes[row])), None))
    else:
        from rivernet.chiefs import chiefs_at

        found = chiefs_at(project, reach, as_of=as_of)
        texts = [f"{name} ({role})" if isinstance(role, str) and role else str(name)
                 for name, role in zip(found["name"], found["role"], strict=True)]  # fmt: skip
        found = found.assign(text=texts, unit_code=found["unit_code"].astype(str))
        group = found.groupby(["level", "unit_code"], sort=False, observed=True)
        rows = [(str(level), str(code), part["unit_name"].iloc[0],
                 "、".join(dict.fromkeys(part["text"])))
                for (level, code), part in group]  # fmt: skip
    return pd.DataFrame(
        {
            "level": [row[0] for row in rows],
            "relation": "own",
            "partner_code": [row[1] for row in rows],
            "partner_name": [row[2] for row in rows],
            "river_id": pd.Series([river] * len(rows), dtype=object),
            "river_name": pd.Series(_river_names(project, [position] * len(rows)), dtype=object),
            "distance_km": 0.0,
            "crossing_id": None,
            "via": None,
            "connections": 0,
            "partner_chiefs": pd.Series([row[3] for row in rows], dtype=object),
        },
        columns=list(PARTNER_COLUMNS),
    )


def _finest_level(project: Project) -> str:
    units = admin_units(project)
    for level in PIECE_LEVELS[::-1]:
        if len(units.by_level[level]):
            return level
    require_level(units, "county")
    return "county"


def _point_rows(
    arrays: CrossingArrays,
    rows: IntArray,
    relation: str,
    dist: FloatArray,
    partner: IntArray,
    project: Project,
    level: str,
) -> pd.DataFrame:
    ids = crossing_ids(project, arrays, level=level)
    river = river_ids(project, arrays)
    return pd.DataFrame(
        {
            "relation": relation,
            "partner": partner,
            "river_id": river[rows],
            "distance_m": dist,
            "crossing_id": ids[rows],
            "via": ids[rows],
            "position": arrays.position[rows],
        }
    )


def _reach_confluences(
    project: Project, arrays: CrossingArrays, position: int, level: str
) -> list[pd.DataFrame]:
    core = project.network.core
    tributary = arrays.at_junction & arrays.tributary
    mine = np.flatnonzero(tributary & (arrays.position == position))
    into = np.flatnonzero(tributary & (core.downstream[arrays.position] == position))
    return [
        _point_rows(arrays, mine, "main_stem", np.zeros(len(mine)), arrays.downstream[mine],
                    project, level),
        _point_rows(arrays, into, "tributary", np.zeros(len(into)), arrays.upstream[into],
                    project, level),
    ]  # fmt: skip


def _reach_banks(project: Project, reach: Any, level: str) -> list[pd.DataFrame]:
    stretches = boundary_rivers(project, level=level)
    stretches = stretches[stretches["reach_id"] == reach]
    if stretches.empty:
        return []
    units = admin_units(project)
    frames = []
    for side in ("left", "right"):
        frames.append(
            pd.DataFrame(
                {
                    "relation": f"{side}_bank",
                    "partner": [units.row_of[c] for c in stretches[f"{side}_code"]],
                    "river_id": stretches["river_id"].to_numpy(),
                    "distance_m": 0.0,
                    "crossing_id": stretches["stretch_id"].to_numpy(),
                    "via": stretches["stretch_id"].to_numpy(),
                    "position": project.network.core.position(stretches["reach_id"].to_numpy()),
                }
            )
        )
    return frames


def _chief_partners(
    project: Project,
    chief: str,
    level: str | None,
    distance_km: float | None,
    as_of: Any,
    banks: bool,
) -> pd.DataFrame:
    roster = project.roster
    if roster is None:
        raise NotFoundError.from_key("err_joint.no_roster")
    people = roster.people
    match = people[(people["person_id"].astype(str) == chief) | (people["name"] == chief)]
    if match.empty:
        raise NotFoundError.from_key("error.unknown_chief", chief=repr(chief))
    assignments = roster.active(as_date(as_of))
    assignments = assignments[assignments["person_id"].isin(match["person_id"])]
    if level is not None:
        assignments = assignments[assignments["level"] == level]
    frames = []
    units = admin_units(project)
    for code in sorted({str(c) for c in assignments["unit_code"].dropna()}):
        if code in units.row_of and level_of_code(code) in PIECE_LEVELS:
            frames.append(_unit_partners(project, code, distance_km, as_of, banks))
    reach_ids: Any = assignments["reach_id"].dropna().unique() if "reach_id" in assignments else []
    for reach in reach_ids:
        reach_id = _typed_reach(project, reach)
        if reach_id is not None:
            frames.append(_reach_partners(project, reach_id, level, distance_km, as_of, banks))
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in PARTNER_COLUMNS})
    return pd.concat(frames, ignore_index=True).drop_duplicates(
        subset=["unit_code", "unit_name", "relation", "partner_code", "river_id"]
    )


def _typed_reach(project: Project, value: Any) -> Any:
    net = project.network
    for candidate in (value, _as_int(value)):
        if candidate is not None and candidate in net:
            return candidate
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- summaries ------------------------------------------------------------------------------


def partner_summary(
    project: Project,
    *,
    level: str = "province",
    as_of: Any = None,
    include_lakes: bool = True,
    merge_within_m: float = 1000.0,
) -> pd.DataFrame:
    """Pair-by-pair summary for joint-meeting agendas ("浙江省 -> 江苏省: N rivers, M sections").

    Parameters
    ----------
    project
        The project.
    level
        Level of the pairs (default ``"province"``).
    as_of
        Date for the chiefs (default today).
    include_lakes
        Count crossings on lake flow paths.
    merge_within_m
        A crossing and its re-crossings within this distance are one section (see
        :func:`rivernet.crossings`); the summaries count sections.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`jurisdiction_table` (without the id lists) plus
        ``upstream_chiefs``, ``downstream_chiefs``, ``summary_zh`` and ``summary_en``.
    """
    table = jurisdiction_table(
        project, level=level, include_lakes=include_lakes, merge_within_m=merge_within_m
    )
    table = table.drop(columns=["river_ids", "crossing_ids"])
    table["upstream_chiefs"] = unit_chiefs(
        project, table["upstream_code"], level=level, as_of=as_of
    )
    table["downstream_chiefs"] = unit_chiefs(
        project, table["downstream_code"], level=level, as_of=as_of
    )
    columns = ["upstream_name", "downstream_name", "rivers", "sections", "lake_sections"]
    rows = list(table[columns].itertuples(index=False, name=None))
    for lang in ("zh", "en"):
        table[f"summary_{lang}"] = [_pair_summary(*row, lang=lang) for row in rows]
    return table.sort_values(["sections", "upstream_code"], ascending=[False, True]).reset_index(
        drop=True
    )


def _pair_summary(
    upstream: Any, downstream: Any, rivers: int, sections: int, lake_sections: int, *, lang: str
) -> str:
    """One line on a pair of units: ``A → B：5 条河流，5 个交接断面`` / ``A -> B: 1 river, ...``.

    Parameters
    ----------
    upstream, downstream
        The unit names.
    rivers, sections, lake_sections
        How many rivers cross from one to the other, the handover sections, and how many of
        those lie in lakes.
    lang
        ``"zh"`` or ``"en"``.
    """
    lakes = counted("lake_sections", lake_sections) if lake_sections else ""
    return text("pair.summary", lang, upstream=upstream, downstream=downstream,
                rivers=counted("rivers", rivers), sections=counted("sections", sections),
                lakes=lakes)  # fmt: skip
