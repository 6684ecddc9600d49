"""Seeded synthetic river networks and administrative units for benchmarks.

The river networks follow Shreve's random topology model: every basin is a uniformly random
binary tree (each confluence joins two reaches), drawn with the cycle lemma on a shuffled
Łukasiewicz word, so bifurcation ratios, Strahler orders and path depths behave like real
networks (the largest basin of a million-reach network is about 1,500 reaches deep). Basin sizes
follow a Zipf law: a few large basins and many small coastal ones, most of a single reach.
A small fraction of reaches carry a second downstream link (a braid or diversion) that rejoins
their own path further down, so the graph stays acyclic.

Everything is vectorised with numpy (and ``shapely.linestrings`` for geometry); a million reaches
take a few seconds. The same seed always gives the same table.

The administrative units are Voronoi counties grouped into cities and provinces with
GB/T 2260-style six-digit codes (``PP0000`` province, ``PPCC00`` city, ``PPCCDD`` county).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Geod

from rivernet.admin import MUNICIPALITIES
from rivernet.errors import InputError

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["project_from_reaches", "synthetic_admin_polygons", "synthetic_network"]

BBox = tuple[float, float, float, float]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_DEFAULT_BBOX: BBox = (100.0, 20.0, 120.0, 40.0)
_BASIN_SIZE_EXPONENT = 1.5  # Zipf exponent of basin sizes: the largest basin holds ~38 %
_REACHES_PER_OUTLET = 100  # default number of basins is n_reaches / this
_MEDIAN_LENGTH_KM = 3.0  # HydroRIVERS reaches: median ~3 km, mean ~4 km
_LENGTH_SIGMA = 0.7
_MAX_BRAID_HOPS = 4  # a braid rejoins its path 2..4 reaches further down
_KM_PER_DEGREE = 111.32
_KM2_PER_REACH = 15.0  # HydroRIVERS: about 15 km2 of land per reach
_COUNTIES_PER_CITY = 10
_MAX_SUBUNITS = 99  # two-digit GB/T 2260 city and county numbers
# GB/T 2260 province prefixes, in code order; more provinces continue with unused prefixes.
_REAL_PREFIXES = (
    *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55),
    *range(61, 66), 71, 81, 82,
)  # fmt: skip
# Municipalities (北京, 天津, 上海, 重庆) have one city-level unit (NN0100) in GB/T 2260, so their
# prefixes cannot take the several cities of a synthetic province.
_MUNICIPAL_PREFIXES = frozenset(int(code[:2]) for code in MUNICIPALITIES)
_PROVINCE_PREFIXES = tuple(
    p
    for p in _REAL_PREFIXES + tuple(p for p in range(11, 100) if p not in _REAL_PREFIXES)
    if p not in _MUNICIPAL_PREFIXES
)


def synthetic_network(
    n_reaches: int,
    *,
    seed: int = 0,
    braid_fraction: float = 0.002,
    n_outlets: int | None = None,
    with_geometry: bool = False,
    bbox: Sequence[float] = _DEFAULT_BBOX,
) -> pd.DataFrame:
    """Make a seeded, realistic dendritic river network with braids.

    Parameters
    ----------
    n_reaches
        Number of reaches (rows).
    seed
        Seed of the random generator; the same arguments always give the same table.
    braid_fraction
        Fraction of reaches that get a secondary downstream link to a reach 2 to 4 reaches
        further down their own path (a braid or diversion); the graph stays acyclic.
    n_outlets
        Number of basins (outlets). Default: one per 100 reaches. Basin sizes follow a Zipf
        law: the largest basin holds about 38 % of the reaches (about 2,000 reaches deep at one
        million) and, at large sizes, many basins are a single coastal reach.
    with_geometry
        Also make line geometry (a GeoDataFrame in EPSG:4326). Lines are digitised in flow
        direction and the last vertex of a reach is exactly the first vertex of its downstream
        reach. ``length_km`` is then the geodesic length of the line.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``: the geometry is centred in it and shrunk to
        fit when larger (reaches keep realistic kilometre lengths otherwise).

    Returns
    -------
    pandas.DataFrame
        One row per reach, in shuffled order, with ``reach_id`` (unique, sparse int64, unrelated
        to the row position), ``downstream_id`` (0 at outlets), ``length_km`` and
        ``secondary_downstream_id`` (0 when there is none); with ``with_geometry`` a
        GeoDataFrame with a ``geometry`` column as well.

    Raises
    ------
    InputError
        If a count, the braid fraction or the bounding box is out of range.
    """
    n_outlets = _check_network_arguments(n_reaches, n_outlets, braid_fraction, bbox)
    rng = np.random.default_rng(seed)
    sizes = _basin_sizes(n_reaches, n_outlets)
    parent = _forest_parents(sizes, rng)
    braid_from, braid_to = _braid_links(parent, round(braid_fraction * n_reaches), rng)
    ids = _reach_ids(n_reaches, rng)
    length_km = _reach_lengths_km(n_reaches, rng)
    secondary = np.zeros(n_reaches, dtype=np.int64)
    secondary[braid_from] = ids[braid_to]
    columns = {
        "reach_id": ids,
        "downstream_id": np.where(parent >= 0, ids[parent], 0).astype(np.int64),
        "length_km": length_km,
        "secondary_downstream_id": secondary,
    }
    rows = rng.permutation(n_reaches)
    if not with_geometry:
        return pd.DataFrame({name: values[rows] for name, values in columns.items()})
    lines = _network_lines(parent, sizes, length_km, _as_bbox(bbox), rng)
    columns["length_km"] = _geodesic_length_km(lines)
    data = {name: values[rows] for name, values in columns.items()}
    return gpd.GeoDataFrame(data, geometry=lines[rows], crs="EPSG:4326")


def project_from_reaches(
    reaches: gpd.GeoDataFrame,
    *,
    seed: int = 0,
    admin_units: gpd.GeoDataFrame | None = None,
    secondary: bool = False,
) -> Project:
    """A project held in memory around a :func:`synthetic_network` table (no roster).

    Parameters
    ----------
    reaches
        The reach table, with geometry.
    seed
        The seed it was made with (part of the data version).
    admin_units
        The admin units (:func:`synthetic_admin_polygons`); default none.
    secondary
        Also follow the ``secondary_downstream_id`` links.

    Returns
    -------
    rivernet.project.Project
        The project; its lakes table is empty.
    """
    from rivernet.network import RiverNetwork
    from rivernet.project import Project

    network = RiverNetwork.from_downstream_ids(
        reaches,
        id_column="reach_id",
        downstream_column="downstream_id",
        secondary_downstream_column="secondary_downstream_id" if secondary else None,
    )
    if admin_units is None:
        admin_units = _empty_frame("code", "name", "level", "parent_code")
    return Project(
        path=Path(f"synthetic-{len(reaches)}.gpkg"),
        network=network,
        admin_units=admin_units,
        lakes=_empty_frame("lake_id", "name", "name_zh"),
        meta={},
        file_version=f"synthetic-{len(reaches)}-{seed}",
    )


def _empty_frame(*columns: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326 with text columns and no rows."""
    empty = {column: pd.Series(dtype=object) for column in columns}
    return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def synthetic_admin_polygons(
    n_provinces: int = 30,
    n_counties: int = 3000,
    *,
    bbox: Sequence[float] = _DEFAULT_BBOX,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Make seeded administrative units: Voronoi counties grouped into cities and provinces.

    Counties are the Voronoi cells of random points, clipped to ``bbox``, so they cover it
    without gaps or overlaps. Each county joins the province of the nearest province seed and,
    inside it, the city of the nearest city seed (about ten counties per city). Cities and
    provinces are the unions of their counties.

    Parameters
    ----------
    n_provinces
        Number of provinces (at most the number of counties).
    n_counties
        Number of counties.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)`` covered by the units.
    seed
        Seed of the random generator.

    Returns
    -------
    geopandas.GeoDataFrame
        Provinces, then cities, then counties, in EPSG:4326, with columns ``code`` (six-digit
        string, GB/T 2260 style), ``name``, ``level`` (``"province"``, ``"city"``,
        ``"county"``), ``parent_code`` (None for provinces) and ``geometry``.

    Raises
    ------
    InputError
        If the counts are out of range or a province would need more than 99 x 99 counties.
    """
    box = _check_admin_arguments(n_provinces, n_counties, bbox)
    rng = np.random.default_rng(seed)
    points = _uniform_points(n_counties, box, rng)
    counties = _voronoi_cells(points, box)
    province = _nearest_seed(points, rng.choice(n_counties, n_provinces, replace=False))
    city = _cities_within_provinces(points, province, rng)
    county_codes = _county_codes(points, province, city)
    return _admin_frame(counties, county_codes)


# --- network topology -------------------------------------------------------------------------


def _check_network_arguments(
    n_reaches: int, n_outlets: int | None, braid_fraction: float, bbox: Sequence[float]
) -> int:
    if n_reaches < 1:
        raise InputError(f"n_reaches must be at least 1, got {n_reaches}.")
    if n_outlets is None:
        n_outlets = max(1, n_reaches // _REACHES_PER_OUTLET)
    if not 1 <= n_outlets <= n_reaches:
        raise InputError(
            f"n_outlets must be between 1 and n_reaches ({n_reaches}), got {n_outlets}."
        )
    if not 0.0 <= braid_fraction <= 1.0:
        raise InputError(f"braid_fraction must be between 0 and 1, got {braid_fraction}.")
    _as_bbox(bbox)
    return n_outlets


def _as_bbox(bbox: Sequence[float]) -> BBox:
    if len(bbox) != 4 or not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise InputError(
            f"bbox must be (min_lon, min_lat, max_lon, max_lat) with min < max, got {bbox}."
        )
    return (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))


def _basin_sizes(n_reaches: int, n_outlets: int) -> IntArray:
    """Zipf-distributed basin sizes, largest first, each >= 1, summing to ``n_reaches``."""
    weights = np.arange(1, n_outlets + 1, dtype=np.float64) ** -_BASIN_SIZE_EXPONENT
    extra = np.floor((n_reaches - n_outlets) * weights / weights.sum()).astype(np.int64)
    sizes = 1 + extra
    sizes[0] += n_reaches - int(sizes.sum())
    return sizes


def _forest_parents(sizes: IntArray, rng: np.random.Generator) -> IntArray:
    """Parent (downstream) position of every node of a random forest, in preorder; -1 at roots.

    Each basin of size ``s`` is a uniformly random tree with ``(s - 1) // 2`` binary confluences
    (plus one unary node when ``s`` is even): its Łukasiewicz word (arity - 1 per node in
    preorder) is shuffled and rotated by the cycle lemma to the one valid rotation.
    """
    n_basins = len(sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    basin = np.repeat(np.arange(n_basins), sizes)
    n_unary = 1 - sizes % 2
    n_binary = (sizes - 1 - n_unary) // 2
    counts = np.stack([n_binary, n_unary, n_binary + 1], axis=1).ravel()
    word = np.repeat(np.tile(np.array([1, 0, -1], dtype=np.int64), n_basins), counts)
    word = word[np.argsort(basin + rng.random(len(word)), kind="stable")]
    word = word[_cycle_lemma_source(word, basin, starts, sizes)]
    return _parents_from_word(word, starts)


def _cycle_lemma_source(
    word: IntArray, basin: IntArray, starts: IntArray, sizes: IntArray
) -> IntArray:
    """Index map rotating each basin's word to start after its first prefix-sum minimum."""
    prefix = np.cumsum(word) + basin  # prefix sums restarted per basin (each sums to -1)
    minimum = np.minimum.reduceat(prefix, starts)
    index = np.arange(len(word))
    first_min = np.minimum.reduceat(np.where(prefix == minimum[basin], index, len(word)), starts)
    shift = (first_min - starts + 1) % sizes
    local = index - starts[basin]
    return (starts[basin] + (local + shift[basin]) % sizes[basin]).astype(np.int64)


