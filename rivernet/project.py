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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from rivernet._errors import CRSError, InputError, ProjectFileError
from rivernet.admin import normalise_code, parent_code
from rivernet.crs import crs_equivalent
from rivernet.network import RiverNetwork

__all__ = ["FORMAT_VERSION", "Project", "open_project", "read_meta"]

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
_BUILD_HINT = "(rebuild the sample with `python data/sample/build_sample.py`)"


@dataclass(eq=False)
class Project:
    """Everything read from a project file, loaded once.

    Attributes
    ----------
    path
        The GeoPackage read.
    network
        The river network built from the ``reaches`` layer.
    admin_units
        Admin units (``code, name, level, parent_code, geometry``) in the network's CRS.
    lakes
        Lakes (``lake_id, name, name_zh, geometry``) in the network's CRS; empty if absent.
    meta
        The ``project_meta`` key/value pairs (defaults filled in).
    data_version
        The first 16 hex digits of the SHA-256 of the file: changes whenever the data does.
    tables
        Other non-spatial layers of the file by layer name (issue 3 reads its roster here).
    roster
        The chief roster read from the ``roster_*`` tables; None when the file has none.
    policy
        The coverage policy read from ``policy.toml`` beside the file (or the file named by
        the ``policy_file`` key of ``project_meta``); None means the built-in defaults.
    """

    path: Path
    network: RiverNetwork
    admin_units: gpd.GeoDataFrame
    lakes: gpd.GeoDataFrame
    meta: dict[str, str]
    data_version: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    roster: Any = None
    policy: Any = None

    def __repr__(self) -> str:
        return (
            f"Project(path={str(self.path)!r}, reaches={len(self.network)}, "
            f"admin_units={len(self.admin_units)}, lakes={len(self.lakes)}, "
            f"tables={sorted(self.tables)}, data_version={self.data_version!r})"
        )


def open_project(path: str | Path) -> Project:
    """Open a project GeoPackage and build its network.

    Parameters
    ----------
    path
        The GeoPackage file.

    Returns
    -------
    Project
        The loaded project.

    Raises
    ------
    ProjectFileError
        If the file is missing or unreadable, or lacks a required layer or column.
    CRSError
        If a layer has no CRS.
    TopologyError
        If the reaches do not form a valid network.
    """
    file = Path(path)
    layers = _list_layers(file)
    meta = read_meta(file, layers=layers)
    reaches = _read_layer(file, "reaches", layers, required=True)
    assert reaches is not None  # required=True raises instead of returning None
    id_column, downstream_column = meta["id_column"], meta["downstream_column"]
    _require_columns(
        file,
        "reaches",
        reaches,
        (id_column, downstream_column),
        hint=f", or name the right ones in the {META_LAYER} table (keys id_column, "
        "downstream_column)",
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
        error.add_note(f"while building the network from layer 'reaches' of {file}")
        raise
    admin_units = _read_admin_units(file, layers, target_crs=network.crs)
    lakes = _read_lakes(file, layers, target_crs=network.crs)
    tables = {
        name: pyogrio.read_dataframe(file, layer=name, read_geometry=False)
        for name, geometry_type in layers.items()
        if geometry_type is None and name != META_LAYER
    }
    project = Project(
        path=file,
        network=network,
        admin_units=admin_units,
        lakes=lakes,
        meta=meta,
        data_version=file_version(file),
        tables=tables,
        policy=_read_policy(file, meta),
    )
    from rivernet.roster import project_roster

    project_roster(project)  # fills project.roster from the roster_* tables, if any
    return project


def _read_policy(file: Path, meta: dict[str, str]) -> Any:
    """The coverage policy that goes with a project file, or None for the defaults."""
    from rivernet.policy import load_policy

    named = meta.get("policy_file")
    path = file.parent / named if named else file.with_name("policy.toml")
    if named and not path.exists():
        raise ProjectFileError(
            f"{file} names policy file {named!r} in {META_LAYER}, but {path} does not exist; "
            "restore it or remove the policy_file key"
        )
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
        raise ProjectFileError(
            f"{file} has project format_version {version!r}; this rivernet reads versions up "
            f"to {FORMAT_VERSION}: upgrade rivernet or rebuild the file {_BUILD_HINT}"
        )
    return meta


def _list_layers(file: Path) -> dict[str, str | None]:
    if not file.exists():
        raise ProjectFileError(f"project file {file} does not exist; check the path {_BUILD_HINT}")
    try:
        listed = pyogrio.list_layers(file)
    except Exception as error:  # pyogrio raises DataSourceError and friends
        raise ProjectFileError(
            f"cannot read {file} as a GeoPackage ({error}); a project file is a .gpkg with "
            "layers reaches, admin_units and lakes"
        ) from error
    return {str(name): (None if kind is None else str(kind)) for name, kind in listed}


def _read_layer(
    file: Path, layer: str, layers: dict[str, str | None], *, required: bool
) -> gpd.GeoDataFrame | None:
    if layer not in layers:
        if not required:
            return None
        raise ProjectFileError(
            f"{file} has no {layer!r} layer (layers: {', '.join(layers) or 'none'}); add it, "
            f"e.g. rivernet.io.write_vector(gdf, {str(file)!r}, layer={layer!r}) {_BUILD_HINT}"
        )
    gdf = pyogrio.read_dataframe(file, layer=layer)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
        raise CRSError(
            f"layer {layer!r} of {file} has no CRS; write it with one (EPSG:4326 for WGS84, "
            "EPSG:4490 for CGCS2000)"
        )
    return gdf


def _require_columns(
    file: Path, layer: str, frame: pd.DataFrame, columns: tuple[str, ...], *, hint: str = ""
) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ProjectFileError(
            f"layer {layer!r} of {file} lacks column(s) {', '.join(missing)} "
            f"(it has: {', '.join(map(str, frame.columns))}); add them to the layer{hint}"
        )


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
        raise ProjectFileError(f"layer 'admin_units' of {file}: {error}") from error
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
