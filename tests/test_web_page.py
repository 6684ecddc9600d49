"""The web map in a real headless Chromium against a live server on 127.0.0.1.

Runs Debian's Chromium (``/usr/bin/chromium``) through Playwright for Python; it is skipped only
when that browser is not installed (CI installs it). The server is a real uvicorn process.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from rivernet.layers.catalog import layer
from rivernet.layers.raster import rgba
from tests.conftest import ROOT, SAMPLE

CHROMIUM = Path("/usr/bin/chromium")
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
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium"
    ),
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


@pytest.fixture(scope="module")
def browser_page(server: str) -> Iterator[tuple[object, list[str], list[tuple[str, int]]]]:
    """A loaded map page, every request URL and every tile response status."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    tiles: list[tuple[str, int]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.on("request", lambda request: requests.append(request.url))
        page.on(
            "response",
            lambda r: tiles.append((r.url, r.status)) if "/tiles/" in r.url else None,
        )
        page.goto(f"{server}/map")
        page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
        page.wait_for_function("() => window.rivernetMap.areTilesLoaded()", timeout=60_000)
        yield page, requests, tiles
        browser.close()


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
    layer = page.evaluate(
        "() => ['coverage', 'reaches'].find((id) => window.rivernetMap.getLayer(id) && "
        "window.rivernetMap.getLayoutProperty(id, 'visibility') !== 'none')"
    )
    point = page.evaluate(
        """(layer) => {
            const map = window.rivernetMap;
            const canvas = map.getCanvas().getBoundingClientRect();
            for (const f of map.queryRenderedFeatures({layers: [layer]})) {
                const line = f.geometry.type === 'LineString' ? f.geometry.coordinates
                    : f.geometry.coordinates[0];
                const p = map.project(line[Math.floor(line.length / 2)]);
                if (p.x > 40 && p.y > 40 && p.x < canvas.width - 40 && p.y < canvas.height - 40) {
                    return {x: canvas.left + p.x, y: canvas.top + p.y, id: f.properties.reach_id};
                }
            }
            return null;
        }""",
        layer,
    )
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("#info:not([hidden])", timeout=10_000)
    page.wait_for_selector("#chiefs[data-count]", state="attached", timeout=30_000)
    reach = page.locator("#info").get_attribute("data-reach")
    assert reach is not None
    chiefs = httpx.get(f"{server}/reaches/{reach}/chiefs", timeout=30)
    if chiefs.status_code == 200:
        rows = chiefs.json()["items"]
        assert int(page.locator("#chiefs").get_attribute("data-count")) == len(rows)
        if rows:
            assert rows[0]["name"] in page.locator("#chiefs table").inner_text()
    else:  # no roster in this project: the panel says why
        assert page.locator("#chiefs .error").count() == 1
    page.wait_for_selector("#partners[data-count]", state="attached", timeout=30_000)


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


def test_no_request_left_the_machine(browser_page: tuple) -> None:
    _, requests, _ = browser_page
    assert requests
    hosts = {
        urlsplit(url).hostname
        for url in requests
        if urlsplit(url).scheme in ("http", "https", "ws", "wss")
    }
    assert hosts == {"127.0.0.1"}, sorted(url for url in requests if "127.0.0.1" not in url)
