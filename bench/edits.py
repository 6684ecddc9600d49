"""Concurrent roster edits on the shared store while readers load the map.

``python -m bench edits [--writers 8] [--appointments 50] [--readers 32] [--workers 4]`` starts a
throwaway PostgreSQL + PostGIS cluster (``initdb`` in a temporary folder, as the tests do), loads
the Taihu sample into it (``rivernet db load``), makes an editor token for 嘉定区 (310114) and
serves the store with ``rivernet serve URL --workers 4`` on a free 127.0.0.1 port. Then, in one
asyncio client process:

- ``--writers`` writers each make ``--appointments`` appointments (``POST /assignments``, one
  after the other, each a distinct 10 m stretch of reach 40636257 with its own 文号);
- ``--readers`` readers fetch coverage vector tiles of 嘉定区 and ``/coverage/summary`` without
  pause until the writers are done (and 2 s more).

The clients share the machine with the server, so what they spend is taken from it. They use
:class:`bench._http.Connection` (one keep-alive connection each, httptools' parser): with
``httpx`` the client process took 41 s of CPU in a 60 s run (about 1.8 ms a request), with it
5 s in a 30 s run. The server runs at ``nice`` :data:`SERVER_NICE` so that the clients get a
core when they need one: without it, on 2 cores and with ``httpx``, the clients' own wait for
CPU (measured: p99 2.4 s between the server's answer and the client reading it) counted as the
server's latency.

Every response says which store version it was made from (header ``Rivernet-Store-Version``);
a write's version is the one its answer carries. A write is committed when its audit row is
written (the row's ``at``, taken inside the edit's transaction just before the commit; the
server and the clients share the machine's clock). A reader sees a write at the first response
with at least that version it receives after the commit; the visibility delay is the time
between the two. It is measured from the commit and not from the write's answer, because a
worker may do work between the two (it prepares the new version before answering).
Checked: no write lost or duplicated (every 201 is in the store once, by its 文号, and nothing
else was written), no 5xx, every write audited once (action ``appoint`` with its 文号), every
reader saw every write within 1 s of its commit. Printed: p50/p99 of write latency,
read latency (tiles, summaries) and visibility delay.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._http import Connection
from bench._report import Row, format_seconds, publish

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
DEFAULT_SIZES = "2082"  # the sample's reaches (informational: the sample is always served)
WRITERS = 8
APPOINTMENTS = 50
READERS = 32
WORKERS = 4
VISIBLE_S = 1.0
SERVER_NICE = 10
"""The server's ``nice`` value: the clients (one Python process on the same cores) come first,
so that what they measure is the server's time and not their own wait for a core."""
VERBOSE = ["-v"] if os.environ.get("RIVERNET_BENCH_VERBOSE") else []
"""``RIVERNET_BENCH_VERBOSE=1``: the server logs each store version it takes in."""
REACH = 40636257  # 10.7 km in 嘉定区: 400 stretches of 10 m, 20 m apart
UNIT = "310114"
PERSON = "P00025"
TILES = [f"/tiles/coverage/{z}/{x}/{y}.mvt?level=county"
         for z, x, y in ((8, 214, 104), (9, 428, 209), (10, 856, 418), (11, 1713, 836),
                         (12, 3426, 1672), (12, 3426, 1673))]  # fmt: skip
"""The tiles over reach ``REACH`` at zooms 8 to 12: every write changes each of them (checked
by ``tests/test_bench_edits.py``)."""
SUMMARY = f"/coverage/summary?unit={UNIT}&level=county"


@dataclass
class Log:
    """What the clients saw."""

    writes: list[dict[str, Any]] = field(default_factory=list)
    reads: list[tuple[int, str, float, float, int, int]] = field(default_factory=list)
    """(reader, kind, sent, received, status, version)."""
    clock_offset: float = field(default_factory=lambda: time.time() - time.monotonic())
    """Seconds since the epoch minus the monotonic clock (to place commit times)."""
    errors: list[str] = field(default_factory=list)


