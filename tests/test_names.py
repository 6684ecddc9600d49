"""Name matching and attaching names to reaches (rivernet.names), on hand-drawn lines.

The network (UTM 51N metres) runs west to east along y = 0, with tributaries:

- main stem 1 (0..1000) -> 2 (1000..2000) -> 3 (2000..3000) -> 4 (3000..4000), outlet;
- 5 (1000,1000) -> (1000,0) into 2; 6 (3000,-1000) -> (3000,0) into 4;
- 7 (5000,1000) -> (5000,0), an outlet of its own.

The named lines, 20 m beside the reaches:

- 太浦河 along 0..1000 and "太浦河" (full-width space) along 2000..4000: reach 2 lies between
  them (only the 50 m round caps reach it: share 0.1), so it is filled along the flow;
- 甲溪 along reach 5; 乙河 along all of reach 6 and 丙河 along its lower 800 m (share 0.846 with its
  round cap): a
  conflict, 乙河 chosen;
- 戊河 along the upper 350 m of reach 7 (share 0.396 with its round cap): unnamed at min_share 0.5.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely import LineString

import rivernet
from rivernet import InputError, RiverNetwork
from rivernet.names import (
    NameReport,
    attach_names,
    name_groups,
    name_keys,
    names_match,
    normalise_name,
)

CRS = "EPSG:32651"
REACHES = {
    1: ([(0, 0), (1000, 0)], 2),
    2: ([(1000, 0), (2000, 0)], 3),
    3: ([(2000, 0), (3000, 0)], 4),
    4: ([(3000, 0), (4000, 0)], 0),
    5: ([(1000, 1000), (1000, 0)], 2),
    6: ([(3000, -1000), (3000, 0)], 4),
    7: ([(5000, 1000), (5000, 0)], 0),
}
LINES = [
    ("太浦河", "TP01", [(0, 20), (1000, 20)]),
    ("太浦\u3000河", "TP01", [(2000, 20), (4000, 20)]),
    ("甲溪", None, [(1020, 1000), (1020, 0)]),
    ("乙河", None, [(3020, -1000), (3020, 0)]),
    ("丙河", None, [(2980, -800), (2980, 0)]),
    ("戊河", None, [(5020, 1000), (5020, 650)]),
]


def reach_table() -> gpd.GeoDataFrame:
    """The hand-drawn reaches."""
    return gpd.GeoDataFrame(
        {"reach_id": list(REACHES), "downstream_id": [d for _, d in REACHES.values()]},
        geometry=[LineString(c) for c, _ in REACHES.values()],
        crs=CRS,
    )


def network() -> RiverNetwork:
    """The hand-drawn network."""
    return RiverNetwork.from_downstream_ids(
        reach_table(), id_column="reach_id", downstream_column="downstream_id"
    )


def named_lines(
    rows: list[tuple[str, str | None, list[tuple[float, float]]]] = LINES,
) -> gpd.GeoDataFrame:
    """Named lines with a ``river`` name column and a ``code`` column."""
    return gpd.GeoDataFrame(
        {"river": [r[0] for r in rows], "code": [r[1] for r in rows]},
        geometry=[LineString(r[2]) for r in rows],
        crs=CRS,
    )


# --- name variants (table-driven) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("太浦河", "太浦河"),
        ("  太浦 河 ", "太浦河"),
        ("太浦\u3000河", "太浦河"),
        ("京杭运河（江南运河）", "京杭运河(江南运河)"),
        ("ＡＢ河１号", "AB河1号"),
        ("Taipu  River ", "Taipu River"),
        ("太浦河 (Taipu River)", "太浦河(Taipu River)"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_normalise_name(text: object, expected: str) -> None:
    assert normalise_name(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ("京杭运河", "京杭大运河", True),
        ("京杭运河", "江南运河", True),
        ("京杭大运河", "江南运河", True),
        ("京杭运河(江南运河)", "江南运河", True),
        ("京杭运河（江南运河）", "京杭运河", True),
        ("太浦河", "太浦", True),
        ("望虞河", "望虞", True),
        ("元荡湖塘", "元荡湖", True),
        ("胥江", "胥江", True),
        ("胥江", "胥", False),  # one character left: the suffix is part of the name
        ("黄河", "黄江", False),
        ("ＡＢ河", "AB河", True),
        ("太 浦 河", "太浦河", True),
        ("吴淞江", "苏州河", False),  # not built in: see the aliases= test
        ("太浦河", "望虞河", False),
        ("", "", False),
        (None, "太浦河", False),
    ],
)
def test_names_match(a: object, b: object, match: bool) -> None:
    assert names_match(a, b) is match
    assert names_match(b, a) is match


def test_name_keys_of_aliases() -> None:
    assert name_keys("太浦河") == {"太浦"}
    assert name_keys("黄河") == {"黄河"}
    assert name_keys("京杭运河") == {"京杭运", "京杭大运", "江南运"}
    assert name_keys("甲河(乙河、丙溪)") == {"甲河", "乙河", "丙溪"}  # two-character names kept
    assert name_keys("") == set()


def test_extra_aliases() -> None:
    aliases = {"吴淞江": ["苏州河"]}
    assert names_match("吴淞江", "苏州河", aliases=aliases)
    assert names_match("苏州河", "吴淞江(苏州河)")
    assert not names_match("吴淞江", "苏州河")
    assert names_match("某河", "另河", aliases={"某河": "另河"})


def test_name_groups_join_names_through_shared_keys() -> None:
    groups = name_groups(["太浦河", "太浦", None, "京杭运河", "江南运河", "望虞河", "太浦河"])
    assert groups == {"太浦河": 0, "太浦": 0, "京杭运河": 1, "江南运河": 1, "望虞河": 2}


# --- attaching names --------------------------------------------------------------------------


def test_attach_names_by_overlap_with_conflicts_gaps_and_unnamed() -> None:
    net = network()
    report = attach_names(net, named_lines(), name_column="river", code_column="code")
    assert isinstance(report, NameReport)
    assert report.names.to_dict() == {
        1: "太浦河", 2: "太浦河", 3: "太浦河", 4: "太浦河", 5: "甲溪", 6: "乙河", 7: None,
    }  # fmt: skip
    assert report.codes.to_dict() == {
        1: "TP01", 2: "TP01", 3: "TP01", 4: "TP01", 5: None, 6: None, 7: None,
    }  # fmt: skip
    assert report.names.index.name == "reach_id"
    assert report.shares[[1, 3, 4, 5, 6]].tolist() == pytest.approx([1.0] * 5)
    assert pd.isna(report.shares[2]) and pd.isna(report.shares[7])
    assert report.filled.tolist() == [2]
    assert report.unnamed.tolist() == [7]
    (conflict,) = report.conflicts.to_dict(orient="records")
    assert conflict["reach_id"] == 6 and conflict["chosen"] == "乙河"
    assert conflict["names"] == ("乙河", "丙河")
    # 丙河 covers 800 m plus its round cap: the 50 m circle meets the reach 20 m away at
    # sqrt(50² - 20²) = 45.8 m, so (800 + 45.8) / 1000
    assert conflict["shares"] == pytest.approx((1.0, 0.8458), abs=2e-4)
    assert "name" not in net.reaches.columns  # the network is not modified


def test_min_share_and_max_distance() -> None:
    net = network()
    lower = attach_names(net, named_lines(), name_column="river", min_share=0.3)
    assert lower.names[7] == "戊河"
    assert lower.shares[7] == pytest.approx((350 + 45.83) / 1000, abs=2e-4)
    near = attach_names(net, named_lines(), name_column="river", max_distance_m=10.0)
    assert near.names.isna().all()  # every line lies 20 m from its reach


def test_gaps_are_filled_only_between_reaches_of_one_name() -> None:
    lines = named_lines([("太浦河", None, [(0, 20), (1000, 20)]),
                         ("丁河", None, [(2000, 20), (4000, 20)])])  # fmt: skip
    report = attach_names(network(), lines, name_column="river")
    assert report.names[[1, 2, 3, 4]].tolist() == ["太浦河", None, "丁河", "丁河"]
    assert report.filled.empty
    assert report.unnamed.tolist() == [2, 5, 6, 7]


def test_matching_names_count_as_one_name_written_as_the_longest() -> None:
    lines = named_lines([("太浦", None, [(0, 20), (1000, 20)]),
                         ("太浦河", None, [(980, 20), (4000, 20)])])  # fmt: skip
    report = attach_names(network(), lines, name_column="river")
    assert report.names[[1, 2, 3, 4]].tolist() == ["太浦河"] * 4
    assert report.conflicts.empty  # the overlap near 1000 m is one river, not two


def test_openstreetmap_name_zh_is_preferred_and_lines_are_reprojected() -> None:
    lines = named_lines()[:3].rename(columns={"river": "name:zh"})
    lines["name"] = ["Taipu River", "Taipu River", "Jia Creek"]
    lines = lines.to_crs("EPSG:4326")
    report = attach_names(network(), lines)
    assert report.names[[1, 2, 5]].tolist() == ["太浦河", "太浦河", "甲溪"]
    english = attach_names(network(), lines.drop(columns="name:zh"))
    assert english.names[1] == "Taipu River"


def test_report_builds_tables_networks_and_updates_a_project(tmp_path: object) -> None:
    from tests.boundary_cases import make_project

    project = make_project(reaches=reach_table())
    before = project.network
    version = project.data_version
    report = rivernet.attach_names(project, named_lines(), name_column="river", code_column="code")
    table = report.to_reaches(before.reaches)
    assert table["name"].to_dict()[6] == "乙河" and "name" not in before.reaches.columns
    network = report.apply(project)
    assert project.network is network and network is not before
    assert project.data_version != version
    assert network.reaches["name"].fillna("-").tolist() == report.names.fillna("-").tolist()
    assert network.reaches["river_code"][1] == "TP01"
    assert network.reaches["length_m"].tolist() == before.reaches["length_m"].tolist()
    # a second layer keeps the first one's names where it has none
    again = attach_names(network, named_lines([("庚河", None, [(5020, 1000), (5020, 0)])]),
                         name_column="river")  # fmt: skip
    kept = again.to_network(network, keep_existing=True).reaches["name"]
    assert kept[[1, 7]].tolist() == ["太浦河", "庚河"]
    assert pd.isna(again.to_reaches(network.reaches)["name"][1])


def test_bad_input_is_reported() -> None:
    lines = named_lines()
    with pytest.raises(InputError, match="name column 'nom' not found"):
        attach_names(network(), lines, name_column="nom")
    with pytest.raises(InputError, match="no name column"):
        attach_names(network(), lines.drop(columns="river"))
    with pytest.raises(InputError, match="code column"):
        attach_names(network(), lines, name_column="river", code_column="gb")
    with pytest.raises(InputError, match="min_share"):
        attach_names(network(), lines, name_column="river", min_share=0.0)


def test_no_named_lines_leave_every_reach_unnamed() -> None:
    lines = named_lines()
    lines["river"] = None
    report = attach_names(network(), lines, name_column="river")
    assert report.names.isna().all()
    assert report.unnamed.tolist() == list(REACHES)
    assert report.conflicts.empty
