"""Tile, TileJSON, style and web-page routes through FastAPI's TestClient."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely.geometry
from fastapi.testclient import TestClient

from rivernet.project import Project
from rivernet.server import create_app
from rivernet.server.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")
PUBLIC = "https://maps.example.cn/rivers"
MVT = "application/vnd.mapbox-vector-tile"


@pytest.fixture(scope="module")
def busy_tile(project: Project) -> str:
    """z/x/y of a zoom-10 tile with rivers in it."""
    reaches = project.network.reaches
    anchor = reaches.geometry.iloc[len(reaches) // 3].interpolate(0.5, normalized=True)
    tile = TMS.tile(anchor.x, anchor.y, 10)
    return f"{tile.z}/{tile.x}/{tile.y}"


def test_vector_tile_decodes_to_the_layer(client: TestClient, project: Project, busy_tile: str):
    response = client.get(
        f"/tiles/reaches/{busy_tile}.mvt", headers={"Accept-Encoding": "identity"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == MVT
    assert "content-encoding" not in response.headers
    features = mapbox_vector_tile.decode(response.content)["reaches"]["features"]
    ids = {f["properties"]["reach_id"] for f in features}
    assert ids and ids <= set(project.network.reaches.index)
    assert set(features[0]["properties"]) <= {"reach_id", "name", "ORD_STRA", "length_m"}
    # Exactly the catalog's properties, in every feature (missing values are left out).
    assert all("reach_id" in f["properties"] for f in features)
    assert all(
        set(f["properties"]) <= {"reach_id", "name", "ORD_STRA", "length_m"} for f in features
    )


def test_etag_and_304(client: TestClient, busy_tile: str) -> None:
    first = client.get(f"/tiles/reaches/{busy_tile}.mvt")
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "max-age" in first.headers["cache-control"]
    again = client.get(f"/tiles/reaches/{busy_tile}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


def test_gzip_is_precompressed_with_its_own_etag(client: TestClient, busy_tile: str) -> None:
    plain = client.get(f"/tiles/reaches/{busy_tile}.mvt", headers={"Accept-Encoding": "identity"})
    raw = client.get(
        f"/tiles/reaches/{busy_tile}.mvt",
        headers={"Accept-Encoding": "gzip"},
        extensions={"decode_content": False},  # keep the body as sent
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["vary"]
    assert raw.headers["etag"] != plain.headers["etag"]
    body = raw.content if raw.content[:2] != b"\x1f\x8b" else gzip.decompress(raw.content)
    assert body == plain.content


def test_ogc_path_puts_the_row_before_the_column(client: TestClient, busy_tile: str) -> None:
    z, x, y = busy_tile.split("/")
    xyz = client.get(f"/tiles/reaches/{z}/{x}/{y}.mvt")
    ogc = client.get(f"/collections/reaches/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert ogc.status_code == 200 and ogc.content == xyz.content


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/tiles/reaches/3/8/0.mvt", "列号 x 应为 0 到 7"),
        ("/tiles/reaches/3/-1/0.mvt", "列号 x 应为 0 到 7"),
        ("/tiles/reaches/25/0/0.mvt", "0 到 24 的缩放级别"),
        ("/collections/reaches/tiles/WebMercatorQuad/2/4/0", "行号 y 应为 0 到 3"),
        ("/tiles/reaches/3/0/9.png", "行号 y 应为 0 到 7"),
        ("/tiles/rivers/3/0/0.mvt", "图层目录中有"),
    ],
)
def test_out_of_range_is_404_problem(client: TestClient, path: str, fragment: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"]


def test_malformed_coordinates_are_400(client: TestClient) -> None:
    response = client.get("/tiles/reaches/3/x/0.mvt")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "x"
    assert client.get("/tiles/reaches/3/0/0.mvt?level=state").status_code == 400


def test_tiles_outside_the_layer_zooms_are_empty(client: TestClient) -> None:
    response = client.get("/tiles/crossings/2/3/1.mvt")  # crossings start at zoom 6
    assert response.status_code == 200 and response.content == b""


def test_raster_tile_is_a_png(client: TestClient, busy_tile: str) -> None:
    response = client.get(f"/tiles/reaches/{busy_tile}.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(response.content)))
    assert image.shape == (256, 256, 4)
    assert (image[..., 3] > 0).sum() > 50  # the rivers of a busy tile are drawn
    etag = response.headers["etag"]
    assert (
        client.get(f"/tiles/reaches/{busy_tile}.png", headers={"If-None-Match": etag}).status_code
        == 304
    )


def test_tilejson_uses_the_public_url(project: Project) -> None:
    app = create_app(Settings(public_url=PUBLIC + "/"), project=project)
    with TestClient(app) as client:
        document = client.get("/tiles/reaches/tilejson.json").json()
        style = client.get("/style.json").json()
    assert document["tilejson"] == "3.0.0"
    assert document["tiles"] == [f"{PUBLIC}/tiles/reaches/{{z}}/{{x}}/{{y}}.mvt"]
    west, south, east, north = document["bounds"]
    assert 118 < west < east < 122 and 30 < south < north < 32.5
    assert document["vector_layers"][0]["id"] == "reaches"
    assert all(s["url"].startswith(PUBLIC + "/tiles/") for s in style["sources"].values())


def test_tilejson_honours_the_root_path(project: Project) -> None:
    app = create_app(Settings(root_path="/rivers"), project=project)
    with TestClient(app, root_path="/rivers") as client:
        document = client.get("/tiles/lakes/tilejson.json").json()
    assert document["tiles"][0].startswith("http://testserver/rivers/tiles/lakes/")


def test_tilejson_of_analysis_layers_carries_level_and_date(client: TestClient) -> None:
    response = client.get("/tiles/boundary_rivers/tilejson.json?level=city")
    assert response.status_code == 200
    assert response.json()["tiles"][0].endswith("/tiles/boundary_rivers/{z}/{x}/{y}.mvt?level=city")
    assert client.get("/tiles/boundary_rivers/tilejson.json?datetime=yesterday").status_code == 400


def test_style_lists_available_layers_with_legend(client: TestClient) -> None:
    response = client.get("/style.json?lang=en")
    assert response.status_code == 200
    style = response.json()
    legend_ids = [entry["id"] for entry in style["metadata"]["rivernet:legend"]]
    assert {"admin_units", "lakes", "reaches"} <= set(style["sources"]) == set(legend_ids)
    assert "glyphs" not in style
    tiles_cached = client.get(
        "/style.json?lang=en", headers={"If-None-Match": response.headers["etag"]}
    )
    assert tiles_cached.status_code == 304


def test_coverage_layer_follows_the_roster(client: TestClient, project: Project) -> None:
    response = client.get("/tiles/coverage/8/213/105.mvt?level=county&datetime=2024-06-01")
    if project.roster is None:
        assert response.status_code == 404 and "roster" in response.json()["detail"]
    else:
        assert response.status_code == 200


def test_web_page_and_vendored_library(client: TestClient) -> None:
    page = client.get("/map")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "static/vendor/maplibre-gl/maplibre-gl.js" in page.text and "河湖一张图" in page.text
    assert "https://" not in page.text
    script = client.get("/static/vendor/maplibre-gl/maplibre-gl.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert client.get("/static/vendor/maplibre-gl/LICENSE.txt").status_code == 200
    assert (
        client.get(
            "/static/app.js",
            headers={"If-None-Match": client.get("/static/app.js").headers["etag"]},
        ).status_code
        == 304
    )
    assert client.get("/static/../routers/page.py").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404


def test_polygon_layers_fall_back_to_the_finest_polygon_level(client: TestClient) -> None:
    township = client.get("/tiles/boundary_rivers/tilejson.json?level=township").json()
    assert township["tiles"][0].endswith("?level=county")  # no township polygons in the sample
    assert client.get("/tiles/boundary_rivers/9/427/208.mvt?level=township").status_code == 200
    style = client.get("/style.json?level=village").json()
    assert style["metadata"]["rivernet:polygon_levels"] == ["province", "city", "county"]
    assert set(style["metadata"]["rivernet:polygon_layers"]) <= {"crossings", "boundary_rivers"}


def test_tilejson_attribution_names_the_project_sources(client: TestClient) -> None:
    assert "HydroRIVERS" in client.get("/tiles/reaches/tilejson.json").json()["attribution"]


COUNTY_ONLY_POLICY = """
name = "county chiefs only, no exemptions"
default_levels = ["county"]
covering_roles = ["河长", "湖长"]
"""


def _township_statuses(client: TestClient, as_of: str, tile: str) -> tuple[set, set]:
    """(reach id, status) pairs of a township coverage tile and of its reaches' items."""
    query = {"level": "township", "datetime": as_of}
    response = client.get(f"/tiles/coverage/{tile}.mvt", params=query)
    assert response.status_code == 200, response.text
    features = mapbox_vector_tile.decode(response.content)["coverage"]["features"]
    in_tile = {(f["properties"]["reach_id"], f["properties"]["status"]) for f in features}
    reaches = {reach for reach, _ in in_tile}
    items = client.get("/collections/coverage/items", params={**query, "limit": 10_000})
    in_items = {
        (f["properties"]["reach_id"], f["properties"]["status"])
        for f in items.json()["features"]
        if f["properties"]["reach_id"] in reaches
    }
    return in_tile, in_items


def _exempt_tile(client: TestClient, as_of: str) -> str:
    """z/x/y of the zoom-10 tile holding a township piece exempt under the sample policy."""
    query = {"level": "township", "status": "exempt", "datetime": as_of, "limit": 1}
    exempt = client.get("/collections/coverage/items", params=query).json()["features"][0]
    point = shapely.geometry.shape(exempt["geometry"]).representative_point()
    tile = TMS.tile(point.x, point.y, 10)
    return f"{tile.z}/{tile.x}/{tile.y}"


def test_coverage_tiles_follow_the_server_policy(
    roster_sample: tuple[Path, Any], tmp_path: Path
) -> None:
    path, as_of = roster_sample
    policy = tmp_path / "county-only.toml"
    policy.write_text(COUNTY_ONLY_POLICY, encoding="utf-8")
    with TestClient(create_app(Settings(project=path))) as client:
        tile = _exempt_tile(client, as_of.isoformat())
        in_tile, in_items = _township_statuses(client, as_of.isoformat(), tile)
    assert "exempt" in {status for _, status in in_tile}
    assert in_tile <= in_items
    with TestClient(create_app(Settings(project=path, policy=policy))) as client:
        in_tile, in_items = _township_statuses(client, as_of.isoformat(), tile)
    assert {status for _, status in in_tile} == {"not_required"}
    assert in_tile <= in_items


def test_the_page_has_a_cjk_web_font_of_its_own(client: TestClient) -> None:
    """Browsers without a CJK font (a bare Linux machine) get Noto Sans SC from the server."""
    font = client.get("/fonts/cjk.otf")
    assert font.status_code == 200 and font.headers["content-type"] == "font/otf"
    assert font.content[:4] == b"OTTO" and len(font.content) > 1_000_000
    assert font.headers["etag"]
    css = client.get("/static/app.css").text
    assert 'url("../fonts/cjk.otf")' in css and "unicode-range" in css
    # system CJK fonts come first: the web font is downloaded only where none is installed
    stack = css[css.index('font-family: "PingFang SC"') :].split(";")[0]
    assert stack.index("PingFang SC") < stack.index("rivernet CJK")
