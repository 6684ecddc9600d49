"""Reading users' river files and writing results, catching the defects Chinese data often has.

:func:`read_lines` reads reach lines from a shapefile, GeoJSON or GeoPackage and stops at, or works
around, the usual problems:

- a shapefile without ``.prj`` has no CRS: rivernet refuses to guess and says how to set one;
- a shapefile without ``.cpg`` whose text is GBK-encoded (most Chinese desktop GIS output) is
  read as UTF-8 when that decodes, else as GB18030 (a superset of GBK), with a
  :class:`~rivernet.errors.DataQualityWarning` saying so;
- coordinates that look like degrees in a layer labelled projected, or like metres in a layer
  labelled geographic, are refused;
- GCJ-02 coordinates labelled WGS84 cannot be seen from the file alone:
  :func:`check_gcj02_offset` compares a layer with a trusted reference.

:func:`write_vector` writes GeoJSON, GeoPackage or CSV atomically: to a temporary file in the
target folder, then renamed over the target, so a reader never sees half a file.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from rivernet._files import replacing
from rivernet.crs import GCJ02Check, crs_equivalent, suspect_gcj02
from rivernet.errors import CRSError, DataQualityWarning, InputError
from rivernet.messages import Message, items

__all__ = ["check_gcj02_offset", "read_lines", "write_vector"]

_LINE_TYPES = ("LineString", "MultiLineString")
_GDAL_DEFAULT_SHAPEFILE_ENCODING = "ISO-8859-1"
_WRITE_DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".csv": "CSV"}


DOWNSTREAM_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("reach_id", "downstream_id", 0),
    ("HYRIV_ID", "NEXT_DOWN", 0),
    ("COMID", "toCOMID", 0),
    ("LINKNO", "DSLINKNO", -1),
)
"""Well-known (id, downstream id, outlet value) columns of river tables (rivernet, HydroRIVERS,
NHDPlus, TauDEM), tried in order when the columns are not named."""


def read_lines(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    crs: object = None,
) -> gpd.GeoDataFrame:
    """Read river lines from a shapefile, GeoJSON or GeoPackage, checking CRS and encoding.

    Parameters
    ----------
    path
        The file (for a shapefile, the ``.shp``).
    layer
        The layer to read from a multi-layer file (GeoPackage); the first one by default.
    encoding
        Text encoding of the attributes (``"GBK"``, ``"UTF-8"``); by default the file's own
        declaration (a shapefile's ``.cpg``), else detected as described in the module docs.
    crs
        The CRS to use when the file declares none (a shapefile without ``.prj``), e.g.
        ``"EPSG:4490"``. When the file declares a different one, ``crs`` wins, with a warning.

    Returns
    -------
    geopandas.GeoDataFrame
        The lines, with a CRS.

    Raises
    ------
    InputError
        If the file is missing or holds non-line or missing geometries.
    CRSError
        If no CRS is known, or the coordinates do not fit the CRS.
    """
    gdf = read_vector(path, layer=layer, encoding=encoding, crs=crs)
    _check_line_geometries(gdf, Path(path))
    return gdf


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    crs: object = None,
) -> gpd.GeoDataFrame:
    """Read any vector file (polygons, points, lines), checking CRS and encoding.

    The same reading as :func:`read_lines` (encoding detection, a CRS for files without one,
    coordinates that must fit the CRS) without the line-geometry checks.

    Parameters
    ----------
    path
        The file.
    layer
        The layer of a multi-layer file; the first one by default.
    encoding
        Text encoding of the attributes; by default declared or detected.
    crs
        The CRS to use when the file declares none.

    Returns
    -------
    geopandas.GeoDataFrame
        The features, with a CRS.

    Raises
    ------
    InputError
        If the file is missing or unreadable.
    CRSError
        If no CRS is known, or the coordinates do not fit the CRS.
    """
    file = Path(path)
    if not file.exists():
        raise InputError.from_key("io.missing_file", file=file)
    gdf = _read_with_encoding(file, layer=layer, encoding=encoding)
    gdf = _apply_crs(gdf, file, crs)
    _check_coordinates_fit_crs(gdf, file)
    return gdf


def _read_with_encoding(file: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    if encoding is not None:
        return _read(file, layer=layer, encoding=encoding)
    if not _shapefile_without_declared_encoding(file):
        try:
            gdf = _read(file, layer=layer, encoding=None)
        except UnicodeDecodeError as error:
            return _read_misdeclared(file, layer=layer, error=error)
        if not _is_shapefile(file) or not _looks_like_gbk_mojibake(gdf):
            return gdf
        declared = pyogrio.read_info(file).get("encoding")
        _warn("warn_io.mojibake", 3, file=file.name, declared=declared,
              cpg=file.with_suffix(".cpg").name)  # fmt: skip
        return _read(file, layer=layer, encoding="GB18030")
    try:
        return _read(file, layer=layer, encoding="UTF-8")
    except UnicodeDecodeError:
        pass
    try:
        gdf = _read(file, layer=layer, encoding="GB18030")
    except UnicodeDecodeError:
        _warn("warn_io.unknown_encoding", 3, file=file.name,
              encoding=_GDAL_DEFAULT_SHAPEFILE_ENCODING)  # fmt: skip
        return _read(file, layer=layer, encoding=None)
    _warn("warn_io.read_as_gbk", 3, file=file.name, cpg=file.with_suffix(".cpg").name)
    return gdf


def _warn(key: str, stacklevel: int, /, **values: object) -> None:
    """Issue a :class:`DataQualityWarning` with the catalogue message ``key``.

    ``stacklevel`` counts from the caller of this function (as if it called ``warnings.warn``).
    """
    warnings.warn(DataQualityWarning(Message(key, **values)), stacklevel=stacklevel + 1)


def _read_misdeclared(
    file: Path, *, layer: str | None, error: UnicodeDecodeError
) -> gpd.GeoDataFrame:
    """The declared encoding fails to decode: try GBK (GB18030), else say how to fix it."""
    declared = _declared_encoding(file)
    cpg = file.with_suffix(".cpg").name
    try:
        gdf = _read(file, layer=layer, encoding="GB18030")
    except UnicodeDecodeError:
        raise InputError.from_key("err_io.misdeclared", file=file.name, declared=declared,
                                  error=error, cpg=cpg) from error  # fmt: skip
    _warn("warn_io.misdeclared", 4, file=file.name, declared=declared, cpg=cpg)
    return gdf


def _declared_encoding(file: Path) -> str:
    """The encoding a file declares: its ``.cpg`` text, or a message saying there is none."""
    cpg = file.with_suffix(".cpg")
    if _is_shapefile(file) and cpg.exists():
        declared = cpg.read_text(encoding="ascii", errors="replace").strip()
        return declared or Message("warn_io.empty_cpg")
    return Message("warn_io.own_encoding")


def _read(file: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gdf = pyogrio.read_dataframe(file, layer=layer, encoding=encoding)
    except pyogrio.errors.DataLayerError as error:
        raise InputError.from_key(
            "io.bad_layer", layer=repr(layer), file=file, error=error
        ) from error
    except pyogrio.errors.DataSourceError as error:
        raise _unreadable(file, error) from error
    except pyogrio.errors.FeatureError as error:
        raise InputError.from_key(
            "io.damaged", file=file, layer=repr(layer), error=error
        ) from error
    _reissue_gdal_warnings(caught, file)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError.from_key("io.no_geometry", file=file, layer=repr(layer))
    return gdf


def _unreadable(file: Path, error: Exception) -> InputError:
    empty = file.exists() and file.stat().st_size == 0
    why = Message("io.empty_file") if empty else Message("io.gdal_says", error=error)
    return InputError.from_key("io.unreadable", file=file, why=why)


def _reissue_gdal_warnings(caught: list[warnings.WarningMessage], file: Path) -> None:
    """Pass on GDAL's warnings, turning known data defects into DataQualityWarning."""
    for warning in caught:
        text = str(warning.message)
        if "Several features with id" in text:
            _warn("warn_io.shared_feature_id", 4, file=file.name)
        else:
            warnings.warn(warning.message, stacklevel=4)


def _is_shapefile(file: Path) -> bool:
    return file.suffix.lower() in (".shp", ".dbf")


def _looks_like_gbk_mojibake(gdf: pd.DataFrame, *, rows: int = 200) -> bool:
    """Tell whether text columns look like GBK bytes decoded as Latin-1 (e.g. 'Ì«ºþ' for 太湖)."""
    for column in gdf.columns:
        if column == getattr(gdf.geometry, "name", None) or gdf[column].dtype.kind not in "OT":
            continue
        for value in gdf[column].dropna().head(rows):
            if not isinstance(value, str) or not any("\x80" <= ch <= "\xff" for ch in value):
                continue
            try:
                decoded = value.encode("latin-1").decode("gb18030")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if any("\u4e00" <= ch <= "\u9fff" for ch in decoded):
                return True
    return False


def _shapefile_without_declared_encoding(file: Path) -> bool:
    if not _is_shapefile(file):
        return False
    siblings = {p.name.lower() for p in file.parent.glob(f"{file.stem}.*")}
    if f"{file.stem}.cpg".lower() in siblings:
        return False
    # Without a .cpg GDAL uses the DBF header's language driver id, or ISO-8859-1 without one.
    try:
        info_encoding = pyogrio.read_info(file).get("encoding")
    except pyogrio.errors.DataSourceError as error:
        raise _unreadable(file, error) from error
    return info_encoding in (None, _GDAL_DEFAULT_SHAPEFILE_ENCODING)


def _apply_crs(gdf: gpd.GeoDataFrame, file: Path, crs: object) -> gpd.GeoDataFrame:
    if crs is not None:
        if gdf.crs is not None and not crs_equivalent(gdf.crs, crs):
            _warn("warn_io.crs_overridden", 3, file=file.name, declared=gdf.crs.name,
                  crs=repr(crs))  # fmt: skip
        return gdf.set_crs(crs, allow_override=True)
    if gdf.crs is not None:
        return gdf
    degrees = _looks_geographic(gdf)
    looks = Message("io.looks_degrees" if degrees else "io.looks_metres")
    fix = Message("io.fix_degrees" if degrees else "io.fix_metres")
    prj = (Message("io.or_prj", prj=file.with_suffix(".prj").name)
           if file.suffix.lower() == ".shp" else "")  # fmt: skip
    raise CRSError.from_key("io.no_crs", file=file.name, looks=looks, fix=fix, prj=prj)


def _looks_geographic(gdf: gpd.GeoDataFrame) -> bool:
    if gdf.geometry.is_empty.all() or gdf.geometry.isna().all():
        return True
    minx, miny, maxx, maxy = gdf.total_bounds
    return bool(minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0)


def _check_coordinates_fit_crs(gdf: gpd.GeoDataFrame, file: Path) -> None:
    crs = CRS.from_user_input(gdf.crs)
    if gdf.geometry.is_empty.all() or gdf.geometry.isna().all():
        return
    bounds = ", ".join(f"{value:.6g}" for value in gdf.total_bounds)
    if crs.is_geographic and not _looks_geographic(gdf):
        raise CRSError.from_key("io.says_degrees", file=file.name, crs=crs.name, bounds=bounds)
    if crs.is_projected and _looks_geographic(gdf):
        minx, miny, maxx, maxy = gdf.total_bounds
        if maxx - minx < 360.0 and maxy - miny < 180.0:
            raise CRSError.from_key(
                "io.says_projected", file=file.name, crs=crs.name, bounds=bounds
            )


def _check_line_geometries(gdf: gpd.GeoDataFrame, file: Path) -> None:
    geoms = gdf.geometry.to_numpy()
    missing = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if len(missing):
        raise InputError.from_key("io.rows_without_geometry", file=file.name,
                                  rows=items(missing.tolist()))  # fmt: skip
    kinds = gdf.geometry.geom_type.to_numpy()
    wrong = np.flatnonzero(~np.isin(kinds, _LINE_TYPES))
    if len(wrong):
        found = ", ".join(sorted(set(kinds[wrong])))
        raise InputError.from_key("io.rows_not_lines", file=file.name,
                                  rows=items(wrong.tolist()), found=found)  # fmt: skip


def check_gcj02_offset(
    gdf: gpd.GeoDataFrame, reference: gpd.GeoDataFrame, *, sample_size: int = 400
) -> GCJ02Check:
    """Warn when a layer labelled WGS84 looks like GCJ-02 compared with a trusted reference.

    Parameters
    ----------
    gdf
        The layer to check (lines or polygons in degrees).
    reference
        A trusted WGS84/CGCS2000 layer showing the same features (the same rivers or
        boundaries); see :func:`rivernet.crs.suspect_gcj02`.
    sample_size
        How many vertices to compare.

    Returns
    -------
    GCJ02Check
        The measured distances and the verdict; a DataQualityWarning is issued when the layer
        is likely GCJ-02.
    """
    check = suspect_gcj02(gdf, reference, sample_size=sample_size)
    if check.likely_gcj02:
        _warn("warn_io.gcj02", 2, median=f"{check.median_distance_m:.0f}",
              converted=f"{check.median_distance_converted_m:.0f}")  # fmt: skip
    return check


def write_vector(
    gdf: gpd.GeoDataFrame | pd.DataFrame, path: str | Path, *, layer: str | None = None
) -> Path:
    """Write a table to GeoJSON, GeoPackage or CSV atomically.

    Parameters
    ----------
    gdf
        The data; a plain DataFrame is accepted for GeoPackage (as an attribute table) and CSV.
    path
        The target file; its suffix chooses the format (``.geojson``/``.json``, ``.gpkg``,
        ``.csv``). CSV is written as UTF-8 with a byte-order mark so that Excel shows Chinese
        text, geometry as WKT in a ``geometry`` column.
    layer
        The GeoPackage layer to write (default: the file's stem); other layers of an existing
        GeoPackage are kept, a layer of the same name is replaced.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(path)
    driver = _WRITE_DRIVERS.get(target.suffix.lower())
    if driver is None:
        raise InputError.from_key("err_io.cannot_write", file=target.name)
    if driver == "GeoJSON" and not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError.from_key("err_io.geojson_table", file=target.name)
    if any(name is not None for name in gdf.index.names):
        gdf = gdf.reset_index()  # keep a named index (reach_id, code) as a column
    with replacing(target, suffix=target.suffix) as temp:
        if driver == "GPKG" and target.exists():
            shutil.copyfile(target, temp)  # keep the file's other layers
        else:
            temp.unlink()  # a new file, written by the driver
        _write(gdf, temp, driver=driver, layer=layer or target.stem)
    return target


def _write(gdf: pd.DataFrame, temp: Path, *, driver: str, layer: str) -> None:
    if driver == "CSV":
        frame = pd.DataFrame(gdf)
        if isinstance(gdf, gpd.GeoDataFrame):
            frame[gdf.geometry.name] = gdf.geometry.to_wkt()
        frame.to_csv(temp, index=False, encoding="utf-8-sig")
        return
    if driver == "GPKG":
        pyogrio.write_dataframe(gdf, temp, layer=layer, driver="GPKG")
        return
    pyogrio.write_dataframe(gdf, temp, driver="GeoJSON")
