"""The web map's info panel follows the level as well as the date (a real headless Chromium).

Choosing another level fetches the tapped reach's coverage again: the panel's status and level
rows then say what the collection says at that level, in Chinese. Uses the live server and the
browser of :mod:`tests.test_web_page` (skipped, like it, when Debian's Chromium is absent).
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import NO_CHROMIUM
from tests.test_web_page import (  # noqa: F401 (fixtures)
    CHROMIUM,
    _reach_point,
    browser,
    browser_page,
    requests_seen,
    server,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]
AS_OF = "2025-06-30"


def _panel_at(page: object, level: str) -> None:
    page.select_option("#level", level)  # type: ignore[attr-defined]
    page.wait_for_selector(  # type: ignore[attr-defined]
        f"#info-props[data-level='{level}'][data-as-of='{AS_OF}']", state="attached",
        timeout=30_000,
    )  # fmt: skip


def _words(page: object, key: str) -> set[str]:
    cell = page.locator(f"#info-props tr[data-key='{key}'] td")  # type: ignore[attr-defined]
    return set(cell.inner_text().split(" | ")) if cell.count() else set()


def test_info_panel_follows_the_level(browser_page: tuple, server: str) -> None:  # noqa: F811
    page, _, _ = browser_page
    page.fill("#asof", AS_OF)
    page.dispatch_event("#asof", "change")
    page.wait_for_timeout(500)  # the style reloads for the new date: wait for its tiles
    page.wait_for_function("() => window.rivernetMap.areTilesLoaded()", timeout=60_000)
    point = _reach_point(page)
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("#info:not([hidden])", timeout=10_000)
    reach = page.locator("#info").get_attribute("data-reach")
    messages = httpx.get(f"{server}/messages.json", params={"lang": "zh"}, timeout=30).json()["zh"]
    for level in ("township", "county", "province"):
        _panel_at(page, level)
        items = httpx.get(
            f"{server}/collections/coverage/items",
            params={"reach_id": reach, "level": level, "datetime": AS_OF, "limit": 1000},
            timeout=30,
        ).json()["features"]
        expected = {messages["status"][f["properties"]["status"]] for f in items}
        if expected:  # a reach of the coverage layer: the panel shows that level's status
            assert _words(page, "status") == expected, (level, reach)
            assert _words(page, "level") == {messages["level"][level]}
