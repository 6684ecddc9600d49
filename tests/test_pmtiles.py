"""PMTiles archives and static sites (rivernet.layers.pmtiles, ``rivernet tiles``).

The archive is read back with real readers: GDAL's PMTiles driver (through pyogrio) and the
``pmtiles`` reader; its tiles are compared byte for byte with the server's tiles (TestClient);
the static site is served by Python's http.server on 127.0.0.1 and drawn by Debian's Chromium
(skipped when it is not installed, as in tests/test_web_page.py).
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType

from rivernet.cli import main
from rivernet.errors import OutOfRangeError, ProjectFileError
from rivernet.layers.catalog import data_credits
from rivernet.layers.pmtiles import (
    ARCHIVE_NAME,
    archive_layers,
    pmtiles_style,
    write_pmtiles,
    write_site,
)
from rivernet.layers.sources import layer_frame
from rivernet.project import Project
from tests.conftest import NO_CHROMIUM, SAMPLE
from tests.test_web_page import CHROMIUM, CHROMIUM_FLAGS

AS_OF = "2025-06-30"
MAXZOOM = 10


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, project: Project) -> Path:
    """The sample's tiles, z0-10, every layer."""
    path = tmp_path_factory.mktemp("pmtiles") / "taihu.pmtiles"
    write_pmtiles(project, path, maxzoom=MAXZOOM, as_of=AS_OF)
    return path


def _tiles(path: Path) -> dict[tuple[int, int, int], bytes]:
    with path.open("rb") as handle:
        return {zxy: gzip.decompress(data) for zxy, data in all_tiles(MmapSource(handle))}


def test_gdal_reads_every_layer_back(archive: Path, project: Project) -> None:
    names = [name for name, _ in pyogrio.list_layers(archive)]
    assert names == [entry.id for entry in archive_layers(project)]
    read = pyogrio.read_dataframe(archive, layer="reaches")  # GDAL reads the highest zoom
    expected = set(layer_frame(project, "reaches")["reach_id"])
    assert set(read["reach_id"].astype("int64")) == expected
    info = pyogrio.read_info(archive, layer="coverage")
    assert {"reach_id", "status", "level"} <= set(info["fields"])
    assert info["dataset_metadata"]["attribution"] == data_credits(project)


def test_header_and_metadata(archive: Path, project: Project) -> None:
    with archive.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        header, metadata = reader.header(), reader.metadata()
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (0, MAXZOOM)
    assert header["clustered"]
    boxes = [layer_frame(project, e, as_of=AS_OF).total_bounds for e in archive_layers(project)]
    west, south = np.min([b[:2] for b in boxes], axis=0)
    east, north = np.max([b[2:] for b in boxes], axis=0)
    assert abs(header["min_lon_e7"] / 1e7 - west) < 1e-3
    assert abs(header["max_lat_e7"] / 1e7 - north) < 1e-3
    assert abs(header["min_lat_e7"] / 1e7 - south) < 1e-3
    assert abs(header["max_lon_e7"] / 1e7 - east) < 1e-3
    layers = {item["id"]: item for item in metadata["vector_layers"]}
    assert set(layers) == {entry.id for entry in archive_layers(project)}
    assert layers["reaches"]["fields"]["reach_id"] == "Number"
    assert layers["coverage"]["fields"]["status"] == "String"
    assert layers["crossings"]["minzoom"] == 6  # the catalog's zoom range
    assert metadata["rivernet:as_of"] == AS_OF
    assert metadata["attribution"] == data_credits(project)


