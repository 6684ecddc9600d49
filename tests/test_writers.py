"""Writers killed with SIGKILL at random moments leave the old file or the new one, never half.

Every writer of a project file is run in a subprocess and killed (``kill -9``) at random
moments spread over the part of its runtime where it writes (from the moment it takes the
project lock ``PROJECT.gpkg.lock`` to a little past its end; the reading before that cannot
harm the file): ``rivernet roster import`` (:func:`rivernet.roster.write_roster`) and the
sample build ``data/sample/build_sample.py --output``. After each kill the target must be
the old file or the new one in full; after the next successful write no temporary file of the
killed writers and no lock file may remain (issue 10, item 4).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyogrio
import pytest

from rivernet._files import lock_path
from rivernet.roster import export_roster, write_roster
from tests._coverage_project import tiny_roster, write_tiny_project

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
SHARED = ROOT.parent / "shared" / "data"
BUILD_SCRIPT = ROOT / "data" / "sample" / "build_sample.py"
CLI = [sys.executable, "-c", "import sys; from rivernet.cli import main; sys.exit(main())"]


def _run(command: list[str], lock: Path, *, kill_after: float | None = None) -> tuple[float, float]:
    """Run a writer; with ``kill_after``, SIGKILL it that many seconds after it takes its lock.

    Returns when the lock appeared and when the process ended (seconds from the start; the lock
    time is ``inf`` when it was never seen). A writer that ends before the kill just finishes.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    locked = float("inf")
    while process.poll() is None:
        now = time.monotonic() - started
        if locked == float("inf") and lock.exists():
            locked = now
        if kill_after is not None and now >= locked + kill_after:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    code = process.wait(60)
    if kill_after is None:
        assert code == 0, command
    return locked, time.monotonic() - started


def _leftovers(folder: Path, stem: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{stem}-"))


def _kill_many(
    command: list[str],
    target: Path,
    reset: Callable[[], None],
    outcome: Callable[[], str],
    *,
    kills: int,
    window: float,
    seed: int,
) -> dict[str, int]:
    """Kill the writer ``kills`` times, at random moments over its locked (writing) phase.

    The moments are spread uniformly from ``0.25 * window`` to ``1.1 * window`` seconds after
    the writer takes the project lock, so that some kills come after it has finished. Counts
    the outcomes and the kills after which temporary files were left (each next writer removes
    them).
    """
    rng = random.Random(seed)
    counts = {"old": 0, "new": 0, "left temporary files": 0}
    for _ in range(kills):
        reset()
        _run(command, lock_path(target), kill_after=rng.uniform(0.25, 1.1) * window)
        counts[outcome()] += 1
        counts["left temporary files"] += bool(_leftovers(target.parent, target.stem))
    return counts


@pytest.mark.slow
def test_roster_import_killed_at_random_moments(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    target = folder / "tiny.gpkg"
    template = write_tiny_project(tmp_path / "old.gpkg")
    roster = tiny_roster()
    roster.assignments = roster.assignments[
        ~roster.assignments["assignment_id"].isin(["X99", "E9old"])
    ]
    write_roster(roster, template)  # 13 assignments
    roster.assignments = roster.assignments[roster.assignments["assignment_id"] != "W7"]
    source = export_roster(roster, tmp_path / "new" / "roster.csv")  # 12 assignments
    old_bytes = template.read_bytes()
    command = [*CLI, "roster", "import", str(target), str(source)]

    def reset() -> None:
        target.write_bytes(old_bytes)

    def outcome() -> str:
        if target.read_bytes() == old_bytes:
            return "old"
        table = pyogrio.read_dataframe(target, layer="roster_assignments", read_geometry=False)
        boards = pyogrio.read_dataframe(target, layer="roster_boards", read_geometry=False)
        assert (len(table), len(boards)) == (12, 2), "a killed import left half a roster"
        return "new"

    reset()
    locked, ended = _run(command, lock_path(target))
    assert outcome() == "new" and locked < ended
    counts = _kill_many(command, target, reset, outcome, kills=16, window=ended - locked, seed=10)
    print(f"import: locked at {locked:.2f} s, ended at {ended:.2f} s; after 16 kills {counts}")
    assert counts["old"] + counts["new"] == 16
    reset()  # the next write removes what the killed writers left
    _run(command, lock_path(target))
    assert outcome() == "new"
    assert _leftovers(folder, "tiny") == []
    assert not lock_path(target).exists()


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="the data share ../shared/data is absent")
def test_sample_build_killed_at_random_moments(tmp_path: Path) -> None:
    target = tmp_path / "taihu.gpkg"
    old = write_tiny_project(tmp_path / "old.gpkg").read_bytes()
    new = SAMPLE.read_bytes()
    command = [sys.executable, str(BUILD_SCRIPT), "--source", str(SHARED), "--output", str(target)]

    def reset() -> None:
        target.write_bytes(old)

    def outcome() -> str:
        data = target.read_bytes()
        assert data in (old, new), "a killed build left a file that is neither old nor new"
        return "old" if data == old else "new"

    reset()
    locked, ended = _run(command, lock_path(target))
    assert outcome() == "new" and _leftovers(tmp_path, "taihu") == []
    counts = _kill_many(command, target, reset, outcome, kills=6, window=ended - locked, seed=4)
    print(f"build: locked at {locked:.2f} s, ended at {ended:.2f} s; after 6 kills {counts}")
    assert counts["old"] + counts["new"] == 6
    # The next writer of the target (any writer: they share rivernet._files.replacing) removes
    # the killed builds' temporary files.
    reset()
    write_roster(tiny_roster(), target)
    assert _leftovers(tmp_path, "taihu") == []
    assert not lock_path(target).exists()
