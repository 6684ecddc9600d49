"""Result rows of the benchmarks, their timing, their text table and their JSON file."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_COLUMNS = ("operation", "size", "rivernet", "baseline", "ratio", "target", "result")


@dataclass(frozen=True)
class Row:
    """One line of a benchmark table.

    Attributes
    ----------
    operation
        What was measured.
    size
        Number of reaches.
    rivernet
        The rivernet figure, formatted (median time, or memory).
    baseline
        The baseline figure, formatted.
    ratio
        Baseline over rivernet (higher is better), or None when not a ratio.
    target
        The target, formatted (``">= 10x"``, ``"< 300 MB"``).
    passed
        Whether the target is met; None when the target does not apply at this size.
    correct
        Whether rivernet's answer matched the baseline's.
    details
        Raw numbers (seconds, bytes, counts) for the JSON file.
    """

    operation: str
    size: int
    rivernet: str
    baseline: str
    ratio: float | None
    target: str
    passed: bool | None
    correct: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        """``pass``, ``FAIL``, ``WRONG`` (answer mismatch) or ``info`` (target not applicable)."""
        if not self.correct:
            return "WRONG"
        if self.passed is None:
            return "info"
        return "pass" if self.passed else "FAIL"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect garbage, then keep the garbage collector off for the block (as ``timeit`` does)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed(call: Callable[[], T]) -> tuple[float, float, T]:
    """CPU seconds, wall seconds and result of one call, garbage collector off.

    Parameters
    ----------
    call
        Called once without arguments.

    Returns
    -------
    tuple
        CPU seconds, wall seconds and what ``call`` returned.
    """
    with gc_paused():
        cpu, wall = time.process_time(), time.perf_counter()
        result = call()
        return time.process_time() - cpu, time.perf_counter() - wall, result


def median_seconds(
    call: Callable[[], T],
    *,
    repeat: int,
    before: Callable[[], object] | None = None,
    collect_each: bool = True,
) -> tuple[float, T]:
    """Median wall seconds of ``repeat`` calls (at least one), and the last result.

    Parameters
    ----------
    call
        The timed call.
    repeat
        How many times to call it.
    before
        Called, untimed, before every call (for example to clear caches).
    collect_each
        Collect garbage before every call (True, for slow calls) or once before the series
        (False, for many fast calls); the collector is off while calls are timed.

    Returns
    -------
    tuple
        The median seconds and the last call's result.
    """
    times = []
    with gc_paused():
        for _ in range(max(repeat, 1)):
            if before is not None:
                before()
            if collect_each:
                gc.collect()
            start = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - start)
    return statistics.median(times), result


def publish(
    name: str,
    rows: list[Row],
    settings: dict[str, Any],
    *,
    directory: Path | None = None,
    notes: str | None = None,
) -> Path:
    """Print the rows' table (and ``notes`` below it), write the JSON file and say where.

    Parameters
    ----------
    name
        The benchmark's name, the start of the JSON file's name.
    rows
        The rows.
    settings
        The run's settings, stored in the JSON file.
    directory
        Where to write; default ``bench/results``.
    notes
        More text printed after a blank line below the table.

    Returns
    -------
    pathlib.Path
        The JSON file.
    """
    print(table(rows))
    if notes is not None:
        print()
        print(notes)
    path = write_json(name, rows, settings, directory=directory)
    print(f"\nwritten {path}")
    return path


def format_ratio(ratio: float | None) -> str:
    """``3.31`` -> ``3.3x``, ``12.4`` -> ``12x``, ``1234.5`` -> ``1,234x``; None -> ``—``.

    One decimal below 10x, so that a 3x target shows 2.96 and 3.31 apart.
    """
    if ratio is None:
        return "—"
    return f"{ratio:,.1f}x" if abs(round(ratio, 1)) < 10 else f"{ratio:,.0f}x"


def format_seconds(seconds: float) -> str:
    """A duration with a unit that keeps three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_size(size: int) -> str:
    """``1000000`` -> ``1M``, ``100000`` -> ``100k``."""
    for suffix, scale in (("M", 1_000_000), ("k", 1_000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{suffix}"
    return str(size)


def table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text (Markdown-compatible) table."""
    cells = [
        (
            row.operation,
            format_size(row.size),
            row.rivernet,
            row.baseline,
            format_ratio(row.ratio),
            row.target,
            row.result,
        )
        for row in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(_COLUMNS, *cells, strict=True)]
    lines = [_line(_COLUMNS, widths), _line(tuple("-" * w for w in widths), widths)]
    lines += [_line(c, widths) for c in cells]
    return "\n".join(lines)


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


def write_json(
    name: str, rows: list[Row], settings: dict[str, Any], *, directory: Path | None = None
) -> Path:
    """Write the rows, settings and environment to ``DIRECTORY/NAME-<utc time>.json``.

    ``directory`` defaults to ``bench/results`` (git-ignored).
    """
    directory = RESULTS_DIR if directory is None else directory
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    payload = {
        "benchmark": name,
        "time_utc": now.isoformat(timespec="seconds"),
        "settings": settings,
        "environment": environment(),
        "rows": [asdict(row) | {"result": row.result} for row in rows],
    }
    path = directory / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def environment() -> dict[str, Any]:
    """Load, Python, platform, CPU count and versions of the packages that matter for speed.

    The load average tells whether other processes competed for the CPU during the run.
    """
    versions: dict[str, str | None] = {}
    for package in ("numpy", "pandas", "numba", "networkx", "shapely", "rivernet"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "load_average_1_5_15min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }
