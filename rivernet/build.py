"""Building a project file from an office's own files: rivers, admin units, lakes, roster, policy.

:func:`plan_project` reads every input, fixes what can be fixed safely (GBK text, level words in
Chinese or English, parents missing from the unit table, admin polygons in GCJ-02) and gathers
every problem of every file into one report; :func:`write_project` writes the result into a
temporary GeoPackage and renames it into place. :func:`build_project` does both.

The same options can be kept in a TOML :class:`Manifest` so that a build can be repeated::

    output = "taihu.gpkg"
    rivers = "rivers/hydrorivers.shp"
    units = ["units/provinces.gpkg", "units/cities.gpkg", "units/counties.gpkg"]
    lakes = "lakes.geojson"
    names = "osm_waterways.gpkg"   # named lines whose names go to the reaches (optional)
    crs = "EPSG:4490"

Paths in a manifest are relative to the manifest's folder.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tomllib
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import shape

from rivernet._files import project_lock, replacing
from rivernet.admin import (
    LEVELS,
    hierarchy_problems,
    level_from_word,
    level_of_code,
    normalise_code,
    parent_code,
    validate_admin_units,
)
from rivernet.crs import boundary_fit_gcj02, gcj02_to_wgs84, transform_geometries
from rivernet.errors import (
    DataQualityWarning,
    InputError,
    ProjectFileError,
    RosterError,
)
from rivernet.io import DOWNSTREAM_COLUMNS
from rivernet.messages import Clauses, Code, Items, Lines, Message, choices, items
from rivernet.messages import text as message_text
from rivernet.names import CODE_COLUMN, NAME_COLUMN, attach_names, normalise_name
from rivernet.network import RiverNetwork
from rivernet.policy import CoveragePolicy, load_policy, reference_problems
from rivernet.project import FORMAT_VERSION
from rivernet.roster import Roster, read_roster, write_roster_tables
from rivernet.validation import validate_reaches

__all__ = [
    "BuildProblem",
    "Manifest",
    "ProjectBuild",
    "build_project",
    "is_named_roster",
    "level_from_word",
    "plan_project",
    "read_named_lines",
    "step_label",
    "write_project",
]


# Candidate column names of a unit table, by role, tried in order (compared case-insensitively).
UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "adcode", "admin_code", "gb", "区划代码", "行政区划代码", "代码"),
    "name": ("name", "name_zh", "名称", "行政区划名称", "区划名称"),
    "level": ("level", "级别", "层级", "行政级别"),
    "parent": ("parent_code", "parent", "parent_adcode", "上级代码", "上级区划代码"),
}
LAKE_COLUMNS: dict[str, tuple[str, ...]] = {
    "lake_id": ("lake_id", "ne_index", "id", "湖泊编码", "code"),
    "name": ("name", "name_en", "名称"),
    "name_zh": ("name_zh", "中文名", "湖泊名称"),
}
GCJ02_CELL_M = 100.0
"""Cell (metres) of the GCJ-02 boundary fit: raw (unsimplified) polygons against rivers from a
~500 m DEM separate only at this scale (Taihu: GCJ-02 fits 15 % better converted, WGS84 8 %
worse); the 50 m default of :func:`rivernet.crs.boundary_fit_gcj02` sees 7 %, below its 10 %."""
UNIT_LEVEL_WORDS = "省/市/地级市/县/区/区县/乡镇/街道/村"
"""The Chinese level words a unit table may use, as a problem names them."""
_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
_GEOJSON_GEOMETRIES = {"Polygon", "MultiPolygon", "GeometryCollection"}


@dataclass(frozen=True)
class BuildProblem:
    """One problem found in one input file.

    Attributes
    ----------
    file
        The file's name.
    message
        What is wrong and how to fix it.
    row
        The 1-based row (feature) of the file, when one row is concerned.
    ids
        The ids or codes concerned.
    """

    file: str
    message: str
    row: int | None = None
    ids: tuple[Any, ...] = ()

    def text(self, lang: str = "zh") -> str:
        """``"<file>, row <row>: <message>"`` in ``lang``."""
        where = self.file if self.row is None else Message("err_build.file_row", file=self.file,
                                                           row=self.row)  # fmt: skip
        return message_text("err_build.problem", lang, where=where, message=self.message)

    def __str__(self) -> str:
        return self.text("en")


@dataclass
class ProjectBuild:
    """Everything read and checked for a new project, ready to write.

    Attributes
    ----------
    reaches, admin_units, lakes
        The layers, all in the rivers' CRS.
    meta
        The ``project_meta`` key/value pairs.
    roster
        The chief roster, if one was given.
    policy
        The policy file given, and its loaded form.
    notes
        What was detected or converted (GBK text, GCJ-02 polygons, derived parents).
    """

    reaches: gpd.GeoDataFrame
    admin_units: gpd.GeoDataFrame
    lakes: gpd.GeoDataFrame | None
    meta: dict[str, str]
    roster: Roster | None = None
    policy: tuple[Path, CoveragePolicy] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Manifest:
    """The inputs of a build, as kept in a TOML file (the keyword arguments of
    :func:`build_project`, plus ``output``)."""

    rivers: Path
    units: tuple[Path, ...]
    output: Path | None = None
    lakes: Path | None = None
    roster: Path | None = None
    policy: Path | None = None
    crs: str | None = None
    dem: Path | None = None
    river_id_column: str | None = None
    river_downstream_column: str | None = None
    outlet_value: int | str | None = None
    river_name_column: str | None = None
    river_code_column: str | None = None
    unit_code_column: str | None = None
    unit_name_column: str | None = None
    unit_level_column: str | None = None
    unit_parent_column: str | None = None
    names: Path | None = None
    names_column: str | None = None

    @classmethod
    def from_toml(cls, path: str | Path) -> Manifest:
        """Read a manifest; relative paths are taken from the manifest's folder.

        Parameters
        ----------
        path
            The TOML file.

        Returns
        -------
        Manifest
            The manifest.

        Raises
        ------
        InputError
            If the file is missing or not TOML, or has unknown or missing keys.
        """
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise InputError.from_key("err_build.manifest_missing", file=file) from error
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise InputError.from_key("err_build.manifest_bad_toml", file=file,
                                      error=error) from error  # fmt: skip
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        problems = [Message("err_build.unknown_keys", keys=", ".join(unknown)) for _ in unknown[:1]]
        problems += [
            Message("err_build.key_required", key=key)
            for key in ("rivers", "units")
            if key not in data
        ]
        if problems:
            raise InputError.from_key("err_build.manifest_problems", file=file,
                                      problems=Clauses(tuple(problems)),
                                      keys=", ".join(sorted(known)))  # fmt: skip
        base = file.parent
        units = data["units"] if isinstance(data["units"], list) else [data["units"]]
        values: dict[str, Any] = dict(data)
        values["units"] = tuple(base / str(unit) for unit in units)
        for key in ("rivers", "output", "lakes", "roster", "policy", "dem", "names"):
            if values.get(key) is not None:
                values[key] = base / str(values[key])
        return cls(**values)

    def options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`build_project` (everything but ``output``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "output"}


def build_project(
    output: str | Path,
    *,
    rivers: str | Path,
    units: Sequence[str | Path],
    force: bool = False,
    progress: bool = True,
    **options: Any,
) -> Path:
    """Build a project GeoPackage from an office's files in one step.

    Parameters
    ----------
    output
        The GeoPackage to write.
    rivers, units
        The river lines and the admin-unit files (see :func:`plan_project`).
    force
        Replace an existing file (and ``policy.toml`` beside it).
    progress
        Show a progress bar.
    **options
        The other keyword arguments of :func:`plan_project`.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ProjectFileError
        Listing every problem of every input, or when ``output`` exists and ``force`` is False.
    """
    target = Path(output)
    refuse_overwrite(target, force=force, policy=options.get("policy"))
    build = plan_project(rivers=rivers, units=units, progress=progress, **options)
    return write_project(build, target, force=force)


def refuse_overwrite(target: Path, *, force: bool, policy: str | Path | None = None) -> None:
    """Raise ProjectFileError when ``target`` (or the policy.toml beside it) would be replaced.

    Parameters
    ----------
    target
        The project file to write.
    force
        Whether replacing is allowed.
    policy
        The policy file to be copied beside ``target``, if any.
    """
    if force:
        return
    if target.exists():
        raise ProjectFileError.from_key("err_build.exists", target=target)
    beside = target.with_name("policy.toml")
    if policy is not None and beside.exists() and beside.resolve() != Path(policy).resolve():
        raise ProjectFileError.from_key("err_build.policy_exists", target=beside)


def step_label(step: str, *, lang: str = "en", **values: Any) -> str:
    """The progress-bar label of a step of :func:`plan_project` in ``lang``.

    Parameters
    ----------
    step
        ``"rivers"``, ``"network"``, ``"names"``, ``"units"`` (with ``file``),
        ``"checking_units"``, ``"lakes"``, ``"roster"``, ``"policy"`` or ``"checked"``.
    lang
        ``"en"`` (the labels as they always were) or ``"zh"``.
    **values
        The placeholders of the label (``file`` of ``"units"``).

    Returns
    -------
    str
        The label (catalogue ``build_step.<step>``).
    """
    return message_text(f"build_step.{step}", lang, **values)


def plan_project(
    *,
    rivers: str | Path,
    units: Sequence[str | Path],
    lakes: str | Path | None = None,
    roster: str | Path | None = None,
    policy: str | Path | None = None,
    crs: str | None = None,
    dem: str | Path | None = None,
    river_id_column: str | None = None,
    river_downstream_column: str | None = None,
    outlet_value: int | str | None = None,
    river_name_column: str | None = None,
    river_code_column: str | None = None,
    unit_code_column: str | None = None,
    unit_name_column: str | None = None,
    unit_level_column: str | None = None,
    unit_parent_column: str | None = None,
    names: str | Path | None = None,
    names_column: str | None = None,
    progress: bool = True,
    lang: str = "en",
) -> ProjectBuild:
    """Read and check every input of a new project; raise once listing every problem.

    Parameters
    ----------
    rivers
        River lines (shapefile, GeoPackage, GeoJSON). With id and downstream-id columns
        (named, or detected: ``reach_id/downstream_id``, HydroRIVERS, NHDPlus, TauDEM) the
        topology is taken from them, else from shared endpoints (and ``dem`` if given).
    units
        One file with every level, or one per level: polygons (or a CSV table for township and
        village units) with code, name and optionally level and parent columns (named, or
        detected). Level words may be Chinese or English
        (:data:`rivernet.admin.LEVEL_WORDS`); a missing level or parent is derived from the
        GB/T 2260 code. A GeoJSON file may be a bare geometry
        object whose ``properties`` hold ``adcode`` and ``name``.
    lakes
        Lake polygons with ``lake_id`` (or ``ne_index``), ``name`` and ``name_zh``.
    roster
        A chief roster (CSV, Excel or GeoPackage; :func:`rivernet.roster.read_roster`), or
        one keyed by river name and unit as public 河长公示 lists are written (a 河流名称 column,
        no reach ids; :func:`rivernet.named_roster.read_named_roster`), resolved onto the
        named reaches of this build.
    policy
        A coverage policy TOML file, copied beside the project as ``policy.toml``.
    crs
        The CRS of files that declare none (``"EPSG:4490"`` for CGCS2000).
    dem
        An elevation raster giving flow direction to bare lines.
    river_id_column, river_downstream_column, outlet_value
        The reach id and downstream-id columns and the outlet value.
    river_name_column, river_code_column
        Columns of the river file with river names and official river codes, kept as the
        reaches' ``name`` and ``river_code`` (what :func:`rivernet.rivers` reads).
    unit_code_column, unit_name_column, unit_level_column, unit_parent_column
        The columns of the unit files.
    names
        A named line layer (a river register, an OpenStreetMap extract: ``.osm.pbf`` or
        ``.osm`` files are read from their ``lines`` layer, keeping waterways) whose names are
        attached to the reaches with :func:`rivernet.names.attach_names`; they replace names
        from ``river_name_column`` where both exist. Conflicts and unnamed reaches are noted.
    names_column
        The column of ``names`` holding the names; by default ``name:zh`` when present (also
        inside OpenStreetMap's ``other_tags``), else ``name``.
    progress
        Show a progress bar.
    lang
        The language of the progress bar's step labels (:func:`step_label`): ``"en"`` (the
        default) or ``"zh"`` (``rivernet new`` passes its ``--lang``).

    Returns
    -------
    ProjectBuild
        The layers and the notes, ready for :func:`write_project`.

    Raises
    ------
    ProjectFileError
        Listing every problem found, by file, row and id.
    """
    from tqdm import tqdm

    problems: list[BuildProblem] = []
    notes: list[str] = []
    river_file = Path(rivers)
    unit_options = {
        "code": unit_code_column,
        "name": unit_name_column,
        "level": unit_level_column,
        "parent": unit_parent_column,
    }
    steps = 4 + len(units) + (lakes is not None) + (roster is not None) + (policy is not None)
    steps += names is not None
    label = functools.partial(step_label, lang=lang)
    with tqdm(total=steps, desc=label("rivers"), disable=not progress, unit="step") as bar:
        lines = None
        with _collecting(river_file, problems, notes):
            lines = _read_file(river_file, crs=crs)
        bar.update()
        reaches, meta = None, None
        if lines is not None:
            bar.set_description(label("network"))
            with _collecting(river_file, problems, notes):
                reaches, meta = _reaches(
                    lines,
                    river_file,
                    problems,
                    id_column=river_id_column,
                    downstream_column=river_downstream_column,
                    outlet_value=outlet_value,
                    name_column=river_name_column,
                    code_column=river_code_column,
                    dem=dem,
                )
        bar.update()
        if names is not None:
            bar.set_description(label("names"))
            with _collecting(Path(names), problems, notes):
                reaches = _named_reaches(
                    reaches, meta, Path(names), notes, crs=crs, column=names_column
                )
            bar.update()
        frames: list[gpd.GeoDataFrame | None] = []
        for unit_path in map(Path, units):
            bar.set_description(label("units", file=unit_path.name))
            with _collecting(unit_path, problems, notes):
                frames.append(_units(unit_path, problems, crs=crs, columns=unit_options))
            bar.update()
        bar.set_description(label("checking_units"))
        admin_units = _combined_units(frames, reaches, units, problems, notes)
        bar.update()
        lake_layer = None
        if lakes is not None:
            bar.set_description(label("lakes"))
            with _collecting(Path(lakes), problems, notes):
                lake_layer = _lakes(Path(lakes), problems, crs=crs, reaches=reaches)
            bar.update()
        chiefs = None
        if roster is not None:
            bar.set_description(label("roster"))
            if not is_named_roster(Path(roster)):
                chiefs = _roster(Path(roster), problems)
            elif reaches is not None and meta is not None and not problems:
                with _collecting(Path(roster), problems, notes):
                    chiefs = _named_roster(Path(roster), reaches, admin_units, lake_layer, meta)
            else:
                notes.append(Message("warn_build.named_roster_later", file=Path(roster).name,
                                     header="河流名称"))  # fmt: skip
            bar.update()
        chosen = None
        if policy is not None:
            bar.set_description(label("policy"))
            with _collecting(Path(policy), problems, notes):
                loaded = load_policy(policy)
                chosen = (Path(policy), loaded)
                if reaches is not None:
                    _policy_references(Path(policy), loaded, reaches, lake_layer, problems)
            bar.update()
        bar.set_description(label("checked"))
        bar.update(bar.total - bar.n)
    if problems or reaches is None or meta is None:
        raise ProjectFileError(problem_report(problems))
    return ProjectBuild(reaches, admin_units, lake_layer, meta, chiefs, chosen, notes)


def problem_report(problems: Sequence[BuildProblem]) -> Message:
    """The one message listing every problem, grouped by file.

    Parameters
    ----------
    problems
        The problems found.

    Returns
    -------
    rivernet.messages.Message
        A headline and one line per problem (``str`` is the English text).
    """
    files = sorted({p.file for p in problems})
    return Message("err_build.report", count=len(problems), files=items(files, limit=len(files)),
                   lines=Lines(tuple(problems)))  # fmt: skip


def write_project(build: ProjectBuild, output: str | Path, *, force: bool = False) -> Path:
    """Write a checked build into a project GeoPackage atomically.

    Parameters
    ----------
    build
        What :func:`plan_project` returned.
    output
        The GeoPackage to write; ``policy.toml`` is written beside it when the build has one.
    force
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(output)
    policy_path = None if build.policy is None else build.policy[0]
    target.parent.mkdir(parents=True, exist_ok=True)  # the lock file lives beside the target
    with project_lock(target):
        refuse_overwrite(target, force=force, policy=policy_path)
        with replacing(target, suffix=".gpkg") as temp:
            temp.unlink()  # a new GeoPackage, not layers added to an empty file
            pyogrio.write_dataframe(build.reaches, temp, layer="reaches", driver="GPKG")
            pyogrio.write_dataframe(build.admin_units, temp, layer="admin_units", driver="GPKG")
            if build.lakes is not None:
                pyogrio.write_dataframe(build.lakes, temp, layer="lakes", driver="GPKG")
            meta = pd.DataFrame({"key": list(build.meta), "value": list(build.meta.values())})
            pyogrio.write_dataframe(meta, temp, layer="project_meta", driver="GPKG")
            if build.roster is not None:
                write_roster_tables(build.roster, temp)
        if policy_path is not None:
            beside = target.with_name("policy.toml")
            if beside.resolve() != policy_path.resolve():
                with replacing(beside, suffix=".toml") as temp_policy:
                    shutil.copyfile(policy_path, temp_policy)
    return target


