"""Tile pyramids: each map layer selected and generalised per zoom once, tiles cut from arrays.

A national project has a million reaches; a tile of China at zoom 3 cannot hold them all (30 MB)
and should not try: map makers keep the important rivers at small scales. A
:class:`LayerPyramid` prepares one layer once, as flat numpy arrays, so that any tile is cut in
milliseconds from a bounded number of features:

- **Selection by importance** (zooms 0 to :data:`SELECT_MAXZOOM`): every feature has an
  importance (reaches: the length of river upstream, so main stems and big rivers come first
  and a kept reach's downstream reaches are kept too; admin units: their level, then area;
  crossings: the river's upstream length at the crossing). At each zoom the features are
  ranked within the tile their box centre falls in and at most :data:`DENSITY_CAP` of them
  kept per tile (fewer for polygons), so the drawn density, the tile's size and the time to cut
  it stay bounded at every zoom.
- **Generalisation per zoom**: the kept geometries are simplified to a pixel of that zoom
  (polygons keeping valid rings) when the pyramid is built, not per request.
- **From** :data:`FULL_ZOOM` **up**, every feature is kept and the tile is generalised when
  cut, exactly as :class:`~rivernet.layers.mvt.TileLayer` does: the same features as the whole
  layer's tiles.

Each level holds, per kept feature, its row in the layer (property codes), its Web Mercator box
and its geometry as WKB in one byte array, plus a grid index (the tiles of the level's zoom,
capped at :data:`INDEX_MAXZOOM`, listing the features whose buffered box meets them). The
arrays are plain numpy arrays, so :mod:`rivernet.prepare` writes them next to the project and
the server memory-maps them (shared by its workers, paged in on use).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from rivernet.layers.catalog import Layer, layer
from rivernet.layers.mvt import (
    BUFFER,
    EXTENT,
    TOLERANCE,
    ValueTable,
    _clip,
    _factorise,
    _simplify,
    _tile,
    to_web_mercator,
)
from rivernet.layers.sources import layer_frame
from rivernet.pieces import PIECE_INPUTS

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "DENSITY_CAP",
    "FULL_ZOOM",
    "INDEX_MAXZOOM",
    "SELECT_MAXZOOM",
    "LayerPyramid",
    "Level",
    "importance",
    "layer_pyramid",
    "pyramid_key",
    "tile_bounds",
]

SELECT_MAXZOOM = 9
"""Highest zoom with a selected and pre-generalised level of its own."""
FULL_ZOOM = SELECT_MAXZOOM + 1
"""From this zoom up every feature is drawn, generalised when the tile is cut."""
INDEX_MAXZOOM = 10
"""Finest grid of the levels' indexes (tiles above it look in their ancestor's cell)."""
DENSITY_CAP = {"line": 2048, "point": 3000, "polygon": 1000}
"""At most this many features whose box centre falls in one tile, per zoom (by importance)."""

Bounds = tuple[float, float, float, float]
IntArray = NDArray[np.int64]
_HALF = 20037508.342789244  # half the Web Mercator world width, metres
_RANK = {"province": 3.0, "city": 2.0, "county": 1.0}


def tile_bounds(z: int, x: int, y: int) -> Bounds:
    """Web Mercator bounds ``(minx, miny, maxx, maxy)`` of tile ``z/x/y`` (WebMercatorQuad)."""
    size = 2 * _HALF / (1 << z)
    return (-_HALF + x * size, _HALF - (y + 1) * size, -_HALF + (x + 1) * size, _HALF - y * size)


# --- one level -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """The features of one zoom (or of every zoom from :data:`FULL_ZOOM`), as flat arrays.

    Attributes
    ----------
    zoom
        The zoom it was selected and generalised for (:data:`FULL_ZOOM`: all, not generalised).
    index_zoom
        The zoom of its grid index.
    rows
        Each feature's row in the layer (its property codes).
    boxes
        Each feature's Web Mercator box ``(minx, miny, maxx, maxy)``.
    wkb, wkb_offsets
        The geometries as WKB, back to back: feature ``i`` is ``wkb[offsets[i]:offsets[i+1]]``.
    cells, cell_starts, cell_items
        The grid index: sorted cell keys ``x << 32 | y`` at ``index_zoom``, and for cell ``k``
        the features ``cell_items[cell_starts[k]:cell_starts[k+1]]``.
    """

    zoom: int
    index_zoom: int
    rows: NDArray[np.int32]
    boxes: NDArray[np.float64]
    wkb: NDArray[np.uint8]
    wkb_offsets: NDArray[np.int64]
    cells: NDArray[np.int64]
    cell_starts: NDArray[np.int64]
    cell_items: NDArray[np.int32]

    ARRAYS = ("rows", "boxes", "wkb", "wkb_offsets", "cells", "cell_starts", "cell_items")

    @classmethod
    def build(
        cls, zoom: int, rows: IntArray, geometries: NDArray[np.object_], *, index_zoom: int
    ) -> Level:
        """A level of the given features (already selected and generalised)."""
        keep = ~(shapely.is_empty(geometries) | shapely.is_missing(geometries))
        rows, geometries = rows[keep], geometries[keep]
        blobs = shapely.to_wkb(geometries, output_dimension=2, byte_order=1)
        lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=blobs.size)
        offsets = np.zeros(blobs.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        wkb = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        boxes = shapely.bounds(geometries).astype(np.float64).reshape(-1, 4)
        cells, starts, items = _grid(boxes, index_zoom)
        return cls(
            zoom, index_zoom, rows.astype(np.int32), boxes, wkb, offsets, cells, starts, items
        )

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays."""
        return sum(int(getattr(self, name).nbytes) for name in self.ARRAYS)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """Its arrays by name (to write them)."""
        return {name: getattr(self, name) for name in self.ARRAYS}

    def candidates(self, bounds: Bounds) -> IntArray:
        """Positions of the features whose box meets ``bounds`` (a buffered tile), ascending."""
        minx, miny, maxx, maxy = bounds
        n = 1 << self.index_zoom
        size = 2 * _HALF / n
        cx = (minx + maxx) / 2
        cy = (miny + maxy) / 2
        x = min(max(int((cx + _HALF) // size), 0), n - 1)
        y = min(max(int((_HALF - cy) // size), 0), n - 1)
        span = max(maxx - minx, maxy - miny)
        if span > size * (1 + 2 * BUFFER / EXTENT) * 1.0001:  # coarser than a cell: every cell
            x0, x1 = _cell_range(minx, maxx, size, n, flip=False)
            y0, y1 = _cell_range(miny, maxy, size, n, flip=True)
            keys = ((np.arange(x0, x1 + 1)[:, None] << 32) | np.arange(y0, y1 + 1)[None, :]).ravel()
            found = np.searchsorted(self.cells, keys)
            inside = found < self.cells.size
            found, keys = found[inside], keys[inside]
            found = found[self.cells[found] == keys]
            if found.size == 0:
                return np.empty(0, dtype=np.int64)
            items = np.unique(
                np.concatenate(
                    [
                        self.cell_items[self.cell_starts[k] : self.cell_starts[k + 1]]
                        for k in found.tolist()
                    ]
                )
            ).astype(np.int64)
        else:
            key = (x << 32) | y
            k = int(np.searchsorted(self.cells, key))
            if k >= self.cells.size or int(self.cells[k]) != key:
                return np.empty(0, dtype=np.int64)
            items = self.cell_items[self.cell_starts[k] : self.cell_starts[k + 1]].astype(np.int64)
        box = self.boxes[items]
        meets = (
            (box[:, 0] <= maxx) & (box[:, 2] >= minx) & (box[:, 1] <= maxy) & (box[:, 3] >= miny)
        )
        return items[meets]

    def geometries(self, positions: IntArray) -> NDArray[np.object_]:
        """Shapely geometries of the features at ``positions``."""
        start = self.wkb_offsets[positions]
        end = self.wkb_offsets[positions + 1]
        view = self.wkb
        blobs = np.empty(positions.size, dtype=object)
        blobs[:] = [view[s:e].tobytes() for s, e in zip(start.tolist(), end.tolist(), strict=True)]
        return shapely.from_wkb(blobs)


def _cell_range(low: float, high: float, size: float, n: int, *, flip: bool) -> tuple[int, int]:
    if flip:
        a, b = int((_HALF - high) // size), int((_HALF - low) // size)
    else:
        a, b = int((low + _HALF) // size), int((high + _HALF) // size)
    return max(a, 0), min(b, n - 1)


def _grid(boxes: NDArray[np.float64], zoom: int) -> tuple[IntArray, IntArray, NDArray[np.int32]]:
    """The grid index of feature boxes at ``zoom``: every cell a buffered box meets."""
    n = 1 << zoom
    size = 2 * _HALF / n
    pad = size * BUFFER / EXTENT
    if boxes.shape[0] == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0, np.int32)
    x0 = np.clip(np.floor((boxes[:, 0] - pad + _HALF) / size), 0, n - 1).astype(np.int64)
    x1 = np.clip(np.floor((boxes[:, 2] + pad + _HALF) / size), 0, n - 1).astype(np.int64)
    y0 = np.clip(np.floor((_HALF - boxes[:, 3] - pad) / size), 0, n - 1).astype(np.int64)
    y1 = np.clip(np.floor((_HALF - boxes[:, 1] + pad) / size), 0, n - 1).astype(np.int64)
    width, height = x1 - x0 + 1, y1 - y0 + 1
    counts = width * height
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    local = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    keys = ((x0[owner] + local % width[owner]) << 32) | (y0[owner] + local // width[owner])
    order = np.lexsort((owner, keys))
    keys, owner = keys[order], owner[order]
    cells, starts = np.unique(keys, return_index=True)
    return cells, np.r_[starts, keys.size].astype(np.int64), owner.astype(np.int32)


# --- a layer's pyramid -------------------------------------------------------------------------


@dataclass(eq=False)
class LayerPyramid:
    """One map layer prepared for tiles at every zoom (see the module).

    Attributes
    ----------
    name
        Layer name in the tiles.
    geometry_type
        ``line``, ``polygon`` or ``point``.
    keys, codes, values
        Property names, per-feature value codes (-1: missing) and the encoded values, as
        :class:`~rivernet.layers.mvt.TileLayer` has them.
    built
        The levels by zoom: ``built[z]`` for ``z`` up to :data:`SELECT_MAXZOOM`, and the last
        one (all features) for every zoom above; None for a level not built yet (a pyramid
        made with :meth:`from_frame` builds each level when a tile first needs it, so a map
        viewed at a few zooms pays for those: a live roster rebuilds the coverage layers at
        every edit).
    source
        What builds the missing levels (None: all are built).
    """

    name: str
    geometry_type: str
    keys: tuple[str, ...]
    codes: NDArray[np.integer[Any]]
    values: ValueTable
    built: list[Level | None]
    source: _Source | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def levels(self) -> tuple[Level, ...]:
        """Every level (building those not built yet)."""
        return tuple(self._level_at(k) for k in range(len(self.built)))

    def _level_at(self, k: int) -> Level:
        found = self.built[k]
        if found is None:
            with self._lock:
                found = self.built[k]
                if found is None:
                    assert self.source is not None
                    found = self.built[k] = self.source.level(k)
                    if all(level is not None for level in self.built):
                        self.source = None  # every level built: let the geometries go
        return found

    @classmethod
    def from_frame(
        cls,
        name: str,
        frame: gpd.GeoDataFrame,
        *,
        geometry_type: str,
        importance: NDArray[np.float64] | None = None,
        properties: Sequence[str] | None = None,
    ) -> LayerPyramid:
        """Select and generalise a layer's features for every zoom.

        Parameters
        ----------
        name
            Layer name in the tiles.
        frame
            The features, with a CRS.
        geometry_type
            ``line``, ``polygon`` or ``point`` (picks the density cap).
        importance
            One value per row, larger kept first (default: all equal, kept in row order).
        properties
            Columns written as feature properties (default: every other column).

        Returns
        -------
        LayerPyramid
            The pyramid.
        """
        mercator = to_web_mercator(frame, name=name)
        keys, codes, values = _properties(frame, properties)
        geoms = np.asarray(mercator.geometry.values, dtype=object)
        weight = np.zeros(len(geoms)) if importance is None else np.asarray(importance, dtype=float)
        cap = DENSITY_CAP.get(geometry_type, DENSITY_CAP["line"])
        source = _Source(geoms, weight, cap)
        built: list[Level | None] = [None] * (FULL_ZOOM + 1)
        return cls(name, geometry_type, keys, _narrow(codes), values, built, source)

    def with_properties(
        self, frame: pd.DataFrame, *, properties: Sequence[str] | None = None
    ) -> LayerPyramid:
        """This pyramid's features (levels, geometries) with new properties.

        The levels are shared, not copied: a level built by either pyramid serves both. For
        layers whose features stay while their properties change (the coverage of the pieces
        under a new roster), this costs the properties, not the geometry.

        Parameters
        ----------
        frame
            One row per feature, in this pyramid's feature order (a geometry column is
            ignored).
        properties
            Columns written as feature properties (default: every non-geometry column).

        Returns
        -------
        LayerPyramid
            The pyramid with the new properties.

        Raises
        ------
        ValueError
            If ``frame`` does not have one row per feature.
        """
        if len(frame) != len(self):
            raise ValueError(f"{len(frame)} rows for a pyramid of {len(self)} features")
        keys, codes, values = _properties(frame, properties)
        return dataclasses.replace(self, keys=keys, codes=_narrow(codes), values=values)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays."""
        values = self.values.blob.nbytes + self.values.start.nbytes + self.values.length.nbytes
        return int(self.codes.nbytes) + values + sum(level.nbytes for level in self.levels)

    def level(self, z: int) -> Level:
        """The level tiles of zoom ``z`` are cut from (built now if it was not)."""
        return self._level_at(min(z, len(self.built) - 1))

    def encode(self, z: int, x: int, y: int) -> bytes:
        """The MVT tile ``z/x/y`` of this layer (``b""`` when it has no feature).

        Parameters
        ----------
        z, x, y
            The tile in the WebMercatorQuad matrix set.

        Returns
        -------
        bytes
            A serialised ``Tile`` with this layer.
        """
        return self.encode_bounds(tile_bounds(z, x, y), z=z)

    def encode_bounds(self, bounds: Bounds, *, z: int) -> bytes:
        """The tile with Web Mercator ``bounds`` at zoom ``z`` (see :meth:`encode`)."""
        level = self.level(z)
        clip = _buffered(bounds)
        found = level.candidates(clip)
        if found.size == 0:
            return b""
        geoms = _clip(level.geometries(found), clip)
        if level.zoom >= FULL_ZOOM:  # every feature, generalised now (as TileLayer does)
            geoms = _simplify(geoms, TOLERANCE * (bounds[2] - bounds[0]) / EXTENT)
        rows = level.rows[found].astype(np.int64)
        order = np.argsort(rows, kind="stable")  # features in layer order, as TileLayer has
        return _tile(
            self.name,
            geoms[order],
            np.asarray(self.codes[rows[order]], dtype=np.int64),
            self.keys,
            self.values,
            bounds=bounds,
            extent=EXTENT,
            buffer=BUFFER,
        )

    @property
    def boxes(self) -> NDArray[np.float64]:
        """Web Mercator boxes of every (non-empty) feature."""
        return self._level_at(len(self.built) - 1).boxes

    @property
    def geometries(self) -> NDArray[np.object_]:
        """Every feature's Web Mercator geometry (built from the arrays: costly for big layers)."""
        full = self._level_at(len(self.built) - 1)
        out = np.full(len(self), None, dtype=object)
        out[full.rows] = full.geometries(np.arange(len(full), dtype=np.int64))
        return out

    def arrays(self) -> Iterator[tuple[str, NDArray[Any]]]:
        """Every array of the pyramid with a file-like name (``codes``, ``values.blob``,
        ``level3.wkb``...), to write it."""
        yield "codes", self.codes
        yield "values.blob", self.values.blob
        yield "values.start", self.values.start
        yield "values.length", self.values.length
        for k, level in enumerate(self.levels):
            for name, array in level.arrays().items():
                yield f"level{k}.{name}", array

    def meta(self) -> dict[str, Any]:
        """What is not an array: name, type, keys, each level's zooms."""
        return {
            "name": self.name,
            "geometry_type": self.geometry_type,
            "keys": list(self.keys),
            "levels": [[level.zoom, level.index_zoom] for level in self.levels],
        }

    @classmethod
    def from_arrays(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]
    ) -> LayerPyramid:
        """The pyramid from :meth:`meta` and :meth:`arrays` (memory-mapped ones stay so)."""
        values = ValueTable(arrays["values.blob"], arrays["values.start"], arrays["values.length"])
        levels: list[Level | None] = [
            Level(
                int(zoom), int(index_zoom), *(arrays[f"level{k}.{name}"] for name in Level.ARRAYS)
            )
            for k, (zoom, index_zoom) in enumerate(meta["levels"])
        ]
        return cls(
            str(meta["name"]),
            str(meta["geometry_type"]),
            tuple(meta["keys"]),
            arrays["codes"],
            values,
            levels,
        )


@dataclass(frozen=True)
class _Source:
    """A layer's Web Mercator geometries and importance, to build its levels from."""

    geoms: NDArray[np.object_]
    weight: NDArray[np.float64]
    cap: int

    def level(self, k: int) -> Level:
        """Level ``k``: zoom ``k`` selected and generalised, or (:data:`FULL_ZOOM`) all."""
        if k < FULL_ZOOM:
            return _level(self.geoms, self.weight, k, cap=self.cap)
        every = np.arange(len(self.geoms), dtype=np.int64)
        return Level.build(FULL_ZOOM, every, self.geoms, index_zoom=INDEX_MAXZOOM)


def _properties(
    frame: pd.DataFrame, properties: Sequence[str] | None
) -> tuple[tuple[str, ...], IntArray, ValueTable]:
    """Keys, value codes and values of a layer's properties (``properties``, else every
    column but the geometry)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    columns = [c for c in frame.columns if c != geometry]
    if properties is not None:
        columns = [c for c in properties if c in frame.columns]
    return _factorise(pd.DataFrame(frame[columns]))


def _narrow(codes: IntArray) -> NDArray[np.integer[Any]]:
    """Value codes in int32 when they fit (half the memory of a national layer)."""
    if codes.size == 0 or int(codes.max(initial=0)) < 2**31 - 1:
        return codes.astype(np.int32)
    return codes


def _buffered(bounds: Bounds) -> Bounds:
    minx, miny, maxx, maxy = bounds
    dx = (maxx - minx) * BUFFER / EXTENT
    dy = (maxy - miny) * BUFFER / EXTENT
    return (minx - dx, miny - dy, maxx + dx, maxy + dy)


def _level(geoms: NDArray[np.object_], weight: NDArray[np.float64], z: int, *, cap: int) -> Level:
    """The features kept at zoom ``z`` (at most ``cap`` per tile by weight), generalised."""
    boxes = shapely.bounds(geoms)
    valid = np.asarray(np.isfinite(boxes).all(axis=1), dtype=bool)
    n = 1 << z
    size = 2 * _HALF / n
    cx = np.where(valid, (boxes[:, 0] + boxes[:, 2]) / 2, 0.0)
    cy = np.where(valid, (boxes[:, 1] + boxes[:, 3]) / 2, 0.0)
    x = np.clip(np.floor((cx + _HALF) / size), 0, n - 1).astype(np.int64)
    y = np.clip(np.floor((_HALF - cy) / size), 0, n - 1).astype(np.int64)
    cell = (x << 32) | y
    order = np.lexsort((np.arange(weight.size), -weight, cell))
    sorted_cell = cell[order]
    first = np.r_[True, sorted_cell[1:] != sorted_cell[:-1]]
    start = np.flatnonzero(first)
    rank = np.arange(order.size) - np.repeat(start, np.diff(np.r_[start, order.size]))
    kept = np.sort(order[(rank < cap) & valid[order]])
    tolerance = TOLERANCE * size / EXTENT
    simplified = _simplify(geoms[kept], tolerance)
    return Level.build(z, kept.astype(np.int64), simplified, index_zoom=min(z, INDEX_MAXZOOM))


# --- the catalog's layers ----------------------------------------------------------------------


def importance(project: Project, entry: Layer, frame: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """How important each feature of a catalog layer is at small scales (larger: kept first).

    Reaches and the features on them (coverage, gaps, crossings, boundary rivers): the length
    of river upstream of the reach (main stems first; a reach's downstream reach is never less
    important). Admin units: province, then city, then county, larger first. Lakes: area.
    Others: all equal.
    """
    if "reach_id" in frame.columns and len(project.network):
        upstream = project.network.upstream_length_km()
        weight = pd.Series(frame["reach_id"]).map(upstream).to_numpy(dtype=float, na_value=0.0)
        return np.nan_to_num(weight)
    if entry.geometry_type == "polygon":
        area = shapely.area(np.asarray(frame.geometry.values, dtype=object))
        area = np.nan_to_num(np.asarray(area, dtype=float))
        if "level" in frame.columns:
            rank = frame["level"].astype(str).map(_RANK).to_numpy(dtype=float, na_value=0.0)
            return np.nan_to_num(rank) * (1.0 + float(area.max(initial=0.0))) + area
        return area
    return np.zeros(len(frame))


def build_pyramid(
    project: Project,
    layer_id: str | Layer,
    *,
    as_of: dt.date | str | None = None,
    level: str | None = None,
) -> LayerPyramid:
    """Build the pyramid of a catalog layer from the project (no caching)."""
    entry = layer(layer_id)
    frame = layer_frame(project, entry, as_of=as_of, level=level)
    weight = importance(project, entry, frame)
    return LayerPyramid.from_frame(
        entry.id, frame, geometry_type=entry.geometry_type, importance=weight
    )


# Inputs each layer's features come from (the project caches a pyramid until one is replaced).
_DEPENDS = {
    "reaches": ("network",),
    "admin_units": ("admin_units",),
    "lakes": ("lakes",),
    "crossings": ("network", "admin_units", "lakes"),
}
ON_PIECES = frozenset({"coverage"})
"""Layers with one feature per piece of :func:`~rivernet.pieces.piece_table`, in its order:
their features do not change with the roster or the date, only their properties, so a new
roster (a live edit) reuses the generalised levels (:meth:`LayerPyramid.with_properties`)."""
DATE_FREE = frozenset({"reaches", "admin_units", "lakes", "crossings"})
"""Layers whose drawn features do not depend on the date (crossings draw the units' names, not
the chiefs'), so one pyramid serves every date."""


def pyramid_key(layer_id: str, level: str | None) -> str:
    """The name of a layer's pyramid at a level in a prepared sidecar (``crossings@county``)."""
    return f"{layer_id}@{level}" if level else layer_id


def layer_pyramid(
    project: Project,
    layer_id: str | Layer,
    *,
    as_of: dt.date | str | None = None,
    level: str | None = None,
    prepared: Any = None,
) -> LayerPyramid:
    """The tile pyramid of a catalog layer: from the prepared sidecar, else built (and kept).

    Parameters
    ----------
    project
        The project.
    layer_id
        A catalog layer id (or the layer).
    as_of, level
        The date and level of analysis layers (as for
        :func:`~rivernet.layers.sources.layer_frame`).
    prepared
        The project's prepared sidecar (:class:`rivernet.prepare.Prepared`); used when it was
        written for this project's file and holds the layer.

    Returns
    -------
    LayerPyramid
        The pyramid; built pyramids are kept with the project's derived results until an
        input they come from is replaced.
    """
    entry = layer(layer_id)
    name = pyramid_key(entry.id, level if entry.by_level else None)
    if prepared is not None and prepared.serves(project, name):
        pyramid: LayerPyramid = prepared.pyramid(name)
        return pyramid
    depends = _DEPENDS.get(entry.id, ("network", "admin_units", "lakes", "roster", "policy"))
    dated = as_of if entry.temporal and entry.id not in DATE_FREE else None
    key = (entry.id, str(dated) if dated is not None else None, level)

    def build() -> LayerPyramid:
        if entry.id in ON_PIECES:
            return _on_pieces(project, entry, as_of=as_of, level=level)
        return build_pyramid(project, entry, as_of=as_of, level=level)

    return project.derived("tile-pyramid", depends, key, build)


def _on_pieces(
    project: Project, entry: Layer, *, as_of: dt.date | str | None, level: str | None
) -> LayerPyramid:
    """The pyramid of a layer of :data:`ON_PIECES`: the features of the first one built for
    the project's pieces, with this roster's, date's and level's properties."""
    frame = layer_frame(project, entry, as_of=as_of, level=level)

    def features() -> LayerPyramid:
        weight = importance(project, entry, frame)
        return LayerPyramid.from_frame(entry.id, frame, geometry_type=entry.geometry_type,
                                       importance=weight)  # fmt: skip

    shared = project.derived("tile-pyramid-features", PIECE_INPUTS, entry.id, features)
    return shared.with_properties(frame)