def test_tiles_are_the_servers_tiles(archive: Path, client: object) -> None:
    tiles = _tiles(archive)
    assert tiles and all(tiles.values())  # no empty tile is stored
    rng = np.random.default_rng(0)
    chosen = [list(tiles)[i] for i in rng.choice(len(tiles), 12, replace=False)]
    for z, x, y in chosen:
        content = tiles[(z, x, y)]
        decoded = mapbox_vector_tile.decode(content)
        served = b""
        for name in ("admin_units", "lakes", "reaches", "coverage", "coverage_gaps",
                     "crossings", "boundary_rivers"):  # fmt: skip
            query = f"?datetime={AS_OF}&level=county"
            response = client.get(  # type: ignore[attr-defined]
                f"/tiles/{name}/{z}/{x}/{y}.mvt{query}", headers={"Accept-Encoding": "identity"}
            )
            assert response.status_code == 200
            served += response.content
            assert (name in decoded) == bool(response.content), (name, z, x, y)
        assert content == served, (z, x, y)


def test_bbox_and_layers_limit_the_archive(tmp_path: Path, project: Project) -> None:
    bbox = (120.0, 31.0, 120.5, 31.5)
    summary = write_pmtiles(
        project, tmp_path / "a.pmtiles", layers=["reaches"], minzoom=8, maxzoom=10, bbox=bbox
    )
    assert summary.layers == ("reaches",)
    assert [name for name, _ in pyogrio.list_layers(summary.path)] == ["reaches"]
    everything = write_pmtiles(project, tmp_path / "b.pmtiles", layers=["reaches"], minzoom=8,
                               maxzoom=10)  # fmt: skip
    assert 0 < summary.tiles < everything.tiles
    for z, x, _y in _tiles(summary.path):
        n = 2**z
        west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
        assert west <= bbox[2] and east >= bbox[0]


def test_refuses_to_overwrite_and_leaves_no_partial_file(tmp_path: Path, project: Project) -> None:
    target = tmp_path / "map.pmtiles"
    target.write_bytes(b"old")
    with pytest.raises(ProjectFileError, match="already exists"):
        write_pmtiles(project, target, maxzoom=2)
    assert target.read_bytes() == b"old"
    with pytest.raises(OutOfRangeError, match="no tile"):  # nothing there: fails mid-way
        write_pmtiles(project, target, maxzoom=6, minzoom=6, bbox=(0, 0, 1, 1), force=True)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.pmtiles"]  # no temporary left
    with pytest.raises(OutOfRangeError, match="zoom range"):
        write_pmtiles(project, tmp_path / "z.pmtiles", minzoom=5, maxzoom=3)


