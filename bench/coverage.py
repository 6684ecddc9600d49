"""Benchmark of the full-coverage audit against a straightforward geopandas implementation.

One seeded synthetic setting per size (see :func:`coverage_setting`): a river network from
:func:`bench.synthetic.synthetic_network`, 3,000 counties in 300 cities and 30 provinces, every
reach in a county and 5 % of reaches cut in two at a county boundary; every piece requires
county, township and village chiefs, Strahler order 4 and up also city, 5 and up also province.
The roster has one chief per piece and required level (township and village chiefs on
stretches, the others on whole reaches) with 1 % of them missing, 0.5 % doubled and 0.5 %
expired: about three assignments per reach (3M at 1M reaches).

Timed side by side, as medians over ``repeat`` runs, from the same tables to the same answers
(gap stretches, overlap stretches, the per-unit summary):

- **rivernet**: the audit behind :func:`rivernet.coverage_gaps` / ``coverage_problems`` /
  ``coverage_summary`` (:func:`rivernet.coverage.run_audit` and the summary), on a fresh
  project each run;
- **geopandas baseline**: per level, merge assignments onto pieces, clip the stretches, make them
  line geometries on a one-dimensional line, dissolve them per piece, take the difference with the
  piece (gaps), self-join them per piece for overlaps, and group lengths per unit.

Targets (at 1M reaches): the audit under 10 s, and at least 10x faster than the baseline. The
total gap and overlap lengths per level, and the required and gap lengths of every unit and
level in the summary, must agree, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench._report import Row, format_seconds, median_seconds, publish
from bench.synthetic import synthetic_network
from rivernet._core import FlowCore
from rivernet.admin import LEVELS
from rivernet.policy import CoveragePolicy, LevelRule, Match
from rivernet.roster import Roster

__all__ = ["CoverageSetting", "coverage_benchmark", "coverage_setting", "run"]

logger = logging.getLogger(__name__)

TARGET_SIZE = 1_000_000
TIME_TARGET_S = 10.0
RATIO_TARGET = 10.0
AS_OF = "2025-06-30"
POLICY = CoveragePolicy(
    name="bench",
    default_levels=("county", "township", "village"),
    rules=(
        LevelRule("order 4+", ("city",), Match(min_strahler=4)),
        LevelRule("order 5+", ("province",), Match(min_strahler=5)),
    ),
)


@dataclass
class CoverageSetting:
    """A synthetic network, its pieces and a roster, as the audit receives them."""

    core: FlowCore
    pieces: pd.DataFrame
    admin_units: pd.DataFrame
    roster: Roster


def _codes(n_counties: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GB/T 2260-style codes: 10 counties per city, 10 cities per province."""
    county = np.arange(n_counties)
    province = [f"{11 + k // 100:02d}" for k in county]
    city = [f"{p}{1 + (k // 10) % 10:02d}" for p, k in zip(province, county, strict=True)]
    codes = (
        np.array([p + "0000" for p in province], dtype=object),
        np.array([c + "00" for c in city], dtype=object),
        np.array([f"{c}{1 + k % 10:02d}" for c, k in zip(city, county, strict=True)], dtype=object),
    )
    return codes


