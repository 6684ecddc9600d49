"""Static maps (rivernet.layers.static): legend, Chinese glyphs, extent, scale bar, formats."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

import rivernet
from rivernet.errors import InputError, NotFoundError, RivernetError
from rivernet.layers import static
from rivernet.layers.catalog import layer
from rivernet.layers.static import map_figure, nice_length, render
from tests._maps_sample import AS_OF, COUNTY, sample_with_roster


@pytest.fixture(scope="module")
def project() -> rivernet.Project:
    return rivernet.open_project(sample_with_roster())


@pytest.fixture(scope="module")
def coverage_svg(project: rivernet.Project, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("static") / "coverage.svg"
    rivernet.render(project, layer="coverage", extent=COUNTY, path=path, as_of=AS_OF)
    return path.read_text(encoding="utf-8")


def png_pixels(path: Path) -> np.ndarray:
    from matplotlib import image

    return (image.imread(path)[..., :3] * 255).round().astype(int)


def has_colour(pixels: np.ndarray, colour: str, *, tolerance: int = 6) -> bool:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels - rgb).max(axis=-1) <= tolerance).any())


def test_legend_lists_every_category(coverage_svg: str) -> None:
    for category in layer("coverage").categories:
        assert f"<!-- {category.label_zh} -->" in coverage_svg
    assert f"<!-- {layer('coverage').title_zh} -->" in coverage_svg


def test_legend_colours_are_drawn(project: rivernet.Project, tmp_path: Path) -> None:
    path = render(project, layer="coverage", extent=COUNTY, path=tmp_path / "m.png", as_of=AS_OF)
    pixels = png_pixels(path)
    for category in layer("coverage").categories:
        assert has_colour(pixels, category.color), category.value


def test_chinese_glyphs_come_from_a_cjk_font(coverage_svg: str) -> None:
    from matplotlib import font_manager

    family = static.cjk_font()
    font = font_manager.get_font(font_manager.findfont(font_manager.FontProperties(family=family)))
    assert font.family_name == family
    # matplotlib's SVG names each glyph "<PostScript name>-<glyph index in hex>".
    defined = set(re.findall(r'id="([^"]+)"', coverage_svg))
    for char in "已覆盖缺失河长":
        index = font.get_char_index(ord(char))
        assert index != 0, char
        assert f"{font.postscript_name}-{index:x}" in defined, char
    assert not any(name.startswith("DejaVu") for name in defined)


def test_chinese_differs_from_tofu(
    project: rivernet.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {"layer": "lakes", "extent": COUNTY, "title": "已覆盖缺失河长", "dpi": 80}
    good = png_pixels(render(project, path=tmp_path / "cjk.png", **options))
    monkeypatch.setattr(static, "missing_glyphs", lambda family, text: "")
    with pytest.warns(UserWarning, match="missing from font"):
        tofu = png_pixels(
            render(project, path=tmp_path / "tofu.png", font="DejaVu Sans", **options)
        )
    # Same map, same layout: only the Chinese text (title, legend, place names) differs.
    assert good.shape == tofu.shape
    assert (good != tofu).any(axis=-1).sum() > 500


def test_a_font_without_chinese_is_refused(project: rivernet.Project, tmp_path: Path) -> None:
    with pytest.raises(RivernetError, match="pylopdf-fonts-zh-cn"):
        render(project, layer="lakes", extent=COUNTY, path=tmp_path / "x.png", font="DejaVu Sans")


def test_missing_cjk_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "CJK_FAMILIES", ("No Such Font",))
    monkeypatch.setattr(static, "_font_files", list)
    with pytest.raises(RivernetError, match="pip install rivernet\\[maps\\]"):
        static.cjk_font()


def test_extent_is_the_units_bounds(project: rivernet.Project, tmp_path: Path) -> None:
    figure = map_figure(project, layer="coverage", extent=COUNTY, as_of=AS_OF)
    unit = project.admin_units[project.admin_units["code"] == COUNTY]
    west, south, east, north = unit.to_crs(4326).total_bounds
    ax = figure.axes[0]
    pad_x, pad_y = (east - west) * static._PAD, (north - south) * static._PAD
    np.testing.assert_allclose(ax.get_xlim(), (west - pad_x, east + pad_x))
    np.testing.assert_allclose(ax.get_ylim(), (south - pad_y, north + pad_y))
    path = render(project, layer="lakes", extent=COUNTY, path=tmp_path / "m.png")
    from PIL import Image

    with Image.open(path) as image:
        description = image.info["Description"]
    shown = [float(v) for v in description.split(")")[-1].strip().split(",")]
    np.testing.assert_allclose(shown, (west, south, east, north), atol=1e-6)


def test_legend_stands_beside_the_map(project: rivernet.Project) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = map_figure(project, layer="coverage", extent=COUNTY, as_of=AS_OF)
    FigureCanvasAgg(figure).draw()
    ax = figure.axes[0]
    legend, frame = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= frame.x1  # outside the frame: it hides no feature
    assert legend.x1 <= figure.bbox.x1 + 1  # and inside the canvas


def test_scale_bar_is_true_at_the_map_latitude(project: rivernet.Project) -> None:
    figure = map_figure(project, layer="lakes", extent=COUNTY)
    west, east, lat, length_m = figure.axes[0].rivernet_scale_bar
    assert Geod(ellps="WGS84").inv(west, lat, east, lat)[2] == pytest.approx(length_m, rel=1e-6)
    assert str(int(length_m / 1000)) in "".join(t.get_text() for t in figure.axes[0].texts)


def test_nice_lengths() -> None:
    assert [nice_length(v) for v in (0.5, 7, 38_000, 120_000)] == [1, 5, 20_000, 100_000]


def test_formats_and_bbox_extent(project: rivernet.Project, tmp_path: Path) -> None:
    box = (120.3, 31.2, 120.8, 31.5)
    for suffix in ("png", "svg", "pdf"):
        path = render(project, layer="reaches", extent=box, path=tmp_path / f"m.{suffix}")
        assert path.stat().st_size > 1000
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "m.pdf").read_bytes()[:4] == b"%PDF"
    english = io.StringIO((tmp_path / "m.svg").read_text(encoding="utf-8")).read()
    assert "<!-- 北 -->" in english


def test_result_frames_and_english(project: rivernet.Project, tmp_path: Path) -> None:
    crossings = rivernet.crossings(project, level="county", as_of=AS_OF)
    path = render(crossings, layer="crossings", extent=COUNTY, project=project, lang="en",
                  path=tmp_path / "c.svg")  # fmt: skip
    text = path.read_text(encoding="utf-8")
    assert "<!-- Handover sections -->" in text and "<!-- N -->" in text


def test_errors(project: rivernet.Project, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.png"):
        render(project, layer="lakes", path=tmp_path / "m.gif")
    with pytest.raises(NotFoundError, match="999999"):
        render(project, layer="lakes", extent="999999", path=tmp_path / "m.png")
    with pytest.raises(InputError, match="west < east"):
        render(project, layer="lakes", extent=(121, 31, 120, 32), path=tmp_path / "m.png")
