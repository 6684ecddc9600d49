"""Project files: one GeoPackage holding a river network, admin units, lakes and more.

A project file is a GeoPackage (it opens directly in QGIS) with these layers:

- ``reaches`` (required): reach lines with an id column and a downstream-id column;
- ``admin_units`` (required): polygons with ``code, name, level, parent_code``
  (see :mod:`rivernet.admin`);
- ``lakes`` (optional): lake polygons with ``lake_id, name, name_zh``;
- ``project_meta`` (optional): a key/value table naming the id and downstream columns and the
  outlet values (defaults: ``reach_id``, ``downstream_id``, ``0``) and the format version;
- any other non-spatial table (a chief roster, for instance) is read into ``Project.tables``.

:func:`open_project` reads everything once; the returned :class:`Project` is then passed around
by reference (the server keeps one for its lifetime).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from rivernet._store import INPUTS, ResultStore, new_version
from rivernet.admin import (
    POLYGON_LEVELS,
    containment_problems,
    hierarchy_problems,
    level_of_code,
    missing_ancestors,
    normalise_code,
    parent_code,
    polygon_levels,
    validate_admin_units,
)
from rivernet.crs import boundary_fit_gcj02, crs_equivalent
from rivernet.errors import (
    AdminUnitsError,
    CoordinateOffsetWarning,
    CRSError,
    DataQualityWarning,
    InputError,
    NotFoundError,
    PolicyError,
    ProjectFileError,
    RivernetError,
)
from rivernet.messages import Code, Lines, Message, items
from rivernet.network import RiverNetwork
from rivernet.policy import CoveragePolicy, load_policy, policy_name, reference_problems
from rivernet.roster import TABLES as ROSTER_TABLES
from rivernet.roster import Roster, roster_from_tables
from rivernet.validation import Finding, ValidationReport, validate_reaches

T = TypeVar("T")

__all__ = ["FORMAT_VERSION", "Project", "check_project", "open_project", "read_meta"]

FORMAT_VERSION = 1
META_LAYER = "project_meta"
DEFAULT_META: dict[str, str] = {
    "format_version": str(FORMAT_VERSION),
    "id_column": "reach_id",
    "downstream_column": "downstream_id",
    "outlet_values": "0",
}
ADMIN_REQUIRED_COLUMNS = ("code", "name", "level")
LAKE_COLUMNS = ("lake_id", "name", "name_zh")


def _build_hint() -> Message:
    """How to rebuild the sample project (the end of several messages)."""
    return Message("err_project.build_hint")


class Project:
    """A river network with its admin units, lakes, chief roster and coverage policy.

    Every analysis takes a project. Its inputs may be replaced (``project.roster =
    read_roster(...)``, ``project.admin_units = other_units``): each replacement gives the input
    a new version, and every derived result (pieces, crossings, audits) is keyed by the versions
    of the inputs it depends on, so no answer is ever computed from a replaced input. Replace
    inputs rather than modifying their tables in place.

    Parameters
    ----------
    network
        The river network.
    admin_units
        Admin units (``code, name, level, parent_code, geometry``) in the network's CRS.
    lakes
        Lakes (``lake_id, name, name_zh, geometry``) in the network's CRS; empty if none.
    path
        The GeoPackage the project was read from (None for a project built in memory).
    meta
        The ``project_meta`` key/value pairs (defaults filled in).
    tables
        Other non-spatial layers of the file by layer name.
    roster
        The chief roster; None when the project has none.
    policy
        The coverage policy; None means the built-in defaults.
    file_version
        A version of the file read (the start of its SHA-256); the project's
        :attr:`data_version` starts from it.
    """

    def __init__(
        self,
        *,
        network: RiverNetwork,
        admin_units: gpd.GeoDataFrame,
        lakes: gpd.GeoDataFrame,
        path: str | Path | None = None,
        meta: dict[str, str] | None = None,
        tables: dict[str, pd.DataFrame] | None = None,
        roster: Roster | None = None,
        policy: CoveragePolicy | None = None,
        file_version: str = "memory",
    ) -> None:
        self.path = Path(path) if path is not None else Path("memory.gpkg")
        self.meta = dict(DEFAULT_META) | dict(meta or {})
        self.tables = dict(tables or {})
        self.file_version = file_version
        self.results = ResultStore()
        self.store: Any = None
        """The :class:`rivernet.store.Store` the project was read from (None: built in memory)."""
        self.store_version: int | None = None
        """The store's data version when the project was read (None: built in memory)."""
        self._inputs: dict[str, Any] = {}
        self._versions: dict[str, int] = {}
        self._generation = 0
        for name, value in (
            ("network", network),
            ("admin_units", admin_units),
            ("lakes", lakes),
            ("roster", roster),
            ("policy", policy),
        ):
            self._inputs[name] = value
            self._versions[name] = new_version()

    # --- inputs -------------------------------------------------------------------------------

    @property
    def network(self) -> RiverNetwork:
        """The river network."""
        value: RiverNetwork = self._inputs["network"]
        return value

    @network.setter
    def network(self, value: RiverNetwork) -> None:
        self._replace("network", value)

    @property
    def admin_units(self) -> gpd.GeoDataFrame:
        """Admin units (``code, name, level, parent_code, geometry``) in the network's CRS."""
        value: gpd.GeoDataFrame = self._inputs["admin_units"]
        return value

    @admin_units.setter
    def admin_units(self, value: gpd.GeoDataFrame) -> None:
        self._replace("admin_units", value)

    @property
    def lakes(self) -> gpd.GeoDataFrame:
        """Lakes (``lake_id, name, name_zh, geometry``) in the network's CRS."""
        value: gpd.GeoDataFrame = self._inputs["lakes"]
        return value

    @lakes.setter
    def lakes(self, value: gpd.GeoDataFrame) -> None:
        self._replace("lakes", value)

    @property
    def roster(self) -> Roster | None:
        """The chief roster, or None."""
        value: Roster | None = self._inputs["roster"]
        return value

    @roster.setter
    def roster(self, value: Roster | None) -> None:
        self._replace("roster", value)

    @property
    def policy(self) -> CoveragePolicy | None:
        """The coverage policy, or None for the built-in defaults."""
        value: CoveragePolicy | None = self._inputs["policy"]
        return value

    @policy.setter
    def policy(self, value: CoveragePolicy | None) -> None:
        self._replace("policy", value)

    def _replace(self, name: str, value: Any) -> None:
        self._inputs[name] = value
        self._versions[name] = new_version()
        self._generation += 1
        self.results.forget([name])

    @property
    def data_version(self) -> str:
        """A version of everything the project holds: it changes whenever an input does.

        The file's version while no input has been replaced since opening (so that every
        process serving one file agrees), with a generation number appended afterwards.
        """
        if self._generation == 0:
            return self.file_version
        return f"{self.file_version}.{self._generation}"

    # --- derived results ----------------------------------------------------------------------

    def derived(
        self, name: str, depends: tuple[str, ...], params: Hashable, compute: Callable[[], T]
    ) -> T:
        """A derived result from the project's store, computed on first use.

        Parameters
        ----------
        name
            The kind of result.
        depends
            The inputs it is computed from (``network``, ``admin_units``, ``lakes``,
            ``roster``, ``policy``).
        params
            Its other parameters (hashable: a date, a level, a tolerance...).
        compute
            Computes it (called only when missing).

        Returns
        -------
        object
            The result.
        """
        unknown = set(depends) - set(INPUTS)
        if unknown:
            raise ValueError(f"unknown project inputs {sorted(unknown)}; use {INPUTS}")
        versions = tuple(self._versions[input_name] for input_name in depends)
        return self.results.get(name, versions, depends, params, compute)

    # --- roster and policy --------------------------------------------------------------------

    @property
    def has_roster(self) -> bool:
        """Whether the project has a chief roster."""
        return self.roster is not None

    def require_roster(self) -> Roster:
        """The roster, or a clear error when the project has none.

        Returns
        -------
        Roster
            The roster.

        Raises
        ------
        NotFoundError
            If the project has no roster (HTTP 404 in the server).
        """
        roster = self.roster
        if roster is None:
            raise NotFoundError.from_key("error.no_roster", project=self.path.name)
        return roster

    def coverage_policy(self, policy: CoveragePolicy | str | Path | None = None) -> CoveragePolicy:
        """The coverage policy an analysis applies: the one given, else the project's.

        This is the one place a policy is resolved; the library, the CLI and the server all
        call it.

        Parameters
        ----------
        policy
            A policy, the path of a policy TOML file, or None for the project's policy (or the
            built-in defaults when the project has none).

        Returns
        -------
        CoveragePolicy
            The policy.
        """
        if policy is None:
            return self.policy if self.policy is not None else CoveragePolicy()
        chosen = policy if isinstance(policy, CoveragePolicy) else load_policy(policy)
        if chosen is not self.policy:
            self.derived("policy_check", ("network", "lakes"), chosen, lambda: self._check(chosen))
        return chosen

    def _check(self, policy: CoveragePolicy) -> bool:
        """Raise :class:`PolicyError` if ``policy`` names ids this project lacks."""
        has_lakes = len(self.lakes) > 0
        _require_policy_references(
            policy, network=self.network, lakes=self.lakes, has_lakes=has_lakes
        )
        return True

    def roster_problems(self, roster: Roster) -> list[tuple[int, str]]:
        """Problems of a roster's assignments against this project (``read_roster(project=)``).

        Unknown reach, river and lake ids and admin codes, units that do not contain their
        reach, and measures that do not fit the reach.

        Parameters
        ----------
        roster
            The roster.

        Returns
        -------
        list of (line, message)
            One pair per problem, ``line`` being the row in the roster file.
        """
        from rivernet.pieces import piece_table
        from rivernet.roster import reference_problems

        network = self.network
        units = set(self.admin_units["code"]) | set(roster.units["code"])
        if self.roster is not None:
            units |= set(self.roster.units["code"])
        return reference_problems(
            roster.assignments,
            reach_lengths=network.reaches["length_m"],
            river_ids=set(network.main_stem_id().unique().tolist()),
            lake_ids=set(self.lakes["lake_id"].tolist()),
            unit_codes=units,
            pieces=piece_table(self),
        )

    def replace(self, **inputs: Any) -> Project:
        """A new project with some inputs replaced and its own, empty store of results.

        Parameters
        ----------
        **inputs
            New values for ``network``, ``admin_units``, ``lakes``, ``roster`` or ``policy``.

        Returns
        -------
        Project
            The new project.
        """
        unknown = set(inputs) - set(INPUTS)
        if unknown:
            raise TypeError(f"cannot replace {sorted(unknown)}; inputs are {INPUTS}")
        current = {name: self._inputs[name] for name in INPUTS}
        project = Project(
            **(current | inputs),
            path=self.path,
            meta=self.meta,
            tables=self.tables,
            file_version=self.file_version,
        )
        project.store, project.store_version = self.store, self.store_version
        return project

    def __repr__(self) -> str:
        return (
            f"Project(path={str(self.path)!r}, reaches={len(self.network)}, "
            f"admin_units={len(self.admin_units)}, lakes={len(self.lakes)}, "
            f"roster={self.roster!r}, data_version={self.data_version!r})"
        )


