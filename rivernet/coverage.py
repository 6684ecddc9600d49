"""Full-coverage audit (全覆盖): gaps, overlaps, expired terms, broken chains, as of any day.

Every question is answered on responsibility pieces (reaches cut at county boundaries) and the
stretches of the roster's assignments, with measures in metres from each reach's upstream end.
A policy (:mod:`rivernet.policy`) says which levels each piece requires. Only assignments in
the policy's covering roles (河长 and 湖长 by default) count as coverage, and a chief covers only
the part of a reach inside their own unit (a township or village chief: inside their county).

- :func:`coverage_gaps`: uncovered stretches per missing level, with the unit and the cause;
- :func:`coverage_problems`: overlaps, expired terms left unfilled, lake vacancies, broken
  chains, orphan assignments and stale sign boards, one row each with a ``kind``;
- :func:`coverage_summary`: required and covered length per unit and level;
- :func:`coverage_status`: every piece with its status at one level, for maps;
- :func:`chiefs_at`: who is responsible at a reach or a point, by level.

``as_of`` takes a ``datetime.date`` or an ISO date string and defaults to today; ``policy``
takes a :class:`~rivernet.policy.CoveragePolicy` or the path of a policy TOML file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from rivernet._audit import ACTIVE
from rivernet._coverage_input import AuditRun, reach_targets, require_roster, run_audit
from rivernet._coverage_report import (
    broken_chain_rows,
    expired_rows,
    orphan_rows,
    overlap_rows,
    stale_board_rows,
    stretch_geometry,
    unit_names,
    vacancy_rows,
)
from rivernet._errors import InputError, NotFoundError
from rivernet.admin import LEVEL_LABELS_ZH, LEVELS, is_within
from rivernet.policy import CoveragePolicy
from rivernet.roster import PRIVATE_COLUMNS, as_date

__all__ = [
    "PROBLEM_KINDS",
    "chiefs_at",
    "coverage_gaps",
    "coverage_problems",
    "coverage_status",
    "coverage_summary",
]

DateLike = dt.date | str | None
PolicyLike = CoveragePolicy | str | Any | None
PROBLEM_KINDS = ("overlap", "expired", "vacancy", "broken_chain", "orphan", "stale_board")
GAP_COLUMNS = ("reach_id", "from_m", "to_m", "length_m", "level", "level_zh", "unit_code",
               "unit_name", "cause")  # fmt: skip
SUMMARY_COLUMNS = ("unit_code", "unit_name", "level", "required_m", "covered_m", "coverage_pct",
                   "gaps", "overlaps", "expired")  # fmt: skip


def coverage_gaps(
    project: Any, *, as_of: DateLike = None, policy: PolicyLike = None
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
    frame = _stretch_frame(run, gaps)
    frame["cause"] = gaps["cause"].to_numpy()
    frame["order"] = frame["level"].map(LEVELS.index)
    frame = frame.sort_values(["reach_id", "from_m", "order"], kind="stable")
    return _with_geometry(project, frame.reset_index(drop=True), list(GAP_COLUMNS))


def _stretch_frame(run: AuditRun, runs: pd.DataFrame) -> pd.DataFrame:
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


def _with_geometry(project: Any, frame: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    geometry = stretch_geometry(project.network, frame)
    return gpd.GeoDataFrame(frame[columns], geometry=geometry, crs=project.network.crs)


def coverage_problems(
    project: Any, *, as_of: DateLike = None, policy: PolicyLike = None
) -> gpd.GeoDataFrame:
    """Every coverage problem other than plain gaps, one row each.

    Kinds (column ``kind``):

    - ``overlap``: two or more chiefs of one level and role on the same stretch;
    - ``expired``: an assignment whose term has ended and whose stretch nobody covers now;
    - ``vacancy``: a lake the policy lists without a lake chief (湖长) at a required level;
    - ``broken_chain``: a stretch covered at a level while the next required level above it
      is not (a village chief without a township chief above);
    - ``orphan``: an active assignment naming a reach, river or lake that no longer exists;
    - ``stale_board``: a sign board still showing a former chief longer than the policy's
      ``board_update_days`` after the change.

    Parameters
    ----------
    project
        A project with a roster.
    as_of
        The day (``datetime.date`` or ISO string); default today.
    policy
        The policy (object or TOML path); default :class:`~rivernet.policy.CoveragePolicy()`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``kind, level, reach_id, from_m, to_m, length_m, lake_id, unit_code, unit_name,
        assignment_ids, message`` and the stretch geometry (empty for lake and orphan rows).
    """
    run = run_audit(project, as_of=as_of, policy=policy)
    frames = [
        overlap_rows(run, _stretch_frame(run, run.audit.overlaps)),
        expired_rows(run),
        vacancy_rows(run, project),
        broken_chain_rows(run, _stretch_frame(run, run.audit.chains)),
        orphan_rows(run, project),
        stale_board_rows(run, project),
    ]
    columns = ["kind", "level", "reach_id", "from_m", "to_m", "length_m", "lake_id",
               "unit_code", "unit_name", "assignment_ids", "message"]  # fmt: skip
    frame = pd.concat([f.reindex(columns=columns) for f in frames if len(f)], ignore_index=True)
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return _with_geometry(project, frame, columns)


def coverage_summary(
    project: Any,
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
    from rivernet._audit import unit_totals

    run = run_audit(project, as_of=as_of, policy=policy)
    totals = unit_totals(run.audit, run.piece_units, len(run.units))
    n_units = len(run.units)
    frame = pd.DataFrame(
        {
            "unit_code": np.tile(run.units, len(LEVELS)),
            "level": np.repeat(np.asarray(LEVELS, dtype=object), n_units),
            **{name: values.T.ravel() for name, values in totals.items()},
        }
    )
    frame = frame[frame["required_m"] > 0].copy()
    frame["unit_name"] = frame["unit_code"].map(unit_names(project))
    frame["coverage_pct"] = (100.0 * frame["covered_m"] / frame["required_m"]).round(1)
    for column in ("gaps", "overlaps", "expired"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("required_m", "covered_m"):
        frame[column] = frame[column].round(1)
    if level is not None:
        _check_level(level)
        frame = frame[frame["level"] == level]
    if unit is not None:
        frame = frame[_within(frame["unit_code"], unit)]
    frame["order"] = frame["level"].map(LEVELS.index)
    frame = frame.sort_values(["order", "unit_code"]).drop(columns="order")
    return frame[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def _within(codes: pd.Series, unit: str) -> pd.Series:
    """Which ``codes`` are ``unit`` or lie inside it (one test per distinct code)."""
    return codes.isin([code for code in codes.dropna().unique() if is_within(code, unit)])


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise InputError(f"level {level!r} is not one of {', '.join(LEVELS)}")


def coverage_status(
    project: Any, *, level: str, as_of: DateLike = None, policy: PolicyLike = None
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
    columns = ["reach_id", "from_m", "to_m", "length_m", "level", "status", "covered_m", "chiefs"]
    return _with_geometry(project, frame, columns)


def _chief_names(run: AuditRun, level: int, n_pieces: int) -> np.ndarray:
    clipped = run.audit.clipped
    active = clipped[(clipped["level"] == level) & (clipped["state"] == ACTIVE)]
    active = active[active["role"] >= 0]
    assignments = run.roster.assignments
    person = assignments["person_id"].to_numpy()[active["assignment"].to_numpy()]
    names = run.roster.people.set_index("person_id")["name"]
    label = pd.Series(person).map(names).fillna("?").to_numpy()
    table = pd.DataFrame({"piece": active["piece"].to_numpy(), "name": label})
    joined = table.drop_duplicates().groupby("piece")["name"].agg("、".join)
    out = np.full(n_pieces, "", dtype=object)
    out[joined.index.to_numpy()] = joined.to_numpy()
    return out


def chiefs_at(
    project: Any,
    reach_id_or_point: Any,
    *,
    as_of: DateLike = None,
    measure_m: float | None = None,
    max_distance_m: float = 1000.0,
    include_contact: bool = False,
) -> pd.DataFrame:
    """Every chief responsible at a reach or a point, by level.

    Parameters
    ----------
    project
        A project with a roster.
    reach_id_or_point
        A reach id, or a point (shapely Point or ``(x, y)`` in the network's CRS) that is
        snapped to the nearest reach.
    as_of
        The day; default today.
    measure_m
        With a reach id: the place on it (metres from its upstream end); default: anywhere
        on the reach.
    max_distance_m
        A point farther than this from every reach is an error.
    include_contact
        Include the private ``contact`` column.

    Returns
    -------
    pandas.DataFrame
        ``level, level_zh, role, name, post, organisation, unit_code, unit_name,
        assignment_id, reach_id, lake_id, from_m, to_m, valid_from, valid_to`` (and
        ``contact``), ordered from province to village.

    Raises
    ------
    NotFoundError
        If the reach id is unknown or the point lies too far from every reach.
    """
    roster = require_roster(project)
    reach_id, measure = _locate(project, reach_id_or_point, measure_m, max_distance_m)
    day = pd.Timestamp(as_date(as_of))
    frame = roster.to_frame(include_contact=True)
    active = (
        (frame["valid_from"] <= day) & (frame["valid_to"].isna() | (frame["valid_to"] >= day))
    ).to_numpy()
    network = project.network
    targets = reach_targets(roster.assignments, network)
    position = int(network.core.position([reach_id])[0])
    here = targets[targets["position"] == position]
    if measure is not None:
        from_m = here["from_m"].fillna(0.0)
        to_m = here["to_m"].fillna(np.inf)
        here = here[(from_m <= measure) & (to_m >= measure)]
    rows = set(_in_unit(project, position, measure, roster.assignments, here["assignment"]))
    rows |= set(_lake_rows(project, roster, reach_id, measure))
    picked = frame.iloc[sorted(rows)]
    picked = picked[active[sorted(rows)]].copy()
    picked["level_zh"] = picked["level"].map(LEVEL_LABELS_ZH)
    picked["unit_name"] = picked["unit_code"].map(unit_names(project))
    picked["order"] = picked["level"].map(LEVELS.index)
    picked = picked.sort_values(["order", "role", "name"]).drop(columns="order")
    columns = ["level", "level_zh", "role", "name", "post", "organisation", "unit_code",
               "unit_name", "assignment_id", "reach_id", "lake_id", "from_m", "to_m",
               "valid_from", "valid_to"]  # fmt: skip
    if include_contact:
        columns += list(PRIVATE_COLUMNS)
    return picked[columns].reset_index(drop=True)


def _in_unit(
    project: Any, position: int, measure: float | None, assignments: pd.DataFrame, rows: Any
) -> list[int]:
    """The assignment rows whose unit holds the reach (at ``measure``, if given)."""
    from rivernet._pieces import pieces as project_pieces

    pieces = project_pieces(project)
    here = pieces[pieces["position"] == position]
    if measure is not None:
        inside = here[(here["from_m"] <= measure) & (here["to_m"] >= measure)]
        here = inside.iloc[:1] if len(inside) else here
    codes = {level: set(here[f"{level}_code"].dropna()) for level in ("province", "city", "county")}
    keep = []
    for row in rows:
        level = str(assignments["level"].iat[row])
        code = str(assignments["unit_code"].iat[row])
        if code in codes.get(level, set()) or (
            level in ("township", "village") and code[:6] in codes["county"]
        ):
            keep.append(int(row))
    return keep


def _locate(
    project: Any, target: Any, measure_m: float | None, max_distance_m: float
) -> tuple[Any, float | None]:
    network = project.network
    if isinstance(target, shapely.Geometry) or (isinstance(target, tuple) and len(target) == 2):
        point = target if isinstance(target, shapely.Geometry) else shapely.Point(target)
        return _snap(network, point, max_distance_m)
    if target not in network:
        raise NotFoundError(
            f"reach {target!r} is not in the network; give a reach id of the reaches layer or "
            "a point"
        )
    return target, measure_m


def _snap(network: Any, point: Any, max_distance_m: float) -> tuple[Any, float]:
    import warnings

    from rivernet._errors import SnapWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SnapWarning)
        snapped = network.snap([point], max_distance_m=max_distance_m)
    row = snapped.iloc[0]
    if pd.isna(row["reach_id"]):
        raise NotFoundError(
            f"no reach within {max_distance_m:g} m of {point.wkt}; check the coordinates "
            f"(network CRS: {network.crs.to_string()}) or raise max_distance_m"
        )
    return row["reach_id"], float(row["measure_m"])


def _lake_rows(project: Any, roster: Any, reach_id: Any, measure: float | None) -> list[int]:
    lakes = project.lakes
    assignments = roster.assignments
    if lakes.empty or assignments["lake_id"].isna().all():
        return []
    network = project.network
    line = network.reaches.geometry.at[reach_id]
    length = float(network.reaches.at[reach_id, "length_m"])
    fraction = 0.5 if measure is None or length <= 0 else min(measure / length, 1.0)
    point = shapely.line_interpolate_point(line, fraction, normalized=True)
    inside = lakes.loc[lakes.geometry.contains(point), "lake_id"].tolist()
    return np.flatnonzero(assignments["lake_id"].isin(inside).to_numpy()).tolist()
