"""Coverage problems other than plain gaps, one row each, with the fix in the message.

:func:`coverage_problems` audits a project's roster as of a day (the same audit as
:mod:`rivernet.coverage`) and lists overlaps, expired terms left unfilled, lake vacancies,
broken chains, orphan assignments and stale sign boards. One builder per kind turns the audit
into rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from rivernet import messages
from rivernet._audit import ACTIVE, EXPIRED
from rivernet.admin import LEVELS
from rivernet.coverage import (
    AuditRun,
    DateLike,
    PolicyLike,
    run_audit,
    stretch_frame,
    unit_names,
    with_geometry,
)

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["PROBLEM_KINDS", "coverage_problems"]

PROBLEM_KINDS = ("overlap", "expired", "vacancy", "broken_chain", "orphan", "stale_board")


def coverage_problems(
    project: Project, *, as_of: DateLike = None, policy: PolicyLike = None, lang: str = "zh"
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
    lang
        Language of the ``message`` column: ``"zh"`` (default) or ``"en"``; ``kind`` and
        ``level`` stay codes (translate them with :mod:`rivernet.messages`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``kind, level, reach_id, from_m, to_m, length_m, lake_id, unit_code, unit_name,
        assignment_ids, message`` and the stretch geometry (empty for lake and orphan rows).
    """
    messages.check_lang(lang)
    run = run_audit(project, as_of=as_of, policy=policy)
    frames = [
        overlap_rows(run, stretch_frame(run, run.audit.overlaps), lang=lang),
        expired_rows(run, lang=lang),
        vacancy_rows(run, project, lang=lang),
        broken_chain_rows(run, stretch_frame(run, run.audit.chains), lang=lang),
        orphan_rows(run, project, lang=lang),
        stale_board_rows(run, project, lang=lang),
    ]
    columns = ["kind", "level", "reach_id", "from_m", "to_m", "length_m", "lake_id",
               "unit_code", "unit_name", "assignment_ids", "message"]  # fmt: skip
    found = [f.reindex(columns=columns) for f in frames if len(f)]
    if found:
        frame = pd.concat(found, ignore_index=True)
    else:  # a roster without any problem
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return with_geometry(project, frame, columns)


def _people(run: AuditRun) -> pd.Series:
    return run.roster.people.drop_duplicates("person_id").set_index("person_id")["name"]


def _ids_text(assignments: pd.DataFrame, rows: npt.ArrayLike) -> str:
    return ", ".join(str(a) for a in assignments["assignment_id"].to_numpy()[np.asarray(rows)])