def open_project(path: str | Path, *, policy: CoveragePolicy | str | Path | None = None) -> Project:
    """Open a project GeoPackage (or a shared PostGIS store) and build its network.

    Parameters
    ----------
    path
        The GeoPackage file, or a ``postgresql://`` URL of a store made by ``rivernet db load``
        (:func:`rivernet.store.open_store`). The project's ``store`` is set to the store it
        came from and ``store_version`` to the data version it was read at.
    policy
        The coverage policy (object or TOML path) to use instead of the file's own: the
        ``policy_file`` key of ``project_meta``, else ``policy.toml`` beside the file, else the
        built-in defaults.

    Returns
    -------
    Project
        The loaded project.

    Raises
    ------
    ProjectFileError
        If the file is missing or unreadable, or lacks a required layer or column, or its
        reaches layer is empty.
    CRSError
        If a layer has no CRS.
    TopologyError
        If the reaches do not form a valid network.
    AdminUnitsError
        If admin codes, levels or parents disagree (a county whose ``parent_code`` names
        another province's city, say).
    PolicyError
        If the policy names lakes, reaches, rivers or columns the project does not have.

    Warns
    -----
    CoordinateOffsetWarning
        If the admin polygons fit the rivers better once converted from GCJ-02.
    DataQualityWarning
        If a child unit reaches outside its parent's polygon, or a level has no polygons
        (its units are then derived from the codes of the finer units).
    """
    from rivernet.store import GeoPackageStore, is_url, open_store

    if is_url(path):
        return open_store(path).read_project(policy=policy)
    file = Path(path)
    store = GeoPackageStore(file) if file.exists() else None
    version = None if store is None else store.data_version()
    project = _open_file(file, policy=policy)
    project.store, project.store_version = store, version
    return project