def _parents_from_word(word: IntArray, starts: IntArray) -> IntArray:
    """Parents from a concatenation of Łukasiewicz words (one tree per word).

    The parent of node ``j`` is ``j - 1`` when that node has children; otherwise it is the last
    node before ``j`` with the same number of pending child slots.
    """
    pending = np.cumsum(word) - word  # exclusive prefix sum; comparable within one tree
    by_pending = np.argsort(pending, kind="stable")
    previous_equal = np.empty_like(by_pending)
    previous_equal[by_pending[1:]] = by_pending[:-1]
    previous_equal[by_pending[0]] = -1
    index = np.arange(len(word))
    after_branch = np.concatenate(([False], word[:-1] >= 0))
    parent = np.where(after_branch, index - 1, previous_equal)
    parent[starts] = -1
    return parent.astype(np.int64)


def _braid_links(
    parent: IntArray, n_braids: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Pick reaches and a second downstream reach 2 to 4 reaches further down their path."""
    has_parent = parent >= 0
    grandparent = np.where(has_parent, parent[np.where(has_parent, parent, 0)], -1)
    candidates = np.flatnonzero(grandparent >= 0)
    chosen = np.sort(rng.choice(candidates, min(n_braids, len(candidates)), replace=False))
    hops = rng.integers(2, _MAX_BRAID_HOPS + 1, len(chosen))
    target = grandparent[chosen]
    for hop in range(3, _MAX_BRAID_HOPS + 1):
        below = parent[target]
        target = np.where((hops >= hop) & (below >= 0), below, target)
    return chosen.astype(np.int64), target.astype(np.int64)


def _reach_ids(n_reaches: int, rng: np.random.Generator) -> IntArray:
    """Unique, sparse, shuffled HydroRIVERS-like ids (about 10_000_000 + 7 * k)."""
    block = rng.permutation(n_reaches).astype(np.int64)
    return 10_000_001 + 7 * block + rng.integers(0, 7, n_reaches)


def _reach_lengths_km(n_reaches: int, rng: np.random.Generator) -> FloatArray:
    """Log-normal reach lengths in km, rounded to 10 m like HydroRIVERS' LENGTH_KM."""
    length = rng.lognormal(math.log(_MEDIAN_LENGTH_KM), _LENGTH_SIGMA, n_reaches)
    return np.round(np.maximum(length, 0.05), 2).astype(np.float64)


# --- network geometry -------------------------------------------------------------------------


def _network_lines(
    parent: IntArray, sizes: IntArray, length_km: FloatArray, bbox: BBox, rng: np.random.Generator
) -> NDArray[np.object_]:
    """Lines from each reach's upstream end to its downstream reach's upstream end.

    Each reach heads away from its outlet in its basin's direction plus a deviation that wanders
    along the path (an AR(1) process); outlets are scattered over an area of about
    ``_KM2_PER_REACH`` square kilometres per reach; the layout shrinks if needed to fit ``bbox``.
    """
    n_reaches, n_basins = len(parent), len(sizes)
    basin = np.repeat(np.arange(n_basins), sizes)
    heading = rng.uniform(0.0, 2.0 * np.pi, n_basins)[basin]
    angle = heading + _path_sum(parent, rng.normal(0.0, 0.5, n_reaches), decay=0.9)
    step = length_km[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    side_km = math.sqrt(_KM2_PER_REACH * n_reaches)
    outlet = rng.uniform(-0.5, 0.5, (n_basins, 2)) * side_km
    upstream_end = outlet[basin] + _path_sum(parent, step, decay=1.0)
    lonlat = _fit_to_bbox(np.concatenate([upstream_end, outlet]), bbox)
    start, outlet = lonlat[:n_reaches], lonlat[n_reaches:]
    end = np.where((parent >= 0)[:, None], start[parent], outlet[basin])
    return np.asarray(shapely.linestrings(_meander(start, end, rng)))


def _path_sum(parent: IntArray, values: FloatArray, *, decay: float) -> FloatArray:
    """Sum of ``values`` over each node and its downstream path, weighted ``decay ** hops``.

    Pointer jumping: ``log2(depth)`` vectorised passes instead of one pass per tree level.
    """
    total = values.astype(np.float64, copy=True)
    ancestor = parent.copy()
    weight = decay
    while (ancestor >= 0).any():
        has = ancestor >= 0
        safe = np.where(has, ancestor, 0)
        mask = has if total.ndim == 1 else has[:, None]
        total = total + weight * np.where(mask, total[safe], 0.0)
        ancestor = np.where(has, ancestor[safe], -1)
        weight *= weight
    return total


def _fit_to_bbox(points_km: FloatArray, bbox: BBox) -> FloatArray:
    """Place planar km coordinates at the centre of ``bbox`` (lon/lat), shrunk to fit inside."""
    min_lon, min_lat, max_lon, max_lat = bbox
    cos_lat = math.cos(math.radians((min_lat + max_lat) / 2))
    degrees = points_km / _KM_PER_DEGREE
    degrees[:, 0] /= cos_lat
    low, high = degrees.min(axis=0), degrees.max(axis=0)
    span = np.maximum(high - low, 1e-12)
    fit = 0.98 * min((max_lon - min_lon) / span[0], (max_lat - min_lat) / span[1])
    scale = min(1.0, fit)  # shrink large layouts to fit; never blow small ones up
    centre = np.array([(min_lon + max_lon) / 2, (min_lat + max_lat) / 2])
    return centre + (degrees - (low + high) / 2) * scale


def _meander(start: FloatArray, end: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Four-vertex lines: the two ends plus two interior vertices offset sideways."""
    along = end - start
    normal = np.column_stack([-along[:, 1], along[:, 0]])
    offsets = rng.uniform(-0.2, 0.2, (len(start), 2))
    first = start + along / 3 + normal * offsets[:, :1]
    second = start + 2 * along / 3 + normal * offsets[:, 1:]
    return np.stack([start, first, second, end], axis=1)


def _geodesic_length_km(lines: NDArray[np.object_]) -> FloatArray:
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    same = owner[1:] == owner[:-1]
    lon, lat = coords[:, 0], coords[:, 1]
    _, _, distance = Geod(ellps="WGS84").inv(
        lon[:-1][same], lat[:-1][same], lon[1:][same], lat[1:][same]
    )
    return np.bincount(owner[:-1][same], weights=distance, minlength=len(lines)) / 1000.0


# --- administrative units ---------------------------------------------------------------------


def _check_admin_arguments(n_provinces: int, n_counties: int, bbox: Sequence[float]) -> BBox:
    if not 1 <= n_provinces <= min(n_counties, len(_PROVINCE_PREFIXES)):
        raise InputError(
            f"Need 1 <= n_provinces <= min(n_counties, {len(_PROVINCE_PREFIXES)}), got "
            f"{n_provinces} provinces and {n_counties} counties."
        )
    return _as_bbox(bbox)


def _uniform_points(n: int, bbox: BBox, rng: np.random.Generator) -> FloatArray:
    low = np.array(bbox[:2])
    high = np.array(bbox[2:])
    return low + rng.random((n, 2)) * (high - low)


def _voronoi_cells(points: FloatArray, bbox: BBox) -> NDArray[np.object_]:
    """Voronoi cell of each point (in point order), clipped to the bounding box."""
    box = shapely.box(*bbox)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=box, ordered=True)
    return np.asarray(shapely.intersection(shapely.get_parts(cells), box))


def _nearest_seed(points: FloatArray, seeds: IntArray) -> IntArray:
    """Index (into ``seeds``) of the nearest seed point of every point."""
    distance = ((points[:, None, :] - points[seeds][None, :, :]) ** 2).sum(axis=2)
    return np.argmin(distance, axis=1).astype(np.int64)


def _cities_within_provinces(
    points: FloatArray, province: IntArray, rng: np.random.Generator
) -> IntArray:
    """City number (0-based, within its province) of every county."""
    city = np.zeros(len(points), dtype=np.int64)
    for p in range(province.max() + 1):
        members = np.flatnonzero(province == p)
        city[members] = _split_province(points[members], rng)
    return city


def _split_province(points: FloatArray, rng: np.random.Generator) -> IntArray:
    """Group a province's counties around random city seeds, at most 99 cities of <= 99."""
    n = len(points)
    if n > _MAX_SUBUNITS * _MAX_SUBUNITS:
        raise InputError(
            f"A province got {n} counties, more than {_MAX_SUBUNITS} x {_MAX_SUBUNITS} codes "
            "allow; use more provinces."
        )
    n_cities = max(math.ceil(n / _MAX_SUBUNITS), round(n / _COUNTIES_PER_CITY), 1)
    while n_cities <= _MAX_SUBUNITS:
        city = _nearest_seed(points, rng.choice(n, n_cities, replace=False))
        if np.bincount(city).max() <= _MAX_SUBUNITS:
            return city
        n_cities += 1
    west_to_east = np.argsort(points[:, 0], kind="stable")  # fallback: equal strips
    city = np.empty(n, dtype=np.int64)
    city[west_to_east] = np.arange(n) * _MAX_SUBUNITS // n
    return city


def _county_codes(points: FloatArray, province: IntArray, city: IntArray) -> NDArray[np.str_]:
    """Six-digit codes PPCCDD; counties numbered west to east within their city."""
    prefixes = np.array(_PROVINCE_PREFIXES, dtype=np.int64)
    group = province * 100 + city
    order = np.lexsort((points[:, 0], group))
    sorted_group = group[order]
    rank = np.empty(len(points), dtype=np.int64)
    rank[order] = np.arange(len(points)) - np.searchsorted(sorted_group, sorted_group) + 1
    number = prefixes[province] * 10_000 + (city + 1) * 100 + rank
    return np.char.zfill(number.astype(str), 6)


def _admin_frame(counties: NDArray[np.object_], county_codes: NDArray[np.str_]) -> gpd.GeoDataFrame:
    codes = pd.Series(county_codes)
    city_codes = codes.str[:4] + "00"
    frames = [
        _union_level(counties, codes.str[:2] + "0000", "province", parent_digits=None),
        _union_level(counties, city_codes, "city", parent_digits=2),
        _county_level(counties, codes, city_codes),
    ]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True))


def _union_level(
    counties: NDArray[np.object_], codes: pd.Series, level: str, *, parent_digits: int | None
) -> gpd.GeoDataFrame:
    """One row per distinct code: the coverage union of its counties."""
    unique, group = np.unique(codes.to_numpy(dtype=str), return_inverse=True)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(unique) + 1))
    shapes = [shapely.coverage_union_all(counties[order[a:b]]) for a, b in pairwise(bounds)]
    parent_codes = [
        None if parent_digits is None else code[:parent_digits].ljust(6, "0") for code in unique
    ]
    return gpd.GeoDataFrame(
        {
            "code": unique,
            "name": [f"{level.title()} {code}" for code in unique],
            "level": level,
            "parent_code": parent_codes,
        },
        geometry=shapes,
        crs="EPSG:4326",
    )


def _county_level(
    counties: NDArray[np.object_], codes: pd.Series, city_codes: pd.Series
) -> gpd.GeoDataFrame:
    order = np.argsort(codes.to_numpy(dtype=str), kind="stable")
    code = codes.to_numpy(dtype=str)[order]
    return gpd.GeoDataFrame(
        {
            "code": code,
            "name": [f"County {c}" for c in code],
            "level": "county",
            "parent_code": city_codes.to_numpy(dtype=str)[order],
        },
        geometry=counties[order],
        crs="EPSG:4326",
    )