def overlap_rows(run: AuditRun, stretches: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Overlaps with the ids of the assignments involved."""
    if stretches.empty:
        return stretches
    runs = run.audit.overlaps
    clipped = run.audit.clipped
    active = clipped[(clipped["state"] == ACTIVE) & (clipped["role"] >= 0)]
    pairs = runs.reset_index().merge(active, on=["piece", "level"], suffixes=("", "_a"))
    pairs = pairs[(pairs["start_a"] < pairs["end"]) & (pairs["end_a"] > pairs["start"])]
    assignments = run.roster.assignments
    names = _people(run)
    involved = pairs.groupby("index")["assignment"].apply(lambda rows: sorted(set(rows)))
    frame = stretches.copy()
    frame["kind"] = "overlap"
    ids, texts = [], []
    for i, row in enumerate(frame.itertuples()):
        rows = involved.get(runs.index[i], [])
        people = assignments["person_id"].to_numpy()[rows]
        roles = sorted(set(assignments["role"].to_numpy()[rows]))
        ids.append(_ids_text(assignments, rows))
        texts.append(
            messages.text(
                "problem.overlap",
                lang,
                count=len(rows),
                level=messages.level(row.level, lang),
                roles="/".join(roles),
                names="、".join(names.reindex(people).fillna("?")),
                reach=row.reach_id,
                start=f"{row.from_m:.0f}",
                end=f"{row.to_m:.0f}",
            )
        )
    frame["assignment_ids"] = ids
    frame["message"] = texts
    return frame


def expired_rows(run: AuditRun, *, lang: str = "zh") -> pd.DataFrame:
    """Assignments whose term ended and whose stretch nobody covers now."""
    rows = run.audit.expired_assignments
    if not len(rows):
        return pd.DataFrame()
    assignments = run.roster.assignments.iloc[rows]
    names = _people(run).reindex(assignments["person_id"]).fillna("?").to_numpy()
    frame = pd.DataFrame(
        {
            "kind": "expired",
            "level": assignments["level"].to_numpy(),
            "reach_id": assignments["reach_id"].to_numpy(),
            "from_m": assignments["from_m"].to_numpy(),
            "to_m": assignments["to_m"].to_numpy(),
            "lake_id": assignments["lake_id"].to_numpy(),
            "unit_code": assignments["unit_code"].to_numpy(),
            "assignment_ids": assignments["assignment_id"].astype(str).to_numpy(),
        }
    )
    ended = assignments["valid_to"].dt.strftime("%Y-%m-%d").to_numpy()
    target = [_target_text(a, lang) for a in assignments.itertuples()]
    frame["message"] = [
        messages.text(
            "problem.expired",
            lang,
            name=name,
            level=messages.level(level, lang),
            role=role,
            target=where,
            day=day,
        )
        for name, level, role, where, day in zip(
            names, frame["level"], assignments["role"], target, ended, strict=True
        )
    ]
    frame["unit_name"] = frame["unit_code"].map(unit_names(run.project))
    return frame


def _target_text(row: Any, lang: str) -> str:
    if row.reach_id is not None and not pd.isna(row.reach_id):
        return messages.text("target.reach", lang, id=row.reach_id)
    if row.river_id is not None and not pd.isna(row.river_id):
        return messages.text("target.river", lang, id=row.river_id)
    return messages.text("target.lake", lang, id=row.lake_id)


def vacancy_rows(run: AuditRun, project: Project, *, lang: str = "zh") -> pd.DataFrame:
    """Lakes the policy lists that lack an active lake chief at a required level."""
    assignments = run.roster.assignments
    active = assignments[(run.state == ACTIVE) & (assignments["role"] == "湖长")]
    have = set(zip(active["lake_id"], active["level"], strict=True))
    names = dict(zip(project.lakes["lake_id"], project.lakes["name_zh"], strict=True))
    rows = []
    for rule in run.policy.lakes:
        for lake in rule.lake_ids:
            for level in rule.levels:
                if (lake, level) in have:
                    continue
                name = names.get(lake) or messages.text("target.lake", lang, id=lake)
                rows.append(
                    {
                        "kind": "vacancy",
                        "level": level,
                        "lake_id": lake,
                        "message": messages.text(
                            "problem.vacancy",
                            lang,
                            lake=name,
                            lake_id=lake,
                            day=run.as_of,
                            level=messages.level(level, lang),
                            rule=rule.name,
                        ),
                    }
                )
    return pd.DataFrame(rows)


def broken_chain_rows(run: AuditRun, stretches: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Stretches covered at a level while the next required level above is not."""
    if stretches.empty:
        return stretches
    missing = np.asarray(LEVELS, dtype=object)[run.audit.chains["missing_level"].to_numpy()]
    frame = stretches.copy()
    frame["kind"] = "broken_chain"
    frame["message"] = [
        messages.text(
            "problem.broken_chain",
            lang,
            reach=row.reach_id,
            start=f"{row.from_m:.0f}",
            end=f"{row.to_m:.0f}",
            level=messages.level(row.level, lang),
            above=messages.level(above, lang),
        )
        for row, above in zip(frame.itertuples(), missing, strict=True)
    ]
    frame["missing_level"] = missing
    return frame


def orphan_rows(run: AuditRun, project: Project, *, lang: str = "zh") -> pd.DataFrame:
    """Active assignments naming a reach, river or lake that does not exist."""
    assignments = run.roster.assignments
    has_target = np.zeros(len(assignments), dtype=bool)
    has_target[run.targets["assignment"].to_numpy()] = True
    lake = assignments["lake_id"].isin(project.lakes["lake_id"].tolist()).to_numpy()
    orphan = (run.state == ACTIVE) & ~has_target & ~lake
    picked = assignments[orphan]
    if picked.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "kind": "orphan",
            "level": picked["level"].to_numpy(),
            "reach_id": picked["reach_id"].to_numpy(),
            "lake_id": picked["lake_id"].to_numpy(),
            "unit_code": picked["unit_code"].to_numpy(),
            "unit_name": picked["unit_code"].map(unit_names(project)).to_numpy(),
            "assignment_ids": picked["assignment_id"].astype(str).to_numpy(),
            "message": [
                messages.text(
                    "problem.orphan",
                    lang,
                    assignment=a.assignment_id,
                    target=_target_text(a, lang),
                )
                for a in picked.itertuples()
            ],
        }
    )