def _open_file(file: Path, *, policy: CoveragePolicy | str | Path | None) -> Project:
    layers = _list_layers(file)
    meta = read_meta(file, layers=layers)
    reaches = _read_layer(file, "reaches", layers, required=True)
    assert reaches is not None  # required=True raises instead of returning None
    _require_rows(file, "reaches", reaches)
    id_column, downstream_column = meta["id_column"], meta["downstream_column"]
    _require_columns(
        file,
        "reaches",
        reaches,
        (id_column, downstream_column),
        hint=Message("err_project.meta_hint", meta=META_LAYER),
    )
    try:
        network = RiverNetwork.from_downstream_ids(
            reaches,
            id_column=id_column,
            downstream_column=downstream_column,
            outlet_values=_outlet_values(meta["outlet_values"]),
        )
        network.core  # noqa: B018 - build the array core now: bad topology fails at open time
    except InputError as error:
        raise type(error).from_key("finding.in_layer", layer="reaches", file=file,
                                   message=_reason(error)) from error  # fmt: skip
    admin_units = _read_admin_units(file, layers, target_crs=network.crs)
    lakes = _read_lakes(file, layers, target_crs=network.crs)
    tables = {
        name: _read_table(file, name)
        for name, geometry_type in layers.items()
        if geometry_type is None and name != META_LAYER
    }
    _check_admin_units(file, admin_units, network)
    admin_units = _with_derived_units(file, admin_units, tables)
    chosen = _read_policy(file, meta) if policy is None else _policy_from(policy)
    if chosen is not None:
        _require_policy_references(
            chosen, network=network, lakes=lakes, has_lakes="lakes" in layers
        )
    roster = None
    if ROSTER_TABLES["assignments"] in tables:
        roster_tables: dict[str, pd.DataFrame | None] = dict(tables)
        roster = roster_from_tables(roster_tables, source=str(file))
    return Project(
        path=file,
        network=network,
        admin_units=admin_units,
        lakes=lakes,
        meta=meta,
        file_version=file_version(file),
        tables=tables,
        roster=roster,
        policy=chosen,
    )


