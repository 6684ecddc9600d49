"""Checks of a reach table before it becomes a network: every problem gathered into one report.

:func:`validate_reaches` never raises on bad data: it returns a :class:`ValidationReport` whose
findings each carry a code, a severity, a message that says how to fix it, and the reach ids
concerned. ``RiverNetwork.validate()`` and ``rivernet check`` use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from rivernet import _core
from rivernet.errors import TopologyError
from rivernet.messages import items

Severity = Literal["error", "warning", "info"]
LINE_TYPES = ("LineString", "MultiLineString")


@dataclass(frozen=True)
class Finding:
    """One problem (or fact) found in a reach table.

    Parameters
    ----------
    code
        A stable machine-readable code such as ``"cycle"``.
    severity
        ``"error"`` (the network cannot be built or answers would be wrong), ``"warning"``
        (rivernet works around it and says how), or ``"info"``.
    message
        What is wrong, where, and how to fix it.
    reach_ids
        The reaches concerned.
    layer
        The layer (or file part) the finding is about: ``reaches``, ``admin_units``,
        ``lakes``, ``policy``, ``roster`` or ``file``.
    """

    code: str
    severity: Severity
    message: str
    reach_ids: tuple[Any, ...] = ()
    layer: str = "reaches"

    @classmethod
    def from_key(
        cls,
        code: str,
        key: str,
        /,
        *,
        severity: Severity = "error",
        reach_ids: Iterable[Any] = (),
        layer: str = "reaches",
        **values: Any,
    ) -> Finding:
        """A finding whose message is the catalogue message ``key`` filled with ``values``.

        ``message`` is then a :class:`rivernet.messages.Message`: its ``str`` is the English
        text and :meth:`text` renders it in Chinese or English.
        """
        from rivernet.messages import Message

        return cls(code, severity, Message(key, **values), tuple(reach_ids), layer)

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang`` (as it is when it was not made from the catalogue)."""
        from rivernet.messages import render

        return render(self.message, lang)

    def to_dict(self, *, lang: str | None = None) -> dict[str, Any]:
        """The finding as plain JSON-ready values, its message in ``lang`` (default English)."""
        ids = [i.item() if isinstance(i, np.generic) else i for i in self.reach_ids]
        return {
            "code": self.code,
            "severity": self.severity,
            "layer": self.layer,
            "message": str(self.message) if lang is None else self.text(lang),
            "reach_ids": ids,
        }


