"""Test oracles: independent, simpler implementations the library's answers are checked against.

:func:`cut_at_counties` cuts reach lines at county polygons with plain shapely overlays (county
polygons only, fractions measured in a local metric projection); the responsibility pieces of
:mod:`rivernet.pieces` (a compiled cut at every level) must agree with it.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet.admin import parent_code
from rivernet.crs import metric_crs_for

_MIN_PIECE_M = 1.0  # slivers shorter than this (digitising noise along borders) are absorbed


def cut_at_counties(reaches: gpd.GeoDataFrame, admin_units: gpd.GeoDataFrame) -> pd.DataFrame:
    """Cut reach lines where they cross county polygons.

    Parameters
    ----------
    reaches
        Reach table indexed by reach id with ``length_m`` and line geometry.
    admin_units
        Admin units with ``code``, ``level`` and polygons, in the same CRS as the reaches.

    Returns
    -------
    pandas.DataFrame
        One row per piece with :data:`PIECE_COLUMNS`; lengths are fractions of the reach's
        metric (geodesic) length, fractions measured in a local metric projection.
    """
    counties = admin_units[(admin_units["level"] == "county") & admin_units.geometry.notna()]
    metric = metric_crs_for(reaches)
    lines = reaches.geometry.to_crs(metric).to_numpy()
    polygons = counties.geometry.to_crs(metric).to_numpy()
    line_index, poly_index = shapely.STRtree(polygons).query(lines, predicate="intersects")
    parts = shapely.intersection(lines[line_index], polygons[poly_index])
    starts, ends, owner, county = _part_fractions(lines, parts, line_index, poly_index)
    codes = counties["code"].to_numpy(dtype=object)
    length = reaches["length_m"].to_numpy()
    segments = _segments(len(lines), starts, ends, owner, county)
    frame = _merge_runs(*_absorb_slivers(*segments, length=length))
    county_code = np.where(frame["county"] >= 0, codes[np.maximum(frame["county"], 0)], None)
    city_code = np.array([None if c is None else parent_code(c) for c in county_code], dtype=object)
    province_code = np.array(
        [None if c is None else f"{c[:2]}0000" for c in county_code], dtype=object
    )
    reach_length = length[frame["owner"]]
    return pd.DataFrame(
        {
            "reach_id": reaches.index.to_numpy()[frame["owner"]],
            "from_m": frame["start"] * reach_length,
            "to_m": frame["end"] * reach_length,
            "length_m": (frame["end"] - frame["start"]) * reach_length,
            "province_code": province_code,
            "city_code": city_code,
            "county_code": county_code,
        }
    )


def _part_fractions(
    lines: npt.NDArray[np.object_],
    parts: npt.NDArray[np.object_],
    line_index: npt.NDArray[np.int64],
    poly_index: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[Any], ...]:
    """Start/end fractions (along the whole reach) of every line part inside a county."""
    single, of_pair = shapely.get_parts(shapely.line_merge(parts), return_index=True)
    is_line = shapely.get_type_id(single) == 1
    single, of_pair = single[is_line], of_pair[is_line]
    owner = line_index[of_pair]
    first = shapely.get_point(single, 0)
    last = shapely.get_point(single, -1)
    a = shapely.line_locate_point(lines[owner], first, normalized=True)
    b = shapely.line_locate_point(lines[owner], last, normalized=True)
    return np.minimum(a, b), np.maximum(a, b), owner.astype(np.float64), poly_index[of_pair]


def _segments(
    n_lines: int,
    starts: npt.NDArray[np.float64],
    ends: npt.NDArray[np.float64],
    owner: npt.NDArray[np.float64],
    county: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[Any], ...]:
    """Partition every reach into [0, 1]: county parts plus the stretches outside all counties."""
    owner_int = owner.astype(np.int64)
    order = np.lexsort((starts, owner_int))
    owner_int, starts, ends, county = owner_int[order], starts[order], ends[order], county[order]
    # Every breakpoint of each reach, including 0 and 1; the piece between two breakpoints
    # belongs to the part covering its midpoint (or to no county).
    lines = np.arange(n_lines, dtype=np.int64)
    bp_owner = np.concatenate([owner_int, owner_int, lines, lines])
    bp_value = np.concatenate([starts, ends, np.zeros(n_lines), np.ones(n_lines)])
    key = np.lexsort((bp_value, bp_owner))
    bp_owner, bp_value = bp_owner[key], bp_value[key]
    same = bp_owner[1:] == bp_owner[:-1]
    seg_owner, seg_start, seg_end = bp_owner[:-1][same], bp_value[:-1][same], bp_value[1:][same]
    midpoint = (seg_start + seg_end) / 2.0
    # For each segment, the covering part: the last part of the same reach starting at or before
    # the midpoint, if it ends after it.
    part_key = owner_int.astype(np.float64) * 4.0 + starts
    candidate = np.searchsorted(part_key, seg_owner * 4.0 + midpoint, side="right") - 1
    valid = candidate >= 0
    safe = np.maximum(candidate, 0)
    inside = valid & (owner_int[safe] == seg_owner) & (ends[safe] > midpoint)
    seg_county = np.where(inside, county[safe], -1)
    keep = seg_end > seg_start
    return seg_owner[keep], seg_start[keep], seg_end[keep], seg_county[keep]


def _absorb_slivers(
    owner: npt.NDArray[np.int64],
    start: npt.NDArray[np.float64],
    end: npt.NDArray[np.float64],
    county: npt.NDArray[np.int64],
    *,
    length: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[Any], ...]:
    """Give segments shorter than a metre (border noise) the county of their neighbour."""
    short = (end - start) * length[owner] < _MIN_PIECE_M
    if not short.any():
        return owner, start, end, county
    filled = pd.Series(np.where(short, np.nan, county.astype(np.float64)))
    by_reach = filled.groupby(owner)
    filled = by_reach.ffill().fillna(by_reach.bfill()).fillna(-1)
    return owner, start, end, filled.to_numpy().astype(np.int64)


def _merge_runs(
    owner: npt.NDArray[np.int64],
    start: npt.NDArray[np.float64],
    end: npt.NDArray[np.float64],
    county: npt.NDArray[np.int64],
) -> dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
    """Merge consecutive segments of one reach with the same county."""
    new_run = np.ones(len(owner), dtype=bool)
    new_run[1:] = (owner[1:] != owner[:-1]) | (county[1:] != county[:-1])
    run = np.cumsum(new_run) - 1
    first = np.flatnonzero(new_run)
    run_end = np.zeros(len(first))
    np.maximum.at(run_end, run, end)
    return {"owner": owner[first], "start": start[first], "end": run_end, "county": county[first]}
