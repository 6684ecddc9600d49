"""Raster PNG tiles drawn with rasterio in the catalog colours."""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image
from shapely import LineString, box

from rivernet import CRSError
from rivernet.layers.catalog import layer
from rivernet.layers.raster import RasterLayer, png_bytes, rgba

BOUNDS = (0.0, 0.0, 2560.0, 2560.0)  # 10 m pixels in EPSG:3857


def image(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def coverage_frame() -> gpd.GeoDataFrame:
    # a covered river along row 100 and a gap crossing it along column 50
    return gpd.GeoDataFrame(
        {"status": ["covered", "gap", "mystery"]},
        geometry=[
            LineString([(0, 1555), (2560, 1555)]),
            LineString([(505, 0), (505, 2560)]),
            LineString([(2005, 0), (2005, 2560)]),
        ],
        crs="EPSG:3857",
    )


def test_rgba() -> None:
    assert rgba("#1a9850") == (0x1A, 0x98, 0x50, 255)
    assert rgba("#abc", alpha=10) == (0xAA, 0xBB, 0xCC, 10)


def test_lines_get_category_colours_and_problems_win() -> None:
    coverage = layer("coverage")
    tile = image(RasterLayer.from_frame(coverage, coverage_frame()).render(BOUNDS))
    assert tile.shape == (256, 256, 4)
    assert tuple(tile[100, 10]) == rgba(coverage.color_of("covered"))
    assert tuple(tile[10, 50]) == rgba(coverage.color_of("gap"))
    assert tuple(tile[100, 50]) == rgba(coverage.color_of("gap"))  # drawn on top
    assert tuple(tile[10, 200]) == rgba(coverage.color)  # unknown status: layer colour
    assert tile[200, 150, 3] == 0  # nothing there: transparent
    assert tile[101, 10, 3] == 255  # width 2: thickened by one pixel


def test_polygons_are_filled_with_the_fill_opacity() -> None:
    lakes = layer("lakes")
    frame = gpd.GeoDataFrame(geometry=[box(500, 500, 1500, 1500)], crs="EPSG:3857")
    tile = image(RasterLayer.from_frame(lakes, frame).render(BOUNDS))
    assert tuple(tile[150, 100]) == rgba(lakes.color, alpha=round(lakes.fill_opacity * 255))
    assert tile[10, 10, 3] == 0


def test_empty_tiles_are_transparent_and_frames_need_a_crs() -> None:
    raster = RasterLayer.from_frame(layer("coverage"), coverage_frame())
    assert image(raster.render((1e6, 1e6, 1.1e6, 1.1e6)))[..., 3].max() == 0
    with pytest.raises(CRSError):
        RasterLayer.from_frame(layer("coverage"), gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))


def test_png_bytes_round_trip() -> None:
    pixels = np.zeros((4, 8, 4), dtype=np.uint8)
    pixels[1, 2] = (1, 2, 3, 4)
    assert (image(png_bytes(pixels, BOUNDS)) == pixels).all()
