"""Full-coverage audit (全覆盖): gaps, coverage status and summaries, as of any day.

Every question is answered on responsibility pieces (:func:`rivernet.pieces.piece_table`: reaches
cut at admin boundaries) and the stretches of the roster's assignments, with measures in metres
from each reach's upstream end. A policy (:mod:`rivernet.policy`) says which levels each piece
requires. Only assignments in the policy's covering roles (河长 and 湖长 by default) count as
coverage, and a chief covers only the part of a reach inside their own unit (a township or
village chief: inside their county). The interval arithmetic runs in the kernel
:mod:`rivernet._audit`; this module turns a project into its input arrays and its results into
tables.

- :func:`coverage_gaps`: uncovered stretches per missing level, with the unit and the cause;
- :func:`coverage_summary`: required and covered length per unit and level;
- :func:`coverage_status`: every piece with its status at one level, for maps.

The other problems (overlaps, expired terms, vacancies, broken chains, orphans, stale boards)
are in :mod:`rivernet.problems`; who is responsible at a place in :mod:`rivernet.chiefs`.

``as_of`` takes a ``datetime.date`` or an ISO date string and defaults to today; ``policy``
takes a :class:`~rivernet.policy.CoveragePolicy` or the path of a policy TOML file and defaults
to the project's policy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from rivernet import messages
from rivernet._audit import ACTIVE, EXPIRED, Audit, AuditInput, audit, unit_totals
from rivernet.admin import LEVEL_LABELS_ZH, LEVELS, is_within
from rivernet.errors import InputError
from rivernet.geometry import substrings
from rivernet.messages import Code
from rivernet.pieces import PIECE_INPUTS, piece_table
from rivernet.policy import CoveragePolicy, requirements
from rivernet.roster import Roster, as_date

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = [
    "AUDIT_INPUTS",
    "LEVEL_INDEX",
    "AuditRun",
    "coverage_gaps",
    "coverage_status",
    "coverage_summary",
    "reach_targets",
    "roster_state",
    "run_audit",
]

DateLike = dt.date | str | None
PolicyLike = CoveragePolicy | str | Path | None
LEVEL_INDEX = {level: i for i, level in enumerate(LEVELS)}
AUDIT_INPUTS = (*PIECE_INPUTS, "roster")
N_LEVEL_KEYS = len(LEVELS)
"""Levels per piece in a (piece, level) key: ``piece * N_LEVEL_KEYS + level``."""
"""The project inputs an audit is computed from (the policy is one of its parameters)."""
GAP_COLUMNS = ("reach_id", "from_m", "to_m", "length_m", "level", "level_zh", "unit_code",
               "unit_name", "cause")  # fmt: skip
SUMMARY_COLUMNS = ("unit_code", "unit_name", "level", "required_m", "covered_m", "coverage_pct",
                   "gaps", "overlaps", "expired")  # fmt: skip


LEVEL_INDEX = {level: i for i, level in enumerate(LEVELS)}


@dataclass
class AuditRun:
    """One audit of a project with the tables needed to report it.

    Attributes
    ----------
    audit
        The kernel's result.
    pieces
        The pieces (``reach_id, position, from_m, to_m, ...``).
    units
        Unit codes by unit index (province, city and county codes of the pieces).
    piece_units
        ``(n_pieces, 5)`` unit index per level.
    targets
        Assignment stretches on reaches: ``assignment`` (row of the roster's assignments),
        ``position, from_m, to_m``.
    roster
        The roster audited.
    policy
        The policy applied.
    as_of
        The day.
    exempt
        ``(n_pieces, 5)`` levels waived by exemptions.
    state
        State of every roster assignment (:data:`ACTIVE`, :data:`EXPIRED`, 0 = not yet begun).
    project
        The project audited.
    """

    audit: Audit
    pieces: pd.DataFrame
    units: npt.NDArray[np.object_]
    piece_units: npt.NDArray[np.int64]
    targets: pd.DataFrame
    roster: Roster
    policy: CoveragePolicy
    as_of: dt.date
    exempt: npt.NDArray[np.bool_]
    state: npt.NDArray[np.int64]
    project: Project


def run_audit(project: Project, *, as_of: DateLike, policy: PolicyLike) -> AuditRun:
    """Audit a project's roster as of a day (kept in the project's store).

    Who holds which post changes on few days (the starts and ends of terms), so the roster's
    state in force is the same on every day between two changes. The audit is computed once
    per state and policy and reused for every day of that state: asking for a new day within
    it costs a lookup, not an audit. The parts that do not depend on the day at all (pieces,
    requirements, assignment stretches) are computed once per policy.

    Parameters
    ----------
    project
        The project.
    as_of
        The day (date or ISO string; None: today).
    policy
        A :class:`CoveragePolicy`, a TOML path, or None for the project's policy.

    Returns
    -------
    AuditRun
        The audit and its context, with ``as_of`` the day asked for.
    """
    day = as_date(as_of)
    chosen = project.coverage_policy(policy)
    roster = project.require_roster()
    state = roster_state(project, day)
    run = project.derived(
        "audit",
        AUDIT_INPUTS,
        (state, chosen),
        lambda: _audit_run(project, roster, chosen, day),
    )
    return run if run.as_of == day else dataclasses.replace(run, as_of=day)


def roster_state(project: Project, day: dt.date) -> tuple[int, int]:
    """A key of the roster's state in force on ``day``: equal keys, equal states.

    The state of every assignment (not begun, active, expired) changes only on a term's first
    day and on the day after its last; the key counts the terms begun and the terms ended by
    ``day``.

    Parameters
    ----------
    project
        A project with a roster.
    day
        The day.

    Returns
    -------
    tuple of int
        ``(terms begun, terms ended)`` by that day.
    """
    starts, ends = project.derived(
        "roster_change_days", ("roster",), None, lambda: _change_days(project.require_roster())
    )
    stamp = np.datetime64(day, "ns")
    begun = int(np.searchsorted(starts, stamp, side="right"))
    ended = int(np.searchsorted(ends, stamp, side="left"))
    return begun, ended


def _change_days(roster: Roster) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.datetime64]]:
    """Sorted first days and last days of the roster's terms (open-ended terms have none)."""
    assignments = roster.assignments
    starts = np.sort(assignments["valid_from"].to_numpy(dtype="datetime64[ns]"))
    ends = assignments["valid_to"].to_numpy(dtype="datetime64[ns]")
    return starts, np.sort(ends[~np.isnat(ends)])