@dataclass
class ValidationReport:
    """All findings of a validation, with the verdict.

    Parameters
    ----------
    findings
        Every finding, errors first.
    """

    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        """Findings that make the network unusable or its answers wrong."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Defects rivernet works around."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        """Facts worth knowing (connected parts and the like)."""
        return [f for f in self.findings if f.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def to_json(self, *, lang: str | None = None) -> str:
        """The report as a JSON document (``ok`` and the list of findings, in ``lang``)."""
        body = {"ok": self.ok, "findings": [f.to_dict(lang=lang) for f in self.findings]}
        return json.dumps(body, ensure_ascii=False, indent=2)

    def raise_for_errors(self) -> None:
        """Raise :class:`TopologyError` listing every error, if there is any."""
        if not self.ok:
            lines = "\n".join(f"- [{f.code}] {f.message}" for f in self.errors)
            raise TopologyError(f"the reach table has {len(self.errors)} error(s):\n{lines}")

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        head = (
            f"validation {verdict}: {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s), {len(self.infos)} note(s)"
        )
        body = [f"  {f.severity.upper():7} [{f.code}] {f.message}" for f in self.findings]
        return "\n".join([head, *body])


def validate_reaches(
    reaches: gpd.GeoDataFrame,
    *,
    id_column: str,
    downstream_column: str,
    outlet_values: Iterable[Any] = (0,),
    secondary_column: str | None = None,
    touch_tolerance_m: float = 1.0,
) -> ValidationReport:
    """Check a reach table and return every problem found.

    Parameters
    ----------
    reaches
        Reach lines with an id and a downstream-id column.
    id_column, downstream_column
        The column names.
    outlet_values
        Downstream values that mark an outlet.
    secondary_column
        Optional column of a second downstream id (braids, diversions).
    touch_tolerance_m
        How far (metres) a reach's downstream end may lie from its downstream reach.

    Returns
    -------
    ValidationReport
        Errors, warnings and notes.
    """
    if len(reaches) == 0:
        return ValidationReport([Finding.from_key("empty_layer", "finding.empty_layer")])
    findings: list[Finding] = []
    findings += _crs_findings(reaches)
    findings += _id_findings(reaches, id_column)
    findings += _geometry_findings(reaches, id_column)
    table = reaches.drop_duplicates(subset=id_column).dropna(subset=[id_column])
    try:
        down, dangling = _downstream_positions(table, id_column, downstream_column, outlet_values)
    except TopologyError as error:
        findings.append(
            Finding.from_key(
                "id_types", "finding.in_column", column=downstream_column, message=error.args[0]
            )
        )
        return ValidationReport(findings)
    ids = table[id_column].to_numpy()
    findings += _link_findings(ids, table[downstream_column].to_numpy(), down, dangling)
    if secondary_column is not None:
        findings += _secondary_findings(table, id_column, secondary_column, outlet_values)
    cyclic = _cycle_findings(ids, down)
    findings += cyclic
    if reaches.crs is not None and not cyclic:
        findings += _touch_findings(table, ids, down, CRS(reaches.crs), touch_tolerance_m)
    if not cyclic:
        findings += _part_findings(ids, down)
    order = {"error": 0, "warning": 1, "info": 2}
    return ValidationReport(sorted(findings, key=lambda f: order[f.severity]))


def _crs_findings(reaches: gpd.GeoDataFrame) -> list[Finding]:
    """Missing CRS, or coordinates that do not fit the CRS's units."""
    if reaches.crs is None:
        return [Finding.from_key("missing_crs", "finding.missing_crs")]
    bounds = reaches.total_bounds
    if not np.all(np.isfinite(bounds)):
        return []
    crs = CRS(reaches.crs)
    looks_degrees = bool(
        np.all(np.abs(bounds[[0, 2]]) <= 180) and np.all(np.abs(bounds[[1, 3]]) <= 90)
    )
    if crs.is_geographic and not looks_degrees:
        return [
            Finding.from_key(
                "crs_mismatch",
                "finding.crs_says_degrees",
                crs=crs.name,
                bounds=bounds.round(1).tolist(),
            )
        ]
    if not crs.is_geographic and looks_degrees and np.ptp(bounds) > 0:
        return [
            Finding.from_key(
                "crs_mismatch",
                "finding.crs_says_metres",
                severity="warning",
                crs=crs.name,
                bounds=bounds.round(3).tolist(),
            )
        ]
    return []


def _id_findings(reaches: gpd.GeoDataFrame, id_column: str) -> list[Finding]:
    """Missing and duplicate reach ids."""
    ids = reaches[id_column]
    found: list[Finding] = []
    missing = np.flatnonzero(ids.isna().to_numpy())
    if missing.size:
        found.append(
            Finding.from_key(
                "missing_id", "finding.missing_id", count=missing.size, rows=items(missing + 1)
            )
        )
    dupes = ids[ids.duplicated(keep=False) & ids.notna()].unique()
    if dupes.size:
        found.append(
            Finding.from_key(
                "duplicate_id",
                "finding.duplicate_id",
                reach_ids=dupes,
                count=dupes.size,
                ids=items(dupes),
            )
        )
    return found


