"""Named rivers (一河一档): one dossier row per river, built from named reaches.

A *river* is a set of connected reaches sharing a name: reaches whose names match
(:func:`rivernet.names.names_match`: 京杭运河 and 江南运河, 太浦河 and 太浦) and that are joined
by downstream links (primary or secondary). Two separate streams both called 张家港 are two rivers.
:func:`rivers` gathers, per river, its length and reaches, its source and mouth, the units it
crosses at each polygon level (from the responsibility pieces), its chiefs by level, sign boards
and open problems (from the roster audit) as of a day, and its merged line.

Names come from a ``name`` column of the reach table (and ``river_code`` when present); attach
them from any named line layer with :func:`rivernet.names.attach_names`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet._audit import ACTIVE
from rivernet.admin import LEVELS, POLYGON_LEVELS
from rivernet.coverage import DateLike, assignment_state, reach_targets, unit_names
from rivernet.errors import InputError, format_ids
from rivernet.messages import Clauses, Message
from rivernet.names import CODE_COLUMN, NAME_COLUMN, Aliases, name_groups, normalise_name
from rivernet.network import RiverNetwork
from rivernet.roster import Roster, as_date

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["RIVER_COLUMNS", "river_labels", "river_reaches", "rivers"]

RIVER_COLUMNS = (
    "name", "river_code", "length_km", "n_reaches", "reach_ids", "source", "mouth",
    *(f"{level}_{what}" for level in POLYGON_LEVELS for what in ("codes", "names")),
    *(f"chiefs_{level}" for level in LEVELS),
    "boards", "gaps", "problems",
)  # fmt: skip
"""The columns of :func:`rivers` (then ``geometry``)."""

_RIVER_INPUTS = ("network", "admin_units", "lakes", "roster", "policy")


def rivers(
    project: Project, *, as_of: DateLike = None, aliases: Aliases = None
) -> gpd.GeoDataFrame:
    """One row per named river (一河一档), as of a day.

    Parameters
    ----------
    project
        A project whose reaches carry a ``name`` column (and optionally ``river_code``).
    as_of
        The day for chiefs and problems (``datetime.date`` or ISO string); default today.
    aliases
        Extra names of one river (see :func:`rivernet.names.name_keys`).

    Returns
    -------
    geopandas.GeoDataFrame
        Sorted by length, longest first, with :data:`RIVER_COLUMNS`:

        - ``name`` (the form written on most of its length), ``river_code`` (None if unknown);
        - ``length_km``, ``n_reaches``, ``reach_ids`` (text, source to mouth), ``source`` (the
          most upstream reach id) and ``mouth`` (the most downstream one);
        - ``province_codes``, ``province_names``, ``city_codes`` ... ``county_names``: the units
          crossed at each polygon level, from source to mouth (text; empty without admin
          units);
        - ``chiefs_province`` ... ``chiefs_village``: the chiefs assigned to its reaches and
          active on ``as_of``, as ``"name(role)"`` texts joined by ``、`` (empty without a
          roster);
        - ``boards`` (sign boards on its reaches), ``gaps`` (coverage gaps,
          :func:`rivernet.coverage.coverage_gaps`) and ``problems``
          (:func:`rivernet.problems.coverage_problems`) on its reaches: counts, missing (NA)
          when the project has no roster;
        - the merged line ``geometry``.

    Raises
    ------
    InputError
        If the reaches have no ``name`` column.
    """
    network = project.network
    if NAME_COLUMN not in network.reaches.columns:
        raise InputError.from_key("err_dossier.no_names", column=repr(NAME_COLUMN))
    day = as_date(as_of)
    key = (day, tuple(sorted((k, tuple(v)) for k, v in (aliases or {}).items())))

    def compute() -> gpd.GeoDataFrame:
        return _rivers(project, day, aliases)

    table: gpd.GeoDataFrame = project.derived("rivers", _RIVER_INPUTS, key, compute)
    return table.copy()


def river_reaches(
    project: Project, river: str, *, as_of: DateLike = None, aliases: Aliases = None
) -> tuple[pd.Series, pd.Index]:
    """The dossier row of one named river and its reach ids, source to mouth.

    Parameters
    ----------
    project
        A project whose reaches carry names.
    river
        A river name (its variants match, see :func:`rivernet.names.names_match`) or a river
        code (``river_code``).
    as_of
        The day for chiefs and problems; default today.
    aliases
        Extra names of one river.

    Returns
    -------
    tuple
        The row of :func:`rivers` and the river's reach ids.

    Raises
    ------
    NotFoundError
        If no river has that name or code (the longest rivers are listed), or several
        unconnected rivers do (each is listed with its length, counties and source reach:
        give the code).
    """
    from rivernet.errors import NotFoundError
    from rivernet.names import names_match

    table = rivers(project, as_of=as_of, aliases=aliases)
    wanted = normalise_name(river)
    codes = table["river_code"].astype(object).map(lambda c: normalise_name(c) if c else "")
    hit = (codes == wanted).to_numpy() & (wanted != "")
    if not hit.any():
        hit = np.array([names_match(river, n, aliases=aliases) for n in table["name"]], dtype=bool)
    found = table[hit]
    if found.empty:
        longest = "、".join(table["name"].astype(str).head(10))
        raise NotFoundError.from_key(
            "err_dossier.no_river", river=repr(river),
            listed=longest or Message("err_dossier.none"),
        )  # fmt: skip
    if len(found) > 1:
        raise NotFoundError.from_key(
            "err_dossier.several", count=len(found), river=repr(river), listed=_listed(found)
        )
    row = found.iloc[0]
    network = project.network
    labels = river_labels(network, aliases=aliases)
    label = labels[int(network.core.position([row["source"]])[0])]
    positions = np.flatnonzero(labels == label)
    upstream_end = network.core.distance_to_outlet_m() + network.core.length_m
    positions = positions[np.argsort(-upstream_end[positions], kind="stable")]
    return row, pd.Index(network.ids[positions], name="reach_id")


def _listed(found: pd.DataFrame) -> Clauses:
    """The rivers of one name, each with its length, counties, source reach and code."""
    return Clauses(tuple(
        Message("err_dossier.river_item", name=row.name, length=f"{row.length_km:.1f}",
                counties=row.county_names or "-", source=row.source, code=row.river_code or "-")
        for row in found.itertuples()
    ))  # fmt: skip


def river_labels(network: RiverNetwork, *, aliases: Aliases = None) -> npt.NDArray[np.int64]:
    """The river of every reach: connected reaches with matching names share a label.

    Parameters
    ----------
    network
        A network whose reaches carry a ``name`` column.
    aliases
        Extra names of one river.

    Returns
    -------
    numpy.ndarray
        One label per reach position (the position of one reach of its river), ``-1`` for
        unnamed reaches.
    """
    names = network.reaches[NAME_COLUMN].map(normalise_name).to_numpy(dtype=object)
    groups = name_groups(names, aliases=aliases)
    group = np.array([groups.get(name, -1) for name in names], dtype=np.int64)
    core = network.core
    links = [np.column_stack([np.arange(len(group)), core.downstream]), core.secondary]
    pairs = np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1, 2) for p in links])
    pairs = pairs[(pairs >= 0).all(axis=1)]
    pairs = pairs[(group[pairs[:, 0]] >= 0) & (group[pairs[:, 0]] == group[pairs[:, 1]])]
    parent = np.arange(len(group))

    def root(p: int) -> int:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = int(parent[p])
        return p

    for u, v in pairs.tolist():
        parent[root(u)] = root(v)
    labels = np.array([root(p) for p in range(len(group))], dtype=np.int64)
    return np.where(group >= 0, labels, -1)


def _rivers(project: Project, day: dt.date, aliases: Aliases) -> gpd.GeoDataFrame:
    network = project.network
    labels = river_labels(network, aliases=aliases)
    core = network.core
    upstream_end = core.distance_to_outlet_m() + core.length_m
    named = np.flatnonzero(labels >= 0)
    named = named[np.lexsort((-upstream_end[named], labels[named]))]  # source to mouth
    river_of = pd.Series(labels)
    frame = pd.DataFrame({"river": labels[named], "position": named})
    rows = [_basics(network, group["position"].to_numpy()) for _, group in frame.groupby("river")]
    table = pd.DataFrame(rows, index=pd.Index(sorted(set(labels[named].tolist())), name="river"))
    if table.empty:
        table = pd.DataFrame(columns=["geometry", *RIVER_COLUMNS])
    else:
        _add_units(project, table, river_of, upstream_end)
        _add_roster(project, table, river_of, day)
        table = table.sort_values(["length_km", "name"], ascending=[False, True], kind="stable")
    table = table.reset_index(drop=True)
    return gpd.GeoDataFrame(table[list(RIVER_COLUMNS)], geometry=table["geometry"], crs=network.crs)


def _basics(network: RiverNetwork, positions: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Name, code, length, reaches, source, mouth and line of one river (source first)."""
    reaches = network.reaches
    ids = network.ids[positions]
    length = reaches["length_m"].to_numpy()[positions]
    names = pd.Series(length, index=reaches[NAME_COLUMN].to_numpy(dtype=object)[positions])
    code = None
    if CODE_COLUMN in reaches.columns:
        codes = pd.Series(length, index=reaches[CODE_COLUMN].to_numpy(dtype=object)[positions])
        codes = codes[codes.index.notna()]
        code = codes.groupby(level=0).sum().idxmax() if len(codes) else None
    lines = shapely.get_parts(reaches.geometry.to_numpy()[positions])
    distance = network.core.distance_to_outlet_m()[positions]
    return {
        "name": names.groupby(level=0).sum().idxmax(),
        "river_code": code,
        "length_km": float(length.sum()) / 1000.0,
        "n_reaches": len(positions),
        "reach_ids": format_ids(ids, limit=len(ids)),
        "source": ids[0],
        "mouth": ids[int(np.argmin(distance))],
        "geometry": shapely.line_merge(shapely.multilinestrings(lines)),
    }