def stale_board_rows(run: AuditRun, project: Project, *, lang: str = "zh") -> pd.DataFrame:
    """Sign boards still showing someone who is no longer the chief, past the allowed delay."""
    boards = run.roster.boards
    if boards.empty:
        return pd.DataFrame()
    clipped = run.audit.clipped
    clipped = clipped[clipped["role"] >= 0]
    assignments = run.roster.assignments
    person = assignments["person_id"].to_numpy()[clipped["assignment"].to_numpy()]
    start = assignments["valid_from"].to_numpy()[clipped["assignment"].to_numpy()]
    end = assignments["valid_to"].to_numpy()[clipped["assignment"].to_numpy()]
    network = project.network
    offset = np.concatenate([[0.0], np.cumsum(network.core.length_m)])
    on_reach = run.pieces["position"].to_numpy()[clipped["piece"].to_numpy()]
    level = clipped["level"].to_numpy()
    start_at = clipped["start"].to_numpy()
    end_at = clipped["end"].to_numpy()
    state = clipped["state"].to_numpy()
    positions = pd.Index(network.ids).get_indexer(boards["reach_id"])
    day = pd.Timestamp(run.as_of)
    rows = []
    for board, position in zip(boards.itertuples(), positions, strict=True):
        if position < 0:
            continue
        measure = _measure(board.measure_m)
        where = offset[position] + measure
        here = (
            (on_reach == position)
            & (level == LEVELS.index(board.level))
            & (start_at <= where)
            & (end_at >= where)
        )
        current = here & (state == ACTIVE)
        if board.person_id in set(person[current]):
            continue
        shown = here & (state == EXPIRED) & (person == board.person_id)
        changes = [pd.Timestamp(t) for t in start[current]]
        changes += [pd.Timestamp(t) + pd.Timedelta(days=1) for t in end[shown]]
        if not changes:
            continue
        changed = min(changes)
        late = (day - changed).days - run.policy.board_update_days
        if late > 0:
            days = run.policy.board_update_days
            rows.append(_board_row(board, measure, changed, late, days, lang=lang))
    return pd.DataFrame(rows)


def _measure(value: Any) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _board_row(
    board: Any, measure: float, changed: pd.Timestamp, late: int, days: int, *, lang: str
) -> dict:
    return {
        "kind": "stale_board",
        "level": board.level,
        "reach_id": board.reach_id,
        "from_m": measure,
        "to_m": measure,
        "assignment_ids": str(board.board_id),
        "changed_on": changed.date().isoformat(),
        "message": messages.text(
            "problem.stale_board",
            lang,
            board=board.board_id,
            reach=board.reach_id,
            level=messages.level(board.level, lang),
            day=changed.date(),
            days=days,
            late=late,
        ),
    }
