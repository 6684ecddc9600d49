"""Real clients against a real uvicorn server: GDAL's OGC API Features driver, owslib, httpx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyogrio
import pytest
import shapely

from rivernet.project import Project

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
BOX = (120.0, 31.0, 120.5, 31.5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """A live uvicorn server on a free 127.0.0.1 port, shut down cleanly afterwards.

    It runs in its own process: GDAL holds the GIL while it waits for HTTP answers, so a
    server thread in the test process would never answer it.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "server:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "RIVERNET_PROJECT": str(SAMPLE), "RIVERNET_CORS_ORIGINS": "*"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status shows it.
    assert process.returncode in (0, -signal.SIGTERM), output.decode(errors="replace")
    assert b"Traceback" not in output and b"ERROR" not in output, output.decode(errors="replace")


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the test server exited at start-up")
        try:
            if httpx.get(f"{url}/conformance", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the test server did not start within 60 s")


def test_gdal_lists_the_collections(base_url: str) -> None:
    layers = dict(pyogrio.list_layers(f"OAPIF:{base_url}"))
    assert layers["reaches"] == "LineString"
    assert {"admin_units", "lakes"} <= set(layers)


def test_gdal_reads_reaches_in_a_bbox(base_url: str, project: Project) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{base_url}/collections/reaches", bbox=BOX)
    reaches = project.network.reaches
    expected = reaches[reaches.intersects(shapely.box(*BOX))]
    assert sorted(frame["reach_id"]) == sorted(expected.index)
    frame = frame.set_index("reach_id").loc[expected.index]
    np.testing.assert_array_equal(frame["ORD_STRA"], expected["ORD_STRA"])
    np.testing.assert_allclose(frame["LENGTH_KM"], expected["LENGTH_KM"])
    np.testing.assert_allclose(frame["length_m"], expected["length_m"])
    for got, want in zip(frame.geometry, expected.geometry, strict=True):
        assert got.equals_exact(want, 1e-9)
    assert frame.crs is not None and frame.crs.equals("OGC:CRS84")


def test_gdal_pages_through_a_whole_collection(base_url: str, project: Project) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{base_url}/collections/reaches", PAGE_SIZE=500)
    assert len(frame) == len(project.network)
    assert set(frame["reach_id"]) == set(project.network.ids.tolist())
    units = pyogrio.read_dataframe(f"OAPIF:{base_url}/collections/admin_units")
    assert sorted(units["code"]) == sorted(project.admin_units["code"])
    assert set(units.loc[units["code"] == "320000", "name"]) == {"江苏省"}


def test_gdal_attribute_filter(base_url: str, project: Project) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{base_url}/collections/reaches", where="ORD_STRA = 4")
    expected = project.network.reaches.index[project.network.reaches["ORD_STRA"] == 4]
    assert sorted(frame["reach_id"]) == sorted(expected)


def test_owslib_reads_collections_and_items(base_url: str, project: Project) -> None:
    from owslib.ogcapi.features import Features

    api = Features(base_url, timeout=30)
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    ids = {c["id"] for c in api.collections()["collections"]}
    assert {"reaches", "admin_units", "lakes"} <= ids
    assert api.collection("lakes")["id"] == "lakes"
    page = api.collection_items("reaches", bbox=list(BOX), limit=5)
    reaches = project.network.reaches
    assert page["numberMatched"] == int(reaches.intersects(shapely.box(*BOX)).sum())
    assert len(page["features"]) == 5
    for feature in page["features"]:
        assert feature["properties"]["ORD_STRA"] == reaches.at[feature["id"], "ORD_STRA"]
    unit = api.collection_item("admin_units", "330000")
    assert unit["properties"]["name"] == "浙江省"
    units = api.collection_items("admin_units", level="province", limit=10)
    assert sorted(f["id"] for f in units["features"]) == ["310000", "320000", "330000", "340000"]


def test_http_caching_gzip_and_cors_over_the_wire(base_url: str) -> None:
    url = f"{base_url}/collections/reaches/items?limit=100"
    with httpx.Client(timeout=30) as http:
        first = http.get(url, headers={"Accept-Encoding": "gzip", "Origin": "https://x.cn"})
        assert first.status_code == 200
        assert first.headers["content-encoding"] == "gzip"
        assert "etag" in first.headers["access-control-expose-headers"].lower()
        again = http.get(
            url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        streamed = http.get(f"{base_url}/collections/reaches/items?limit=5000")
        assert streamed.headers.get("transfer-encoding") == "chunked"
        assert streamed.json()["numberReturned"] == 2082
        head = http.head(url, headers={"Accept-Encoding": "gzip"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == first.headers["etag"]
        missing = http.get(f"{base_url}/reaches/1/navigation/UT")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