def test_cli_writes_an_archive_and_refuses_bad_outputs(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "map.pmtiles"
    args = ["tiles", str(SAMPLE), "-o", str(target), "--maxzoom", "6", "--layers", "reaches,lakes"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "已写入" in result.output and "图层：湖泊、河流" in result.output
    assert [name for name, _ in pyogrio.list_layers(target)] == ["lakes", "reaches"]
    again = runner.invoke(main, args)
    assert again.exit_code == 1 and "--force" in again.output
    assert runner.invoke(main, [*args, "--force"]).exit_code == 0
    missing = runner.invoke(main, ["tiles", str(SAMPLE), "-o", str(tmp_path / "no" / "m.pmtiles")])
    assert missing.exit_code == 1
    assert len(missing.output.strip().splitlines()) == 1 and "不存在" in missing.output
    wrong = runner.invoke(main, ["tiles", str(SAMPLE), "-o", str(tmp_path / "m.mbtiles")])
    assert wrong.exit_code == 1 and ".pmtiles" in wrong.output
    unknown = runner.invoke(main, ["tiles", str(SAMPLE), "-o", str(tmp_path / "u.pmtiles"),
                                   "--layers", "rivers"])  # fmt: skip
    assert (
        unknown.exit_code == 1 and "reaches" in unknown.output and "Traceback" not in unknown.output
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_cli_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    result = CliRunner().invoke(main, ["tiles", str(SAMPLE), "-o", str(folder / "m.pmtiles")])
    assert result.exit_code == 1 and "没有写入权限" in result.output


def test_cli_os_error_is_one_line(tmp_path: Path) -> None:
    # /proc accepts no new files, even for root: the error names the file, no traceback.
    result = CliRunner().invoke(main, ["tiles", str(SAMPLE), "-o", "/proc/map.pmtiles",
                                       "--maxzoom", "1"])  # fmt: skip
    assert result.exit_code == 1
    assert "/proc/map.pmtiles" in result.output and "Traceback" not in result.output


def test_site_style_reads_one_archive(project: Project) -> None:
    entries = archive_layers(project)
    style = pmtiles_style(project, entries, bounds=(119.0, 30.0, 121.0, 32.0))
    assert list(style["sources"]) == ["rivernet"]
    assert style["sources"]["rivernet"]["url"] == f"pmtiles://{ARCHIVE_NAME}"
    drawn = [item for item in style["layers"] if item["type"] != "background"]
    assert drawn and all(item["source"] == "rivernet" for item in drawn)
    assert {item["source-layer"] for item in drawn} == {entry.id for entry in entries}
    english = pmtiles_style(project, entries, lang="en")
    assert english["metadata"]["rivernet:lang"] == "en" and "river" in english["name"]


# --- the static site in a browser ---------------------------------------------------------------


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Python's static file server plus single HTTP range requests (as nginx answers them).

    ``python -m http.server`` ignores ``Range``; a static host for PMTiles must answer it.
    """

    def send_head(self):  # type: ignore[no-untyped-def]
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not header.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = header[len("bytes=") :].partition("-")
        start = int(first) if first else max(size - int(last), 0)
        end = min(int(last), size - 1) if first and last else size - 1
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return handle

    def copyfile(self, source, outputfile):  # type: ignore[no-untyped-def]
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        self._remaining = None
        outputfile.write(source.read(remaining))

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, project: Project) -> Iterator[str]:
    """A static site of the sample, served by http.server (with ranges) on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("site")
    write_site(project, folder, maxzoom=MAXZOOM, as_of=AS_OF, force=True)
    handler = partial(_RangeHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_site_refuses_to_overwrite(tmp_path: Path, project: Project) -> None:
    write_site(project, tmp_path, maxzoom=3, layers=["lakes"])
    with pytest.raises(ProjectFileError, match="already holds a site"):
        write_site(project, tmp_path, maxzoom=3, layers=["lakes"])
    assert (tmp_path / "vendor" / "pmtiles" / "LICENSE.txt").is_file()
    assert (tmp_path / "vendor" / "maplibre-gl" / "LICENSE.txt").is_file()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_site_draws_the_archive_offline(site: str, project: Project) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{site}/index.html")
            page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
            page.wait_for_function("() => window.rivernetSite.areTilesLoaded()", timeout=60_000)
            page.wait_for_timeout(500)
            found = page.evaluate(
                """() => {
                    const map = window.rivernetSite;
                    const count = {};
                    for (const f of map.queryRenderedFeatures()) {
                        count[f.sourceLayer] = (count[f.sourceLayer] || 0) + 1;
                    }
                    return count;
                }"""
            )
            ids = page.evaluate(
                "() => window.rivernetSite.queryRenderedFeatures({layers: ['coverage']})"
                ".map((f) => f.properties.reach_id)"
            )
            statuses = page.evaluate(
                "() => window.rivernetSite.queryRenderedFeatures({layers: ['coverage']})"
                ".map((f) => f.properties.status)"
            )
        finally:
            browser.close()
    assert not errors, errors
    assert found.get("coverage", 0) > 100 and found.get("admin_units", 0) > 0, found
    assert set(ids) <= set(project.network.reaches.index)
    coverage = layer_frame(project, "coverage", as_of=dt.date.fromisoformat(AS_OF))
    assert set(statuses) <= set(coverage["status"])
    assert any(url.endswith(ARCHIVE_NAME) for url in requests)
    # the MapLibre worker is a blob: URL of the page's own origin
    local = (site, f"blob:{site}/", "data:")
    outside = [url for url in requests if not url.startswith(local)]
    assert not outside, outside
