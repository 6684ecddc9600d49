"""River names: matching the ways one name is written, and attaching names to reaches.

Official and open data write one river's name in several ways: full-width or half-width
characters, with or without the generic suffix (太浦河 / 太浦), with a parenthesised alias
(京杭运河(江南运河)), or under another name for the same water (京杭运河, 京杭大运河, and 江南运河
for its Jiangnan section). :func:`name_keys` turns a name into every matching key it answers to,
and two names match when they share a key (:func:`names_match`).

:func:`attach_names` transfers the names of any named line layer (a provincial river register,
an OpenStreetMap extract) to the reaches of a network by geometric overlap, fills short unnamed
gaps along the flow between reaches of one name, and reports conflicts and unnamed reaches. It
never edits the network: the returned :class:`NameReport` builds a new reach table
(:meth:`NameReport.to_reaches`), a new network (:meth:`NameReport.to_network`) or replaces a
project's network (:meth:`NameReport.apply`), which gives the network a new version.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet.crs import metric_crs_for, require_crs
from rivernet.errors import InputError
from rivernet.geometry import line_lengths_m
from rivernet.messages import Items, Message, choices
from rivernet.network import DOWN, ID, RiverNetwork

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "GENERIC_SUFFIXES",
    "KNOWN_ALIASES",
    "NameReport",
    "attach_names",
    "name_groups",
    "name_keys",
    "names_match",
    "normalise_name",
    "reach_names",
    "stem_names",
]

GENERIC_SUFFIXES = "河江溪塘浦港渠"
"""Generic last characters (river, creek, canal...) that a name may be written with or without."""

KNOWN_ALIASES: tuple[frozenset[str], ...] = (
    frozenset({"京杭运河", "京杭大运河", "江南运河"}),  # 江南运河: the Jiangnan section
)
"""Built-in groups of names that denote one river (extend them with ``aliases=``)."""

NAME_COLUMN = "name"
CODE_COLUMN = "river_code"
OSM_NAME_COLUMNS = ("name:zh", "name")
"""Name columns tried, in order, when ``name_column`` is not given (OpenStreetMap extracts)."""

_ALIAS = re.compile(r"\(([^()]*)\)")
_SPACE = re.compile(r"\s+")
_WIDE_SPACE = re.compile(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])")  # a space beside CJK text

Aliases = Mapping[str, Iterable[str]] | None


# --- name matching ----------------------------------------------------------------------------


def normalise_name(text: object) -> str:
    """A name in one canonical writing: half-width characters, no spaces.

    Parameters
    ----------
    text
        A name (None and NaN give ``""``).

    Returns
    -------
    str
        The name after Unicode NFKC normalisation (full-width letters, digits and brackets
        become half-width, so ``（`` is ``(``), without whitespace next to Chinese characters
        or at the ends (runs of spaces between Latin words become one space). Generic suffixes
        and parenthesised aliases are kept: they matter only for matching (:func:`name_keys`).
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    name = _SPACE.sub(" ", unicodedata.normalize("NFKC", str(text))).strip()
    return _WIDE_SPACE.sub("", name)


def name_keys(text: object, *, aliases: Aliases = None) -> set[str]:
    """Every matching key a name answers to.

    Parameters
    ----------
    text
        A name, possibly with parenthesised aliases: ``"京杭运河(江南运河)"``.
    aliases
        Extra names of one river: a mapping from a name to its other names, added to the
        built-in :data:`KNOWN_ALIASES`.

    Returns
    -------
    set of str
        The keys of the name and of each parenthesised alias (each normalised, with a trailing
        generic character of :data:`GENERIC_SUFFIXES` dropped when two or more characters
        remain, so 太浦河 and 太浦 share the key 太浦 while 黄河 stays 黄河), and the keys of
        every name in an alias group one of them belongs to. Empty for an empty name.
    """
    keys = {_key(part) for part in _parts(normalise_name(text))} - {""}
    groups = _alias_keys(aliases)
    grown = True
    while grown:
        grown = False
        for group in groups:
            if keys & group and not group <= keys:
                keys |= group
                grown = True
    return keys


def names_match(a: object, b: object, *, aliases: Aliases = None) -> bool:
    """Whether two names denote the same river (they share a key of :func:`name_keys`).

    Parameters
    ----------
    a, b
        The names.
    aliases
        Extra names of one river (see :func:`name_keys`).

    Returns
    -------
    bool
        True when they match; an empty name matches nothing.
    """
    return bool(name_keys(a, aliases=aliases) & name_keys(b, aliases=aliases))


def name_groups(names: Iterable[object], *, aliases: Aliases = None) -> dict[str, int]:
    """Group distinct names by matching: names sharing a key, directly or through others.

    Parameters
    ----------
    names
        Names (repeats, None and empty names allowed).
    aliases
        Extra names of one river (see :func:`name_keys`).

    Returns
    -------
    dict
        Group number (0, 1, ... in order of first appearance) of every distinct normalised,
        non-empty name.
    """
    parent: dict[str, str] = {}
    owner: dict[str, str] = {}  # key -> first name holding it

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for raw in names:
        name = normalise_name(raw)
        if not name or name in parent:
            continue
        parent[name] = name
        for key in name_keys(name, aliases=aliases):
            other = owner.setdefault(key, name)
            parent[root(name)] = root(other)
    numbers: dict[str, int] = {}
    return {name: numbers.setdefault(root(name), len(numbers)) for name in parent}


def _parts(name: str) -> list[str]:
    """The main name and its parenthesised aliases: ``京杭运河(江南运河)`` -> both."""
    inner = _ALIAS.findall(name)
    main = _ALIAS.sub("", name)
    return [main, *(alias for text in inner for alias in re.split(r"[,;/、]", text))]


def _key(name: str) -> str:
    name = name.strip()
    if len(name) > 2 and name[-1] in GENERIC_SUFFIXES:
        return name[:-1]
    return name


def _alias_keys(aliases: Aliases) -> list[set[str]]:
    groups = [set(group) for group in KNOWN_ALIASES]
    for name, others in (aliases or {}).items():
        groups.append({name, *([others] if isinstance(others, str) else others)})
    return [{_key(normalise_name(n)) for n in group} - {""} for group in groups]


# --- names of reaches and main stems ----------------------------------------------------------


def reach_names(network: RiverNetwork, reach_ids: Iterable[Any]) -> npt.NDArray[np.object_]:
    """The river name of each reach (None where unnamed, unknown, or the network has no names).

    Parameters
    ----------
    network
        The network (names in its reaches' ``name`` column).
    reach_ids
        Reach ids; missing values and ids not in the network give None.

    Returns
    -------
    numpy.ndarray
        Object array of names or None, one per id.
    """
    ids = list(reach_ids)
    if NAME_COLUMN not in network.reaches.columns:
        return np.full(len(ids), None, dtype=object)
    names = network.reaches[NAME_COLUMN]
    found = names.reindex(pd.Index(ids, dtype=object).map(_as_id)).to_numpy(dtype=object)
    return np.array([v if isinstance(v, str) and v else None for v in found], dtype=object)


def stem_names(network: RiverNetwork) -> pd.Series:
    """The name of each main stem: the name on most of its length (None if unnamed).

    Parameters
    ----------
    network
        The network.

    Returns
    -------
    pandas.Series
        Indexed by main-stem id (:meth:`RiverNetwork.main_stem_id`), values names or None.
    """
    stems = network.main_stem_id()
    if NAME_COLUMN not in network.reaches.columns:
        return pd.Series(None, index=pd.Index(stems.unique(), name="main_stem_id"), dtype=object)
    frame = pd.DataFrame(
        {
            "stem": stems.to_numpy(),
            "name": network.reaches[NAME_COLUMN].to_numpy(dtype=object),
            "length": network.reaches["length_m"].to_numpy(dtype=float),
        }
    )
    named = frame[frame["name"].map(lambda v: isinstance(v, str) and v != "")]
    totals = named.groupby(["stem", "name"])["length"].sum().reset_index()
    best = totals.sort_values(["stem", "length"], ascending=[True, False], kind="stable")
    chosen = best.drop_duplicates("stem").set_index("stem")["name"]
    index = pd.Index(pd.unique(stems.to_numpy()), name="main_stem_id")
    return chosen.reindex(index).astype(object).where(lambda v: v.notna(), None)


def _as_id(value: Any) -> Any:
    """A reach id as the network stores it (floats that are whole numbers become ints)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- attaching names to reaches ---------------------------------------------------------------


@dataclass(eq=False)
class NameReport:
    """Names attached to the reaches of a network by :func:`attach_names`.

    Attributes
    ----------
    names
        Name of every reach (indexed by reach id; None where unnamed).
    codes
        River code of every reach (None where unknown or without a ``code_column``).
    shares
        Share of each reach's length lying near a line of its name (NaN where the name was
        filled along the flow or is missing).
    filled
        Reaches named by gap filling: unnamed reaches between two reaches of one name on one
        flow path.
    conflicts
        ``reach_id``, ``names`` and ``shares`` (tuples, largest share first) and ``chosen``
        (the name given: the largest share) of every reach that two or more different names
        each cover by at least ``min_share``.
    unnamed
        Reaches left without a name.
    """

    names: pd.Series
    codes: pd.Series
    shares: pd.Series
    filled: pd.Index
    conflicts: pd.DataFrame
    unnamed: pd.Index

    def __repr__(self) -> str:
        named = int(self.names.notna().sum())
        return (
            f"<NameReport: {named} of {len(self.names)} reaches named "
            f"({len(self.filled)} along the flow), {len(self.conflicts)} conflict(s), "
            f"{len(self.unnamed)} unnamed>"
        )

    def to_reaches(
        self, reaches: gpd.GeoDataFrame, *, keep_existing: bool = False
    ) -> gpd.GeoDataFrame:
        """A copy of a reach table (indexed by reach id) with ``name`` and ``river_code`` set.

        Parameters
        ----------
        reaches
            The reach table (``network.reaches``).
        keep_existing
            Keep the table's own ``name`` / ``river_code`` where this report has none (to
            attach names from several layers in turn); by default they are replaced.

        Returns
        -------
        geopandas.GeoDataFrame
            The new table (missing names are NaN in pandas' string columns); the input is
            not modified.
        """
        table = reaches.copy()
        for column, values in ((NAME_COLUMN, self.names), (CODE_COLUMN, self.codes)):
            new = values.reindex(table.index).astype(object)
            if keep_existing and column in table.columns:
                old = table[column].astype(object)
                new = new.where(new.notna(), old)
            table[column] = new
        return table

    def to_network(self, network: RiverNetwork, *, keep_existing: bool = False) -> RiverNetwork:
        """A new network with the names in its reach table (the given network is unchanged).

        Parameters
        ----------
        network
            The network the names were attached to.
        keep_existing
            See :meth:`to_reaches`.

        Returns
        -------
        RiverNetwork
            Rebuilt with :meth:`RiverNetwork.from_downstream_ids`, keeping the network's
            outlet values, secondary links and name column for main stems.
        """
        table = self.to_reaches(network.reaches, keep_existing=keep_existing)
        table = table.drop(columns=[ID], errors="ignore").reset_index()
        rebuilt = RiverNetwork.from_downstream_ids(
            table,
            id_column=ID,
            downstream_column=DOWN,
            outlet_values=network.outlet_values,
            name_column=network.name_column,
        )
        rebuilt.secondary = network.secondary
        rebuilt.topology_report = network.topology_report
        return rebuilt

    def apply(self, project: Project, *, keep_existing: bool = False) -> RiverNetwork:
        """Replace a project's network by one carrying the names.

        The project's network input gets a new version, so every derived result (pieces,
        audits, tiles) follows.

        Parameters
        ----------
        project
            The project whose network the names were attached to.
        keep_existing
            See :meth:`to_reaches`.

        Returns
        -------
        RiverNetwork
            The new network (also ``project.network``).
        """
        network = self.to_network(project.network, keep_existing=keep_existing)
        project.network = network
        return network


def attach_names(
    target: RiverNetwork | Project,
    lines: gpd.GeoDataFrame,
    *,
    name_column: str | None = None,
    max_distance_m: float = 50.0,
    code_column: str | None = None,
    min_share: float = 0.5,
    aliases: Aliases = None,
) -> NameReport:
    """Attach the names of a line layer to the reaches they run along.

    For each reach, the length lying within ``max_distance_m`` of the lines of each name is
    measured in a local metric CRS; the name covering the largest share of the reach is given
    when that share is at least ``min_share``. Lines whose names match (:func:`names_match`)
    count as one name, written as the form covering most line length. Then unnamed reaches
    lying on the flow path between two reaches of one name take that name (gaps along a main
    stem: a reach through a lake, a stretch the line layer misses).

    Parameters
    ----------
    target
        A :class:`RiverNetwork` or a project (its ``network``); neither is modified.
    lines
        Named lines with a CRS (any CRS; converted).
    name_column
        The column holding the names; default ``name:zh`` when present, else ``name``
        (OpenStreetMap extracts).
    max_distance_m
        How far (metres) from a named line a reach still runs along it.
    code_column
        Optional column of river codes, carried to the reaches as ``river_code``.
    min_share
        Share of a reach's length a name must cover to be given.
    aliases
        Extra names of one river (see :func:`name_keys`).

    Returns
    -------
    NameReport
        The names by reach, conflicts and unnamed reaches; ``.apply(project)`` or
        ``.to_reaches(reaches)`` puts them in a reach table.

    Raises
    ------
    InputError
        If the name or code column is missing, or the settings are out of range.
    CRSError
        If the lines have no CRS.
    """
    network = target if isinstance(target, RiverNetwork) else target.network
    column = _name_column(lines, name_column)
    if code_column is not None and code_column not in lines.columns:
        raise InputError.from_key(
            "err_names.no_code_column", column=repr(code_column), columns=_columns(lines)
        )
    if max_distance_m <= 0 or not 0 < min_share <= 1:
        raise InputError.from_key(
            "err_names.bad_settings", distance=max_distance_m, share=min_share
        )
    require_crs(lines, what="the named lines")
    named = _named_lines(lines, column, code_column, aliases)
    coverage = _coverage(network, named, max_distance_m)
    return _report(network, named, coverage, min_share=min_share)


def _name_column(lines: gpd.GeoDataFrame, name_column: str | None) -> str:
    if name_column is not None:
        if name_column not in lines.columns:
            raise InputError.from_key(
                "err_names.no_name_column_given", column=repr(name_column), columns=_columns(lines)
            )
        return name_column
    for candidate in OSM_NAME_COLUMNS:
        if candidate in lines.columns and lines[candidate].notna().any():
            return candidate
    candidates = choices(Message("err_core.code", name=name) for name in OSM_NAME_COLUMNS)
    raise InputError.from_key(
        "err_names.no_name_column", candidates=candidates, columns=_columns(lines)
    )


def _columns(lines: gpd.GeoDataFrame) -> Items:
    """Every column of ``lines``, for a message (in backticks in Chinese)."""
    names = [Message("err_core.code", name=str(column)) for column in lines.columns]
    return Items(tuple(names), limit=len(names))


@dataclass
class _NamedLines:
    """The named lines, one row each: group number, buffered geometry (metric)."""

    lines: gpd.GeoDataFrame  # columns: name, code, group, geometry
    display: list[str]  # group -> name shown
    codes: list[Any]  # group -> river code (None)


def _named_lines(
    lines: gpd.GeoDataFrame, column: str, code_column: str | None, aliases: Aliases
) -> _NamedLines:
    names = lines[column].map(normalise_name)
    keep = (names != "") & lines.geometry.notna().to_numpy() & ~lines.geometry.is_empty
    codes = lines[code_column] if code_column is not None else pd.Series(None, index=lines.index)
    frame = gpd.GeoDataFrame(
        {"name": names[keep], "code": codes[keep].astype(object)},
        geometry=lines.geometry[keep],
        crs=lines.crs,
    ).reset_index(drop=True)
    groups = name_groups(frame["name"], aliases=aliases)
    frame["group"] = frame["name"].map(groups).astype(np.int64)
    frame["weight"] = line_lengths_m(frame.geometry.to_numpy(), require_crs(frame, what="lines"))
    display: list[str] = []
    codes_out: list[Any] = []
    for group in range(len(set(groups.values()))):
        rows = frame[frame["group"] == group]
        display.append(str(rows.groupby("name")["weight"].sum().idxmax()))
        known = rows[rows["code"].notna()]
        codes_out.append(known.groupby("code")["weight"].sum().idxmax() if len(known) else None)
    return _NamedLines(frame, display, codes_out)


def _coverage(network: RiverNetwork, named: _NamedLines, max_distance_m: float) -> pd.DataFrame:
    """Metres of each reach within ``max_distance_m`` of each name group.

    Returns ``position``, ``group``, ``covered_m`` and ``length_m`` (metric reach length).
    """
    columns: dict[str, list[Any]] = {"position": [], "group": [], "covered_m": [], "length_m": []}
    if named.lines.empty:
        return pd.DataFrame(columns).astype({"position": np.int64, "group": np.int64})
    metric = metric_crs_for(network.reaches)
    reaches = np.asarray(network.reaches.geometry.to_crs(metric).array, dtype=object)
    zones = np.asarray(
        shapely.buffer(np.asarray(named.lines.geometry.to_crs(metric).array), max_distance_m)
    )
    tree = shapely.STRtree(zones)
    reach_of, zone_of = tree.query(reaches, predicate="intersects")
    pairs = pd.DataFrame(
        {"position": reach_of, "group": named.lines["group"].to_numpy()[zone_of], "zone": zone_of}
    )
    merged = pairs.groupby(["position", "group"], sort=True)["zone"].agg(list).reset_index()
    areas = np.array(
        [zones[z[0]] if len(z) == 1 else shapely.union_all(zones[z]) for z in merged["zone"]],
        dtype=object,
    )
    lines = reaches[merged["position"].to_numpy(dtype=np.int64)]
    merged["covered_m"] = shapely.length(shapely.intersection(lines, areas))
    merged["length_m"] = shapely.length(lines)
    return merged.drop(columns="zone")


def _report(
    network: RiverNetwork, named: _NamedLines, coverage: pd.DataFrame, *, min_share: float
) -> NameReport:
    n = len(network)
    coverage = coverage.assign(
        share=np.where(coverage["length_m"] > 0, coverage["covered_m"] / coverage["length_m"], 0.0)
    ).sort_values(["position", "share"], ascending=[True, False], kind="stable")
    best = coverage.drop_duplicates("position")
    best = best[best["share"] >= min_share - 1e-9]
    group = np.full(n, -1, dtype=np.int64)
    share = np.full(n, np.nan)
    group[best["position"].to_numpy()] = best["group"].to_numpy()
    share[best["position"].to_numpy()] = best["share"].to_numpy()
    filled = _fill_along_flow(network.core.downstream, group)
    ids = network.ids
    conflicts = _conflicts(coverage, named, ids, min_share)
    display = np.asarray([*named.display, None], dtype=object)
    codes = np.asarray([*named.codes, None], dtype=object)
    index = network.reaches.index
    return NameReport(
        names=pd.Series(display[group], index=index, name=NAME_COLUMN, dtype=object),
        codes=pd.Series(codes[group], index=index, name=CODE_COLUMN, dtype=object),
        shares=pd.Series(share, index=index, name="share"),
        filled=pd.Index(ids[filled], name=ID),
        conflicts=conflicts,
        unnamed=pd.Index(ids[group < 0], name=ID),
    )


def _fill_along_flow(downstream: npt.NDArray[np.int64], group: npt.NDArray[np.int64]) -> list[int]:
    """Name unnamed reaches lying between two reaches of one name on one flow path.

    From every named reach whose downstream reach is unnamed, walk down through unnamed
    reaches to the first named one; when it has the same name, the reaches walked take it.
    ``group`` is updated in place; the positions filled are returned.
    """
    direct = group.copy()
    filled: list[int] = []
    starts = np.flatnonzero((direct >= 0) & (downstream >= 0))
    for start in starts[direct[downstream[starts]] < 0]:
        walked: list[int] = []
        here = int(downstream[start])
        while here >= 0 and direct[here] < 0:
            walked.append(here)
            here = int(downstream[here])
        if here >= 0 and direct[here] == direct[start]:
            fresh = [p for p in walked if group[p] < 0]
            group[fresh] = direct[start]
            filled += fresh
    return sorted(filled)


def _conflicts(
    coverage: pd.DataFrame, named: _NamedLines, ids: npt.NDArray[Any], min_share: float
) -> pd.DataFrame:
    large = coverage[coverage["share"] >= min_share - 1e-9]
    counts = large.groupby("position")["group"].transform("size")
    large = large[counts.to_numpy() > 1]
    rows: list[dict[Hashable, Any]] = []
    for _, frame in large.groupby("position", sort=True):
        names = tuple(named.display[g] for g in frame["group"])
        rows.append(
            {
                ID: ids[frame["position"].to_numpy()[0]],
                "names": names,
                "shares": tuple(round(float(s), 4) for s in frame["share"]),
                "chosen": names[0],
            }
        )
    return pd.DataFrame(rows, columns=[ID, "names", "shares", "chosen"])