# --- reading -----------------------------------------------------------------------------------


@contextmanager
def _collecting(file: Path, problems: list[BuildProblem], notes: list[str]) -> Iterator[None]:
    """Turn a file's InputError into a problem and its data-quality warnings into notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        try:
            yield
        except InputError as error:
            problems.append(BuildProblem(file.name, _reason(error)))
    for warning in caught:
        if issubclass(warning.category, DataQualityWarning):
            notes.append(_reason(warning.message))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _reason(error: Exception | str) -> str:
    """The message of an error or warning, kept as a catalogue message when it is one."""
    if isinstance(error, str):
        return error
    head = error.args[0] if len(error.args) == 1 else None
    return head if isinstance(head, Message) else str(error)


def _read_file(file: Path, *, crs: str | None, lines: bool = True) -> gpd.GeoDataFrame:
    """Read a vector file with rivernet's encoding and CRS checks."""
    from rivernet import io

    if lines:
        return io.read_lines(file, crs=crs)
    return io.read_vector(file, crs=crs)


def _reaches(
    lines: gpd.GeoDataFrame,
    file: Path,
    problems: list[BuildProblem],
    *,
    id_column: str | None,
    downstream_column: str | None,
    outlet_value: int | str | None,
    name_column: str | None,
    code_column: str | None,
    dem: str | Path | None,
) -> tuple[gpd.GeoDataFrame | None, dict[str, str] | None]:
    """The reaches layer (with ``reach_id`` and ``downstream_id``) and the meta table."""
    missing = [
        f"{flag} {name!r}"
        for flag, name in (
            ("--river-id-column", id_column),
            ("--river-downstream-column", downstream_column),
            ("--river-name-column", name_column),
            ("--river-code-column", code_column),
        )
        if name is not None and name not in lines.columns
    ]
    if missing:
        message = Message("problem_build.no_river_column", missing=_whole(missing),
                          columns=_whole(lines.columns))  # fmt: skip
        problems.append(BuildProblem(file.name, message))
        return None, None
    found = _river_columns(lines, id_column, downstream_column)
    if found is None or dem is not None:
        net = RiverNetwork.from_lines(lines, id_column=id_column, dem=dem)
        reaches = net.reaches.reset_index()
        outlet: int | str = 0
    else:
        ident, down, default_outlet = found
        outlet = default_outlet if outlet_value is None else _outlet(outlet_value)
        report = validate_reaches(
            lines, id_column=ident, downstream_column=down, outlet_values=(outlet,)
        )
        errors = [f for f in report.findings if f.severity == "error"]
        for finding in errors:
            problems.append(BuildProblem(file.name, finding.message, ids=finding.reach_ids))
        if errors:
            return None, None
        reaches = lines.copy()
        reaches["reach_id"] = lines[ident]
        reaches["downstream_id"] = lines[down]
    if name_column is not None:
        reaches[NAME_COLUMN] = [
            None if _blank(v) else normalise_name(v) for v in lines[name_column]
        ]
    if code_column is not None:
        reaches[CODE_COLUMN] = [None if _blank(v) else str(v) for v in lines[code_column]]
    reaches = reaches.sort_values("reach_id", kind="stable").reset_index(drop=True)
    meta = {
        "format_version": str(FORMAT_VERSION),
        "id_column": "reach_id",
        "downstream_column": "downstream_id",
        "outlet_values": str(outlet),
        "sources": json.dumps([file.name], ensure_ascii=False),
        "built_by": "rivernet new",
    }
    return gpd.GeoDataFrame(reaches, geometry=lines.geometry.name, crs=lines.crs), meta