def _geometry_findings(reaches: gpd.GeoDataFrame, id_column: str) -> list[Finding]:
    """Empty, non-line and invalid geometries."""
    geoms = reaches.geometry.to_numpy()
    ids = reaches[id_column].to_numpy()
    found: list[Finding] = []
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = np.asarray(shapely.get_type_id(geoms))
    non_line = ~empty & ~np.isin(types, [1, 5])
    coords_ok = np.array([_finite_line(g) for g in geoms], dtype=bool)
    invalid = ~empty & ~non_line & ~coords_ok
    checks = (("empty_geometry", empty), ("non_line_geometry", non_line),
              ("invalid_geometry", invalid))  # fmt: skip
    for code, mask in checks:
        if mask.any():
            bad = ids[mask]
            found.append(Finding.from_key(code, f"finding.{code}", reach_ids=bad,
                                          count=mask.sum(), ids=items(bad)))  # fmt: skip
    multi = ~empty & (types == 5)
    if multi.any():
        bad = ids[multi]
        found.append(
            Finding.from_key(
                "multipart_geometry",
                "finding.multipart_geometry",
                severity="warning",
                reach_ids=bad,
                count=multi.sum(),
                ids=items(bad),
            )
        )
    return found


def _finite_line(geom: Any) -> bool:
    """A line with finite coordinates and at least two distinct vertices."""
    if geom is None or geom.is_empty or geom.geom_type not in LINE_TYPES:
        return True
    coords = shapely.get_coordinates(geom)
    return bool(np.isfinite(coords).all() and len(np.unique(coords, axis=0)) >= 2)


