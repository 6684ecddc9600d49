"""The benchmarks' light HTTP client (bench._http) against a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from bench._http import Connection


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/bytes")
    async def some_bytes() -> Response:
        return Response(b"\x00\x01" * 50_000, media_type="application/octet-stream",
                        headers={"X-Test": "yes"})  # fmt: skip

    @app.get("/chunked")
    async def chunked() -> StreamingResponse:
        async def parts() -> Any:
            for i in range(3):
                yield f"part{i};".encode()

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/close")
    async def close() -> Response:
        return Response("bye", headers={"Connection": "close"})

    @app.post("/echo", status_code=201)
    async def echo(request: Request) -> dict[str, Any]:
        return {"body": await request.json(), "token": request.headers.get("authorization")}

    return app


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(_app(), host="127.0.0.1", port=free, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield free
    server.should_exit = True
    thread.join(10)


def test_answers_with_a_length_chunked_and_json_on_one_connection(port: int) -> None:
    async def run() -> list[Any]:
        connection = Connection("127.0.0.1", port)
        big = await connection.get("/bytes")
        streams = connection._streams
        parts = await connection.get("/chunked")
        posted = await connection.post("/echo", json_body={"文号": "压测〔2026〕1号"},
                                       headers={"Authorization": "Bearer t"})  # fmt: skip
        same = streams is not None and connection._streams is streams  # kept alive
        await connection.close()
        return [big, parts, posted, same]

    big, parts, posted, same = asyncio.run(run())
    assert big.status_code == 200 and big.content == b"\x00\x01" * 50_000
    assert big.headers["x-test"] == "yes"
    assert parts.text == "part0;part1;part2;"
    assert posted.status_code == 201
    assert posted.json() == {"body": {"文号": "压测〔2026〕1号"}, "token": "Bearer t"}
    assert same


def test_reconnects_after_the_server_closes_and_fails_on_a_dead_port(port: int) -> None:
    async def run() -> tuple[str, str]:
        connection = Connection("127.0.0.1", port)
        first = await connection.get("/close")
        assert connection._streams is None  # the server said close
        second = await connection.get("/bytes")
        await connection.close()
        return first.text, second.headers["content-length"]

    assert asyncio.run(run()) == ("bye", "100000")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = int(sock.getsockname()[1])
    with pytest.raises(OSError):
        asyncio.run(Connection("127.0.0.1", dead).get("/"))
