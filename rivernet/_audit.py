"""The coverage audit kernel: interval arithmetic on one global line, with numpy only.

Every reach is laid end to end on one global line (reach ``p`` starts at ``offset[p]``, the sum
of the lengths before it), so a stretch ``from_m .. to_m`` of reach ``p`` is the interval
``offset[p] + from_m .. offset[p] + to_m``. Pieces (reaches cut at county boundaries) tile the
line. Assignment stretches are clipped to the pieces whose unit they belong to; then all
interval endpoints are sorted once into elementary segments, and the number of chiefs on each
segment, per level, is a cumulative sum of +1/-1 events. Gaps, overlaps, broken chains and
lengths per unit all follow from these counts without any per-row Python.

Levels are indices into :data:`rivernet.admin.LEVELS` (0 province .. 4 village).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

N_LEVELS = 5
ACTIVE, EXPIRED = 1, 2
MIN_STRETCH_M = 1.0  # gaps, overlaps and chains shorter than this are measurement noise


@dataclass
class AuditInput:
    """Arrays the audit works on (positions, metres, level and unit indices).

    Attributes
    ----------
    reach_length
        Length of each reach (m) by position.
    piece_position, piece_from, piece_to
        Pieces sorted by position then ``from``, tiling every reach.
    piece_units
        ``(n_pieces, 5)`` unit index of each piece at each level; township and village columns
        repeat the county (sub-county units have no polygons); -1 outside every unit.
    required, exempt
        ``(n_pieces, 5)``: levels each piece requires, and levels waived by an exemption.
    a_position, a_from, a_to
        Assignment stretches on reaches (NaN measures: the whole reach).
    a_level
        Level index of each assignment.
    a_unit
        Unit index the assignment must match in ``piece_units[:, level]``.
    a_role
        Index of the role among the covering roles, -1 for roles that do not cover.
    a_state
        :data:`ACTIVE`, :data:`EXPIRED` (term ended before the audit day), 0 otherwise.
    """

    reach_length: FloatArray
    piece_position: IntArray
    piece_from: FloatArray
    piece_to: FloatArray
    piece_units: IntArray
    required: BoolArray
    exempt: BoolArray
    a_position: IntArray
    a_from: FloatArray
    a_to: FloatArray
    a_level: IntArray
    a_unit: IntArray
    a_role: IntArray
    a_state: IntArray


@dataclass
class Audit:
    """Results of :func:`audit`.

    Attributes
    ----------
    clipped
        Assignment stretches clipped to pieces: ``assignment, piece, start, end`` (global
        coordinates), ``level``, ``role``, ``state``.
    breakpoints
        Sorted global breakpoints; segment ``i`` is ``breakpoints[i] .. breakpoints[i+1]``.
    segment_piece
        Piece of each segment.
    covered, overlap, expired
        ``(n_segments, 5)`` booleans: at least one active chief, two or more active chiefs of
        one role, an expired term.
    gaps, overlaps, chains
        Runs: ``piece, level, start, end`` (global), plus ``cause`` for gaps (``"none"`` or
        ``"expired"``) and ``missing_level`` for broken chains.
    expired_assignments
        Indices of expired assignments whose stretch is now a gap.
    piece_offset
        Global start of each piece's reach (``offset[piece_position]``).
    """

    clipped: pd.DataFrame
    breakpoints: FloatArray
    segment_piece: IntArray
    covered: BoolArray
    overlap: BoolArray
    expired: BoolArray
    required: BoolArray
    gaps: pd.DataFrame
    overlaps: pd.DataFrame
    chains: pd.DataFrame
    expired_assignments: IntArray
    piece_offset: FloatArray


def audit(data: AuditInput) -> Audit:
    """Run the coverage audit.

    Parameters
    ----------
    data
        The arrays.

    Returns
    -------
    Audit
        Segment counts and the runs of gaps, overlaps and broken chains.
    """
    offset = np.concatenate([[0.0], np.cumsum(data.reach_length)])
    piece_offset = offset[data.piece_position]
    piece_start = piece_offset + data.piece_from
    piece_end = piece_offset + data.piece_to
    clipped = _clip(data, offset, piece_start, piece_end)
    breakpoints = np.unique(
        np.concatenate([piece_start, piece_end, clipped["start"], clipped["end"]])
    )
    segment_piece = np.searchsorted(piece_start, breakpoints[:-1], side="right") - 1
    first = np.searchsorted(breakpoints, clipped["start"].to_numpy())
    last = np.searchsorted(breakpoints, clipped["end"].to_numpy())
    n_seg = len(breakpoints) - 1
    level = clipped["level"].to_numpy()
    role = clipped["role"].to_numpy()
    state = clipped["state"].to_numpy()
    covering = (role >= 0) & (state == ACTIVE)
    covered = _more_than(first, last, level, covering, n_seg, 0)
    n_roles = int(role.max()) + 1 if len(role) else 0
    overlap = np.zeros((n_seg, N_LEVELS), dtype=bool)
    for r in range(n_roles):
        overlap |= _more_than(first, last, level, covering & (role == r), n_seg, 1)
    expired = _more_than(first, last, level, (role >= 0) & (state == EXPIRED), n_seg, 0)
    required = data.required[segment_piece]
    seg_len = np.diff(breakpoints)
    gap = required & ~covered
    gaps = _gap_runs(gap, expired, segment_piece, breakpoints)
    overlaps = _runs(overlap, segment_piece, breakpoints)
    chains = _chain_runs(required, covered, segment_piece, breakpoints)
    expired_assignments = _expired_in_gaps(clipped, first, last, gap, seg_len)
    return Audit(
        clipped=clipped.assign(first=first, last=last),
        breakpoints=breakpoints,
        segment_piece=segment_piece,
        covered=covered,
        overlap=overlap,
        expired=expired,
        required=required,
        gaps=gaps,
        overlaps=overlaps,
        chains=chains,
        expired_assignments=expired_assignments,
        piece_offset=piece_offset,
    )


def _clip(
    data: AuditInput, offset: FloatArray, piece_start: FloatArray, piece_end: FloatArray
) -> pd.DataFrame:
    """Assignment stretches cut to the pieces of their reach that lie in their unit."""
    first_piece = np.searchsorted(data.piece_position, np.arange(len(data.reach_length) + 1))
    index, piece, start, end = _clip_kernel(
        data.a_position,
        np.ascontiguousarray(data.a_from, dtype=np.float64),
        np.ascontiguousarray(data.a_to, dtype=np.float64),
        data.a_level,
        data.a_unit,
        first_piece,
        piece_start,
        piece_end,
        np.ascontiguousarray(data.piece_units),
        offset,
    )
    return pd.DataFrame(
        {
            "assignment": index,
            "piece": piece,
            "start": start,
            "end": end,
            "level": data.a_level[index],
            "role": data.a_role[index],
            "state": data.a_state[index],
        }
    )


@numba.njit(cache=True)
def _clip_kernel(
    position: IntArray,
    a_from: FloatArray,
    a_to: FloatArray,
    level: IntArray,
    unit: IntArray,
    first_piece: IntArray,
    piece_start: FloatArray,
    piece_end: FloatArray,
    piece_units: IntArray,
    offset: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """One pass to count the clipped stretches, one to write them (no temporaries)."""
    n = position.shape[0]
    total = 0
    for k in range(2):
        if k == 1:
            out_index = np.empty(total, dtype=np.int64)
            out_piece = np.empty(total, dtype=np.int64)
            out_start = np.empty(total, dtype=np.float64)
            out_end = np.empty(total, dtype=np.float64)
        m = 0
        for i in range(n):
            p = position[i]
            base = offset[p]
            lo = base + (0.0 if np.isnan(a_from[i]) else a_from[i])
            hi = base + (np.inf if np.isnan(a_to[i]) else a_to[i])
            for j in range(first_piece[p], first_piece[p + 1]):
                s = max(lo, piece_start[j])
                e = min(hi, piece_end[j])
                if e > s and piece_units[j, level[i]] == unit[i]:
                    if k == 1:
                        out_index[m] = i
                        out_piece[m] = j
                        out_start[m] = s
                        out_end[m] = e
                    m += 1
        total = m
    return out_index, out_piece, out_start, out_end


def _more_than(
    first: IntArray, last: IntArray, level: IntArray, mask: BoolArray, n_seg: int, least: int
) -> BoolArray:
    """Whether more than ``least`` masked intervals lie over each segment, per level."""
    out = np.zeros((n_seg, N_LEVELS), dtype=bool)
    for lv in range(N_LEVELS):
        pick = mask & (level == lv)
        delta = np.bincount(first[pick], minlength=n_seg + 1).astype(np.int32)
        delta -= np.bincount(last[pick], minlength=n_seg + 1).astype(np.int32)
        out[:, lv] = np.cumsum(delta, dtype=np.int32)[:-1] > least
    return out


def _runs(
    mask: BoolArray,
    segment_piece: IntArray,
    breakpoints: FloatArray,
    key: IntArray | None = None,
) -> pd.DataFrame:
    """Maximal runs of True segments within one piece (and one ``key``), per level."""
    parts: list[tuple[IntArray, IntArray]] = []
    for lv in range(N_LEVELS):
        on = mask[:, lv]
        k = segment_piece if key is None else segment_piece * 4 + key[:, lv]
        change = k[1:] != k[:-1]
        starts = on & np.r_[True, ~on[:-1] | change]
        ends = on & np.r_[~on[1:] | change, True]
        parts.append((np.flatnonzero(starts), np.flatnonzero(ends)))
    s = np.concatenate([first for first, _ in parts])
    e = np.concatenate([last for _, last in parts])
    level = np.repeat(np.arange(N_LEVELS), [len(first) for first, _ in parts])
    start, end = breakpoints[s], breakpoints[e + 1]
    keep = end - start >= MIN_STRETCH_M
    return pd.DataFrame(
        {
            "piece": segment_piece[s[keep]],
            "level": level[keep],
            "start": start[keep],
            "end": end[keep],
            "first_segment": s[keep],
        }
    )


def _gap_runs(
    gap: BoolArray, expired: BoolArray, segment_piece: IntArray, breakpoints: FloatArray
) -> pd.DataFrame:
    cause = (gap & expired).astype(np.int64)
    runs = _runs(gap, segment_piece, breakpoints, key=cause)
    runs["cause"] = np.where(
        cause[runs["first_segment"].to_numpy(), runs["level"].to_numpy()] == 1, "expired", "none"
    )
    return runs


def _chain_runs(
    required: BoolArray, covered: BoolArray, segment_piece: IntArray, breakpoints: FloatArray
) -> pd.DataFrame:
    """Runs where a level is covered but the nearest required level above it is not."""
    n_seg = len(segment_piece)
    broken = np.zeros((n_seg, N_LEVELS), dtype=bool)
    missing = np.full((n_seg, N_LEVELS), -1, dtype=np.int64)
    above = np.full(n_seg, -1, dtype=np.int64)
    above_covered = np.ones(n_seg, dtype=bool)
    for lv in range(N_LEVELS):
        here = required[:, lv] & covered[:, lv] & (above >= 0) & ~above_covered
        broken[:, lv] = here
        missing[:, lv] = np.where(here, above, -1)
        req = required[:, lv]
        above = np.where(req, lv, above)
        above_covered = np.where(req, covered[:, lv], above_covered)
    runs = _runs(broken, segment_piece, breakpoints, key=np.maximum(missing, 0))
    runs["missing_level"] = missing[runs["first_segment"].to_numpy(), runs["level"].to_numpy()]
    return runs


def _expired_in_gaps(
    clipped: pd.DataFrame, first: IntArray, last: IntArray, gap: BoolArray, seg_len: FloatArray
) -> IntArray:
    """Expired assignments that overlap a gap at their level by at least a metre."""
    state = clipped["state"].to_numpy()
    role = clipped["role"].to_numpy()
    pick = np.flatnonzero((state == EXPIRED) & (role >= 0))
    if not len(pick):
        return np.empty(0, dtype=np.int64)
    level = clipped["level"].to_numpy()[pick]
    prefix = np.vstack([np.zeros(N_LEVELS), np.cumsum(gap * seg_len[:, None], axis=0)])
    gap_length = prefix[last[pick], level] - prefix[first[pick], level]
    hit = clipped["assignment"].to_numpy()[pick][gap_length >= MIN_STRETCH_M]
    return np.unique(hit)


def unit_totals(result: Audit, piece_units: IntArray, n_units: int) -> dict[str, FloatArray]:
    """Required and covered metres, and counts of gaps, overlaps and expired gaps, per unit.

    Parameters
    ----------
    result
        The audit.
    piece_units
        ``(n_pieces, 5)`` unit indices (as in :class:`AuditInput`).
    n_units
        Number of units.

    Returns
    -------
    dict of str to numpy.ndarray
        ``required_m, covered_m, gaps, overlaps, expired``, each ``(n_units, 5)``.
    """
    seg_len = np.diff(result.breakpoints)
    seg_units = piece_units[result.segment_piece]
    totals = {}
    for name, mask in (
        ("required_m", result.required),
        ("covered_m", result.required & result.covered),
    ):
        totals[name] = _sum_by_unit(seg_units, mask * seg_len[:, None], n_units)
    for name, runs in (
        ("gaps", result.gaps),
        ("overlaps", result.overlaps),
        ("expired", result.gaps[result.gaps["cause"] == "expired"]),
    ):
        units = piece_units[runs["piece"].to_numpy(), runs["level"].to_numpy()]
        totals[name] = _sum_by_unit_runs(units, runs["level"].to_numpy(), n_units)
    return totals


def _sum_by_unit(seg_units: IntArray, values: FloatArray, n_units: int) -> FloatArray:
    out = np.zeros((n_units, N_LEVELS))
    for lv in range(N_LEVELS):
        ok = seg_units[:, lv] >= 0
        out[:, lv] = np.bincount(seg_units[ok, lv], weights=values[ok, lv], minlength=n_units)
    return out


def _sum_by_unit_runs(units: IntArray, levels: IntArray, n_units: int) -> FloatArray:
    out = np.zeros((n_units, N_LEVELS))
    ok = units >= 0
    np.add.at(out, (units[ok], levels[ok]), 1.0)
    return out