def _named_reaches(
    reaches: gpd.GeoDataFrame | None,
    meta: dict[str, str] | None,
    file: Path,
    notes: list[str],
    *,
    crs: str | None,
    column: str | None,
) -> gpd.GeoDataFrame | None:
    """The reaches with the names of a named line layer attached (``name``, ``river_code``)."""
    lines = read_named_lines(file, crs=crs)
    if reaches is None or meta is None:
        return reaches
    network = RiverNetwork.from_downstream_ids(
        reaches,
        id_column="reach_id",
        downstream_column="downstream_id",
        outlet_values=(_outlet(meta["outlet_values"]),),
    )
    report = attach_names(network, lines, name_column=column)
    named = report.to_reaches(network.reaches, keep_existing=True)
    table = reaches.copy()
    for name in (NAME_COLUMN, CODE_COLUMN):
        table[name] = named[name].reindex(table["reach_id"].to_numpy()).to_numpy(dtype=object)
    counted = int(report.names.notna().sum())
    rivers = report.names.dropna().nunique()
    notes.append(
        Message("warn_build.names", file=file.name, counted=counted, total=len(table),
                rivers=rivers, filled=len(report.filled), unnamed=len(report.unnamed),
                conflicts=_name_conflicts(report.conflicts))
    )  # fmt: skip
    meta["sources"] = json.dumps([*json.loads(meta["sources"]), file.name], ensure_ascii=False)
    return table


