"""Tests of the server's HTTP behaviour: settings, caching, ETags, gzip, CORS, errors, fuzzing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from rivernet.errors import (
    AdminUnitsError,
    CRSError,
    InputError,
    NotFoundError,
    OutOfRangeError,
    RivernetError,
    RosterError,
)
from rivernet.project import Project
from rivernet.server.app import create_app
from rivernet.server.errors import ERROR_TABLE, install_error_handlers, status_for
from rivernet.server.http import cached_response
from rivernet.server.settings import DEFAULT_PROJECT, Settings
from rivernet.server.state import LRUCache
from tests.conftest import SAMPLE

ITEMS = "/collections/reaches/items"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERNET_PROJECT", "/data/x.gpkg")
    monkeypatch.setenv("RIVERNET_PUBLIC_URL", "https://maps.example.cn/rivers/")
    monkeypatch.setenv("RIVERNET_ROOT_PATH", "rivers/")
    monkeypatch.setenv("RIVERNET_CORS_ORIGINS", "https://a.example.cn, https://b.example.cn")
    monkeypatch.setenv("RIVERNET_TILE_CACHE_MB", "10")
    monkeypatch.setenv("RIVERNET_BASEMAP_URL", "https://t0.tianditu.gov.cn/{z}/{x}/{y}")
    monkeypatch.setenv("RIVERNET_ALLOWED_HOSTS", "maps.example.cn, *.example.org")
    monkeypatch.setenv("RIVERNET_RELOAD_INTERVAL", "0.5")
    monkeypatch.setenv("RIVERNET_COMPUTE_THREADS", "3")
    settings = Settings()
    assert settings.project == Path("/data/x.gpkg")
    assert settings.public_url == "https://maps.example.cn/rivers"
    assert settings.root_path == "/rivers"
    assert settings.cors_origins == ["https://a.example.cn", "https://b.example.cn"]
    assert settings.cache_bytes("tiles") == 10 * 2**20
    assert settings.basemap_url is not None
    assert settings.trusted_hosts() == ["maps.example.cn", "*.example.org"]
    assert settings.reload_interval == 0.5 and settings.compute_threads == 3


def test_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROJECT", "PUBLIC_URL", "ROOT_PATH", "CORS_ORIGINS", "ALLOWED_HOSTS",
                 "RELOAD_INTERVAL"):  # fmt: skip
        monkeypatch.delenv(f"RIVERNET_{name}", raising=False)
    settings = Settings()
    assert settings.project == DEFAULT_PROJECT and DEFAULT_PROJECT.exists()
    assert settings.public_url is None and settings.root_path == ""
    assert settings.cors_origins == [] and settings.basemap_url is None  # same-origin
    assert settings.reload_interval == 2.0
    assert {"localhost", "127.0.0.1", "[::1]"} <= set(settings.trusted_hosts())
    assert "*" not in settings.trusted_hosts()
    public = Settings(public_url="https://maps.example.cn/rivers")
    assert "maps.example.cn" in public.trusted_hosts()


def test_lifespan_loads_the_project_once_with_the_server_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import rivernet.project
    import rivernet.server.app

    calls: list[tuple[Path, Any]] = []
    real = rivernet.project.open_project

    def counting(path: Path, *, policy: Any = None) -> Project:
        calls.append((path, policy))
        return real(path, policy=policy)

    policy = tmp_path / "county.toml"
    policy.write_text('name = "county only"\ndefault_levels = ["county"]\n', encoding="utf-8")
    monkeypatch.setattr(rivernet.server.app, "open_project", counting)
    monkeypatch.setenv("RIVERNET_POLICY", str(policy))
    app = create_app(Settings(project=SAMPLE))
    with TestClient(app) as test_client:
        for _ in range(3):
            assert test_client.get("/collections/lakes/items").status_code == 200
        project = app.state.rivernet.project
        assert project.path == SAMPLE
        assert project.policy is not None and project.policy.name == "county only"
        assert not hasattr(app.state.rivernet, "policy")
    assert calls == [(SAMPLE, policy)]


def test_strong_etag_and_304(client: TestClient) -> None:
    first = client.get(ITEMS, params={"limit": 5})
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=60"
    again = client.get(ITEMS, params={"limit": 5}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    for header in (f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(ITEMS, params={"limit": 5}, headers={"If-None-Match": header})
        assert response.status_code == 304, header
    other = client.get(ITEMS, params={"limit": 6}, headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag
    assert client.get(ITEMS, params={"limit": 5}).headers["etag"] == etag  # stable


def test_etag_depends_on_data_version_and_encoding(project: Project) -> None:
    own = project.replace()  # a copy whose inputs this test may replace
    app = create_app(Settings(project=SAMPLE), project=own)
    with TestClient(app) as test_client:
        plain = test_client.get("/conformance", headers={"Accept-Encoding": "identity"})
        zipped = test_client.get("/conformance", headers={"Accept-Encoding": "gzip"})
        assert plain.headers["etag"] != zipped.headers["etag"]
        own.roster = own.roster  # a replaced input gives a new data version
        assert app.state.rivernet.data_version == own.data_version != project.data_version
        assert test_client.get("/conformance").headers["etag"] != zipped.headers["etag"]


def test_304_skips_building_the_body() -> None:
    app = FastAPI()
    built: list[int] = []

    def body() -> bytes:
        built.append(1)
        return b"{}"

    @app.get("/x")
    def endpoint(request: Request) -> Any:
        return cached_response(request, body, "application/json")

    app.state.rivernet = _FakeState()
    with TestClient(app) as test_client:
        etag = test_client.get("/x").headers["etag"]
        assert test_client.get("/x", headers={"If-None-Match": etag}).status_code == 304
    assert built == [1]


class _FakeState:
    data_version = "v1"

    def pinned(self) -> _FakeState:
        return self

    class settings:  # noqa: N801 - mimics the attribute
        public_url = None
        cache_max_age = 5


def test_gzip_for_large_json(client: TestClient) -> None:
    response = client.get(ITEMS, params={"limit": 200}, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["numberReturned"] == 200  # httpx decompresses
    plain = client.get(ITEMS, params={"limit": 200}, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == response.json()


def test_cors_is_same_origin_by_default(client: TestClient) -> None:
    response = client.get(ITEMS, headers={"Origin": "https://gis.example.cn"})
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)


def test_cors_exposes_etag(project: Project) -> None:
    settings = Settings(project=SAMPLE, cors_origins=["*"])
    with TestClient(create_app(settings, project=project)) as client:
        response = client.get(ITEMS, headers={"Origin": "https://gis.example.cn"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "etag" in response.headers["access-control-expose-headers"].lower()
        preflight = client.options(
            ITEMS,
            headers={"Origin": "https://gis.example.cn", "Access-Control-Request-Method": "GET"},
        )
    assert preflight.status_code == 200


def test_trusted_hosts(project: Project) -> None:
    """Links follow the Host header, so only allowed hosts are answered (problem+json 400)."""
    with TestClient(create_app(Settings(project=SAMPLE), project=project),
                    base_url="http://localhost:8000") as client:  # fmt: skip
        assert client.get("/conformance").status_code == 200
        links = client.get("/").json()["links"]
        assert links[0]["href"].startswith("http://localhost:8000/")
        evil = client.get("/", headers={"Host": "evil.example"})
    assert evil.status_code == 400
    assert evil.headers["content-type"] == "application/problem+json"
    assert "Host" in evil.json()["detail"] and "RIVERNET_ALLOWED_HOSTS" in evil.json()["detail"]
    assert "links" not in evil.json()
    settings = Settings(project=SAMPLE, allowed_hosts=["*"])
    with TestClient(create_app(settings, project=project)) as client:
        assert client.get("/", headers={"Host": "any.example"}).status_code == 200
    settings = Settings(project=SAMPLE, allowed_hosts=["*.example.cn"])
    with TestClient(create_app(settings, project=project)) as client:
        assert client.get("/", headers={"Host": "maps.example.cn"}).status_code == 200
        assert client.get("/", headers={"Host": "example.com"}).status_code == 400


@pytest.mark.parametrize(
    "url", ["/", "/conformance", ITEMS + "?limit=3", "/map", "/tiles/reaches/9/426/211.mvt",
            "/static/app.js", "/coverage/summary?datetime=2025-06-30", "/style.json"],
)  # fmt: skip
def test_head_answers_like_get_without_a_body(client: TestClient, url: str) -> None:
    get = client.get(url, follow_redirects=False)
    head = client.head(url, follow_redirects=False)
    assert head.status_code == get.status_code, url
    assert head.content == b""
    for name in ("content-type", "etag", "cache-control", "content-length"):
        assert head.headers.get(name) == get.headers.get(name), (url, name)


def test_cors_origins_are_configurable(project: Project) -> None:
    settings = Settings(project=SAMPLE, cors_origins=["https://a.example.cn"])
    with TestClient(create_app(settings, project=project)) as test_client:
        allowed = test_client.get("/", headers={"Origin": "https://a.example.cn"})
        other = test_client.get("/", headers={"Origin": "https://b.example.cn"})
    assert allowed.headers["access-control-allow-origin"] == "https://a.example.cn"
    assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(Settings(project=SAMPLE, cors_origins=[]), project=project)) as c:
        assert "access-control-allow-origin" not in c.get("/", headers={"Origin": "x"}).headers


def test_public_url_in_every_link(project: Project) -> None:
    settings = Settings(project=SAMPLE, public_url="https://maps.example.cn/rivers/")
    with TestClient(create_app(settings, project=project)) as test_client:
        for url in ("/", "/collections", "/collections/reaches", ITEMS + "?limit=2"):
            document = test_client.get(url).json()
            hrefs = [link["href"] for link in _all_links(document)]
            assert hrefs and all(h.startswith("https://maps.example.cn/rivers/") for h in hrefs)


@pytest.mark.parametrize("server_root_path", ["", "/rivers"])
def test_root_path_in_links(project: Project, server_root_path: str) -> None:
    """The prefix reaches the links whether the ASGI server or the settings give it."""
    settings = Settings(project=SAMPLE, root_path="/rivers")
    app = create_app(settings, project=project)
    with TestClient(app, root_path=server_root_path) as test_client:
        document = test_client.get("/collections").json()
    hrefs = [link["href"] for link in _all_links(document)]
    assert hrefs and all(h.startswith("http://testserver/rivers/") for h in hrefs), hrefs[:3]


def _all_links(document: Any) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if isinstance(document, dict):
        found += [link for link in document.get("links", []) if isinstance(link, dict)]
        for value in document.values():
            if isinstance(value, list):
                for item in value:
                    found += _all_links(item)
    return found


def test_problem_json_for_unknown_routes_and_bad_parameters(client: TestClient) -> None:
    missing = client.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    bad = client.get(ITEMS, params={"limit": "many"})
    assert bad.status_code == 400
    problem = bad.json()
    assert problem["title"] == "参数无效" and problem["errors"][0]["parameter"] == "limit"
    assert problem["detail"] == "查询参数 'limit'：应为整数"
    english = client.get(ITEMS, params={"limit": "many", "lang": "en"}).json()
    assert english["title"] == "Invalid Parameters" and "valid integer" in english["detail"]
    wrong_method = client.post(ITEMS)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.json()["detail"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("x"), 404),
        (OutOfRangeError("x"), 404),
        (CRSError("x"), 400),
        (InputError("x"), 400),
        (RivernetError("x"), 400),
        (RosterError("x", problems=[(3, "bad")]), 503),
        (AdminUnitsError("x"), 503),
        (RuntimeError("x"), 500),
    ],
)
def test_error_table(error: Exception, status: int) -> None:
    assert status_for(error)[0] == status


def test_error_table_lists_subclasses_before_bases() -> None:
    kinds = [kind for kind, _, _ in ERROR_TABLE]
    for i, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) for earlier in kinds[:i]), kind


def test_library_errors_and_unexpected_errors_become_problems() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/roster")
    def roster() -> None:
        raise RosterError("roster is broken", problems=[(4, "unknown reach 9")])

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        roster_problem = test_client.get("/roster")
        assert roster_problem.status_code == 503
        assert roster_problem.json()["problems"] == [{"line": 4, "message": "unknown reach 9"}]
        boom_problem = test_client.get("/boom")
    assert boom_problem.status_code == 500
    assert boom_problem.headers["content-type"] == "application/problem+json"
    assert "secret" not in boom_problem.text


def test_lru_cache_evicts_and_computes_once() -> None:
    cache = LRUCache(2, sizeof=lambda value: 1)
    calls: list[str] = []

    def make(key: str) -> str:
        calls.append(key)
        time.sleep(0.01)
        return key.upper()

    threads = [threading.Thread(target=cache.get_or_compute, args=("a", lambda: make("a")))
               for _ in range(8)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["a"]
    cache.get_or_compute("b", lambda: make("b"))
    cache.get_or_compute("a", lambda: make("a"))  # a is now most recent
    cache.get_or_compute("c", lambda: make("c"))  # evicts b
    assert len(cache) == 2
    cache.get_or_compute("b", lambda: make("b"))
    assert calls == ["a", "b", "c", "b"]
    assert cache.peek("b") == "B" and cache.peek("a") is None  # a was evicted by b
    assert calls == ["a", "b", "c", "b"]  # peeking never computes
    assert LRUCache(0).get_or_compute("x", lambda: 1) == 1


def test_lru_cache_is_bounded_in_bytes() -> None:
    cache = LRUCache(1000)
    for n in range(10):
        cache.get_or_compute(n, lambda: b"x" * 300)
    assert cache.bytes <= 1000 and len(cache) == 3  # 3 x (300 + 33 bytes of overhead)
    assert cache.peek(9) is not None and cache.peek(0) is None
    cache.get_or_compute("big", lambda: b"x" * 5000)  # larger than the bound: not kept
    assert cache.peek("big") is None and cache.peek(9) is not None
    cache.clear()
    assert cache.bytes == 0 and len(cache) == 0


def test_size_estimates() -> None:
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from shapely import LineString

    from rivernet.server.encoding import FeatureTable
    from rivernet.server.http import PreparedBody
    from rivernet.server.state import estimate_bytes

    body = PreparedBody.of(b"a" * 10_000, compress=True)
    assert 10_000 < estimate_bytes(body) < 12_000
    frame = pd.DataFrame({"x": np.arange(1000, dtype=np.int64)})
    assert 8000 <= estimate_bytes(frame) < 9000
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1), (2, 2)])] * 100)
    assert estimate_bytes(lines) >= 100 * 3 * 16
    table = FeatureTable(lines)
    assert estimate_bytes(table) >= 100 * 3 * 16
    assert estimate_bytes({"a": [b"x" * 100] * 1000}) >= 100_000


BAD_VALUES = ("", "abc", "-1", "nan", "inf", "1e309", "0", "1,2,3", "%00", "' OR 1=1 --",
              "９", "x" * 2000, "180,-90,-180,90", "2024-02-30", "UT", "-")  # fmt: skip
GOOD_PATH = {"collection_id": "reaches", "reach_id": "40618366", "mode": "UT",
             "layer_id": "reaches", "z": "9", "x": "426", "y": "211",
             "assignment_id": "1", "person_id": "1", "board_id": "1"}  # fmt: skip
GOOD_QUERY = {"lon": "120.3", "lat": "31.3", "unit": "320500"}


def _good_path(route: APIRoute, client: TestClient) -> dict[str, str]:
    values = dict(GOOD_PATH)
    if "feature_id" in route.param_convertors:
        values["feature_id"] = "40618366"
    return values


def _routes(client: TestClient) -> list[APIRoute]:
    app: Any = client.app
    return [route for route in _api_routes(app.routes)
            if route.methods and "GET" in route.methods and route.include_in_schema]  # fmt: skip


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


@pytest.fixture(scope="module")
def roster_client(roster_sample: tuple[Path, Any]) -> Iterator[TestClient]:
    """The server on the sample with its fictional roster."""
    with TestClient(create_app(Settings(project=roster_sample[0]))) as test_client:
        yield test_client


@pytest.mark.parametrize("app_client", ["client", "roster_client"])
def test_fuzz_every_route_with_bad_values(request: pytest.FixtureRequest, app_client: str) -> None:
    """Bad path and query values on every route give 4xx problems (or a 2xx), never 500."""
    client: TestClient = request.getfixturevalue(app_client)
    failures = []
    requests = 0
    for route in _routes(client):
        path_values = _good_path(route, client)
        query_names = [p.alias for p in route.dependant.query_params]
        base_query = {k: v for k, v in GOOD_QUERY.items() if k in query_names}
        targets = [("path", name) for name in route.param_convertors] + [
            ("query", name) for name in query_names
        ]
        for where, name in targets:
            for value in BAD_VALUES:
                path = {**path_values, name: value} if where == "path" else path_values
                query = {**base_query, name: value} if where == "query" else base_query
                if where == "path" and value in ("", "%00"):
                    continue  # not a single path segment
                url = route.path.format(**path)
                response = client.get(url, params=query)
                requests += 1
                ok = response.status_code < 500 and (
                    response.is_success
                    or response.status_code == 304
                    or response.headers.get("content-type") == "application/problem+json"
                )
                if not ok:
                    failures.append((route.path, where, name, value[:20], response.status_code))
    assert not failures, failures[:20]
    assert requests > 500  # every route and parameter was exercised


def test_serve_command_prints_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from rivernet.cli import main

    started: dict[str, Any] = {}

    def fake_run(app: FastAPI, *, host: str, port: int, log_level: str) -> None:
        started.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.delenv("RIVERNET_PROJECT", raising=False)
    monkeypatch.delenv("RIVERNET_PUBLIC_URL", raising=False)
    result = CliRunner().invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.output and "taihu.gpkg" in result.output
    assert "http://127.0.0.1:8123/map" in result.output
    assert started["host"] == "127.0.0.1" and started["port"] == 8123
    assert isinstance(started["app"], FastAPI)
    custom = CliRunner().invoke(main, ["serve", str(SAMPLE), "--host", "0.0.0.0", "--port", "9"])
    assert custom.exit_code == 0 and "http://127.0.0.1:9/" in custom.output


def test_serve_command_reports_a_missing_project(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rivernet.cli import main

    result = CliRunner().invoke(main, ["serve", str(tmp_path / "missing.gpkg")])
    assert result.exit_code != 0
    assert "missing.gpkg 不存在" in result.output and "Traceback" not in result.output
    english = CliRunner().invoke(main, ["serve", str(tmp_path / "missing.gpkg"), "--lang", "en"])
    assert "missing.gpkg does not exist" in english.output


def test_server_url() -> None:
    from rivernet.cli.serve import server_url

    assert server_url(None, "::", 8000) == "http://127.0.0.1:8000/"
    assert server_url(None, "::1", 80) == "http://[::1]:80/"
    assert server_url("https://maps.example.cn/rivers", "0.0.0.0", 1) == (
        "https://maps.example.cn/rivers/"
    )
