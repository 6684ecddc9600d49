"""The web map editor in a real headless Chromium: 嘉定区's office closes a gap on the map.

A live uvicorn serves a copy of the sample (GeoPackage store). The office signs in with its
token, clicks a gap stretch of 嘉定区 on the map, appoints a county chief from the prefilled
form, and the map, the reach's stretch list and ``/coverage/summary`` show the gap closed; the
history and the change log list the appointment with its 文号. The same on a phone (390x844,
touch): the form fits the screen. Skipped only when Debian's Chromium is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._edits import live_servers, make_tokens, sample_store
from tests.conftest import NO_CHROMIUM, ROOT
from tests.test_web_page import CHROMIUM, CHROMIUM_FLAGS, _open_map

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]

JIADING = "310114"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, str]]]:
    """A live uvicorn serving a writable copy of the sample, and its tokens."""
    target = sample_store("gpkg", tmp_path_factory.mktemp("web"), request)
    tokens = make_tokens(target)
    with live_servers(target) as (base,):
        yield base, tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def _coverage(base: str) -> float:
    params = {"unit": JIADING, "level": "county"}
    answer = httpx.get(f"{base}/coverage/summary", params=params, timeout=60)
    return float(answer.json()["items"][0]["coverage_pct"])


def _gap(base: str, index: int) -> dict[str, Any]:
    """The ``index``-th longest county gap of 嘉定区 still open (GeoJSON feature)."""
    params = {"level": "county", "limit": 1000}
    features = httpx.get(f"{base}/collections/coverage_gaps/items", params=params, timeout=60)
    mine = [f for f in features.json()["features"] if f["properties"]["unit_code"] == JIADING]
    mine.sort(key=lambda f: -f["properties"]["length_m"])
    return mine[index]


def _sign_in(page: Any, token: str) -> None:
    page.click("#editor-signin")
    page.fill("#editor-token", token)
    page.click("#editor-save")
    page.wait_for_selector("#editor-signout", timeout=30_000)


def _click_gap(page: Any, gap: dict[str, Any]) -> None:
    """Zoom to the gap and click the middle of it on the map canvas."""
    line = gap["geometry"]["coordinates"]
    if gap["geometry"]["type"] == "MultiLineString":
        line = max(line, key=len)
    middle = line[len(line) // 2]
    page.evaluate(
        "(c) => window.rivernetMap.jumpTo({center: c, zoom: 13})", middle
    )  # fmt: skip
    page.wait_for_function(
        "() => window.rivernetMap.loaded() && window.rivernetMap.areTilesLoaded()",
        timeout=60_000,
    )
    point = page.evaluate(
        """(c) => {
            const map = window.rivernetMap;
            const box = map.getCanvas().getBoundingClientRect();
            const p = map.project(c);
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        middle,
    )
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("#info:not([hidden])", timeout=10_000)
    page.wait_for_selector("#editor-problems[data-count]", state="attached", timeout=30_000)


def _open_appoint(page: Any, props: dict[str, Any]) -> None:
    """Press "任命河长" on the listed stretch that starts where the gap does."""
    found = page.evaluate(
        """(from) => {
            for (const line of document.querySelectorAll('#editor-problems .stretch')) {
                if (Math.abs(Number(line.dataset.from) - from) < 0.01) {
                    line.querySelector('button.appoint').click();
                    return true;
                }
            }
            return false;
        }""",
        props["from_m"],
    )
    assert found, "the clicked gap is not offered for an appointment"
    page.wait_for_selector("#editor-dialog[open]", timeout=10_000)


def _wait_prefilled(page: Any) -> None:
    """The form offers the unit's chiefs: the first one and their role are filled in."""
    page.wait_for_function(
        "() => ['person_id', 'role'].every((n) =>"
        " document.getElementById('editor-f-' + n).value !== '')",
        timeout=60_000,
    )


def _appoint_on_clicked_gap(page: Any, base: str, gap: dict[str, Any], number: int) -> None:
    props = gap["properties"]
    assert page.locator("#info").get_attribute("data-reach") == str(props["reach_id"])
    before = int(page.locator("#editor-problems").get_attribute("data-count"))
    _open_appoint(page, props)
    # prefilled: reach, stretch, unit and level
    assert page.input_value("#editor-f-unit_code") == JIADING
    assert page.input_value("#editor-f-level") == "county"
    assert float(page.input_value("#editor-f-from_m")) == pytest.approx(props["from_m"], abs=0.1)
    assert float(page.input_value("#editor-f-to_m")) == pytest.approx(props["to_m"], abs=0.1)
    _wait_prefilled(page)
    # the form keeps whole metres to a tenth: appoint the exact stretch
    page.fill("#editor-f-from_m", f"{props['from_m']:.1f}")
    page.fill("#editor-f-to_m", f"{props['to_m']:.1f}")
    page.fill("#editor-f-source_document", f"嘉定河长办〔2026〕{number}号")
    page.click("#editor-save")
    page.wait_for_selector("#editor-dialog:not([open])", state="attached", timeout=30_000)
    page.wait_for_function(
        "(n) => { const box = document.getElementById('editor-problems');"
        " return box && box.dataset.count !== undefined && Number(box.dataset.count) < n; }",
        arg=before,
        timeout=30_000,
    )