@dataclass(eq=False)
class _AuditInputs:
    """The day-independent inputs of an audit for one policy (shared by every day)."""

    pieces: pd.DataFrame
    units: npt.NDArray[np.object_]
    piece_units: npt.NDArray[np.int64]
    required: npt.NDArray[np.bool_]
    exempt: npt.NDArray[np.bool_]
    targets: pd.DataFrame
    level: npt.NDArray[np.int64]
    unit: npt.NDArray[np.int64]
    role: npt.NDArray[np.int64]


def _audit_inputs(project: Project, roster: Roster, chosen: CoveragePolicy) -> _AuditInputs:
    pieces, units, piece_units, required, exempt = project.derived(
        "audit_pieces", PIECE_INPUTS, chosen, lambda: _piece_inputs(project, chosen)
    )
    targets = reach_targets(roster.assignments, project.network)
    assignments = roster.assignments
    level = _lookup(assignments["level"], LEVEL_INDEX)
    unit = _match_units(assignments["unit_code"], level, units)
    role = _role_index(assignments["role"], chosen.covering_roles)
    return _AuditInputs(pieces, units, piece_units, required, exempt, targets, level, unit, role)


def _piece_inputs(project: Project, chosen: CoveragePolicy) -> tuple[Any, ...]:
    """The parts of an audit's inputs that do not depend on the roster (kept while it changes):
    pieces, units, each piece's unit per level, and the levels required and waived."""
    pieces = piece_table(project)
    units, piece_units = _piece_units(pieces)
    required, exempt = requirements(chosen, project.network, pieces, project.lakes)
    return pieces, units, piece_units, required, exempt


