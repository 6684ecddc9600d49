"""Interactive maps (rivernet.layers.folium): offline HTML, catalog legend, compact encoding."""

from __future__ import annotations

import json
import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

import rivernet
from bench.synthetic import synthetic_network
from rivernet.errors import InputError, NotFoundError
from rivernet.layers.catalog import layer
from rivernet.layers.folium import (
    SCALE,
    decode_ints,
    encode_ints,
    encode_layer,
    explore,
    leaflet_assets,
)
from tests._maps_sample import AS_OF, sample_with_roster
from tests.conftest import CHROMIUM, NO_CHROMIUM

# Strings that look like URLs but are never requested: the SVG namespace and the link in
# Leaflet's licence banner.
HARMLESS_URLS = {"http://www.w3.org/2000/svg", "https://leafletjs.com"}


@pytest.fixture(scope="module")
def project() -> rivernet.Project:
    return rivernet.open_project(sample_with_roster())


@pytest.fixture(scope="module")
def coverage_html(project: rivernet.Project) -> str:
    fmap = rivernet.explore(project, layer="coverage", as_of=AS_OF)
    return str(fmap.get_root().render())


def external_references(page: str) -> list[str]:
    """Every http(s) URL of a page, except harmless strings that are never fetched."""
    urls = set(re.findall(r"https?://[^\s\"'<>)\\]+", page))
    return sorted(urls - HARMLESS_URLS)


class _References(HTMLParser):
    """Collects the src/href attributes of the page's tags (script bodies are not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v for k, v in attrs if k in ("src", "href", "data", "srcset") and v]


def tag_references(page: str) -> list[str]:
    """Every src/href of the page's elements."""
    parser = _References()
    parser.feed(page)
    return parser.found


def test_offline_page_requests_nothing(coverage_html: str) -> None:
    assert external_references(coverage_html) == []
    assert [s for s in tag_references(coverage_html) if not s.startswith(("data:", "#"))] == []
    css_urls = [u.strip("'\" ") for u in re.findall(r"url\(([^)]*)\)", coverage_html)]
    assert [u for u in css_urls if not u.startswith(("data:", "#"))] == []
    for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "openstreetmap"):
        assert cdn not in coverage_html


def test_leaflet_is_inlined_without_source_map() -> None:
    css, js = leaflet_assets()
    assert "sourceMappingURL" not in js
    assert 'L.version="1.9.4"' in js.replace(" ", "") or "1.9.4" in js
    assert "images/" not in css and "data:image/png;base64," in css


def test_online_mode_keeps_folium_links(project: rivernet.Project) -> None:
    page = explore(project, layer="lakes", offline=False).get_root().render()
    assert "cdn.jsdelivr.net/npm/leaflet" in page


def test_legend_lists_catalog_categories(coverage_html: str, project: rivernet.Project) -> None:
    for category in layer("coverage").categories:
        assert category.label_zh in coverage_html
        assert category.color in coverage_html
    english = explore(project, layer="coverage", as_of=AS_OF, lang="en").get_root().render()
    for category in layer("coverage").categories:
        assert category.label_en in english


def test_popups_carry_chiefs_by_level(coverage_html: str, project: rivernet.Project) -> None:
    status = rivernet.coverage_status(project, level="county", as_of=AS_OF)
    name = next(c for c in status["chiefs"].dropna() if c)
    assert "县级河长" in coverage_html
    assert name.split("\n")[0].split("、")[0].split(" ")[0] in coverage_html


def test_crossing_popups_name_partner_chiefs(project: rivernet.Project) -> None:
    page = explore(project, layer="crossings", as_of=AS_OF).get_root().render()
    crossings = rivernet.crossings(project, level="county", as_of=AS_OF)
    assert "上下游河长" in page
    assert str(crossings["upstream_chiefs"].dropna().iloc[0]).split("、")[0] in page


def test_explore_a_result_frame(project: rivernet.Project) -> None:
    gaps = rivernet.coverage_gaps(project, as_of=AS_OF)
    page = rivernet.explore(gaps, layer="coverage_gaps").get_root().render()
    assert layer("coverage_gaps").title_zh in page
    assert external_references(page) == []
    assert "rivernet.furniture(map_" in page and ', "");' in page  # a frame names no sources


@given(st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=200))
def test_integer_packing_round_trips(values: list[int]) -> None:
    packed = encode_ints(np.array(values, dtype=np.int64))
    assert set(packed) <= {chr(c) for c in range(63, 127)}
    assert decode_ints(packed).tolist() == values


def test_encoded_layer_decodes_to_the_geometry() -> None:
    lines = synthetic_network(200, with_geometry=True, seed=3)
    record = encode_layer(lines, layer("reaches"))
    deltas = decode_ints(record["coords"]).reshape(-1, 2)
    decoded = np.cumsum(deltas, axis=0) / SCALE
    expected = shapely.get_coordinates(lines.geometry.to_numpy())
    np.testing.assert_allclose(decoded, expected, atol=0.6 / SCALE)
    per_part = record["counts"][-1]
    assert sum(per_part) == len(expected) and record["n"][0] == len(lines)