def test_jiading_office_closes_a_gap_on_the_map(browser: Any, server: tuple) -> None:
    base, tokens = server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    tiles: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if "/tiles/" in r.url else None)
    _open_map(page, f"{base}/map?level=county")
    _sign_in(page, tokens["jiading"])
    assert "嘉定区" in page.locator("#editor-who").inner_text()
    before = _coverage(base)
    gap = _gap(base, 0)
    _click_gap(page, gap)
    _appoint_on_clicked_gap(page, base, gap, 1)
    assert _coverage(base) > before
    # the map is redrawn from fresh tiles: the stretch is now drawn as covered
    assert any("_=" in url for url in tiles)
    page.wait_for_function(
        "() => window.rivernetMap.loaded() && window.rivernetMap.areTilesLoaded()",
        timeout=60_000,
    )
    # history and change log list the appointment with its 文号
    page.click("#editor-history")
    page.wait_for_selector("#editor-dialog[data-view='history'][open]", timeout=30_000)
    assert "嘉定河长办〔2026〕1号" in page.locator("#editor-dialog").inner_text()
    page.click("#editor-cancel")
    page.click("#editor-audit")
    page.wait_for_selector("#editor-dialog[data-view='audit'][open]", timeout=30_000)
    text = page.locator("#editor-dialog").inner_text()
    assert "嘉定河长办〔2026〕1号" in text and "任命" in text
    page.click("#editor-cancel")
    # the token stays for this tab only
    assert page.evaluate("() => sessionStorage.getItem('rivernet.token')") == tokens["jiading"]
    context.close()


def test_on_a_phone_the_form_fits_and_the_gap_closes(browser: Any, server: tuple) -> None:
    base, tokens = server
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
        device_scale_factor=2,
    )  # fmt: skip
    page = context.new_page()
    _open_map(page, f"{base}/map?level=county")
    _sign_in(page, tokens["jiading"])
    before = _coverage(base)
    gap = _gap(base, 0)
    _click_gap(page, gap)
    props = gap["properties"]
    _open_appoint(page, props)
    box = page.locator("#editor-dialog").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    save = page.locator("#editor-save")
    save.scroll_into_view_if_needed()
    assert save.is_visible()
    page.click("#editor-cancel")
    _appoint_on_clicked_gap(page, base, gap, 2)
    assert _coverage(base) > before
    context.close()


def test_an_invalid_appointment_names_the_field_in_the_form(browser: Any, server: tuple) -> None:
    base, tokens = server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    _open_map(page, f"{base}/map?level=county")
    _sign_in(page, tokens["jiading"])
    gap = _gap(base, 0)
    _click_gap(page, gap)
    props = gap["properties"]
    _open_appoint(page, props)
    _wait_prefilled(page)
    page.fill("#editor-f-person_id", "P99999")
    page.fill("#editor-f-source_document", "嘉定河长办〔2026〕9号")
    page.click("#editor-save")
    page.wait_for_selector("#editor-dialog label.bad[data-field='person_id']", timeout=30_000)
    assert page.locator("#editor-dialog").get_attribute("open") is not None
    context.close()


def test_the_page_loads_the_editor_and_its_texts(server: tuple) -> None:
    base, _ = server
    page = httpx.get(f"{base}/map", timeout=30).text
    assert "static/editor.js" in page and "static/editor.css" in page
    assert httpx.get(f"{base}/static/editor.js", timeout=30).status_code == 200
    served = httpx.get(f"{base}/messages.json", params={"lang": "zh"}, timeout=30).json()["zh"]
    assert served["editor"]["appoint"] == "任命河长"
    assert Path(ROOT / "server" / "static" / "editor.js").read_text(encoding="utf-8")


def test_editor_js_has_no_ui_strings() -> None:
    """The editor's texts come from messages.json: no Chinese and no text literal in code."""
    import re

    script = (ROOT / "server" / "static" / "editor.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", " ", script, flags=re.S)
    assert re.findall(r"[\u3400-\u9fff]+", code) == []
    assert re.findall(r'text:\s*"([^"]*)"', code) == []
