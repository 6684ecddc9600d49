"""A light HTTP/1.1 client for load benchmarks: one keep-alive connection, asyncio streams and
httptools' C parser (uvicorn's own).

The load benchmarks run their clients on the server's machine, so every millisecond of the
clients' CPU is taken from the server and counted as its latency. ``httpx`` costs about 1.8 ms of
CPU per request; this client a fraction of that. It does only what the benchmarks need: GET and
POST on one host, ``Content-Length`` and chunked answers, reconnecting when the server closes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httptools


@dataclass
class Answer:
    """One HTTP answer: status, headers (lower-case names) and body."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.content)


class _Parsed:
    """httptools callbacks collecting one answer."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = False
        self.parser: httptools.HttpResponseParser | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        if self.parser is not None:  # only known here: the parser resets after the message
            self.keep_alive = self.parser.should_keep_alive()


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port`` (opened on first use, reopened
    after the server closes it).

    Parameters
    ----------
    host, port
        The server.
    timeout
        Seconds one request may take.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 120.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Answer:
        """``GET path``."""
        return await self.request("GET", path, headers=headers)

    async def post(
        self, path: str, *, json_body: Any, headers: dict[str, str] | None = None
    ) -> Answer:
        """``POST path`` with a JSON body."""
        body = json.dumps(json_body, ensure_ascii=False).encode()
        extra = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, headers=extra, body=body)

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        """Send one request and read its whole answer (within :attr:`timeout` seconds)."""
        return await asyncio.wait_for(self._exchange(method, path, headers, body), self.timeout)

    async def close(self) -> None:
        """Close the connection."""
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            await writer.wait_closed()

    async def _exchange(
        self, method: str, path: str, headers: dict[str, str] | None, body: bytes
    ) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]  # fmt: skip
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        parsed = _Parsed()
        parser = parsed.parser = httptools.HttpResponseParser(parsed)
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
            while not parsed.complete:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                parser.feed_data(chunk)
        except BaseException:
            await self.close()
            raise
        if not parsed.keep_alive:
            await self.close()
        return Answer(parser.get_status_code(), parsed.headers, b"".join(parsed.body))
