"""No untranslated English in Chinese outputs, and no Chinese UI text in English outputs.

The Chinese report (虎丘区 320505, 吴中区 320506), the main CLI commands, folium popups, the
collection properties the web panel shows and the web page's own texts are scanned for English
words. Only identifiers that are not words are allowed: ids and codes, units (km), CRS names and
the brand names of the data credits. The English outputs must hold no Chinese except proper
names from the data (units, people, posts, roles, lakes).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rivernet import messages
from rivernet.cli import main
from rivernet.layers.report import report_html
from rivernet.project import Project, open_project
from rivernet.server.routers.page import STATIC

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "taihu.gpkg"
AS_OF = "2025-06-30"

# Identifiers that are not words: units, CRS and format names, brand names of the credits.
ALLOWED = {
    "km", "m", "h", "rivernet", "epsg", "gcj", "cgcs", "wgs", "crs", "hydrorivers",
    "hydrosheds", "openstreetmap", "natural", "earth", "maplibre", "cnmaps", "data", "strahler",
    "geojson", "csv", "english", "gb", "t", "x", "b", "pdf", "html",
}  # fmt: skip
WORD = re.compile(r"[A-Za-z]+")
CJK = re.compile(r"[\u3400-\u9fff]+")


def english_words(text: str) -> list[str]:
    """Words of Latin letters that are not allowed identifiers (tokens with digits are ids)."""
    found = []
    for token in re.findall(r"[A-Za-z0-9_@.\-]+", text):
        if any(ch.isdigit() for ch in token):
            continue
        for word in WORD.findall(token):
            if word.lower() not in ALLOWED:
                found.append(word)
    return found


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


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, [*args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.output


CLI_RUNS = {
    "coverage": ["coverage", str(SAMPLE), "--as-of", AS_OF, "--unit", "320505"],
    "chiefs": ["chiefs", str(SAMPLE), "--reach", "40652917", "--as-of", AS_OF],
    "partners": ["partners", str(SAMPLE), "--unit", "320505", "--as-of", AS_OF],
    "incident": ["incident", str(SAMPLE), "--reach", "40652917", "--as-of", AS_OF],
    "crossings": ["crossings", str(SAMPLE), "--as-of", AS_OF],
    "boundary-rivers": ["boundary-rivers", str(SAMPLE)],
    "info": ["info", str(SAMPLE)],
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
    from rivernet.layers.catalog import data_credits

    document = report_html(project, unit=unit, as_of=AS_OF, maps=unit == "320505")
    # the credits line cites the data sources as their publishers name them
    text = visible_text(document).replace(data_credits(project), " ")
    assert "问题清单" in text
    assert english_words(text) == []


@pytest.mark.parametrize("command", sorted(CLI_RUNS))
def test_chinese_cli_output_has_no_english_words(command: str) -> None:
    output = cli(*CLI_RUNS[command]).replace(str(SAMPLE), " ")  # the file named, not a word
    assert output.strip()
    assert english_words(output) == []


def test_check_verdict_and_severities_are_chinese() -> None:
    output = cli("check", str(SAMPLE))
    head = output.splitlines()[0]
    assert head.startswith("校验")
    assert english_words(head) == []
    severities = [line.split("[")[0] for line in output.splitlines()[1:]]
    assert all(english_words(s) == [] for s in severities)


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
    english = {k: v["en"] for k, v in messages.catalogue().items() if k != "web.switchLang"}
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
