"""The Taihu sample with its fictional roster, shared by the map, report and notebook tests.

When the shipped sample has no roster tables yet, a copy with the roster is built once per test
session with ``data/sample/build_roster.py``.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import pyogrio

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "taihu.gpkg"
POLICY = ROOT / "data" / "sample" / "policy.toml"
AS_OF = "2025-06-30"
COUNTY = "320505"  # 虎丘区: gaps, an expired term and broken chains as of AS_OF
CITY = "320500"  # 苏州市


@lru_cache(maxsize=1)
def sample_with_roster() -> Path:
    """The sample project file with roster tables (the shipped one when it has them)."""
    if "roster_assignments" in {name for name, _ in pyogrio.list_layers(SAMPLE)}:
        return SAMPLE
    folder = Path(tempfile.mkdtemp(prefix="rivernet-maps-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    copy = folder / "taihu.gpkg"
    shutil.copy(SAMPLE, copy)
    spec = importlib.util.spec_from_file_location("build_roster", SAMPLE.parent / "build_roster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_roster(copy)
    return copy