def coverage_setting(size: int, *, seed: int = 0, n_counties: int = 3000) -> CoverageSetting:
    """Build the seeded synthetic network, pieces and roster for one size.

    Parameters
    ----------
    size
        Number of reaches.
    seed
        Seed of the network and the roster.
    n_counties
        Number of counties (10 per city, 10 cities per province).

    Returns
    -------
    CoverageSetting
        The tables.
    """
    rng = np.random.default_rng(seed)
    net = synthetic_network(size, seed=seed)
    core = FlowCore.from_downstream(
        net["reach_id"].to_numpy(),
        net["downstream_id"].to_numpy(),
        length_m=net["length_km"].to_numpy() * 1000.0,
    )
    p_code, c_code, k_code = _codes(n_counties)
    n = len(core)
    county = (np.arange(n) // max(1, n // n_counties)) % n_counties
    cut = rng.random(n) < 0.05
    where = rng.uniform(0.2, 0.8, n) * core.length_m
    position = np.concatenate([np.arange(n), np.flatnonzero(cut)])
    from_m = np.concatenate([np.zeros(n), where[cut]])
    to_m = np.concatenate([np.where(cut, where, core.length_m), core.length_m[cut]])
    piece_county = np.concatenate([county, (county[cut] + 1) % n_counties])
    order = np.lexsort((from_m, position))
    position, from_m, to_m, piece_county = (
        position[order], from_m[order], to_m[order], piece_county[order]
    )  # fmt: skip
    pieces = pd.DataFrame(
        {
            "reach_id": core.ids[position],
            "from_m": from_m,
            "to_m": to_m,
            "length_m": to_m - from_m,
            "province_code": p_code[piece_county],
            "city_code": c_code[piece_county],
            "county_code": k_code[piece_county],
            "position": position,
        }
    )
    units = pd.DataFrame(
        {
            "code": np.concatenate([np.unique(p_code), np.unique(c_code), k_code]),
        }
    )
    units["name"] = "U" + units["code"].astype(str)
    roster = _roster(core, pieces, rng)
    return CoverageSetting(core, pieces, units, roster)


def _roster(core: FlowCore, pieces: pd.DataFrame, rng: np.random.Generator) -> Roster:
    strahler = core.strahler_order()[pieces["position"].to_numpy()]
    frames = []
    for level, column in (("province", "province_code"), ("city", "city_code"),
                          ("county", "county_code"), ("township", "county_code"),
                          ("village", "county_code")):  # fmt: skip
        need = np.ones(len(pieces), dtype=bool)
        if level == "province":
            need = strahler >= 5
        elif level == "city":
            need = strahler >= 4
        sub = pieces[need]
        code = sub[column].to_numpy()
        if level == "township":
            code = code + "101"
        elif level == "village":
            code = code + "101201"
        stretch = level in ("township", "village")
        frames.append(
            pd.DataFrame(
                {
                    "level": level,
                    "unit_code": code,
                    "reach_id": sub["reach_id"].to_numpy(),
                    "from_m": sub["from_m"].to_numpy() if stretch else np.nan,
                    "to_m": sub["to_m"].to_numpy() if stretch else np.nan,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.drop_duplicates(["level", "unit_code", "reach_id", "from_m", "to_m"])
    frame = frame[rng.random(len(frame)) >= 0.01]  # 1 % missing: gaps
    doubled = frame[rng.random(len(frame)) < 0.005]  # 0.5 % doubled: overlaps
    frame = pd.concat([frame, doubled], ignore_index=True)
    n = len(frame)
    frame["assignment_id"] = np.arange(n)
    frame["person_id"] = np.arange(n) % 50_000
    frame["role"] = "河长"
    frame["river_id"] = None
    frame["lake_id"] = None
    frame["valid_from"] = pd.Timestamp("2021-10-01")
    expired = rng.random(n) < 0.005
    frame["valid_to"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    frame.loc[expired, "valid_to"] = pd.Timestamp("2025-03-31")
    frame["source_document"] = None
    frame["line"] = np.arange(n) + 2
    people = pd.DataFrame({"person_id": np.arange(50_000), "name": "p", "post": None,
                           "organisation": None, "level": None, "unit_code": None,
                           "contact": None, "is_fictional": True})  # fmt: skip
    return Roster(people, frame.reset_index(drop=True))


class _SyntheticProject:
    """A project over an array core without geometry: the pieces are given, not cut.

    It offers what the audit asks of a :class:`rivernet.project.Project` (network core, admin
    units, lakes, roster, policy and the store of derived results), so the benchmark measures
    the audit itself on a 1M-reach network without building 1M line geometries.
    """

    def __init__(self, setting: CoverageSetting) -> None:
        self.network = SimpleNamespace(core=setting.core, ids=setting.core.ids)
        self.admin_units = setting.admin_units
        self.lakes = gpd.GeoDataFrame({"lake_id": []}, geometry=[])
        self.roster = setting.roster
        self.path = Path("synthetic.gpkg")
        self._pieces = setting.pieces
        self._results: dict[Any, Any] = {}

    def coverage_policy(self, policy: Any = None) -> Any:
        """The policy given (the benchmark's :data:`POLICY`: its ids are the setting's)."""
        return policy if policy is not None else CoveragePolicy()

    def require_roster(self) -> Roster:
        return self.roster

    def derived(self, name: str, depends: Any, params: Any, compute: Any) -> Any:
        if name == "piece_table":
            return self._pieces
        if (name, params) not in self._results:
            self._results[(name, params)] = compute()
        return self._results[(name, params)]


def _project(setting: CoverageSetting) -> Any:
    return _SyntheticProject(setting)


def rivernet_audit(setting: CoverageSetting) -> dict[str, Any]:
    """The rivernet audit: gaps, overlaps and the summary, on a fresh project.

    Parameters
    ----------
    setting
        The tables.

    Returns
    -------
    dict
        ``gaps`` and ``overlaps`` (stretch tables) and ``summary``.
    """
    from rivernet.coverage import coverage_summary, run_audit, stretch_frame

    project = _project(setting)
    run = run_audit(project, as_of=AS_OF, policy=POLICY)
    gaps = stretch_frame(run, run.audit.gaps)
    overlaps = stretch_frame(run, run.audit.overlaps)
    summary = coverage_summary(project, as_of=AS_OF, policy=POLICY)
    return {"gaps": gaps, "overlaps": overlaps, "summary": summary}


def _interval_lines(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    coords = np.stack([np.stack([start, np.zeros_like(start)], 1),
                       np.stack([end, np.zeros_like(end)], 1)], 1)  # fmt: skip
    return np.asarray(shapely.linestrings(coords), dtype=object)


def geopandas_audit(setting: CoverageSetting) -> dict[str, Any]:
    """The baseline: per level, merge, clip, dissolve, difference and self-join with geopandas.

    Parameters
    ----------
    setting
        The tables.

    Returns
    -------
    dict
        ``gaps`` and ``overlaps`` (GeoDataFrames) and ``summary``.
    """
    pieces = setting.pieces.reset_index(drop=True).copy()
    offset = np.concatenate([[0.0], np.cumsum(setting.core.length_m)])
    pieces["g0"] = offset[pieces["position"]] + pieces["from_m"]
    pieces["g1"] = offset[pieces["position"]] + pieces["to_m"]
    pieces["piece"] = np.arange(len(pieces))
    strahler = setting.core.strahler_order()[pieces["position"].to_numpy()]
    frame = setting.roster.assignments
    day = pd.Timestamp(AS_OF)
    active = frame[(frame["valid_from"] <= day) & (frame["valid_to"].isna() |
                                                   (frame["valid_to"] >= day))]  # fmt: skip
    gaps, overlaps, summary = [], [], []
    unit_column = {"province": "province_code", "city": "city_code"}
    for level in LEVELS:
        need = {"province": strahler >= 5, "city": strahler >= 4}.get(
            level, np.ones(len(pieces), dtype=bool)
        )
        required = gpd.GeoDataFrame(
            pieces[need], geometry=_interval_lines(pieces["g0"][need], pieces["g1"][need])
        )
        column = unit_column.get(level, "county_code")
        mine = active[active["level"] == level]
        merged = mine.merge(required.drop(columns="geometry"), on="reach_id")
        merged = merged[merged["unit_code"].str[:6].str.ljust(6, "0")
                        == merged[column].str[:6]]  # fmt: skip
        base = offset[merged["position"]]
        s = np.maximum(base + merged["from_m_x"].fillna(0.0), merged["g0"])
        e = np.minimum(base + merged["to_m_x"].fillna(np.inf), merged["g1"])
        ok = (e > s).to_numpy()
        stretches = gpd.GeoDataFrame(
            merged[ok][["piece", "assignment_id"]],
            geometry=_interval_lines(s[ok].to_numpy(), e[ok].to_numpy()),
        )
        covered = stretches.dissolve(by="piece")
        aligned = covered.geometry.reindex(required["piece"])
        gap = required.geometry.difference(aligned.set_axis(required.index), align=False)
        gap = gap.where(aligned.set_axis(required.index).notna(), required.geometry)
        gap_parts = gpd.GeoDataFrame(
            {"piece": required["piece"], column: required[column]}, geometry=gap
        ).explode(index_parts=False)
        gap_parts = gap_parts[gap_parts.length >= 1.0]
        gaps.append(gap_parts.assign(level=level))
        pairs = stretches.merge(stretches, on="piece", suffixes=("_a", "_b"))
        pairs = pairs[pairs["assignment_id_a"] < pairs["assignment_id_b"]]
        shared = gpd.GeoSeries(pairs["geometry_a"]).intersection(gpd.GeoSeries(pairs["geometry_b"]))
        overlaps.append(
            pd.DataFrame({"level": level, "length": shared.length[shared.length >= 1.0]})
        )
        by_unit = required.assign(length=required.length).groupby(column)["length"].sum()
        gap_by_unit = gap_parts.assign(length=gap_parts.length).groupby(column)["length"].sum()
        gap_m = gap_by_unit.reindex(by_unit.index).fillna(0.0)
        summary.append(pd.DataFrame({"level": level, "required_m": by_unit, "gap_m": gap_m}))
    return {
        "gaps": pd.concat(gaps, ignore_index=True),
        "overlaps": pd.concat(overlaps, ignore_index=True),
        "summary": pd.concat(summary),
    }


def _agree(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    gap_ours = ours["gaps"].groupby("level")["length_m"].sum()
    gap_theirs = (
        theirs["gaps"].assign(length=theirs["gaps"].length).groupby("level")["length"].sum()
    )
    over_ours = ours["overlaps"].groupby("level")["length_m"].sum()
    over_theirs = theirs["overlaps"].groupby("level")["length"].sum()
    details: dict[str, Any] = {
        "gap_m": {k: float(v) for k, v in gap_ours.items()},
        "gap_m_baseline": {k: float(v) for k, v in gap_theirs.items()},
        "overlap_m": {k: float(v) for k, v in over_ours.items()},
        "overlap_m_baseline": {k: float(v) for k, v in over_theirs.items()},
        "assignments": None,
    }
    same = np.allclose(gap_ours.reindex(LEVELS).fillna(0), gap_theirs.reindex(LEVELS).fillna(0),
                       rtol=1e-6, atol=1.0)  # fmt: skip
    same &= np.allclose(over_ours.reindex(LEVELS).fillna(0),
                        over_theirs.reindex(LEVELS).fillna(0), rtol=1e-6, atol=1.0)  # fmt: skip
    summary_rows = _summary_mismatches(ours["summary"], theirs["summary"])
    details["summary_mismatches"] = summary_rows
    return bool(same) and summary_rows == 0, details


def _summary_mismatches(ours: pd.DataFrame, theirs: pd.DataFrame) -> int:
    """Units and levels whose required or gap length differ (or that only one side lists)."""
    mine = ours.assign(gap_m=ours["required_m"] - ours["covered_m"])
    mine = mine.set_index(["level", "unit_code"])[["required_m", "gap_m"]]
    other = theirs.rename_axis("unit_code").reset_index()
    other = other.set_index(["level", "unit_code"])[["required_m", "gap_m"]]
    keys = mine.index.union(other.index)
    mine, other = mine.reindex(keys), other.reindex(keys)
    close = np.isclose(mine.to_numpy(float), other.to_numpy(float), rtol=1e-6, atol=1.0)
    return int((~close.all(axis=1)).sum())


def coverage_benchmark(
    size: int, *, repeat: int = 3, baseline_repeat: int = 1, seed: int = 0
) -> list[Row]:
    """Benchmark one size; see the module docstring.

    Parameters
    ----------
    size
        Number of reaches.
    repeat
        Timed runs of the rivernet audit (median).
    baseline_repeat
        Timed runs of the (slow) baseline.
    seed
        Seed of the setting.

    Returns
    -------
    list of Row
        The audit time against its absolute target, and the ratio against the baseline.
    """
    logger.info("coverage %d: building the synthetic setting", size)
    setting = coverage_setting(size, seed=seed)
    n_assign = len(setting.roster.assignments)
    rivernet_audit(setting)  # warm-up (numba caches, imports)
    logger.info("coverage %d: rivernet audit (%d assignments)", size, n_assign)
    ours_s, ours = median_seconds(lambda: rivernet_audit(setting), repeat=repeat)
    logger.info("coverage %d: geopandas baseline", size)
    theirs_s, theirs = median_seconds(lambda: geopandas_audit(setting), repeat=baseline_repeat)
    correct, details = _agree(ours, theirs)
    details.update(seconds=ours_s, baseline_seconds=theirs_s, assignments=n_assign,
                   pieces=len(setting.pieces), gaps=len(ours["gaps"]),
                   overlaps=len(ours["overlaps"]))  # fmt: skip
    at_target = size >= TARGET_SIZE
    ratio = theirs_s / ours_s
    return [
        Row(f"full audit ({_count(n_assign)} assignments)", size, format_seconds(ours_s),
            "—", None, f"< {TIME_TARGET_S:g} s", (ours_s < TIME_TARGET_S) if at_target else None,
            correct, details),
        Row("audit vs geopandas per-level overlay", size, format_seconds(ours_s),
            format_seconds(theirs_s), ratio, f">= {RATIO_TARGET:g}x",
            (ratio >= RATIO_TARGET) if at_target else None, correct, details),
    ]  # fmt: skip


def _count(number: int) -> str:
    return f"{number / 1e6:.1f}M" if number >= 1_000_000 else f"{number / 1e3:.0f}k"


def run(
    sizes: list[int],
    *,
    repeat: int = 3,
    baseline_repeat: int = 1,
    seed: int = 0,
    results_dir: Path | None = None,
) -> tuple[list[Row], Path]:
    """Run the benchmark at every size, print the table and write the JSON file.

    Parameters
    ----------
    sizes
        Numbers of reaches.
    repeat, baseline_repeat
        Timed runs of the audit and of the baseline.
    seed
        Seed of the settings.
    results_dir
        Where to write the JSON file; default ``bench/results``.

    Returns
    -------
    tuple
        The rows and the JSON path.
    """
    rows = [
        row
        for size in sizes
        for row in coverage_benchmark(
            size, repeat=repeat, baseline_repeat=baseline_repeat, seed=seed
        )
    ]
    settings = {"sizes": sizes, "repeat": repeat, "baseline_repeat": baseline_repeat,
                "seed": seed}  # fmt: skip
    path = publish("coverage", rows, settings, directory=results_dir)
    return rows, path
