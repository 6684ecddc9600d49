"""The Taihu sample with its fictional roster, shared by the map, report and notebook tests.

The shipped sample holds the roster tables ``data/sample/build_roster.py`` writes.
"""

from __future__ import annotations

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
    """The shipped sample project file, checked to hold its roster tables."""
    layers = {name for name, _ in pyogrio.list_layers(SAMPLE)}
    missing = {"roster_people", "roster_assignments"} - layers
    assert not missing, (
        f"{SAMPLE} lacks {sorted(missing)}: run `python data/sample/build_roster.py`"
    )
    return SAMPLE