def test_polygons_keep_rings(project: rivernet.Project) -> None:
    record = encode_layer(project.admin_units, layer("admin_units"))
    assert record["n"][0] == len(project.admin_units)
    rings = shapely.get_num_interior_rings(shapely.get_parts(project.admin_units.geometry)) + 1
    assert record["n"][1] == len(rings) and record["n"][2] == int(rings.sum())


def test_ten_thousand_reaches_fit_the_budget() -> None:
    reaches = synthetic_network(10_000, with_geometry=True)
    start = time.perf_counter()
    page = explore(reaches, layer="reaches").get_root().render()
    elapsed = time.perf_counter() - start
    assert len(page.encode()) <= 3_000_000
    assert elapsed <= 2.0
    assert external_references(page) == []


def test_large_layer_uses_server_tiles() -> None:
    reaches = synthetic_network(300, with_geometry=True)
    page = (
        explore(
            reaches, layer="reaches", max_inline_features=100, server_url="http://localhost:8000/"
        )
        .get_root()
        .render()
    )
    assert "http://localhost:8000/tiles/reaches/{z}/{x}/{y}.png?level=county" in page
    assert "rivernet.data[" not in page


def test_errors(project: rivernet.Project) -> None:
    with pytest.raises(NotFoundError, match="catalog has"):
        explore(project, layer="nope")
    with pytest.raises(InputError, match="lang"):
        explore(project, layer="lakes", lang="fr")
    with pytest.raises(InputError, match="no features"):
        explore(synthetic_network(10, with_geometry=True).iloc[:0], layer="reaches")


@pytest.mark.browser
def test_map_draws_in_headless_chromium(tmp_path: Path, project: rivernet.Project) -> None:
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    chromium = str(CHROMIUM)
    fmap = explore(project, layer="coverage", as_of=AS_OF)
    page = (
        fmap.get_root()
        .render()
        .replace(
            "</body>",
            "<script>window.addEventListener('load', function () {"
            "document.title = 'drawn:' + rivernet.drawn; });</script></body>",
        )
    )
    file = tmp_path / "map.html"
    file.write_text(page, encoding="utf-8")
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
        file.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    drawn = int(re.search(r"<title>drawn:(\d+)</title>", dom).group(1))  # type: ignore[union-attr]
    expected = len(project.admin_units) + len(project.lakes)
    assert drawn > expected
    assert "rivernet-legend" in dom
    assert "leaflet-control-scale" in dom  # the metric scale bar
    assert "leaflet-control-attribution" in dom and "HydroRIVERS" in dom  # the data credits


def test_tile_urls_are_served_by_rivernet_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    import morecantile
    from fastapi.testclient import TestClient

    from rivernet.server import create_app

    monkeypatch.setenv("RIVERNET_PROJECT", str(sample_with_roster()))
    project = rivernet.open_project(sample_with_roster())
    page = explore(project, layer="coverage", as_of=AS_OF, max_inline_features=10,
                   server_url="http://testserver").get_root().render()  # fmt: skip
    quoted = re.search(r'"http://testserver/tiles/[^"]+"', page).group(0)  # type: ignore[union-attr]
    template = json.loads(quoted)  # the page holds it as a JSON string (& as \u0026)
    tile = morecantile.tms.get("WebMercatorQuad").tile(120.6, 31.3, 10)
    url = template.format(z=tile.z, x=tile.x, y=tile.y).replace("http://testserver", "")
    with TestClient(create_app()) as client:
        answer = client.get(url)
    assert answer.status_code == 200, url
    assert answer.content[:8] == b"\x89PNG\r\n\x1a\n"


def layer_records(page: str) -> list[dict[str, object]]:
    """The compact layer records inlined in a page."""
    found = re.findall(r"rivernet\.data\['[^']+'\] = (\{.*?\});</script>", page)
    return [json.loads(text.replace("<\\/", "</")) for text in found]


def test_coverage_under_a_policy(project: rivernet.Project) -> None:
    from tests._maps_sample import POLICY

    exempt = [c.value for c in layer("coverage").categories].index("exempt")
    page = explore(project, layer="coverage", as_of=AS_OF, policy=POLICY).get_root().render()
    record = next(r for r in layer_records(page) if r["title"] == layer("coverage").title_zh)
    status = rivernet.coverage_status(project, level="county", as_of=AS_OF, policy=POLICY)
    assert record["n"][0] == len(status)  # type: ignore[index]
    assert record["cat"].count(exempt) == (status["status"] == "exempt").sum() > 0  # type: ignore[union-attr]


def test_rivernet_does_not_import_layers_or_folium() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rivernet; rivernet.explore; rivernet.render; rivernet.unit_report; "
        "assert not {'layers', 'folium', 'matplotlib'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