def _joined(values: Iterable[Any], separator: str) -> str:
    """Distinct non-missing values in order of first appearance, as one text."""
    seen = dict.fromkeys(str(v) for v in values if v is not None and not pd.isna(v))
    return separator.join(seen)


def _add_units(
    project: Project, table: pd.DataFrame, river_of: pd.Series, upstream_end: npt.NDArray[Any]
) -> None:
    """The units each river crosses at each polygon level, from source to mouth."""
    for level in POLYGON_LEVELS:
        table[f"{level}_codes"] = ""
        table[f"{level}_names"] = ""
    if len(project.admin_units) == 0:
        return
    from rivernet.pieces import piece_table

    pieces = piece_table(project)
    position = pieces["position"].to_numpy()
    pieces = pieces.assign(river=river_of.to_numpy()[position], up=-upstream_end[position])
    pieces = pieces[pieces["river"] >= 0].sort_values(["river", "up", "from_m"], kind="stable")
    names = unit_names(project)
    for level in POLYGON_LEVELS:
        codes = pieces.groupby("river")[f"{level}_code"].agg(lambda c: _joined(c, ", "))
        labels = pieces.groupby("river")[f"{level}_code"].agg(
            lambda c: _joined((names.get(str(v)) for v in c if v is not None), "、")
        )
        table[f"{level}_codes"] = codes.reindex(table.index).fillna("")
        table[f"{level}_names"] = labels.reindex(table.index).fillna("")