def _name_conflicts(conflicts: pd.DataFrame) -> Message | str:
    """The first reaches given two names, for the note of a name layer ("" when none)."""
    if not len(conflicts):
        return ""
    first = conflicts.head(5)
    shown = Clauses(tuple(
        Message("warn_build.name_conflict", reach=reach, names=" / ".join(names), chosen=chosen)
        for reach, names, chosen in zip(first["reach_id"], first["names"], first["chosen"],
                                        strict=True)
    ))  # fmt: skip
    return Message("warn_build.name_conflicts", count=len(conflicts), shown=shown)


def _whole(values: Any) -> Items:
    """Every one of ``values`` as a list for a message (none left out)."""
    shown = tuple(map(str, values))
    return Items(shown, limit=len(shown))


OSM_WATERWAYS = ("river", "canal", "stream", "drain", "ditch", "tidal_channel")
"""OpenStreetMap ``waterway`` values kept from an extract's lines."""
_OSM_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def read_named_lines(path: str | Path, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a named line layer, OpenStreetMap extracts included.

    Parameters
    ----------
    path
        A vector file of lines; ``.osm.pbf`` and ``.osm`` files are read from their ``lines``
        layer. Tags that GDAL keeps in ``other_tags`` (``name:zh``, ``waterway``) become
        columns; when a ``waterway`` column exists only waterways
        (:data:`OSM_WATERWAYS`) are kept, so a road named like a river is not attached.
    crs
        The CRS of a file that declares none.

    Returns
    -------
    geopandas.GeoDataFrame
        The lines, with a CRS.
    """
    from rivernet import io

    file = Path(path)
    osm = file.name.lower().endswith((".osm.pbf", ".pbf", ".osm"))
    lines = io.read_vector(file, crs=crs, layer="lines" if osm else None)
    if "other_tags" in lines.columns:
        tags = [
            dict(_OSM_TAG.findall(str(t))) if isinstance(t, str) else {}
            for t in lines["other_tags"]
        ]
        for key in ("name:zh", "waterway"):
            if key not in lines.columns:
                values = [t.get(key) for t in tags]
                if any(v is not None for v in values):
                    lines[key] = values
    if "waterway" in lines.columns:
        lines = lines[lines["waterway"].isin(OSM_WATERWAYS).to_numpy()]
    kinds = lines.geometry.geom_type
    return lines[kinds.isin(["LineString", "MultiLineString"]).to_numpy()].reset_index(drop=True)


def _river_columns(
    lines: gpd.GeoDataFrame, id_column: str | None, downstream_column: str | None
) -> tuple[str, str, int] | None:
    if id_column is not None and downstream_column is not None:
        return id_column, downstream_column, 0
    for ident, down, outlet in DOWNSTREAM_COLUMNS:
        wanted = id_column in (None, ident) and downstream_column in (None, down)
        if wanted and ident in lines.columns and down in lines.columns:
            return ident, down, outlet
    return None


def _outlet(value: int | str) -> int | str:
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _units(
    file: Path, problems: list[BuildProblem], *, crs: str | None, columns: dict[str, str | None]
) -> gpd.GeoDataFrame | None:
    """One unit file as ``code, name, level, parent_code, geometry`` rows (None if unusable)."""
    raw = _read_units_file(file, crs=crs)
    named = {role: _column(raw, given, UNIT_COLUMNS[role]) for role, given in columns.items()}
    lacking = [role for role in ("code", "name") if named[role] is None]
    given_missing = [
        f"--unit-{role}-column {given!r}"
        for role, given in columns.items()
        if given is not None and given not in raw.columns
    ]
    if lacking or given_missing:
        no_column = Message("problem_build.no_unit_column", roles=choices(lacking))
        what = _whole(given_missing) if given_missing else no_column
        problems.append(BuildProblem(file.name, Message("problem_build.unit_columns", what=what,
                                                        columns=_whole(raw.columns))))  # fmt: skip
        return None
    rows: list[dict[str, Any]] = []
    for number, (_, record) in enumerate(raw.iterrows(), start=1):
        row = _unit_row(file, number, record, named, problems)
        if row is not None:
            rows.append(row)
    geometry = raw.geometry if isinstance(raw, gpd.GeoDataFrame) else None
    kept = [row.pop("_index") for row in rows]
    table = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code"])
    geoms = geometry.to_numpy()[kept] if geometry is not None else [None] * len(rows)
    bad = [
        number
        for number, geom in zip(kept, geoms, strict=True)
        if geom is not None and not shapely.is_empty(geom) and geom.geom_type not in _GEOMETRY_TYPES
    ]
    for index in bad:
        problems.append(BuildProblem(file.name, Message("problem_build.not_polygon"), index + 1))
    unit_crs = geometry.crs if geometry is not None else None
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(list(geoms), crs=unit_crs), crs=unit_crs)


def _unit_row(
    file: Path,
    number: int,
    record: pd.Series,
    named: dict[str, str | None],
    problems: list[BuildProblem],
) -> dict[str, Any] | None:
    code_column, name_column = named["code"], named["name"]
    assert code_column is not None and name_column is not None  # checked by the caller
    raw_code = record[code_column]
    try:
        code = normalise_code(raw_code)
    except InputError as error:
        problems.append(BuildProblem(file.name, _reason(error), number, (raw_code,)))
        return None
    from_code = level_of_code(code)
    level = from_code
    if named["level"] is not None and not _blank(record[named["level"]]):
        word = record[named["level"]]
        level_word = level_from_word(word)
        if level_word is None:
            message = Message("problem_build.unknown_level", code=code, word=repr(word),
                              words=UNIT_LEVEL_WORDS)  # fmt: skip
            problems.append(BuildProblem(file.name, message, number, (code,)))
            return None
        county_city = level_word == "city" and from_code == "county" and str(word).strip() == "市"
        if level_word != from_code and not county_city:
            message = Message(
                "problem_build.level_disagrees",
                code=code,
                word=repr(word),
                level=Code("level", level_word),
                from_code=Code("level", from_code),
            )
            problems.append(BuildProblem(file.name, message, number, (code,)))
            return None
    parent = parent_code(code)
    if named["parent"] is not None and not _blank(record[named["parent"]]):
        try:
            parent = normalise_code(record[named["parent"]])
        except InputError as error:
            message = Message("problem_build.bad_parent", code=code, error=_reason(error))
            problems.append(BuildProblem(file.name, message, number, (code,)))
            return None
    name = record[name_column]
    return {
        "code": code,
        "name": None if _blank(name) else str(name).strip(),
        "level": level,
        "parent_code": parent,
        "_index": number - 1,
    }


def _blank(value: Any) -> bool:
    return (
        value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""
    )


def _column(frame: pd.DataFrame, given: str | None, candidates: tuple[str, ...]) -> str | None:
    if given is not None:
        return given if given in frame.columns else None
    lower = {str(column).lower(): str(column) for column in frame.columns}
    return next((lower[name.lower()] for name in candidates if name.lower() in lower), None)


def _read_units_file(file: Path, *, crs: str | None) -> pd.DataFrame:
    """A unit file: a vector file, a bare GeoJSON geometry, or a CSV table without geometry."""
    if not file.exists():
        raise InputError.from_key("io.missing_file", file=file)
    if file.suffix.lower() == ".csv":
        return _read_csv(file)
    if file.suffix.lower() in (".geojson", ".json"):
        bare = _bare_geometry(file, crs=crs)
        if bare is not None:
            return bare
    return _read_file(file, crs=crs, lines=False)


def _read_csv(file: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(file, dtype=str, encoding=encoding, keep_default_na=False)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig":
            message = Message("warn_build.csv_gbk", file=file.name)
            warnings.warn(DataQualityWarning(message), stacklevel=2)
        return frame
    raise InputError.from_key("err_build.not_utf8_or_gbk", file=file.name)


def _bare_geometry(file: Path, *, crs: str | None) -> gpd.GeoDataFrame | None:
    """A GeoJSON file holding one bare geometry object with ``properties`` (cnmaps style)."""
    try:
        obj = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError.from_key("err_build.bad_json", file=file.name, error=error) from error
    if not isinstance(obj, dict) or obj.get("type") not in _GEOJSON_GEOMETRIES:
        return None
    properties = dict(obj.get("properties") or {})
    properties.setdefault("adcode", file.stem)
    frame = pd.DataFrame([properties])
    return gpd.GeoDataFrame(frame, geometry=[shape(obj)], crs=crs or "EPSG:4326")


def _combined_units(
    frames: list[gpd.GeoDataFrame | None],
    reaches: gpd.GeoDataFrame | None,
    files: Sequence[str | Path],
    problems: list[BuildProblem],
    notes: list[str],
) -> gpd.GeoDataFrame:
    """All unit files in one table, in the rivers' CRS, converted from GCJ-02 when they are."""
    target_crs = None if reaches is None else reaches.crs
    parts = []
    for frame in frames:
        if frame is None:
            continue
        if frame.crs is not None and target_crs is not None:
            frame = frame.to_crs(target_crs)
        parts.append(gpd.GeoDataFrame(frame, geometry="geometry", crs=target_crs))
    if not parts:
        empty = gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in ("code", "name", "level")})
        return empty.set_geometry(gpd.GeoSeries([], crs=target_crs))
    units = gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs=target_crs
    )
    derived = _derived_parent_note(units)
    if derived:
        notes.append(derived)
    geoms = units.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    units.loc[present, "geometry"] = shapely.make_valid(geoms[present])
    if reaches is not None:
        fit = boundary_fit_gcj02(units[present], reaches, cell_m=GCJ02_CELL_M)
        if fit is not None and fit.likely_gcj02:
            converted = transform_geometries(units.geometry.to_numpy(), gcj02_to_wgs84)
            units = units.set_geometry(gpd.GeoSeries(converted, index=units.index, crs=target_crs))
            units.loc[present, "geometry"] = shapely.make_valid(converted[present])
            notes.append(
                Message("warn_build.gcj02_converted", names=_whole(Path(f).name for f in files),
                        converted=f"{fit.fit_converted:.0f}", given=f"{fit.fit_as_given:.0f}",
                        offset=f"{fit.offset_m:.0f}")
            )  # fmt: skip
    order = np.lexsort((units["code"].to_numpy(), units["level"].map(LEVELS.index).to_numpy()))
    units = units.iloc[order].reset_index(drop=True)
    _unit_problems(units, files, problems, notes)
    return units


