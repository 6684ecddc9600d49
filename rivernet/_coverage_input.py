"""From a project, its roster and a policy to the arrays of the coverage audit (:mod:`._audit`).

Also turns river assignments (a main stem, optionally a stretch measured up from its mouth)
into reach stretches, and caches one audit per project, day and policy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rivernet._audit import ACTIVE, EXPIRED, Audit, AuditInput, audit
from rivernet._errors import InputError
from rivernet.admin import LEVELS
from rivernet.policy import CoveragePolicy, load_policy, requirements
from rivernet.roster import Roster, as_date, project_roster

__all__ = ["LEVEL_INDEX", "AuditRun", "reach_targets", "resolve_policy", "run_audit"]

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
    project: Any


def resolve_policy(policy: CoveragePolicy | str | Any | None) -> CoveragePolicy:
    """A policy object from a policy, a path to a TOML file, or None (the defaults).

    Parameters
    ----------
    policy
        The policy.

    Returns
    -------
    CoveragePolicy
        The policy.
    """
    if policy is None:
        return CoveragePolicy()
    if isinstance(policy, CoveragePolicy):
        return policy
    return load_policy(policy)


def require_roster(project: Any) -> Roster:
    """The project's roster, or a clear error when it has none.

    Parameters
    ----------
    project
        The project.

    Returns
    -------
    Roster
        The roster.
    """
    roster = project_roster(project)
    if roster is None:
        raise InputError(
            f"project {getattr(project, 'path', '')} has no roster; import one with "
            "`rivernet roster import PROJECT FILE` or set project.roster = read_roster(...)"
        )
    return roster


def run_audit(project: Any, *, as_of: dt.date | str | None, policy: Any) -> AuditRun:
    """Audit a project's roster (cached per day and policy on the project).

    Parameters
    ----------
    project
        The project.
    as_of
        The day (date or ISO string; None: today).
    policy
        A :class:`CoveragePolicy`, a TOML path, or None for the defaults.

    Returns
    -------
    AuditRun
        The audit and its context.
    """
    from rivernet._pieces import pieces as project_pieces

    day = as_date(as_of)
    chosen = resolve_policy(policy if policy is not None else getattr(project, "policy", None))
    roster = require_roster(project)
    cache: dict[Any, AuditRun] = project.__dict__.setdefault("_coverage_audits", {})
    key = (day, chosen, id(roster))
    if key in cache:
        return cache[key]
    pieces = project_pieces(project)
    network = project.network
    units, piece_units = _piece_units(pieces)
    required, exempt = requirements(chosen, network, pieces, project.lakes)
    targets = reach_targets(roster.assignments, network)
    state = assignment_state(roster.assignments, day)
    assignments = roster.assignments
    rows = targets["assignment"].to_numpy()
    level = _lookup(assignments["level"], LEVEL_INDEX)
    unit = _match_units(assignments["unit_code"], level, units)
    role = _role_index(assignments["role"], chosen.covering_roles)
    data = AuditInput(
        reach_length=network.core.length_m,
        piece_position=pieces["position"].to_numpy(),
        piece_from=pieces["from_m"].to_numpy(dtype=float),
        piece_to=pieces["to_m"].to_numpy(dtype=float),
        piece_units=piece_units,
        required=required,
        exempt=exempt,
        a_position=targets["position"].to_numpy(),
        a_from=targets["from_m"].to_numpy(dtype=float),
        a_to=targets["to_m"].to_numpy(dtype=float),
        a_level=level[rows],
        a_unit=unit[rows],
        a_role=role[rows],
        a_state=state[rows],
    )
    result = audit(data)
    # The kernel numbers stretches by target row; report them by roster row.
    result.clipped["target"] = result.clipped["assignment"]
    result.clipped["assignment"] = rows[result.clipped["target"].to_numpy()]
    result.expired_assignments = _latest_expired(result, assignments, rows)
    run = AuditRun(
        result, pieces, units, piece_units, targets, roster, chosen, day, exempt, state, project
    )
    cache[key] = run
    return run


def _latest_expired(
    result: Audit, assignments: pd.DataFrame, rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Of the expired terms over each gap, the last to end (its holder had no successor)."""
    candidates = rows[result.expired_assignments]
    gaps = result.gaps[result.gaps["cause"] == "expired"].reset_index(drop=True)
    clipped = result.clipped
    expired = clipped[clipped["assignment"].isin(candidates)]
    if gaps.empty or expired.empty:
        return np.unique(candidates)
    pairs = gaps.reset_index().merge(expired, on=["piece", "level"], suffixes=("", "_a"))
    pairs = pairs[(pairs["start_a"] < pairs["end"]) & (pairs["end_a"] > pairs["start"])]
    ended = assignments["valid_to"].to_numpy()[pairs["assignment"].to_numpy()]
    pairs = pairs.assign(ended=ended)
    latest = pairs.groupby("index")["ended"].transform("max")
    return np.unique(pairs.loc[pairs["ended"] == latest, "assignment"].to_numpy())


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
    stems = pd.DataFrame(
        {
            "river": network.ids[stem],
            "position": np.arange(len(stem)),
            "start": core.distance_to_outlet_m() - core.distance_to_outlet_m()[stem],
            "length": core.length_m,
        }
    )
    wanted = pd.DataFrame(
        {
            "assignment": picked,
            "river": river.iloc[picked].tolist(),
            "r0": assignments["from_m"].to_numpy(dtype=float)[picked],
            "r1": assignments["to_m"].to_numpy(dtype=float)[picked],
        }
    )
    joined = wanted.merge(stems, on="river")
    whole = joined["r0"].isna().to_numpy()
    top = (joined["start"] + joined["length"]).to_numpy()
    r0 = np.where(whole, -np.inf, joined["r0"].to_numpy())
    r1 = np.where(whole, np.inf, joined["r1"].to_numpy())
    lo = np.maximum(r0, joined["start"].to_numpy())
    hi = np.minimum(r1, top)
    keep = hi > lo
    from_m = np.where(whole, np.nan, top - hi)
    to_m = np.where(whole, np.nan, top - lo)
    return pd.DataFrame(
        {
            "assignment": joined["assignment"].to_numpy()[keep],
            "position": joined["position"].to_numpy()[keep],
            "from_m": from_m[keep],
            "to_m": to_m[keep],
        }
    )