def _policy_from(policy: CoveragePolicy | str | Path) -> CoveragePolicy:
    return policy if isinstance(policy, CoveragePolicy) else load_policy(policy)


def _read_policy(file: Path, meta: dict[str, str]) -> CoveragePolicy | None:
    """The coverage policy that goes with a project file, or None for the defaults."""
    named = meta.get("policy_file")
    path = file.parent / named if named else file.with_name("policy.toml")
    if named and not path.exists():
        raise ProjectFileError.from_key("err_project.policy_missing", file=file,
                                        named=repr(named), meta=META_LAYER, path=path)  # fmt: skip
    return load_policy(path) if path.exists() else None


def file_version(path: Path) -> str:
    """Return the first 16 hex digits of the SHA-256 of a file's bytes.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        16 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def read_meta(path: str | Path, *, layers: dict[str, str | None] | None = None) -> dict[str, str]:
    """Read the ``project_meta`` key/value table of a project file, with defaults filled in.

    Parameters
    ----------
    path
        The GeoPackage file.
    layers
        Its layers and geometry types, if already listed.

    Returns
    -------
    dict of str to str
        ``format_version``, ``id_column``, ``downstream_column``, ``outlet_values`` and any other
        keys stored.
    """
    file = Path(path)
    layers = _list_layers(file) if layers is None else layers
    meta = dict(DEFAULT_META)
    if META_LAYER not in layers:
        return meta
    table = pyogrio.read_dataframe(file, layer=META_LAYER, read_geometry=False)
    _require_columns(file, META_LAYER, table, ("key", "value"))
    meta.update(
        {
            str(k): "" if pd.isna(v) else str(v)
            for k, v in zip(table["key"], table["value"], strict=True)
        }
    )
    version = meta["format_version"]
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise ProjectFileError.from_key("err_project.format_version", file=file,
                                        version=repr(version), most=FORMAT_VERSION,
                                        hint=_build_hint())  # fmt: skip
    return meta


def _list_layers(file: Path) -> dict[str, str | None]:
    if not file.exists():
        raise ProjectFileError.from_key("err_project.missing", file=file, hint=_build_hint())
    try:
        listed = pyogrio.list_layers(file)
    except Exception as error:  # pyogrio raises DataSourceError and friends
        raise ProjectFileError.from_key("err_project.not_gpkg", file=file, error=error) from error
    return {str(name): (None if kind is None else str(kind)) for name, kind in listed}


def _read_layer(
    file: Path, layer: str, layers: dict[str, str | None], *, required: bool
) -> gpd.GeoDataFrame | None:
    if layer not in layers:
        if not required:
            return None
        listed = items(layers, limit=len(layers)) if layers else Message("err_project.no_layers")
        raise ProjectFileError.from_key("err_project.no_layer", file=file, layer=repr(layer),
                                        layers=listed, path=repr(str(file)),
                                        hint=_build_hint())  # fmt: skip
    try:
        gdf = pyogrio.read_dataframe(file, layer=layer)
    except Exception as error:  # pyogrio's FeatureError, DataLayerError... on a damaged file
        raise _damaged(file, layer, error) from error
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
        raise CRSError.from_key("err_project.layer_no_crs", layer=repr(layer), file=file)
    return gdf


def _require_columns(
    file: Path, layer: str, frame: pd.DataFrame, columns: tuple[str, ...], *, hint: object = ""
) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ProjectFileError.from_key("err_project.lacks_columns", layer=repr(layer), file=file,
                                        missing=", ".join(missing),
                                        columns=", ".join(map(str, frame.columns)),
                                        hint=hint)  # fmt: skip


def _outlet_values(text: str) -> tuple[int | str, ...]:
    values: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            values.append(int(item) if item.lstrip("-").isdigit() else item)
    return tuple(values)


def _to_crs(gdf: gpd.GeoDataFrame, crs: CRS | None) -> gpd.GeoDataFrame:
    if crs is None or crs_equivalent(gdf.crs, crs):
        return gdf.set_crs(crs, allow_override=True) if crs is not None else gdf
    return gdf.to_crs(crs)


def _read_admin_units(
    file: Path, layers: dict[str, str | None], *, target_crs: CRS | None
) -> gpd.GeoDataFrame:
    units = _read_layer(file, "admin_units", layers, required=True)
    assert units is not None
    _require_columns(file, "admin_units", units, ADMIN_REQUIRED_COLUMNS)
    try:
        units["code"] = [normalise_code(code) for code in units["code"]]
        if "parent_code" not in units.columns:
            units["parent_code"] = [parent_code(code) for code in units["code"]]
        else:
            units["parent_code"] = [
                None if pd.isna(code) else normalise_code(code) for code in units["parent_code"]
            ]
    except InputError as error:
        raise ProjectFileError.from_key("finding.in_layer", layer="admin_units", file=file,
                                        message=_reason(error)) from error  # fmt: skip
    return _to_crs(units, target_crs)


def _read_lakes(
    file: Path, layers: dict[str, str | None], *, target_crs: CRS | None
) -> gpd.GeoDataFrame:
    lakes = _read_layer(file, "lakes", layers, required=False)
    if lakes is None:
        empty = {column: pd.Series(dtype=object) for column in LAKE_COLUMNS}
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=target_crs), crs=target_crs)
    _require_columns(file, "lakes", lakes, ("lake_id",))
    return _to_crs(lakes, target_crs)


def _damaged(file: Path, layer: str, error: Exception) -> ProjectFileError:
    return ProjectFileError.from_key("err_project.damaged", layer=repr(layer), file=file,
                                     kind=type(error).__name__, error=error,
                                     hint=_build_hint())  # fmt: skip


def _reason(error: Exception) -> object:
    """The message of an error, kept as a catalogue message when it is one."""
    head = error.args[0] if len(error.args) == 1 else None
    return head if isinstance(head, Message) else str(error)


def _read_table(file: Path, layer: str) -> pd.DataFrame:
    try:
        table: pd.DataFrame = pyogrio.read_dataframe(file, layer=layer, read_geometry=False)
    except Exception as error:  # pyogrio's FeatureError and friends on a damaged file
        raise _damaged(file, layer, error) from error
    return table


def _require_rows(file: Path, layer: str, frame: pd.DataFrame) -> None:
    if len(frame) == 0:
        raise ProjectFileError.from_key("err_project.empty", layer=repr(layer), file=file,
                                        path=repr(str(file)))  # fmt: skip


def _check_admin_units(file: Path, units: gpd.GeoDataFrame, network: RiverNetwork) -> None:
    """Refuse inconsistent codes and parents; warn about geometric defects and GCJ-02."""
    problems = [p for p in hierarchy_problems(units) if p.kind != "missing_parent"]
    if problems:
        shown: list[object] = [problem.message for problem in problems[:20]]
        if len(problems) > 20:
            shown.append(Message("err_project.more", rest=len(problems) - 20))
        raise AdminUnitsError.from_key("err_project.admin_problems", file=file,
                                       count=len(problems), lines=Lines(tuple(shown)))  # fmt: skip
    for problem in containment_problems(units):
        message = Message("finding.in_layer", layer="admin_units", file=file,
                          message=problem.message)  # fmt: skip
        warnings.warn(message, DataQualityWarning, 3)
    _warn_offset(file, units, network)


def _warn_offset(file: Path, units: gpd.GeoDataFrame, network: RiverNetwork) -> None:
    fit = boundary_fit_gcj02(units, network.reaches)
    if fit is None or not fit.likely_gcj02:
        return
    warnings.warn(offset_message(file, fit), CoordinateOffsetWarning, stacklevel=4)


def offset_message(file: Path, fit: Any) -> str:
    """The message of a :class:`~rivernet.errors.CoordinateOffsetWarning` about admin units.

    Parameters
    ----------
    file
        The project file.
    fit
        The :class:`~rivernet.crs.BoundaryFit` found.

    Returns
    -------
    str
        What looks wrong, by how much, and how to convert the layer.
    """
    shift = {"offset": f"{fit.offset_m:.0f}", "converted": f"{fit.fit_converted:.0f}",
             "given": f"{fit.fit_as_given:.0f}"}  # fmt: skip
    return Message("finding.gcj02_offset", file=file, **shift)


def _with_derived_units(
    file: Path, units: gpd.GeoDataFrame, tables: dict[str, pd.DataFrame]
) -> gpd.GeoDataFrame:
    """Add geometry-less rows for parents the units name but lack; say which levels are drawn."""
    drawn = polygon_levels(units)
    missing = missing_ancestors(units)
    listed = set(units["level"]) | {level_of_code(code) for code in missing}
    finest = max((POLYGON_LEVELS.index(level) for level in drawn), default=-1)
    undrawn = [
        level
        for index, level in enumerate(POLYGON_LEVELS)
        if level not in drawn and (index < finest or level in listed)
    ]
    if not missing and not undrawn:
        return units
    if undrawn:
        warnings.warn(levels_message(file, drawn, undrawn, missing), DataQualityWarning, 4)
    if not missing:
        return units
    names = _roster_unit_names(tables)
    rows = gpd.GeoDataFrame(
        {
            "code": missing,
            "name": [names.get(code, code) for code in missing],
            "level": [level_of_code(code) for code in missing],
            "parent_code": [parent_code(code) for code in missing],
        },
        geometry=gpd.GeoSeries([None] * len(missing), crs=units.crs),
        crs=units.crs,
    )
    combined = pd.concat([units, rows], ignore_index=True)
    return gpd.GeoDataFrame(combined, geometry=units.geometry.name, crs=units.crs)


def levels_message(
    file: Path, drawn: tuple[str, ...], undrawn: list[str], derived: list[str]
) -> str:
    """Say which admin levels have polygons, which are derived from codes, and what follows.

    Parameters
    ----------
    file
        The project file.
    drawn, undrawn
        Levels with and without polygons.
    derived
        Codes of units added (without polygons) because finer units name them as parents.

    Returns
    -------
    str
        The message.
    """
    added = Message("finding.levels_added", codes=items(derived)) if derived else ""
    drawn_levels = (
        items(Code("level", level) for level in drawn) if drawn else Message("finding.no_level")
    )
    return Message("finding.undrawn_levels", file=file, drawn=drawn_levels, added=added,
                   undrawn=items(Code("level", level) for level in undrawn))  # fmt: skip


def _roster_unit_names(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    table = tables.get(ROSTER_TABLES["units"])
    if table is None or not {"code", "name"} <= set(table.columns):
        return {}
    names: dict[str, str] = {}
    for code, name in zip(table["code"], table["name"], strict=True):
        try:
            names[normalise_code(code)] = str(name)
        except InputError:
            continue
    return names


def _require_policy_references(
    policy: CoveragePolicy, *, network: RiverNetwork, lakes: gpd.GeoDataFrame, has_lakes: bool
) -> None:
    needs_rivers = any(rule.match.river_ids for rule in policy.rules) or any(
        rule.match.river_ids for rule in policy.exemptions
    )
    problems = reference_problems(
        policy,
        reach_ids=network.reaches.index,
        river_ids=pd.Index(network.main_stem_id().unique()) if needs_rivers else None,
        lake_ids=pd.Index(lakes["lake_id"]) if has_lakes else None,
        columns=tuple(map(str, network.reaches.columns)),
    )
    if problems:
        raise PolicyError.from_key("policy.does_not_fit", where=policy_name(policy.source),
                                   count=len(problems), lines=Lines(tuple(problems)))  # fmt: skip


# --- checking a project file (``rivernet check PROJECT.gpkg``) ---------------------------------


def check_project(path: str | Path) -> ValidationReport:
    """Check a whole project file and report every finding; never raises on bad data.

    The reaches (:func:`rivernet.validation.validate_reaches`), the admin units (codes,
    hierarchy, geometry, overlaps, children outside their parent, levels without polygons, a
    GCJ-02 offset), the lakes, the policy (keys, ranges and the ids it names) and, when the
    file holds a roster, the roster's references (:meth:`Project.roster_problems`).

    Parameters
    ----------
    path
        The project GeoPackage.

    Returns
    -------
    ValidationReport
        Every finding, errors first; each says its layer.
    """
    file = Path(path)
    findings: list[Finding] = []
    try:
        layers = _list_layers(file)
        meta = read_meta(file, layers=layers)
    except InputError as error:
        return _report([_error("unreadable_file", error, "file")])
    findings += _reach_findings(file, layers, meta)
    findings += _admin_findings(file, layers)
    findings += _lake_findings(file, layers)
    if not any(f.severity == "error" for f in findings):
        findings += _opened_findings(file)
    else:
        findings += _policy_findings(file, meta)
    return _report(findings)


def _report(findings: list[Finding]) -> ValidationReport:
    order = {"error": 0, "warning": 1, "info": 2}
    return ValidationReport(sorted(findings, key=lambda f: order[f.severity]))


def _error(code: str, error: Exception | str, layer: str) -> Finding:
    if isinstance(error, RivernetError) and len(error.args) == 1:
        return Finding(code, "error", error.args[0], layer=layer)
    return Finding(code, "error", str(error), layer=layer)


def _reach_findings(
    file: Path, layers: dict[str, str | None], meta: dict[str, str]
) -> list[Finding]:
    try:
        reaches = _read_layer(file, "reaches", layers, required=True)
        assert reaches is not None
        columns = (meta["id_column"], meta["downstream_column"])
        _require_columns(file, "reaches", reaches, columns)
    except InputError as error:
        return [_error("unreadable_layer", error, "reaches")]
    report = validate_reaches(
        reaches,
        id_column=meta["id_column"],
        downstream_column=meta["downstream_column"],
        outlet_values=_outlet_values(meta["outlet_values"]),
    )
    return report.findings


def _admin_findings(file: Path, layers: dict[str, str | None]) -> list[Finding]:
    try:
        units = _read_layer(file, "admin_units", layers, required=True)
        assert units is not None
        _require_columns(file, "admin_units", units, ADMIN_REQUIRED_COLUMNS)
    except InputError as error:
        return [_error("unreadable_layer", error, "admin_units")]
    return [
        Finding(
            problem.kind,
            "warning" if problem.kind == "missing_parent" else problem.severity,
            Message(
                "finding.in_layer", layer="admin_units", file=file.name, message=problem.message
            ),
            problem.codes,
            layer="admin_units",
        )
        for problem in validate_admin_units(units)
    ]


def _lake_findings(file: Path, layers: dict[str, str | None]) -> list[Finding]:
    try:
        lakes = _read_layer(file, "lakes", layers, required=False)
        if lakes is None:
            return []
        _require_columns(file, "lakes", lakes, ("lake_id",))
    except InputError as error:
        return [_error("unreadable_layer", error, "lakes")]
    found: list[Finding] = []
    ids = lakes["lake_id"]
    repeated = sorted(set(ids[ids.duplicated() & ids.notna()].tolist()))
    if repeated:
        message = Message("finding.duplicate_lake_id", file=file.name, ids=items(repeated))
        found.append(Finding("duplicate_lake_id", "error", message, tuple(repeated), "lakes"))
    geoms = lakes.geometry.to_numpy()
    bad = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_valid(geoms))
    if len(bad):
        message = Message(
            "finding.invalid_lakes", file=file.name, ids=items(ids.iloc[bad].tolist())
        )
        found.append(Finding("invalid_geometry", "error", message, (), "lakes"))
    return found


def _policy_findings(file: Path, meta: dict[str, str]) -> list[Finding]:
    try:
        _read_policy(file, meta)
    except InputError as error:
        return [_error("policy", error, "policy")]
    return []


def _opened_findings(file: Path) -> list[Finding]:
    """Open the project, turning its errors and warnings into findings; then the roster."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            project = open_project(file)
        except InputError as error:
            project = None
            found = [_error(_kind(error), error, _layer(error))]
        else:
            found = []
    for warning in caught:
        if issubclass(warning.category, DataQualityWarning):
            kind = "coordinate_offset" if warning.category is CoordinateOffsetWarning else "data"
            text = warning.message.args[0] if isinstance(warning.message, Warning) else ""
            found.append(
                Finding(kind, "warning", text or str(warning.message), layer="admin_units")
            )
    found = [f for f in found if "outside its parent" not in f.message]  # reported above
    if project is not None and project.roster is not None:
        found += _roster_findings(project)
    return found


def _kind(error: InputError) -> str:
    return {PolicyError: "policy", AdminUnitsError: "admin_units"}.get(type(error), "project")


def _layer(error: InputError) -> str:
    return {PolicyError: "policy", AdminUnitsError: "admin_units"}.get(type(error), "file")


def _roster_findings(project: Project) -> list[Finding]:
    """Roster rows naming what the project lacks: warnings, as analyses skip such rows."""
    assert project.roster is not None
    try:
        problems = project.roster_problems(project.roster)
    except InputError as error:
        return [_error("roster", error, "roster")]
    return [
        Finding.from_key(
            "roster_reference",
            "finding.roster_row",
            severity="warning",
            layer="roster",
            line=line,
            message=message,
        )
        for line, message in problems
    ]