def _audit_run(project: Project, roster: Roster, chosen: CoveragePolicy, day: dt.date) -> AuditRun:
    shared = project.derived(
        "audit_inputs", AUDIT_INPUTS, chosen, lambda: _audit_inputs(project, roster, chosen)
    )
    pieces, targets = shared.pieces, shared.targets
    state = assignment_state(roster.assignments, day)
    rows = targets["assignment"].to_numpy()
    data = AuditInput(
        reach_length=project.network.core.length_m,
        piece_position=pieces["position"].to_numpy(),
        piece_from=pieces["from_m"].to_numpy(dtype=float),
        piece_to=pieces["to_m"].to_numpy(dtype=float),
        piece_units=shared.piece_units,
        required=shared.required,
        exempt=shared.exempt,
        a_position=targets["position"].to_numpy(),
        a_from=targets["from_m"].to_numpy(dtype=float),
        a_to=targets["to_m"].to_numpy(dtype=float),
        a_level=shared.level[rows],
        a_unit=shared.unit[rows],
        a_role=shared.role[rows],
        a_state=state[rows],
    )
    result = audit(data)
    # The kernel numbers stretches by target row; report them by roster row.
    result.clipped["target"] = result.clipped["assignment"]
    result.clipped["assignment"] = rows[result.clipped["target"].to_numpy()]
    result.expired_assignments = _latest_expired(result, roster.assignments, rows)
    return AuditRun(
        result,
        pieces,
        shared.units,
        shared.piece_units,
        targets,
        roster,
        chosen,
        day,
        shared.exempt,
        state,
        project,
    )


