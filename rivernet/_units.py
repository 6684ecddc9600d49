"""Admin units as arrays: checked polygons split by level, and the unit that holds each point.

Private building block of :mod:`rivernet.pieces` and :mod:`rivernet.boundary`: the admin units
table is checked once (columns, CRS, valid polygons) and turned into arrays; points (piece
midpoints, bank samples) are then given the unit of one level that contains them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from rivernet._segments import M_PER_DEG_LAT, hits_xy, metres_per_unit
from rivernet.admin import POLYGON_LEVELS
from rivernet.errors import AdminUnitsError, CRSError
from rivernet.messages import Lines, Message, items

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

PIECE_LEVELS = POLYGON_LEVELS


@dataclass(eq=False)
class Units:
    """Admin units with polygons, checked and split by level (private building block).

    Attributes
    ----------
    codes, names, levels, parents
        Per unit (all rows of the table).
    geoms
        Polygons (None where a unit has none).
    by_level
        Row numbers of the units with polygons at each level of :data:`PIECE_LEVELS`.
    row_of
        Row number by code.
    metres_per_unit
        Rough metres per CRS unit (for tolerances).
    """

    codes: ObjArray
    names: ObjArray
    levels: ObjArray
    parents: ObjArray
    geoms: ObjArray
    by_level: dict[str, IntArray]
    row_of: dict[str, int]
    metres_per_unit: float = 1.0

    def name(self, code: object) -> object:
        """The name of a unit (None for None)."""
        row = self.row_of.get(str(code)) if code is not None else None
        return None if row is None else self.names[row]

    def ancestors(self, code: str) -> list[str]:
        """The unit and its superiors present in the table, lowest first."""
        chain: list[str] = []
        current: object = code
        while current is not None and str(current) in self.row_of and len(chain) < 8:
            chain.append(str(current))
            parent = self.parents[self.row_of[str(current)]]
            current = None if parent is None or pd.isna(parent) else parent
        return chain


def joined(parts: list[Any], key: str = "err_core.separator") -> Any:
    """Parts of a message joined two by two with the catalogue's ``key`` (``"a; b; c"``)."""
    result = parts[0]
    for part in parts[1:]:
        result = Message(key, first=result, last=part)
    return result


def _check_table(gdf: gpd.GeoDataFrame, crs: CRS) -> None:
    """The admin units have a code and a level column and the network's CRS."""
    from rivernet.crs import crs_equivalent

    missing = [c for c in ("code", "level") if c not in gdf.columns]
    if missing:
        columns = items(Message("err_core.code", name=column) for column in missing)
        raise AdminUnitsError.from_key("err_units.missing_columns", columns=columns)
    if gdf.crs is None or not crs_equivalent(gdf.crs, crs):
        named = Message("err_units.crs_name", name=CRS(gdf.crs).name) if gdf.crs else None
        raise CRSError.from_key(
            "err_units.other_crs", units_crs=named or Message("err_units.no_crs"), crs=crs.name
        )


def checked_units(gdf: gpd.GeoDataFrame, crs: CRS) -> Units:
    _check_table(gdf, crs)
    geoms = gdf.geometry.to_numpy()
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    codes = gdf["code"].astype(str).to_numpy(dtype=object)
    _require_polygons(codes, geoms, present)
    levels = gdf["level"].to_numpy(dtype=object)
    names = gdf["name"].to_numpy(dtype=object) if "name" in gdf.columns else codes.copy()
    if "parent_code" in gdf.columns:
        parents = np.array([None if pd.isna(c) else str(c) for c in gdf["parent_code"]], object)
    else:
        from rivernet.admin import parent_code

        parents = np.array([parent_code(c) for c in codes], dtype=object)
    by_level = {
        level: np.flatnonzero(present & (levels == level)).astype(np.int64)
        for level in PIECE_LEVELS
    }
    row_of = {str(code): row for row, code in enumerate(codes)}
    unit = (
        M_PER_DEG_LAT if crs.is_geographic else float(metres_per_unit(np.zeros((1, 2)), crs)[0, 0])
    )
    return Units(codes, names, levels, parents, geoms, by_level, row_of, unit)