def _derived_parent_note(units: gpd.GeoDataFrame) -> str:
    codes = set(units["code"])
    absent = sorted({p for p in units["parent_code"] if p is not None and p not in codes})
    if not absent:
        return ""
    return Message("warn_build.derived_parents", ids=items(absent))


def _unit_problems(
    units: gpd.GeoDataFrame,
    files: Sequence[str | Path],
    problems: list[BuildProblem],
    notes: list[str],
) -> None:
    where = ", ".join(Path(f).name for f in files)
    for problem in hierarchy_problems(units):
        if problem.kind != "missing_parent":
            problems.append(BuildProblem(where, problem.message, ids=problem.codes))
    found = [p for p in validate_admin_units(units) if p.kind not in _HIERARCHY_KINDS]
    for problem in found:
        if problem.severity == "error":
            problems.append(BuildProblem(where, problem.message, ids=problem.codes))
        else:
            notes.append(Message("err_build.problem", where=where, message=problem.message))


_HIERARCHY_KINDS = frozenset(
    {
        "missing_column",
        "bad_code",
        "duplicate_code",
        "level_mismatch",
        "parent_mismatch",
        "missing_parent",
    }
)


def _lakes(
    file: Path,
    problems: list[BuildProblem],
    *,
    crs: str | None,
    reaches: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame | None:
    raw = _read_file(file, crs=crs, lines=False)
    named = {role: _column(raw, None, names) for role, names in LAKE_COLUMNS.items()}
    if named["lake_id"] is None:
        message = Message("problem_build.no_lake_id", columns=_whole(raw.columns))
        problems.append(BuildProblem(file.name, message))
        return None
    lakes = pd.DataFrame({"lake_id": raw[named["lake_id"]].to_numpy()})
    for role in ("name", "name_zh"):
        column = named[role]
        values = raw[column] if column is not None else pd.Series([None] * len(raw))
        lakes[role] = [None if _blank(v) else str(v) for v in values]
    repeated = sorted(set(lakes["lake_id"][lakes["lake_id"].duplicated()].tolist()))
    if repeated:
        message = Message("problem_build.repeated_lake_ids", ids=items(repeated))
        problems.append(BuildProblem(file.name, message, ids=tuple(repeated)))
    layer = gpd.GeoDataFrame(lakes, geometry=raw.geometry.to_numpy(), crs=raw.crs)
    if reaches is not None:
        layer = layer.to_crs(reaches.crs)
    return layer.sort_values("lake_id", kind="stable").reset_index(drop=True)


def is_named_roster(path: str | Path) -> bool:
    """Whether a roster file names rivers (河流名称 / river_name) rather than reaches.

    Parameters
    ----------
    path
        A CSV or Excel roster (other files are never named rosters).

    Returns
    -------
    bool
        True when a header names the river and none names a reach id.
    """
    from rivernet._spreadsheet import read_table
    from rivernet.named_roster import header_column

    file = Path(path)
    if file.suffix.lower() not in (".csv", ".xlsx", ".xlsm") or not file.exists():
        return False
    try:
        headers = [header_column(h) for h in read_table(file).headers]
    except InputError:
        return False
    return "river_name" in headers and "reach_id" not in headers


def _named_roster(
    file: Path,
    reaches: gpd.GeoDataFrame,
    admin_units: gpd.GeoDataFrame,
    lakes: gpd.GeoDataFrame | None,
    meta: dict[str, str],
) -> Roster:
    """A roster keyed by river name, resolved onto the reaches and units of this build."""
    from rivernet.named_roster import read_named_roster
    from rivernet.project import Project

    network = RiverNetwork.from_downstream_ids(
        reaches,
        id_column="reach_id",
        downstream_column="downstream_id",
        outlet_values=(_outlet(meta["outlet_values"]),),
    )
    if lakes is None:
        lakes = gpd.GeoDataFrame(
            {"lake_id": pd.Series(dtype=object)}, geometry=gpd.GeoSeries([], crs=reaches.crs)
        )
    project = Project(network=network, admin_units=admin_units, lakes=lakes, meta=meta)
    try:
        return read_named_roster(project, file)
    except RosterError as error:
        rows = Clauses(tuple(Message("admin.in_row", row=line, message=message)
                            for line, message in error.problems))  # fmt: skip
        raise InputError.from_key("err_build.roster_unresolved", lines=rows) from error


def _roster(file: Path, problems: list[BuildProblem]) -> Roster | None:
    try:
        return read_roster(file)
    except RosterError as error:
        if not error.problems:
            problems.append(BuildProblem(file.name, _reason(error)))
        for line, message in error.problems:
            problems.append(BuildProblem(file.name, message, line))
    except InputError as error:
        problems.append(BuildProblem(file.name, _reason(error)))
    return None


def _policy_references(
    file: Path,
    policy: CoveragePolicy,
    reaches: gpd.GeoDataFrame,
    lakes: gpd.GeoDataFrame | None,
    problems: list[BuildProblem],
) -> None:
    found = reference_problems(
        policy,
        reach_ids=pd.Index(reaches["reach_id"]),
        river_ids=None,
        lake_ids=None if lakes is None else pd.Index(lakes["lake_id"]),
        columns=tuple(map(str, reaches.columns)),
    )
    problems.extend(BuildProblem(file.name, message) for message in found)
