"""The edits benchmark's fixed inputs and its visibility measure (bench.edits), without a server.

The benchmark itself (a PostgreSQL cluster, ``--workers 4``, 40 clients) runs with
``python -m bench edits``; here: its tiles lie over the reach it edits, and a reader's delay is
counted from the write's commit, not from its answer.
"""

from __future__ import annotations

import mapbox_vector_tile
from fastapi.testclient import TestClient

from bench.edits import REACH, SUMMARY, TILES, Log, _visibility


def test_every_tile_of_the_bench_holds_the_edited_reach(client: TestClient) -> None:
    for path in TILES:
        answer = client.get(path)
        assert answer.status_code == 200, path
        features = mapbox_vector_tile.decode(answer.content)["coverage"]["features"]
        assert REACH in {int(f["properties"]["reach_id"]) for f in features}, path
    assert client.get(SUMMARY).status_code == 200


def _log(offset: float) -> Log:
    log = Log(clock_offset=offset)
    log.writes.append({"document": "压测〔2026〕0-0号", "status": 201, "sent": 9.0,
                       "received": 10.5, "version": 7, "assignment_id": "A1"})  # fmt: skip
    log.reads += [
        (0, "tile", 9.9, 10.2, 200, 7),  # reader 0 saw version 7 before the write's answer
        (1, "tile", 10.0, 10.3, 200, 6),
        (1, "tile", 10.3, 10.9, 200, 7),
    ]
    return log


def test_visibility_is_counted_from_the_commit() -> None:
    log = _log(offset=1000.0)  # epoch = monotonic + 1000
    delays, missed = _visibility(log, 2, {"压测〔2026〕0-0号": 1010.0})  # committed at 10.0
    assert missed == 0
    assert [round(d, 6) for d in delays] == [0.2, 0.9]


def test_without_its_audit_row_a_write_counts_from_its_answer() -> None:
    delays, missed = _visibility(_log(offset=1000.0), 2, {})
    assert missed == 1  # reader 0 never answers again after 10.5
    assert [round(d, 6) for d in delays] == [0.4]