def _add_roster(project: Project, table: pd.DataFrame, river_of: pd.Series, day: dt.date) -> None:
    """Chiefs by level, sign boards and open problems of each river."""
    for level in LEVELS:
        table[f"chiefs_{level}"] = ""
    roster = project.roster
    if roster is None:
        for column in ("boards", "gaps", "problems"):
            table[column] = pd.array([pd.NA] * len(table), dtype="Int64")
        return
    network = project.network
    _add_chiefs(roster, network, table, river_of, day)
    from rivernet.coverage import coverage_gaps
    from rivernet.problems import coverage_problems

    for column, reach_ids in (
        ("boards", roster.boards["reach_id"]),
        ("gaps", coverage_gaps(project, as_of=day)["reach_id"]),
        ("problems", coverage_problems(project, as_of=day)["reach_id"]),
    ):
        table[column] = _count_by_river(network, reach_ids, river_of).reindex(table.index)
        table[column] = table[column].fillna(0).astype("Int64")


def _count_by_river(network: RiverNetwork, reach_ids: pd.Series, river_of: pd.Series) -> pd.Series:
    ids = reach_ids.dropna()
    if pd.api.types.is_integer_dtype(network.reaches.index.dtype) and ids.dtype == object:
        ids = pd.to_numeric(ids, errors="coerce").dropna()
    position = network.reaches.index.get_indexer(pd.Index(ids.to_numpy()))
    rivers = river_of.to_numpy()[position[position >= 0]]
    return pd.Series(rivers[rivers >= 0]).value_counts()


def _add_chiefs(
    roster: Roster, network: RiverNetwork, table: pd.DataFrame, river_of: pd.Series, day: dt.date
) -> None:
    assignments = roster.assignments
    targets = reach_targets(assignments, network)
    active = assignment_state(assignments, day)[targets["assignment"].to_numpy()] == ACTIVE
    targets = targets[active]
    targets = targets.assign(river=river_of.to_numpy()[targets["position"].to_numpy()])
    targets = targets[targets["river"] >= 0]
    if targets.empty:
        return
    people = roster.people.drop_duplicates("person_id").set_index("person_id")["name"]
    chosen = assignments.iloc[targets["assignment"].to_numpy()]
    label = [
        f"{people.get(person, person)}({role})"
        for person, role in zip(chosen["person_id"], chosen["role"], strict=True)
    ]
    frame = pd.DataFrame(
        {"river": targets["river"].to_numpy(), "level": chosen["level"].astype(str), "label": label}
    )
    for level in LEVELS:
        picked = frame[frame["level"].to_numpy() == level]
        text = picked.groupby("river")["label"].agg(lambda c: _joined(c, "、"))
        table[f"chiefs_{level}"] = text.reindex(table.index).fillna("")
