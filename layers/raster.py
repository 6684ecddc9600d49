"""Raster PNG tiles of a catalog layer, for clients without vector-tile support.

A :class:`RasterLayer` is prepared once from a layer's features (Web Mercator geometries, an
STR tree, each feature's category); :meth:`RasterLayer.render` burns the features of one tile
into a 256 x 256 grid with :func:`rasterio.features.rasterize`, colours it with the catalog's
category colours and writes an RGBA PNG through a rasterio ``MemoryFile`` (GDAL's PNG driver).
Problem categories (gaps, overlaps, expired terms) are drawn last so they stay visible where
features meet, and lines wider than one pixel are thickened by one pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.io import MemoryFile

from rivernet.layers.catalog import Layer
from rivernet.layers.mvt import to_web_mercator

__all__ = ["ON_TOP", "TILE_SIZE", "RasterLayer", "rgba"]

TILE_SIZE = 256
ON_TOP: tuple[str, ...] = ("gap", "overlap", "expired")
"""Category values drawn over the others."""

Bounds = tuple[float, float, float, float]


def rgba(color: str, *, alpha: int = 255) -> tuple[int, int, int, int]:
    """``#rrggbb`` (or ``#rgb``) as an RGBA tuple.

    Parameters
    ----------
    color
        A CSS hex colour.
    alpha
        Opacity, 0-255.

    Returns
    -------
    tuple
        Red, green, blue, alpha.
    """
    text = color.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), alpha


@dataclass(eq=False)
class RasterLayer:
    """A layer prepared for raster tiles.

    Attributes
    ----------
    layer
        The catalog entry (colours, width, fill opacity).
    geometries
        Shapely geometries in EPSG:3857, in drawing order.
    rank
        Each feature's palette index (1-based, 0 = transparent), in drawing order.
    palette
        ``(n_colours + 1, 4)`` RGBA rows; row 0 is transparent.
    """

    layer: Layer
    geometries: NDArray[np.object_]
    rank: NDArray[np.uint8]
    palette: NDArray[np.uint8]
    tree: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geometries)

    @classmethod
    def from_frame(
        cls, layer: Layer, frame: gpd.GeoDataFrame, *, on_top: Sequence[str] = ON_TOP
    ) -> RasterLayer:
        """Prepare a layer's features (any CRS) for rendering.

        Parameters
        ----------
        layer
            The catalog entry.
        frame
            The layer's features with a CRS (from :func:`rivernet.layers.sources.layer_frame`).
        on_top
            Category values drawn after all others.

        Returns
        -------
        RasterLayer
            The prepared layer.

        Raises
        ------
        CRSError
            If the frame has no CRS.
        """
        mercator = to_web_mercator(frame, name=layer.id)
        colours, category = _categories(layer, mercator, on_top=on_top)
        alpha = 255 if layer.geometry_type != "polygon" else max(round(layer.fill_opacity * 255), 1)
        palette = np.array([(0, 0, 0, 0), *(rgba(c, alpha=alpha) for c in colours)], np.uint8)
        order = np.argsort(category, kind="stable")
        geoms = np.asarray(mercator.geometry.values, dtype=object)[order]
        return cls(layer, geoms, (category[order] + 1).astype(np.uint8), palette)

    def render(self, bounds: Bounds, *, size: int = TILE_SIZE) -> bytes:
        """The PNG tile with the given Web Mercator bounds.

        Parameters
        ----------
        bounds
            ``(minx, miny, maxx, maxy)`` in EPSG:3857.
        size
            Width and height in pixels.

        Returns
        -------
        bytes
            An RGBA PNG (fully transparent where there is no feature).
        """
        grid = self.grid(bounds, size=size)
        return png_bytes(self.palette[grid], bounds)

    def grid(self, bounds: Bounds, *, size: int = TILE_SIZE) -> NDArray[np.uint8]:
        """The palette index of every pixel of a tile (0 = no feature)."""
        pad = (bounds[2] - bounds[0]) / size
        box = shapely.box(bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
        rows = np.sort(self.tree.query(box))
        grid = np.zeros((size, size), dtype=np.uint8)
        if rows.size == 0:
            return grid
        transform = _transform(bounds, size, size)
        clipped = shapely.clip_by_rect(self.geometries[rows], *box.bounds)
        keep = ~shapely.is_empty(clipped)
        shapes = zip(clipped[keep], self.rank[rows][keep].tolist(), strict=True)
        rasterize(shapes, out=grid, transform=transform, all_touched=True)
        if self.layer.geometry_type != "polygon" and self.layer.width >= 2:
            grid = _thicken(grid)
        return grid


def _categories(
    layer: Layer, frame: gpd.GeoDataFrame, *, on_top: Sequence[str]
) -> tuple[list[str], NDArray[np.int64]]:
    """Colours in drawing order and each feature's position in that list."""
    values = [c.value for c in layer.categories]
    prop = layer.category_property
    if prop is None or prop not in frame.columns or not values:
        return [layer.color], np.zeros(len(frame), dtype=np.int64)
    drawing = [v for v in values if v not in on_top] + [v for v in values if v in on_top]
    colours = [layer.color] + [layer.color_of(v) for v in drawing]
    lookup = {v: i + 1 for i, v in enumerate(drawing)}
    category = np.array([lookup.get(v, 0) for v in frame[prop].tolist()], dtype=np.int64)
    return colours, category


def _thicken(grid: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Grow lines by one pixel; where colours meet, the later-drawn (higher) index wins."""
    out = grid.copy()
    np.maximum(out[1:, :], grid[:-1, :], out=out[1:, :])
    np.maximum(out[:-1, :], grid[1:, :], out=out[:-1, :])
    np.maximum(out[:, 1:], grid[:, :-1], out=out[:, 1:])
    np.maximum(out[:, :-1], grid[:, 1:], out=out[:, :-1])
    return out


def png_bytes(image: NDArray[np.uint8], bounds: Bounds) -> bytes:
    """An RGBA image (rows x cols x 4) as PNG bytes, written by GDAL's PNG driver.

    Parameters
    ----------
    image
        ``(height, width, 4)`` unsigned bytes.
    bounds
        ``(minx, miny, maxx, maxy)`` in EPSG:3857: the dataset's transform while it is
        written (the PNG itself carries no georeferencing; tile URLs say where it lies).

    Returns
    -------
    bytes
        The PNG file.
    """
    height, width = image.shape[:2]
    profile = {
        "driver": "PNG",
        "width": width,
        "height": height,
        "count": 4,
        "dtype": "uint8",
        "transform": _transform(bounds, width, height),
    }
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(np.moveaxis(image, 2, 0))
        return bytes(memory.read())


def _transform(bounds: Bounds, width: int, height: int) -> Affine:
    """The affine transform of a north-up grid covering ``bounds``."""
    minx, miny, maxx, maxy = bounds
    return Affine((maxx - minx) / width, 0.0, minx, 0.0, -(maxy - miny) / height, maxy)