def _require_polygons(codes: ObjArray, geoms: ObjArray, present: npt.NDArray[np.bool_]) -> None:
    kinds = shapely.get_type_id(geoms)
    problems = [
        Message("err_units.not_polygon", code=codes[row], kind=geoms[row].geom_type)
        for row in np.flatnonzero(present & ~np.isin(kinds, (3, 6)))
    ]
    invalid = np.flatnonzero(present & ~shapely.is_valid(geoms))
    problems += [
        Message(
            "err_units.invalid_polygon", code=codes[row], reason=shapely.is_valid_reason(geoms[row])
        )
        for row in invalid
    ]
    if problems:
        raise AdminUnitsError.from_key(
            "err_units.geometries", count=len(problems), lines=Lines(tuple(problems))
        )


def parent_rows(units: Units) -> IntArray:
    """Row of each unit's parent (-1 if absent); one extra entry maps -1 to -1."""
    parent_row = np.array(
        [units.row_of.get(str(p), -1) if p is not None else -1 for p in units.parents],
        dtype=np.int64,
    )
    return np.append(parent_row, -1)


# --- points in units --------------------------------------------------------------------------


def assign_level(
    xy: FloatArray, units: Units, rows: IntArray, *, overlap_tolerance_m: float
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Row (into the unit table) of the unit containing each point, -1 if none; on-boundary flag."""
    point, poly = hits_xy(xy, units.geoms[rows])
    count = np.bincount(point, minlength=len(xy))
    result = np.full(len(xy), -1, dtype=np.int64)
    on_boundary = np.zeros(len(xy), dtype=bool)
    single = count[point] == 1
    result[point[single]] = rows[poly[single]]
    multi = ~single
    if multi.any():
        points = np.asarray(shapely.points(xy))
        _resolve_multi(
            points, units, rows, point[multi], poly[multi], result, on_boundary, overlap_tolerance_m
        )
    return result, on_boundary


def _resolve_multi(
    points: ObjArray,
    units: Units,
    rows: IntArray,
    point: IntArray,
    poly: IntArray,
    result: IntArray,
    on_boundary: npt.NDArray[np.bool_],
    overlap_tolerance_m: float,
) -> None:
    """Points in several units: inside one of them, on a shared boundary, or in an overlap."""
    proper = shapely.contains_properly(units.geoms[rows[poly]], points[point])
    # (points holds every point; only those in several units are looked at)
    overlaps: dict[tuple[str, ...], int] = {}
    for p in np.unique(point):
        mine = point == p
        candidates = rows[poly[mine]]
        inside = candidates[proper[mine]]
        if len(inside) == 1:
            result[p] = inside[0]
            continue
        if len(inside) > 1 and _overlap_width_m(units, inside, points[p]) > overlap_tolerance_m:
            key = tuple(sorted(str(units.codes[r]) for r in inside))
            overlaps[key] = overlaps.get(key, 0) + 1
            continue
        by_code = sorted(candidates, key=lambda r: str(units.codes[r]))
        result[p] = by_code[0]
        on_boundary[p] = True
    if overlaps:
        pairs = [
            Message("err_units.overlap_pair", units=joined(list(k), "err_core.and"), count=n)
            for k, n in overlaps.items()
        ]
        raise AdminUnitsError.from_key("err_units.overlap", pairs=joined(pairs))


def _overlap_width_m(units: Units, rows: IntArray, point: Any) -> float:
    """A rough width (metres) of the overlap of several units around a point."""
    overlap = shapely.intersection_all(units.geoms[rows])
    area = float(shapely.area(overlap))
    length = float(shapely.length(shapely.boundary(overlap))) or 1.0
    return 2.0 * area / length * units.metres_per_unit