def run(
    sizes: list[int],
    *,
    repeat: int = 1,
    seed: int = 0,
    writers: int = WRITERS,
    appointments: int = APPOINTMENTS,
    readers: int = READERS,
    workers: int = WORKERS,
    results_dir: Path | None = None,
) -> tuple[list[Row], Path]:
    """Run the benchmark, print the table and write the JSON file.

    Parameters
    ----------
    sizes, repeat
        Ignored (the sample is served once); kept for the benchmark interface.
    seed
        Seed of the readers' request mix.
    writers, appointments
        Writers and appointments per writer.
    readers
        Concurrent readers.
    workers
        Server worker processes (``rivernet serve --workers``).
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The table rows and the path of the JSON file.
    """
    from rivernet.postgis import load
    from rivernet.store import open_store
    from rivernet.tokens import create_token
    from tests.pgcluster import create_database, start_cluster, stop_cluster

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    folder = Path(tempfile.mkdtemp(prefix="rivernet-bench-pg-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        cluster = start_cluster(folder)
        url = create_database(cluster, "rivernet_bench")
        load(SAMPLE, url)
        store = open_store(url)
        token = create_token(store, unit=UNIT, role="editor", name="嘉定区河长办 (bench)")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(url, port, workers)
        _wait_until_up(base, server)
        logger.info("edits: %d writers x %d, %d readers, %d workers on %s", writers,
                    appointments, readers, workers, base)  # fmt: skip
        log = asyncio.run(_load(base, token, writers=writers, appointments=appointments,
                                readers=readers, seed=seed))  # fmt: skip
        stored = _stored(store)
        store.close()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        stop_cluster(folder)
        shutil.rmtree(folder, ignore_errors=True)
    rows = _rows(log, stored, writers=writers, appointments=appointments, readers=readers)
    settings = {"writers": writers, "appointments": appointments, "readers": readers,
                "workers": workers, "seed": seed, "project": str(SAMPLE),
                "store": "PostgreSQL + PostGIS (throwaway cluster)"}  # fmt: skip
    notes = (
        f"{writers} writers x {appointments} appointments (POST /assignments) against "
        f"`rivernet serve URL --workers {workers}` on PostGIS while {readers} readers fetch "
        f"coverage tiles and {SUMMARY}; one client process, 127.0.0.1, the server at nice "
        f"{SERVER_NICE}. Visibility is measured from the write's commit (its audit row's time) "
        "to a reader's first response made from the write's store version or later."
    )
    written = publish("edits", rows, settings, directory=results_dir, notes=notes)
    return rows, written


# --- the clients ------------------------------------------------------------------------------


async def _load(
    base: str, token: str, *, writers: int, appointments: int, readers: int, seed: int
) -> Log:
    from urllib.parse import urlsplit

    address = urlsplit(base)
    host, port = str(address.hostname), int(address.port or 80)
    log = Log()
    done = asyncio.Event()
    first = Connection(host, port)
    for path in [*TILES, SUMMARY]:
        await first.get(path)  # warm every worker a little
    await first.close()

    async def write_all() -> None:
        await asyncio.gather(
            *(_writer(Connection(host, port), token, w, appointments, log) for w in range(writers))
        )
        await asyncio.sleep(2.0)  # readers keep reading: the last writes must show too
        done.set()

    rngs = [random.Random(seed * 1000 + r) for r in range(readers)]
    await asyncio.gather(
        write_all(),
        *(_reader(Connection(host, port), r, rngs[r], done, log) for r in range(readers)),
    )
    return log


async def _writer(client: Connection, token: str, writer: int, count: int, log: Log) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(count):
        slot = writer * count + i
        document = f"压测〔2026〕{writer}-{i}号"
        body = {"person_id": PERSON, "level": "county", "unit_code": UNIT, "role": "河长",
                "reach_id": REACH, "from_m": 20.0 * slot, "to_m": 20.0 * slot + 10.0,
                "valid_from": "2026-12-01", "source_document": document}  # fmt: skip
        sent = time.monotonic()
        try:
            answer = await client.post("/assignments", json_body=body, headers=headers)
        except Exception as error:  # a lost connection counts as a failed write
            log.errors.append(f"write {document}: {type(error).__name__}: {error}")
            continue
        received = time.monotonic()
        version = int(answer.headers.get("rivernet-store-version", "-1"))
        row = answer.json() if answer.status_code == 201 else {}
        if answer.status_code != 201:
            log.errors.append(f"write {document}: {answer.status_code} {answer.text[:200]}")
        log.writes.append({"document": document, "status": answer.status_code, "sent": sent,
                           "received": received, "version": version,
                           "assignment_id": row.get("assignment_id")})  # fmt: skip
    await client.close()


async def _reader(client: Connection, reader: int, rng: random.Random, done: asyncio.Event,
                  log: Log) -> None:  # fmt: skip
    while not done.is_set():
        kind, path = ("tile", rng.choice(TILES)) if rng.random() < 0.6 else ("summary", SUMMARY)
        sent = time.monotonic()
        try:
            answer = await client.get(path)
        except Exception as error:
            log.errors.append(f"read {path}: {type(error).__name__}: {error}")
            continue
        version = int(answer.headers.get("rivernet-store-version", "-1"))
        log.reads.append((reader, kind, sent, time.monotonic(), answer.status_code, version))
    await client.close()


# --- checks and figures -----------------------------------------------------------------------


def _stored(store: Any) -> dict[str, Any]:
    """The bench's appointments and audit entries as the store holds them."""
    from rivernet import edits

    roster = store.read_roster()
    assignments = roster.assignments
    mine = assignments[assignments["source_document"].astype(str).str.startswith("压测")]
    audit = [e for e in edits.audit(store, unit=UNIT, limit=100_000)
             if str(e.get("source_document") or "").startswith("压测")]  # fmt: skip
    appointed = [e for e in audit if e["action"] == "appoint"]
    return {
        "documents": mine["source_document"].astype(str).tolist(),
        "ids": mine["assignment_id"].astype(str).tolist(),
        "audited": [str(e["source_document"]) for e in appointed],
        "committed": {str(e["source_document"]): _epoch(str(e["at"])) for e in appointed},
    }


def _epoch(at: str) -> float:
    """Seconds since the epoch of an audit row's ``at`` (ISO, UTC)."""
    import datetime as dt

    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    array = np.asarray(values)
    return float(np.percentile(array, 50)), float(np.percentile(array, 99)), float(array.max())


def _visibility(log: Log, readers: int, committed: dict[str, float]) -> tuple[list[float], int]:
    """Delays from each write's commit to each reader's first response showing it; misses.

    ``committed`` maps a write's 文号 to its commit time (seconds since the epoch, from the
    audit row), put on the clients' monotonic clock with :attr:`Log.clock_offset`.
    """
    by_reader: dict[int, list[tuple[float, int]]] = {r: [] for r in range(readers)}
    for reader, _, _, received, status, version in log.reads:
        if status < 500 and version >= 0:
            by_reader[reader].append((received, version))
    delays: list[float] = []
    missed = 0
    for write in log.writes:
        if write["status"] != 201:
            continue
        at = committed.get(write["document"])
        commit = write["received"] if at is None else min(at - log.clock_offset, write["received"])
        for seen in by_reader.values():
            first = next((t for t, v in seen if t >= commit and v >= write["version"]), None)
            if first is None:
                missed += 1
            else:
                delays.append(first - commit)
    return delays, missed


def _rows(log: Log, stored: dict[str, Any], *, writers: int, appointments: int,
          readers: int) -> list[Row]:  # fmt: skip
    total = writers * appointments
    ok = [w for w in log.writes if w["status"] == 201]
    answered = sorted(w["document"] for w in ok)
    documents = stored["documents"]
    lost = sorted(set(answered) - set(documents))
    duplicated = len(documents) - len(set(documents)) + len(stored["ids"]) - len(set(stored["ids"]))
    unanswered = sorted(set(documents) - set(answered))  # stored although not answered 201
    audited = stored["audited"]
    audit_ok = sorted(audited) == sorted(documents)
    server_errors = sum(1 for w in log.writes if w["status"] >= 500) + sum(
        1 for r in log.reads if r[4] >= 500
    )
    write_lat = [w["received"] - w["sent"] for w in ok]
    tile_lat = [r[3] - r[2] for r in log.reads if r[1] == "tile" and r[4] < 400]
    summary_lat = [r[3] - r[2] for r in log.reads if r[1] == "summary" and r[4] < 400]
    delays, missed = _visibility(log, readers, stored["committed"])
    rows = [
        Row(f"writes: {len(ok)}/{total} answered 201, {len(lost)} lost, {duplicated} "
            f"duplicated, {len(unanswered)} stored unanswered", total, str(len(ok)), "—", None,
            f"{total} stored once each", len(ok) == total and not lost and not duplicated
            and not unanswered, details={"lost": lost, "unanswered": unanswered,
                                         "duplicated": duplicated}),
        Row(f"audit: {len(audited)} appoint entries for {len(documents)} writes", total,
            str(len(audited)), "—", None, "one per write, with its 文号", audit_ok),
        Row(f"server errors (5xx) in {len(log.writes) + len(log.reads)} requests", total,
            str(server_errors), "—", None, "0", server_errors == 0,
            details={"errors": log.errors[:20]}),
    ]  # fmt: skip
    for name, values in (("write latency", write_lat), ("tile latency", tile_lat),
                         ("summary latency", summary_lat)):  # fmt: skip
        p50, p99, most = _percentiles(values)
        rows.append(Row(f"{name}: {len(values)} req, p50 (p99 {format_seconds(p99)}, max "
                        f"{format_seconds(most)})", total, format_seconds(p50), "—", None,
                        "—", None, details={"n": len(values), "p50_s": p50, "p99_s": p99,
                                            "max_s": most}))  # fmt: skip
    p50, p99, most = _percentiles(delays)
    rows.append(Row(f"visibility: {len(delays)} (reader, write) pairs, {missed} never seen, "
                    f"p50 (p99 {format_seconds(p99)}, max {format_seconds(most)})", total,
                    format_seconds(p50), "—", None, f"every reader < {VISIBLE_S:g} s",
                    missed == 0 and bool(delays) and most < VISIBLE_S,
                    details={"pairs": len(delays), "missed": missed, "p50_s": p50,
                             "p99_s": p99, "max_s": most}))  # fmt: skip
    return rows


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from rivernet.cli import main; main()", *VERBOSE,
               "serve", url, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            preexec_fn=_below_the_clients)  # fmt: skip


def _below_the_clients() -> None:
    """Run the server at :data:`SERVER_NICE` (in the child, before it starts)."""
    os.nice(SERVER_NICE)


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("rivernet serve exited at start-up")
        try:
            if httpx.get(base + "/version", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError("rivernet serve did not start within 180 s")