def _downstream_positions(
    table: pd.DataFrame, id_column: str, downstream_column: str, outlet_values: Iterable[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Downstream positions (-1 outlet) and the positions whose downstream id is unknown."""
    index = pd.Index(table[id_column].to_numpy())
    return _core.downstream_positions(index, table[downstream_column], outlet_values)


def _link_findings(
    ids: npt.NDArray[Any],
    down_ids: npt.NDArray[Any],
    down: npt.NDArray[np.int64],
    dangling: npt.NDArray[np.int64],
) -> list[Finding]:
    """Self-loops and downstream ids that point nowhere."""
    found: list[Finding] = []
    loops = np.flatnonzero(down == np.arange(len(down)))
    if loops.size:
        found.append(
            Finding.from_key(
                "self_loop", "finding.self_loop", reach_ids=ids[loops], ids=items(ids[loops])
            )
        )
        down[loops] = -1
    if dangling.size:
        pairs = [f"{a}->{b}" for a, b in zip(ids[dangling], down_ids[dangling], strict=True)]
        found.append(
            Finding.from_key(
                "dangling_downstream",
                "finding.dangling_downstream",
                severity="warning",
                reach_ids=ids[dangling],
                count=dangling.size,
                pairs=items(pairs),
            )
        )
    return found


def _secondary_findings(
    table: pd.DataFrame, id_column: str, secondary_column: str, outlet_values: Iterable[Any]
) -> list[Finding]:
    """Secondary downstream ids that point nowhere."""
    _, dangling = _downstream_positions(table, id_column, secondary_column, outlet_values)
    if not dangling.size:
        return []
    ids = table[id_column].to_numpy()[dangling]
    return [
        Finding.from_key(
            "dangling_secondary",
            "finding.dangling_secondary",
            reach_ids=ids,
            count=dangling.size,
            ids=items(ids),
        )
    ]


def _cycle_findings(ids: npt.NDArray[Any], down: npt.NDArray[np.int64]) -> list[Finding]:
    """Every cycle of downstream links, with the reach ids on it."""
    offsets, _ = _core._children_csr(down)
    order = _core._topological_order(down, offsets)
    if order.shape[0] == down.shape[0]:
        return []
    return [
        Finding.from_key("cycle", "finding.cycle", reach_ids=ids[c], ids=items(ids[c], limit=20))
        for c in _core._find_cycles(down, order)
    ]


def _touch_findings(
    table: gpd.GeoDataFrame,
    ids: npt.NDArray[Any],
    down: npt.NDArray[np.int64],
    crs: CRS,
    tolerance_m: float,
) -> list[Finding]:
    """Reaches whose end does not meet their downstream reach, or that run against the flow."""
    geoms = table.geometry.to_numpy()
    linked = np.flatnonzero((down >= 0) & _usable_lines(geoms) & _usable_lines(geoms[down]))
    if not linked.size:
        return []
    whole_below = geoms[down[linked]]  # distances to every part of a multi-part line
    this, below = _merged(geoms[linked]), _merged(whole_below)
    this_end = shapely.get_point(this, -1)
    end_gap = _gap_m(this_end, whole_below, crs)
    start_gap = _gap_m(shapely.get_point(this, 0), whole_below, crs)
    end_at_outlet = _gap_m(this_end, shapely.get_point(below, -1), crs)
    start_of_below = _gap_m(shapely.get_point(below, 0), this_end, crs)
    reversed_self = (end_gap > tolerance_m) & (start_gap <= tolerance_m)
    apart = (end_gap > tolerance_m) & ~reversed_self
    reversed_below = (
        (end_gap <= tolerance_m) & (end_at_outlet <= tolerance_m) & (start_of_below > tolerance_m)
    )
    found: list[Finding] = []
    if apart.any():
        sel = linked[apart]
        pairs = [
            f"{a}->{b} ({g:.0f} m)"
            for a, b, g in zip(ids[sel], ids[down[sel]], end_gap[apart], strict=True)
        ]
        found.append(
            Finding.from_key(
                "not_touching_downstream",
                "finding.not_touching_downstream",
                severity="warning",
                reach_ids=ids[sel],
                count=apart.sum(),
                pairs=items(pairs),
            )
        )
    backwards = np.concatenate([linked[reversed_self], down[linked[reversed_below]]])
    if backwards.size:
        found.append(
            Finding.from_key(
                "reversed_digitising",
                "finding.reversed_digitising",
                severity="warning",
                reach_ids=ids[backwards],
                count=backwards.size,
                ids=items(ids[backwards]),
            )
        )
    return found


def _usable_lines(geoms: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Non-empty line geometries."""
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    ok &= np.isin(np.asarray(shapely.get_type_id(geoms)), [1, 5])
    finite = np.array([ok_ and _finite_line(g) for ok_, g in zip(ok, geoms, strict=True)], bool)
    return np.asarray(ok & finite, dtype=bool)


def _merged(geoms: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Single LineStrings: multi-part lines merged, or their first part if they do not merge."""
    out = geoms.copy()
    multi = np.asarray(shapely.get_type_id(out)) == 5
    if multi.any():
        merged = shapely.line_merge(out[multi])
        still = np.asarray(shapely.get_type_id(merged)) != 1
        merged[still] = shapely.get_geometry(merged[still], 0)
        out[multi] = merged
    return out


def _gap_m(points: npt.NDArray[Any], others: npt.NDArray[Any], crs: CRS) -> npt.NDArray[np.float64]:
    """Metric distance from each point to the matching geometry."""
    lines = shapely.shortest_line(points, others)
    coords = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    if crs.is_geographic:
        geod = crs.get_geod()
        assert geod is not None
        _, _, dist = geod.inv(coords[:, 0, 0], coords[:, 0, 1], coords[:, 1, 0], coords[:, 1, 1])
        return np.asarray(dist)
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.hypot(*(coords[:, 1] - coords[:, 0]).T) * factor


def _part_findings(ids: npt.NDArray[Any], down: npt.NDArray[np.int64]) -> list[Finding]:
    """How many separate river systems (connected parts) the table holds."""
    outlets = np.flatnonzero(down < 0)
    if outlets.size <= 1:
        return []
    return [
        Finding.from_key(
            "disconnected_parts",
            "finding.disconnected_parts",
            severity="info",
            reach_ids=ids[outlets],
            count=outlets.size,
            outlets=items(ids[outlets]),
        )
    ]