def _latest_expired(
    result: Audit, assignments: pd.DataFrame, rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Of the expired terms over each gap, the last to end (its holder had no successor)."""
    candidates = rows[result.expired_assignments]
    gaps = result.gaps[result.gaps["cause"] == "expired"]
    clipped = result.clipped
    expired = clipped[clipped["assignment"].isin(candidates)]
    if gaps.empty or expired.empty:
        return np.unique(candidates)
    gap, term = _overlapping(gaps, expired)
    if not gap.size:
        return np.empty(0, dtype=np.int64)
    ended = assignments["valid_to"].to_numpy(dtype="datetime64[ns]")
    ended = ended[expired["assignment"].to_numpy()[term]]
    latest = np.full(len(gaps), np.datetime64("NaT", "ns"))
    order = np.lexsort((ended, gap))  # by gap, then end; the last of each gap is its latest
    last = np.r_[gap[order][1:] != gap[order][:-1], True]
    latest[gap[order][last]] = ended[order][last]
    hit = ended == latest[gap]
    return np.unique(expired["assignment"].to_numpy()[term[hit]])


def _overlapping(
    runs: pd.DataFrame, stretches: pd.DataFrame
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pairs (run row, stretch row) on the same piece and level that overlap."""
    run_key = runs["piece"].to_numpy() * N_LEVEL_KEYS + runs["level"].to_numpy()
    key = stretches["piece"].to_numpy() * N_LEVEL_KEYS + stretches["level"].to_numpy()
    order = np.argsort(key, kind="stable")
    lo = np.searchsorted(key[order], run_key, side="left")
    hi = np.searchsorted(key[order], run_key, side="right")
    count = hi - lo
    run = np.repeat(np.arange(len(runs)), count)
    offsets = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    stretch = order[np.repeat(lo, count) + offsets]
    start, end = stretches["start"].to_numpy(), stretches["end"].to_numpy()
    meets = (start[stretch] < runs["end"].to_numpy()[run]) & (
        end[stretch] > runs["start"].to_numpy()[run]
    )
    return run[meets], stretch[meets]


def _piece_units(pieces: pd.DataFrame) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    columns = ("province_code", "city_code", "county_code")
    stacked = pd.concat([pieces[c] for c in columns], ignore_index=True)
    codes, units = pd.factorize(stacked, use_na_sentinel=True)
    matrix = codes.reshape(len(columns), len(pieces)).T.astype(np.int64)
    piece_units = np.column_stack([matrix, matrix[:, 2], matrix[:, 2]])
    return np.asarray(units, dtype=object), piece_units


def _factorize(values: pd.Series) -> tuple[npt.NDArray[np.int64], Any]:
    """Integer codes (-1 for missing) and distinct values; instant for categorical columns."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), uniques


def _lookup(values: pd.Series, table: dict[Any, int]) -> npt.NDArray[np.int64]:
    """``table[value]`` for every value (-1 when absent), through the distinct values only."""
    codes, uniques = _factorize(values)
    found = np.array([table.get(u, -1) for u in uniques] + [-1], dtype=np.int64)
    return found[codes]


def _match_units(
    codes: pd.Series, level: npt.NDArray[np.int64], units: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """Unit index an assignment must match: its own unit, or its county below county level."""
    inverse, unique = _factorize(codes)
    lookup = pd.Index(units)
    own = np.append(lookup.get_indexer(unique), -1)
    county = np.append(lookup.get_indexer(pd.Index([str(code)[:6] for code in unique])), -1)
    below = level > LEVELS.index("county")
    return np.where(below, county[inverse], own[inverse]).astype(np.int64)


def _role_index(roles: pd.Series, covering: tuple[str, ...]) -> npt.NDArray[np.int64]:
    return _lookup(roles, {role: i for i, role in enumerate(covering)})


def assignment_state(assignments: pd.DataFrame, day: dt.date) -> npt.NDArray[np.int64]:
    """:data:`ACTIVE`, :data:`EXPIRED` or 0 (not begun) for every assignment on ``day``.

    Parameters
    ----------
    assignments
        The roster's assignments.
    day
        The day.

    Returns
    -------
    numpy.ndarray
        One state per assignment.
    """
    stamp = np.datetime64(day, "ns")
    start = assignments["valid_from"].to_numpy(dtype="datetime64[ns]")
    end = assignments["valid_to"].to_numpy(dtype="datetime64[ns]")
    ended = ~np.isnat(end) & (end < stamp)
    active = (start <= stamp) & ~ended
    return np.where(active, ACTIVE, np.where(ended, EXPIRED, 0)).astype(np.int64)


def reach_targets(assignments: pd.DataFrame, network: Any) -> pd.DataFrame:
    """The reach stretches each assignment covers (reach and river targets; lakes have none).

    Parameters
    ----------
    assignments
        The roster's assignments.
    network
        The network.

    Returns
    -------
    pandas.DataFrame
        ``assignment`` (row number in ``assignments``), ``position``, ``from_m``, ``to_m``
        (NaN for the whole reach). Assignments naming unknown reaches or rivers are left out
        (they are orphans).
    """
    index = pd.Index(network.ids)
    reach = assignments["reach_id"]
    has_reach = reach.notna().to_numpy()
    position = np.full(len(assignments), -1, dtype=np.int64)
    if has_reach.any():
        position[has_reach] = index.get_indexer(_id_values(reach[has_reach], index))
    direct = pd.DataFrame(
        {
            "assignment": np.arange(len(assignments)),
            "position": position,
            "from_m": assignments["from_m"].to_numpy(dtype=float),
            "to_m": assignments["to_m"].to_numpy(dtype=float),
        }
    )[position >= 0]
    rivers = _river_targets(assignments, network)
    if rivers.empty:
        return direct.reset_index(drop=True)
    return pd.concat([direct, rivers], ignore_index=True)


def _id_values(values: pd.Series, index: pd.Index) -> npt.NDArray[Any]:
    """Ids in the dtype of the network's index (integers stay integers)."""
    array = values.to_numpy()
    if pd.api.types.is_integer_dtype(index.dtype) and array.dtype == object:
        try:
            return array.astype(np.int64)
        except (TypeError, ValueError):
            return array
    return array


def _river_targets(assignments: pd.DataFrame, network: Any) -> pd.DataFrame:
    river = assignments["river_id"]
    picked = np.flatnonzero(river.notna().to_numpy())
    empty = pd.DataFrame({"assignment": [], "position": [], "from_m": [], "to_m": []})
    if not len(picked):
        return empty.astype({"assignment": np.int64, "position": np.int64})
    core = network.core
    stem = core.main_stem()
    stem_codes, rivers = pd.factorize(network.ids[stem])
    wanted = pd.Index(rivers).get_indexer(pd.Index(river.iloc[picked].tolist()))
    by_river = np.argsort(stem_codes, kind="stable")  # each river's reaches in position order
    lo = np.searchsorted(stem_codes[by_river], wanted, side="left")
    count = np.where(wanted >= 0, np.searchsorted(stem_codes[by_river], wanted, "right") - lo, 0)
    row = np.repeat(np.arange(len(picked)), count)
    position = by_river[np.repeat(lo, count) + np.arange(int(count.sum()))
                        - np.repeat(np.cumsum(count) - count, count)]  # fmt: skip
    start = (core.distance_to_outlet_m() - core.distance_to_outlet_m()[stem])[position]
    top = start + core.length_m[position]
    r0 = assignments["from_m"].to_numpy(dtype=float)[picked][row]
    r1 = assignments["to_m"].to_numpy(dtype=float)[picked][row]
    whole = np.isnan(r0)
    lo_m = np.maximum(np.where(whole, -np.inf, r0), start)
    hi_m = np.minimum(np.where(whole, np.inf, r1), top)
    keep = hi_m > lo_m
    return pd.DataFrame(
        {
            "assignment": picked[row][keep],
            "position": position[keep],
            "from_m": np.where(whole, np.nan, top - hi_m)[keep],
            "to_m": np.where(whole, np.nan, top - lo_m)[keep],
        }
    )


def unit_names(project: Project) -> dict[str, str]:
    """Names of admin units and of the roster's sub-county units, by code."""
    names = dict(zip(project.admin_units["code"], project.admin_units["name"], strict=True))
    roster = getattr(project, "roster", None)
    if roster is not None and len(roster.units):
        names.update(zip(roster.units["code"], roster.units["name"], strict=True))
    return names


def stretch_geometry(network: Any, frame: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Line geometry of stretches ``reach_id, from_m, to_m`` (None where there is no reach)."""
    out = np.full(len(frame), None, dtype=object)
    if frame.empty or "reach_id" not in frame:
        return out
    reaches = network.reaches
    known = frame["reach_id"].isin(reaches.index).to_numpy() & frame["from_m"].notna().to_numpy()
    rows = np.flatnonzero(known)
    ids = frame["reach_id"].to_numpy()[rows]
    lines = reaches.geometry.reindex(ids).to_numpy()
    length = reaches["length_m"].reindex(ids).to_numpy()
    start = np.clip(frame["from_m"].to_numpy(dtype=float)[rows] / length, 0.0, 1.0)
    end = np.clip(frame["to_m"].to_numpy(dtype=float)[rows] / length, 0.0, 1.0)
    start = np.where(start <= 1e-9, 0.0, start)
    end = np.where(end >= 1 - 1e-9, 1.0, end)
    out[rows] = substrings(lines, start, np.maximum(start, end))
    return out


def coverage_gaps(
    project: Project, *, as_of: DateLike = None, policy: PolicyLike = None
) -> gpd.GeoDataFrame:
    """Stretches of river lacking a chief at a level the policy requires.

    Parameters
    ----------
    project
        A :class:`rivernet.project.Project` with a roster.
    as_of
        The day (``datetime.date`` or ISO string); default today.
    policy
        A :class:`~rivernet.policy.CoveragePolicy` or a policy TOML path; default
        :class:`~rivernet.policy.CoveragePolicy()` (county, township and village everywhere).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per uncovered stretch and level: ``reach_id, from_m, to_m`` (metres from the
        reach's upstream end), ``length_m``, ``level``, ``level_zh``, ``unit_code`` and
        ``unit_name`` (the unit lacking the chief; for township and village levels, the
        county), ``cause`` (``"expired"`` where a term ended and nobody followed, else
        ``"none"``) and the stretch's geometry.
    """
    run = run_audit(project, as_of=as_of, policy=policy)
    gaps = run.audit.gaps
    frame = stretch_frame(run, gaps)
    frame["cause"] = gaps["cause"].to_numpy()
    frame["order"] = frame["level"].map(LEVELS.index)
    frame = frame.sort_values(["reach_id", "from_m", "order"], kind="stable")
    return with_geometry(project, frame.reset_index(drop=True), list(GAP_COLUMNS))


def stretch_frame(run: AuditRun, runs: pd.DataFrame) -> pd.DataFrame:
    """Reach, measures, level and unit of audit runs (gaps, overlaps, chains)."""
    piece = runs["piece"].to_numpy()
    level = runs["level"].to_numpy()
    offset = run.audit.piece_offset[piece]
    unit = run.piece_units[piece, level]
    codes = np.where(unit >= 0, run.units[np.maximum(unit, 0)], None)
    frame = pd.DataFrame(
        {
            "reach_id": run.pieces["reach_id"].to_numpy()[piece],
            "from_m": runs["start"].to_numpy() - offset,
            "to_m": runs["end"].to_numpy() - offset,
            "length_m": runs["end"].to_numpy() - runs["start"].to_numpy(),
            "level": np.asarray(LEVELS, dtype=object)[level],
            "unit_code": codes,
        }
    )
    frame["level_zh"] = frame["level"].map(LEVEL_LABELS_ZH)
    frame["unit_name"] = frame["unit_code"].map(unit_names(run.project))
    return frame


def with_geometry(project: Project, frame: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    geometry = stretch_geometry(project.network, frame)
    return gpd.GeoDataFrame(frame[columns], geometry=geometry, crs=project.network.crs)


def coverage_summary(
    project: Project,
    *,
    as_of: DateLike = None,
    policy: PolicyLike = None,
    unit: str | None = None,
    level: str | None = None,
) -> pd.DataFrame:
    """Required and covered length, and counts of problems, per admin unit and level.

    Parameters
    ----------
    project
        A project with a roster.
    as_of
        The day (``datetime.date`` or ISO string); default today.
    policy
        The policy (object or TOML path).
    unit
        Keep only this unit and the units inside it (a code prefix match on GB/T 2260 codes).
    level
        Keep only this level.

    Returns
    -------
    pandas.DataFrame
        ``unit_code, unit_name, level, required_m, covered_m, coverage_pct, gaps, overlaps,
        expired``; township and village levels are summed per county (sub-county units have
        no polygons). Only units with a required length appear.
    """
    run = run_audit(project, as_of=as_of, policy=policy)
    totals = unit_totals(run.audit, run.piece_units, len(run.units))
    n_units = len(run.units)
    codes = np.tile(run.units, len(LEVELS))
    level_index = np.repeat(np.arange(len(LEVELS)), n_units)
    values = {name: array.T.ravel() for name, array in totals.items()}
    keep = values["required_m"] > 0
    if level is not None:
        _check_level(level)
        keep &= level_index == LEVELS.index(level)
    if unit is not None:
        keep &= np.tile(_within(pd.Series(run.units, dtype=object), unit).to_numpy(), len(LEVELS))
    picked = np.flatnonzero(keep)
    picked = picked[np.lexsort((codes[picked].astype(str), level_index[picked]))]
    required, covered = values["required_m"][picked], values["covered_m"][picked]
    names = unit_names(project)
    frame = pd.DataFrame(
        {
            "unit_code": pd.array(codes[picked], dtype="str"),
            "unit_name": pd.array([names.get(c) for c in codes[picked].tolist()], dtype="str"),
            "level": pd.array(np.asarray(LEVELS, dtype=object)[level_index[picked]], dtype="str"),
            "required_m": required.round(1),
            "covered_m": covered.round(1),
            "coverage_pct": (100.0 * covered / required).round(1),
            **{c: values[c][picked].astype(np.int64) for c in ("gaps", "overlaps", "expired")},
        }
    )
    return frame[list(SUMMARY_COLUMNS)]


def _within(codes: pd.Series, unit: str) -> pd.Series:
    """Which ``codes`` are ``unit`` or lie inside it (one test per distinct code)."""
    return codes.isin([code for code in codes.dropna().unique() if _is_within(code, unit)])


_is_within = functools.lru_cache(maxsize=1 << 16)(is_within)
""":func:`~rivernet.admin.is_within`, remembered (asked for every unit at every request)."""


def _check_level(level: str) -> None:
    if level not in LEVELS:
        levels = messages.items(Code("err_analysis_codes", lev) for lev in LEVELS)
        raise InputError.from_key("err_coverage.bad_level", level=repr(level), levels=levels)


def coverage_status(
    project: Project, *, level: str, as_of: DateLike = None, policy: PolicyLike = None
) -> gpd.GeoDataFrame:
    """Every piece of river with its coverage status at one level, for maps.

    Parameters
    ----------
    project
        A project with a roster.
    level
        The level (``"province"`` .. ``"village"``).
    as_of
        The day; default today.
    policy
        The policy (object or TOML path).

    Returns
    -------
    geopandas.GeoDataFrame
        ``reach_id, from_m, to_m, length_m, level, status, covered_m, chiefs`` and geometry.
        ``status`` is one of the layer catalog's categories: ``covered``, ``partial``, ``gap``,
        ``overlap``, ``expired`` (uncovered since a term ended), ``exempt`` (waived, e.g.
        covered by a lake chief) or ``not_required``; ``chiefs`` names the active chiefs.
    """
    _check_level(level)
    run = run_audit(project, as_of=as_of, policy=policy)
    lv = LEVELS.index(level)
    result = run.audit
    seg_len = np.diff(result.breakpoints)
    n = len(run.pieces)

    def per_piece(mask: np.ndarray) -> np.ndarray:
        return np.bincount(result.segment_piece, weights=seg_len * mask, minlength=n)

    covered_m = per_piece(result.covered[:, lv])
    gap_m = per_piece(result.required[:, lv] & ~result.covered[:, lv])
    expired_m = per_piece(result.required[:, lv] & ~result.covered[:, lv] & result.expired[:, lv])
    overlap_m = per_piece(result.overlap[:, lv])
    required = run.audit.required[:, lv]
    piece_required = np.bincount(result.segment_piece, weights=required, minlength=n) > 0
    status = np.select(
        [
            run.exempt[:, lv],
            ~piece_required,
            overlap_m >= 1.0,
            gap_m < 1.0,
            (covered_m < 1.0) & (expired_m >= 1.0),
            covered_m < 1.0,
        ],
        ["exempt", "not_required", "overlap", "covered", "expired", "gap"],
        default="partial",
    )
    frame = run.pieces[["reach_id", "from_m", "to_m", "length_m"]].copy()
    frame["level"] = level
    frame["status"] = status
    frame["covered_m"] = covered_m.round(1)
    frame["chiefs"] = _chief_names(run, lv, n)
    return gpd.GeoDataFrame(frame, geometry=piece_geometry(project), crs=project.network.crs)


def piece_geometry(project: Project) -> gpd.array.GeometryArray:
    """The line of every piece of :func:`~rivernet.pieces.piece_table`, in its order (kept in
    the project's store: the pieces do not depend on the roster, so a new roster reuses them).

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    geopandas.array.GeometryArray
        One line per piece, in the network's CRS.
    """

    def compute() -> gpd.array.GeometryArray:
        lines = stretch_geometry(project.network, piece_table(project))
        return gpd.array.from_shapely(lines, crs=project.network.crs)

    return project.derived("piece_geometry", PIECE_INPUTS, None, compute)


def _chief_names(run: AuditRun, level: int, n_pieces: int) -> np.ndarray:
    """The names of the active chiefs of each piece at ``level``, joined with 、 (each once,
    in the roster's order; ``?`` for a person the roster does not list)."""
    clipped = run.audit.clipped
    pick = (
        (clipped["level"].to_numpy() == level)
        & (clipped["state"].to_numpy() == ACTIVE)
        & (clipped["role"].to_numpy() >= 0)
    )
    piece = clipped["piece"].to_numpy()[pick]
    person = run.roster.assignments["person_id"].to_numpy()[clipped["assignment"].to_numpy()[pick]]
    people = run.roster.people
    found = pd.Index(people["person_id"]).get_indexer(person)
    names = people["name"].to_numpy(dtype=object)
    codes, labels = pd.factorize(np.where(found >= 0, names[found], "?"))
    _, first = np.unique(piece * max(len(labels), 1) + codes, return_index=True)
    first = np.sort(first)  # each (piece, name) once, in the first one's order
    order = first[np.argsort(piece[first], kind="stable")]
    piece, label = piece[order], np.asarray(labels, dtype=object)[codes[order]]
    out = np.full(n_pieces, "", dtype=object)
    if not piece.size:
        return out
    starts = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
    stops = np.r_[starts[1:], piece.size]
    single = stops - starts == 1
    out[piece[starts[single]]] = label[starts[single]]
    for begin, stop in zip(starts[~single].tolist(), stops[~single].tolist(), strict=True):
        out[piece[begin]] = "、".join(label[begin:stop].tolist())
    return out
