"""Result rows of the benchmarks, their text table and their JSON file."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

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
            "—" if row.ratio is None else f"{row.ratio:,.0f}x",
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
