"""The sample's fictional river names and its roster in 公示-list form (data/sample)."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

import rivernet
from rivernet.named_roster import read_named_roster
from rivernet.project import Project
from tests.conftest import SAMPLE

NAMED = SAMPLE.with_name("roster_named.xlsx")
NAMES = tuple(f"示例{n}河" for n in "一二三四五六七八")


def test_river_names_layer_is_fictional_and_named_on_the_reaches(project: Project) -> None:
    layer = pyogrio.read_dataframe(SAMPLE, layer="river_names")
    assert tuple(layer["name"]) == NAMES and set(layer["is_fictional"]) == {1}
    names = project.network.reaches["name"]
    assert names.notna().sum() == 194 and set(names.dropna()) == set(NAMES)
    table = rivernet.rivers(project, as_of="2025-06-30")
    assert tuple(table["name"]) == NAMES  # longest first
    assert table["length_km"].iloc[0] == pytest.approx(113.7, abs=0.05)
    assert table.set_index("name").at["示例六河", "county_names"] == "秀洲区、吴江区"


def test_named_roster_resolves_onto_the_sample(project: Project) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no length warning, no unplaced 起点/终点
        roster = read_named_roster(project, NAMED)
    rows = pd.read_excel(NAMED)
    assert list(rows.columns) == [
        "河流名称",
        "行政区",
        "层级",
        "姓名",
        "职务",
        "起点",
        "终点",
        "长度",
        "虚构",
    ]
    assert len(rows) == 40 and set(roster.assignments["line"]) == set(range(2, 42))
    assert roster.people["is_fictional"].all()
    table = roster.assignments
    km = (table["to_m"] - table["from_m"]).groupby(table["line"]).sum() / 1000.0
    assert km.round(1).tolist() == rows["长度"].tolist()
    # 郎溪县 is split at the 示例七河 confluence: two chiefs, one after the other, no overlap
    split = rows[(rows["河流名称"] == "示例三河") & (rows["行政区"] == "郎溪县")]
    assert split["终点"].iloc[0] == split["起点"].iloc[1] == "示例七河交汇处"
    first, second = (table[table["line"] == line + 2] for line in split.index)
    assert set(first["reach_id"]).isdisjoint(second["reach_id"]) or (
        first["to_m"].max() <= second["from_m"].min() + 1e-6
    )
    whole = rows[(rows["河流名称"] == "示例三河") & (rows["层级"] == "市级")]["长度"].iloc[0]
    county = rows[(rows["河流名称"] == "示例三河") & (rows["层级"] == "县级")]["长度"].sum()
    assert county == pytest.approx(whole, abs=0.15)


def test_named_roster_script_rebuilds_the_shipped_file(project: Project, tmp_path: Path) -> None:
    script = runpy.run_path(str(SAMPLE.with_name("build_roster_named.py")))
    frame = script["roster_rows"](project)
    shipped = pd.read_excel(NAMED).fillna("")
    pd.testing.assert_frame_equal(shipped, frame.fillna(""), check_dtype=False)


def test_chiefs_partners_and_call_lists_name_the_river(project: Project) -> None:
    chiefs = rivernet.chiefs_at(project, 40652917, as_of="2025-06-30")
    assert len(chiefs) and set(chiefs["river_name"]) == {"示例六河"}
    unnamed = rivernet.chiefs_at(project, 40636807, as_of="2025-06-30")
    assert unnamed["river_name"].isna().all()  # the lake outlet reach has no name
    report = rivernet.incident(project, reach=40652917, as_of="2025-06-30")
    calls = report.call_list
    assert calls["river_name"].iloc[0] == "示例六河"
    assert set(calls["river_name"].dropna()) == {"示例六河"}
    partners = rivernet.partners(project, reach=40652917, as_of="2025-06-30")
    assert "示例六河" in set(partners["river_name"].dropna())
    unit = rivernet.partners(project, unit="320509", as_of="2025-06-30")
    named = unit[unit["river_name"].notna()]
    assert set(named["river_name"]) <= set(NAMES) and "示例六河" in set(named["river_name"])


def test_tiles_and_style_carry_river_names(project: Project) -> None:
    import mapbox_vector_tile
    import morecantile
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    reach = project.network.reaches.loc[40652917]
    anchor = reach.geometry.interpolate(0.5, normalized=True)
    tile = morecantile.tms.get("WebMercatorQuad").tile(anchor.x, anchor.y, 10)
    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as client:
        response = client.get(f"/tiles/reaches/{tile.z}/{tile.x}/{tile.y}.mvt")
        assert response.status_code == 200
        features = mapbox_vector_tile.decode(response.content)["reaches"]["features"]
        named = {f["properties"]["reach_id"]: f["properties"].get("name") for f in features}
        assert named[40652917] == "示例六河"
        assert None in named.values()  # unnamed reaches carry no name property
        style = client.get("/style.json").json()
    rules = style["metadata"]["rivernet:labels"]
    assert rules == [
        {"layer": "reaches", "property": "name", "minzoom": 7, "style_layers": ["reaches-label"]}
    ]
    label = next(layer for layer in style["layers"] if layer["id"] == "reaches-label")
    assert label["filter"] == ["has", "name"] and label["paint"]["line-opacity"] == 0


def test_search_finds_a_river_by_name_and_variant(project: Project) -> None:
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as client:
        for query in ("示例六河", "示例六", "示例六河（示例六）", " 示例六河 "):
            items = client.get("/search", params={"q": query}).json()["items"]
            assert (items[0]["kind"], items[0]["id"]) == ("river", "示例六河"), query
        west, south, east, north = items[0]["bbox"]
        x0, y0, x1, y1 = project.network.reaches.loc[40652917].geometry.bounds
        assert west <= x0 <= x1 <= east and south <= y0 <= y1 <= north
        rivers = client.get("/search", params={"q": "示例"}).json()["items"]
        assert {i["id"] for i in rivers if i["kind"] == "river"} == set(NAMES)


def test_search_matches_name_variants() -> None:
    from rivernet.server.routers.search import _matches, search_index
    from tests.boundary_cases import named_project

    project = named_project(
        {
            71: ([(5000, 5000), (5000, 9000)], 0, "京杭运河"),
            72: ([(6000, 5000), (6000, 9000)], 0, "太浦河"),
            73: ([(7000, 5000), (7000, 9000)], 0, "黄河"),
        }
    )
    index = [entry for entry in search_index(project) if entry.kind == "river"]
    assert [e.id for e in _matches(index, "京杭大运河")] == ["京杭运河"]
    assert [e.id for e in _matches(index, "江南运河")] == ["京杭运河"]
    assert [e.id for e in _matches(index, "太浦")] == ["太浦河"]
    assert [e.id for e in _matches(index, "黄")] == ["黄河"]
    assert _matches(index, "长江") == []
