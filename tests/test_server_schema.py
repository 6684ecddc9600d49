"""The OpenAPI document against the server's answers: a short, seeded schemathesis run.

Every operation of ``/openapi.json`` is called with schema-valid (positive) and schema-invalid
(negative) parameters that schemathesis derives from the document, in-process against the ASGI
app (on the sample with its roster). Every answer must be documented: no server error (5xx),
its status and content type listed for the route, its body valid against the declared schema
(problem+json for errors), its headers as declared, and invalid parameters rejected with a 4xx.
The run is derandomized (the same cases every time) and small enough for the test suite.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from rivernet.server.app import create_app
from rivernet.server.settings import Settings
from tests.conftest import SAMPLE

MAX_EXAMPLES = 20  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def app_client() -> Iterator[TestClient]:
    app = create_app(Settings(project=SAMPLE, reload_interval=0))
    with TestClient(app) as client:
        yield client


def test_openapi_documents_errors_and_content_types(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "roster edits" in operation.get("tags", []):
                continue  # 201, 401-422, live rows: tests/test_edits_api.py checks them
            assert "422" not in responses, (method, path)
            assert "400" in responses and "304" in responses, (method, path)
            problem = responses["400"]["content"]
            assert list(problem) == ["application/problem+json"], (method, path)
            assert responses["200"]["content"], (method, path)
    items = document["paths"]["/collections/{collection_id}/items"]["get"]["responses"]
    assert set(items["200"]["content"]) == {"application/geo+json", "text/csv"}
    assert {"404", "503"} <= set(items)
    tile = document["paths"]["/tiles/{layer_id}/{z}/{x}/{y}.mvt"]["get"]["responses"]
    assert set(tile["200"]["content"]) == {"application/vnd.mapbox-vector-tile"}
    png = document["paths"]["/tiles/{layer_id}/{z}/{x}/{y}.png"]["get"]["responses"]
    assert set(png["200"]["content"]) == {"image/png"}
    assert "303" in document["paths"]["/"]["get"]["responses"]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    app_client: TestClient,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_client.app)
    counts: collections.Counter[Any] = collections.Counter()
    failures: list[tuple[str, str, int, str]] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.generate])  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                response = case.call(session=app_client)
                counts["requests"] += 1
                counts[response.status_code // 100 * 100] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as failure:  # a schemathesis FailureGroup: record, go on
                    label = case.operation.label
                    failures.append((label, case.as_curl_command(), response.status_code,
                                     str(failure)[:400]))  # fmt: skip

            # Unsatisfiable: no invalid value exists for this operation's parameters (/map)
            with contextlib.suppress(Unsatisfiable):
                call()
    print(f"schemathesis: {operations} operations, {dict(counts)}, {len(failures)} failures")
    assert not failures, failures[:5]
    assert counts[500] == 0
    assert operations >= 17 and counts["requests"] > 400
