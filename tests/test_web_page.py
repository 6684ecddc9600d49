"""The web map (and /docs) in a real headless Chromium against a live server on 127.0.0.1.

The desktop page is 1400x900; a phone (390x844, touch) checks the narrow layout: the map keeps
at least two thirds of the screen, the layer panel toggles and a tap opens a reach's chiefs.

Runs Debian's Chromium (``/usr/bin/chromium``) through Playwright for Python; it is skipped only
when that browser is not installed (CI installs it). The server is a real uvicorn process.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from rivernet.layers.catalog import layer
from rivernet.layers.raster import rgba
from tests.conftest import CHROMIUM, NO_CHROMIUM, ROOT, SAMPLE

# Flags from the machine notes: headless, no sandbox (root), no background network traffic;
# SwiftShader gives WebGL without a GPU.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A live uvicorn serving the sample project on 127.0.0.1."""
    port = _free_port()
    env = {**os.environ, "RIVERNET_PROJECT": str(SAMPLE)}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/style.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


CHIEF_COLUMNS = ("level", "role", "name", "post", "unit_name", "valid_from", "valid_to")
"""The chief table's columns in app.js: a chief is listed once per distinct row of these."""


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    """Headless Debian Chromium, shared by the desktop and phone pages."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def _open_map(page: object, url: str) -> None:
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_function("() => window.rivernetMap.areTilesLoaded()", timeout=60_000)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    """Every request URL of every page of this module."""
    return []


@pytest.fixture(scope="module")
def browser_page(
    browser: object, server: str, requests_seen: list[str]
) -> Iterator[tuple[object, list[str], list[tuple[str, int]]]]:
    """A loaded desktop map page (1400x900), every request URL and every tile response status."""
    tiles: list[tuple[str, int]] = []
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.on("request", lambda request: requests_seen.append(request.url))
    page.on("response", lambda r: tiles.append((r.url, r.status)) if "/tiles/" in r.url else None)
    _open_map(page, f"{server}/map")
    yield page, requests_seen, tiles
    context.close()


@pytest.fixture(scope="module")
def phone_page(browser: object, server: str, requests_seen: list[str]) -> Iterator[object]:
    """The map on a phone: 390x844, touch, mobile viewport."""
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
        device_scale_factor=2,
    )  # fmt: skip
    page = context.new_page()
    page.on("request", lambda request: requests_seen.append(request.url))
    _open_map(page, f"{server}/map")
    yield page
    context.close()


def _reach_point(page: object) -> dict[str, float] | None:
    """Page coordinates of the middle of a rendered reach well inside the map, with its id."""
    layer = page.evaluate(  # type: ignore[attr-defined]
        "() => ['coverage', 'reaches'].find((id) => window.rivernetMap.getLayer(id) && "
        "window.rivernetMap.getLayoutProperty(id, 'visibility') !== 'none')"
    )
    point: dict[str, float] | None = page.evaluate(  # type: ignore[attr-defined]
        """(layer) => {
            const map = window.rivernetMap;
            const canvas = map.getCanvas().getBoundingClientRect();
            const info = document.getElementById('info').getBoundingClientRect();
            for (const f of map.queryRenderedFeatures({layers: [layer]})) {
                const line = f.geometry.type === 'LineString' ? f.geometry.coordinates
                    : f.geometry.coordinates[0];
                const p = map.project(line[Math.floor(line.length / 2)]);
                const bottom = Math.min(canvas.height, canvas.height * 0.5);
                if (p.x > 40 && p.y > 40 && p.x < canvas.width - 40 && p.y < bottom - 40) {
                    return {x: canvas.left + p.x, y: canvas.top + p.y, id: f.properties.reach_id};
                }
            }
            return null;
        }""",
        layer,
    )
    return point


def _distinct_chiefs(rows: list[dict]) -> int:
    return len({tuple(row.get(c) for c in CHIEF_COLUMNS) for row in rows})


def test_map_renders_rivers_on_the_canvas(browser_page: tuple) -> None:
    page, _, _ = browser_page
    pixels = np.asarray(
        Image.open(io.BytesIO(page.locator("#map canvas").screenshot())).convert("RGB")
    )
    colours = pixels.reshape(-1, 3)
    background = np.array([0xF4, 0xF1, 0xEA])
    drawn = np.abs(colours.astype(int) - background).sum(axis=1) > 30
    assert drawn.mean() > 0.05  # rivers, lakes and boundaries cover part of the view
    # rivers in the catalog colours: plain reaches, or reaches coloured by coverage status
    river_colours = {layer("reaches").color, *(c.color for c in layer("coverage").categories)}
    near = [
        np.abs(colours.astype(int) - np.array(rgba(c)[:3])).sum(axis=1) < 40 for c in river_colours
    ]
    assert np.logical_or.reduce(near).sum() > 500
    legend = page.locator("#legend").inner_text()
    assert "河流" in legend and "湖泊" in legend


def test_tiles_were_answered(browser_page: tuple) -> None:
    _, _, tiles = browser_page
    assert any(url.endswith(".mvt") or ".mvt?" in url for url, _ in tiles)
    assert all(status in (200, 304) for _, status in tiles), tiles


def test_clicking_a_river_shows_its_chiefs(browser_page: tuple, server: str) -> None:
    page, _, _ = browser_page
    point = _reach_point(page)
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("#info:not([hidden])", timeout=10_000)
    page.wait_for_selector("#chiefs[data-count]", state="attached", timeout=30_000)
    reach = page.locator("#info").get_attribute("data-reach")
    assert reach is not None
    chiefs = httpx.get(f"{server}/reaches/{reach}/chiefs", timeout=30)
    if chiefs.status_code == 200:
        rows = chiefs.json()["items"]
        # each chief once, however many stretches of the reach they hold
        assert int(page.locator("#chiefs").get_attribute("data-count")) == _distinct_chiefs(rows)
        if rows:
            assert rows[0]["name"] in page.locator("#chiefs table").inner_text()
    else:  # no roster in this project: the panel says why
        assert page.locator("#chiefs .error").count() == 1
    page.wait_for_selector("#partners[data-count]", state="attached", timeout=30_000)


def test_info_panel_speaks_chinese(browser_page: tuple, server: str) -> None:
    """Field names from the catalogue, status and level in words (not `status covered`)."""
    page, _, _ = browser_page
    if page.locator("#info").is_hidden() or not page.locator("#info").get_attribute("data-reach"):
        point = _reach_point(page)
        assert point is not None
        page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("#info-props tr", state="attached", timeout=30_000)
    served = httpx.get(f"{server}/messages.json", params={"lang": "zh"}, timeout=30).json()["zh"]
    headings = page.locator("#info-props th").all_inner_texts()
    assert headings and all(re.search(r"[\u3400-\u9fff]", h) for h in headings), headings
    for key, section in (("status", "status"), ("level", "level")):
        cell = page.locator(f"#info-props tr[data-key='{key}'] td")
        if cell.count():
            values = cell.inner_text().split(" | ")
            assert set(values) <= set(served[section].values()), values


def test_map_controls_use_the_pages_cjk_fonts(browser_page: tuple) -> None:
    """MapLibre names Helvetica and Arial for its controls and popups: on a machine without a
    CJK font the names in the credits would be empty boxes unless they use the page's fonts
    (which end with the server's Noto Sans SC)."""
    page, _, _ = browser_page
    family = page.evaluate(
        "() => getComputedStyle(document.querySelector('.maplibregl-ctrl-attrib')).fontFamily"
    )
    assert "rivernet CJK" in family and not family.startswith('"Helvetica Neue"'), family


def test_info_panel_follows_the_date(browser_page: tuple, server: str) -> None:
    page, _, _ = browser_page
    if page.locator("#info").is_hidden() or not page.locator("#info").get_attribute("data-reach"):
        point = _reach_point(page)
        assert point is not None
        page.mouse.click(point["x"], point["y"])
        page.wait_for_selector("#info:not([hidden])", timeout=10_000)
    reach = page.locator("#info").get_attribute("data-reach")
    page.fill("#asof", "1990-01-01")
    page.dispatch_event("#asof", "change")
    page.wait_for_selector("#chiefs[data-as-of='1990-01-01'][data-count]", state="attached",
                           timeout=30_000)  # fmt: skip
    assert page.locator("#chiefs").get_attribute("data-count") == "0"  # nobody before 2021
    page.wait_for_selector("#info-props[data-as-of='1990-01-01']", state="attached",
                           timeout=30_000)  # fmt: skip
    status = page.locator("#info-props tr[data-key='status'] td")
    if status.count():  # a coverage reach: no chief in 1990, so not covered (已覆盖)
        assert "已覆盖" not in status.inner_text()
    today = page.evaluate("() => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10)")
    page.fill("#asof", today)
    page.dispatch_event("#asof", "change")
    page.wait_for_selector(f"#chiefs[data-as-of='{today}'][data-count]", state="attached",
                           timeout=30_000)  # fmt: skip
    rows = httpx.get(f"{server}/reaches/{reach}/chiefs", timeout=30).json()["items"]
    assert int(page.locator("#chiefs").get_attribute("data-count")) == _distinct_chiefs(rows)


def test_default_date_is_today_in_china(server: str, browser: object) -> None:
    context = browser.new_context(timezone_id="America/Los_Angeles")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{server}/map")
    china = page.evaluate("() => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10)")
    assert page.input_value("#asof") == china
    context.close()


def test_search_finds_a_lake_and_moves_the_map(browser_page: tuple) -> None:
    page, _, _ = browser_page
    before = page.evaluate("() => window.rivernetMap.getCenter().toArray()")
    page.fill("#search", "太湖")
    page.click("#search-form button")
    page.wait_for_selector("#results li[data-kind='lake']", timeout=30_000)
    assert "太湖" in page.locator("#results").inner_text()
    page.locator("#results li[data-kind='lake']").first.click()
    page.wait_for_function(
        """(before) => { const c = window.rivernetMap.getCenter();
            return !window.rivernetMap.isMoving() &&
                Math.abs(c.lng - before[0]) + Math.abs(c.lat - before[1]) > 0.01; }""",
        arg=before, timeout=30_000,
    )  # fmt: skip
    centre = page.evaluate("() => window.rivernetMap.getCenter().toArray()")
    assert 119.8 < centre[0] < 120.7 and 30.9 < centre[1] < 31.6  # over 太湖


def test_search_finds_a_river_and_its_name_is_labelled(browser_page: tuple) -> None:
    page, _, _ = browser_page
    page.fill("#search", "示例六河")
    page.click("#search-form button")
    page.wait_for_selector("#results li[data-kind='river']", timeout=30_000)
    page.locator("#results li[data-kind='river']").first.click()
    page.wait_for_function(
        "() => !window.rivernetMap.isMoving() && window.rivernetMap.getZoom() >= 7 && "
        "[...document.querySelectorAll('.river-label')].some((l) => l.textContent === '示例六河')",
        timeout=60_000,
    )
    shown = page.locator(".river-label").all_inner_texts()
    assert len(shown) == len(set(shown))  # one label per name in view
    point = page.evaluate(
        """() => {
            const map = window.rivernetMap;
            const box = map.getCanvas().getBoundingClientRect();
            for (const f of map.queryRenderedFeatures({layers: ['reaches-label']})) {
                if (f.properties.name !== '示例六河') continue;
                const line = f.geometry.type === 'LineString' ? f.geometry.coordinates
                    : f.geometry.coordinates[0];
                const p = map.project(line[Math.floor(line.length / 2)]);
                if (p.x > 40 && p.y > 40 && p.x < box.width / 2 && p.y < box.height - 40) {
                    return {x: box.left + p.x, y: box.top + p.y};
                }
            }
            return null;
        }"""
    )
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function(
        "() => document.getElementById('info-title').textContent.includes('示例六河')",
        timeout=30_000,
    )
    page.evaluate("() => window.rivernetMap.jumpTo({zoom: 5})")
    page.wait_for_function("() => document.body.dataset.labels === '0'", timeout=30_000)


def test_search_finds_a_unit(browser_page: tuple) -> None:
    page, _, _ = browser_page
    page.fill("#search", "惠山")
    page.click("#search-form button")
    page.wait_for_selector("#results li", timeout=30_000)
    assert "惠山区" in page.locator("#results").inner_text()
    page.locator("#results li").first.click()
    assert page.locator("#results").is_hidden()


def test_english_switch(browser_page: tuple) -> None:
    page, _, _ = browser_page
    page.click("#lang")
    assert page.locator("h1").inner_text() == "River and lake map"
    assert "Rivers" in page.locator("#legend").inner_text()
    page.click("#lang")
    assert page.locator("h1").inner_text() == "河湖一张图"


def test_phone_map_takes_most_of_the_screen(phone_page: object) -> None:
    page = phone_page
    box = page.locator("#map").bounding_box()  # type: ignore[attr-defined]
    assert box is not None and box["height"] >= 844 * 2 / 3, box
    assert box["width"] >= 380


def test_phone_panel_toggles(phone_page: object) -> None:
    page = phone_page
    toggle = page.locator("#toggle-side")  # type: ignore[attr-defined]
    assert page.locator("#side").is_hidden()  # type: ignore[attr-defined]  # collapsed at first
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.tap()
    assert page.locator("#side").is_visible()  # type: ignore[attr-defined]
    assert "河流" in page.locator("#legend").inner_text()  # type: ignore[attr-defined]
    toggle.tap()
    assert page.locator("#side").is_hidden()  # type: ignore[attr-defined]


def test_phone_tap_shows_chiefs(phone_page: object, server: str) -> None:
    page = phone_page
    point = _reach_point(page)
    assert point is not None
    page.touchscreen.tap(point["x"], point["y"])  # type: ignore[attr-defined]
    page.wait_for_selector("#info:not([hidden])", timeout=10_000)  # type: ignore[attr-defined]
    page.wait_for_selector("#chiefs[data-count]", state="attached", timeout=30_000)  # type: ignore[attr-defined]
    reach = page.locator("#info").get_attribute("data-reach")  # type: ignore[attr-defined]
    rows = httpx.get(f"{server}/reaches/{reach}/chiefs", timeout=30).json()["items"]
    assert int(page.locator("#chiefs").get_attribute("data-count")) == _distinct_chiefs(rows)  # type: ignore[attr-defined]
    if rows:
        assert rows[0]["name"] in page.locator("#chiefs table").inner_text()  # type: ignore[attr-defined]
    info = page.locator("#info").bounding_box()  # type: ignore[attr-defined]
    assert info is not None and info["x"] >= 0 and info["x"] + info["width"] <= 391


def test_docs_work_offline(browser: object, server: str, requests_seen: list[str]) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.on("request", lambda request: requests_seen.append(request.url))
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
    assert "/reaches/position" in page.locator(".swagger-ui").inner_text()
    context.close()
    assert any(url.endswith("/openapi.json") for url in requests_seen)


def test_no_request_left_the_machine(browser_page: tuple) -> None:
    _, requests, _ = browser_page
    assert requests
    hosts = {
        urlsplit(url).hostname
        for url in requests
        if urlsplit(url).scheme in ("http", "https", "ws", "wss")
    }
    assert hosts == {"127.0.0.1"}, sorted(url for url in requests if "127.0.0.1" not in url)
