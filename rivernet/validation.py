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
from rivernet.errors import TopologyError, format_ids

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

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON-ready values."""
        ids = [i.item() if isinstance(i, np.generic) else i for i in self.reach_ids]
        return {
            "code": self.code,
            "severity": self.severity,
            "layer": self.layer,
            "message": self.message,
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

    def to_json(self) -> str:
        """The report as a JSON document (``ok`` and the list of findings)."""
        body = {"ok": self.ok, "findings": [f.to_dict() for f in self.findings]}
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
        return ValidationReport(
            [
                Finding(
                    "empty_layer",
                    "error",
                    "the reach layer has no rows: there is no network to check; write the "
                    "reach lines into it (or check the layer name)",
                )
            ]
        )
    findings: list[Finding] = []
    findings += _crs_findings(reaches)
    findings += _id_findings(reaches, id_column)
    findings += _geometry_findings(reaches, id_column)
    table = reaches.drop_duplicates(subset=id_column).dropna(subset=[id_column])
    try:
        down, dangling = _downstream_positions(table, id_column, downstream_column, outlet_values)
    except TopologyError as error:
        findings.append(Finding("id_types", "error", f"column {downstream_column!r}: {error}"))
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
        return [
            Finding(
                "missing_crs",
                "error",
                "the reach layer has no CRS; set it (EPSG:4326 for WGS84 degrees, "
                "EPSG:4490 for CGCS2000) or add a .prj beside the shapefile",
            )
        ]
    bounds = reaches.total_bounds
    if not np.all(np.isfinite(bounds)):
        return []
    crs = CRS(reaches.crs)
    looks_degrees = bool(
        np.all(np.abs(bounds[[0, 2]]) <= 180) and np.all(np.abs(bounds[[1, 3]]) <= 90)
    )
    if crs.is_geographic and not looks_degrees:
        return [
            Finding(
                "crs_mismatch",
                "error",
                f"the layer says {crs.name} (degrees) but its coordinates reach "
                f"{bounds.round(1).tolist()}: they are projected metres. Label the "
                "layer with its real projected CRS.",
            )
        ]
    if not crs.is_geographic and looks_degrees and np.ptp(bounds) > 0:
        return [
            Finding(
                "crs_mismatch",
                "warning",
                f"the layer says {crs.name} (metres) but all coordinates lie within "
                f"{bounds.round(3).tolist()}, which looks like degrees. If they are "
                "longitude/latitude, label the layer EPSG:4326 or EPSG:4490.",
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
            Finding(
                "missing_id",
                "error",
                f"{missing.size} row(s) have no reach id (rows {format_ids(missing + 1)}); "
                "give every reach an id.",
            )
        )
    dupes = ids[ids.duplicated(keep=False) & ids.notna()].unique()
    if dupes.size:
        found.append(
            Finding(
                "duplicate_id",
                "error",
                f"{dupes.size} reach id(s) occur more than once: {format_ids(dupes)}. "
                "Give every reach a unique id (only the first row of each is used "
                "in the other checks).",
                tuple(dupes),
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
    checks = (
        ("empty_geometry", empty, "have no geometry; draw them or drop the rows"),
        (
            "non_line_geometry",
            non_line,
            "are not lines (points or polygons); a reach must be a LineString",
        ),
        (
            "invalid_geometry",
            invalid,
            "are degenerate lines (fewer than two distinct vertices, or NaN/infinite coordinates); "
            "redraw them",
        ),
    )
    for code, mask, text in checks:
        if mask.any():
            bad = ids[mask]
            message = f"{mask.sum()} reach(es) {format_ids(bad)} {text}."
            found.append(Finding(code, "error", message, tuple(bad)))
    multi = ~empty & (types == 5)
    if multi.any():
        bad = ids[multi]
        found.append(
            Finding(
                "multipart_geometry",
                "warning",
                f"{multi.sum()} reach(es) {format_ids(bad)} are MultiLineStrings; "
                "measures along them follow the parts in order. Merge or split them "
                "into single lines for exact measures.",
                tuple(bad),
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
            Finding(
                "self_loop",
                "error",
                f"reach(es) {format_ids(ids[loops])} name themselves as downstream; "
                "set the real downstream reach or an outlet value.",
                tuple(ids[loops]),
            )
        )
        down[loops] = -1
    if dangling.size:
        pairs = [f"{a}->{b}" for a, b in zip(ids[dangling], down_ids[dangling], strict=True)]
        found.append(
            Finding(
                "dangling_downstream",
                "warning",
                f"{dangling.size} reach(es) point to downstream ids that are not in "
                f"the table ({format_ids(pairs)}); typical of a clipped extract. "
                "They are treated as outlets; add the missing reaches to route "
                "further.",
                tuple(ids[dangling]),
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
        Finding(
            "dangling_secondary",
            "error",
            f"{dangling.size} secondary downstream link(s) from {format_ids(ids)} point "
            "to reaches that do not exist; fix or drop those links (the network refuses them).",
            tuple(ids),
        )
    ]


def _cycle_findings(ids: npt.NDArray[Any], down: npt.NDArray[np.int64]) -> list[Finding]:
    """Every cycle of downstream links, with the reach ids on it."""
    offsets, _ = _core._children_csr(down)
    order = _core._topological_order(down, offsets)
    if order.shape[0] == down.shape[0]:
        return []
    return [
        Finding(
            "cycle",
            "error",
            f"the downstream links of reaches {format_ids(ids[c], limit=20)} form a cycle; "
            "water cannot flow in a circle: fix the downstream id of one of them.",
            tuple(ids[c]),
        )
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
            Finding(
                "not_touching_downstream",
                "warning",
                f"{apart.sum()} reach(es) end away from their downstream reach: "
                f"{format_ids(pairs)}. Check the downstream ids or snap the lines.",
                tuple(ids[sel]),
            )
        )
    backwards = np.concatenate([linked[reversed_self], down[linked[reversed_below]]])
    if backwards.size:
        found.append(
            Finding(
                "reversed_digitising",
                "warning",
                f"{backwards.size} reach(es) {format_ids(ids[backwards])} are drawn "
                "against the flow given by the downstream ids (their start, not "
                "their end, meets the next reach). Reverse the lines (shapely.reverse) "
                "so measures run from the upstream end.",
                tuple(ids[backwards]),
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
        Finding(
            "disconnected_parts",
            "info",
            f"the network has {outlets.size} separate parts (one per outlet: "
            f"{format_ids(ids[outlets])}); navigation never crosses between them.",
            tuple(ids[outlets]),
        )
    ]
