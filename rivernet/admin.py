"""Administrative units: GB/T 2260 codes, the five levels and the checks a unit table must pass.

An admin-units table is a GeoDataFrame with the columns ``code`` (text: 6-digit province, city
and county codes, 9-digit township and 12-digit village codes), ``name``, ``level`` (one of
:data:`LEVELS`), ``parent_code`` and ``geometry`` (polygons; township and village units may have
none). A unit's level and parent follow from its code:

- ``NN0000`` is a province, ``NNNN00`` a city, any other 6-digit code a county;
- a city's parent is its province; a county's parent is its city ``NNNN00``, except in the four
  municipalities (北京 110000, 天津 120000, 上海 310000, 重庆 500000), whose districts and counties
  (``NN01xx``, ``NN02xx``) all belong to the one city-level unit ``NN0100``, and the county-level
  units that a province administers directly (``NN90xx``), whose parent is the province;
- 9-digit township codes extend their county's code, 12-digit village codes their township's.
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from rivernet.errors import AdminUnitsError, InputError
from rivernet.messages import Code, Lines, Message, items

__all__ = [
    "ADMIN_COLUMNS",
    "LEVELS",
    "LEVEL_LABELS_ZH",
    "LEVEL_WORDS",
    "MUNICIPALITIES",
    "POLYGON_LEVELS",
    "AdminProblem",
    "Level",
    "admin_units_from_frame",
    "containment_problems",
    "hierarchy_problems",
    "is_within",
    "level_from_word",
    "level_of_code",
    "missing_ancestors",
    "normalise_code",
    "parent_code",
    "polygon_levels",
    "require_valid_admin_units",
    "validate_admin_units",
]

Level = Literal["province", "city", "county", "township", "village"]
"""The five levels of chief, coarse to fine: the one definition every module imports."""
LEVELS: tuple[str, ...] = get_args(Level)
POLYGON_LEVELS: tuple[str, ...] = LEVELS[:3]
"""Levels whose units are drawn as polygons; township and village chiefs are assigned to
reaches and stretches instead (no open polygons exist for them)."""
LEVEL_LABELS_ZH: dict[str, str] = {
    "province": "省",
    "city": "市",
    "county": "县",
    "township": "乡",
    "village": "村",
}
LEVEL_WORDS: dict[str, str] = {
    **{level: level for level in LEVELS},
    "省": "province",
    "自治区": "province",
    "直辖市": "province",
    "市": "city",
    "地级市": "city",
    "地区": "city",
    "自治州": "city",
    "盟": "city",
    "prefecture": "city",
    "县": "county",
    "区": "county",
    "区县": "county",
    "县区": "county",
    "市辖区": "county",
    "县级市": "county",
    "自治县": "county",
    "旗": "county",
    "district": "county",
    "乡": "township",
    "镇": "township",
    "乡镇": "township",
    "街道": "township",
    "苏木": "township",
    "town": "township",
    "subdistrict": "township",
    "street": "township",
    "村": "village",
    **{zh + "级": level for level, zh in LEVEL_LABELS_ZH.items()},
    "区级": "county",
    "镇级": "township",
    "乡镇级": "township",
    "社区": "village",
    "村委会": "village",
    "居委会": "village",
    "嘎查": "village",
    "community": "village",
}
"""Level words in Chinese or English (lower case) -> an entry of :data:`rivernet.admin.LEVELS`.
The one table of level words (admin layers, rosters and named rosters read levels with it);
``市`` also stands for a county-level city (县级市) on a county code."""


def level_from_word(word: object) -> str | None:
    """Return the level a word names (``"县"``, ``"县级"``, ``"地级市"``, ``"County"``), or None.

    Parameters
    ----------
    word
        A level word in Chinese or English (see :data:`LEVEL_WORDS`); full-width letters,
        spaces and case do not matter.

    Returns
    -------
    str or None
        An entry of :data:`LEVELS`, or None for an unknown word.
    """
    text = unicodedata.normalize("NFKC", str(word))
    return LEVEL_WORDS.get("".join(text.split()).lower())


MUNICIPALITIES: frozenset[str] = frozenset({"110000", "120000", "310000", "500000"})
ADMIN_COLUMNS: tuple[str, ...] = ("code", "name", "level", "parent_code", "geometry")

_CODE_LENGTHS = (6, 9, 12)
_DIGITS = re.compile(r"^[0-9]+$")

ObjectArray = npt.NDArray[np.object_]
AdminCheck = Callable[[gpd.GeoDataFrame], list["AdminProblem"]]


def normalise_code(value: object) -> str:
    """Turn a GB/T 2260 code given in any common form into its canonical text.

    Parameters
    ----------
    value
        An int (``320500``), an integral float as spreadsheets produce (``320500.0``) or text,
        possibly with surrounding or inner whitespace, full-width digits (``"３２０５００"``) or a
        trailing ``".0"``.

    Returns
    -------
    str
        The code as 6, 9 or 12 ASCII digits.

    Raises
    ------
    InputError
        When the value is not a 6-, 9- or 12-digit code.
    """
    text = _code_text(value)
    if not _DIGITS.match(text) or len(text) not in _CODE_LENGTHS:
        raise InputError.from_key("admin.not_a_code", value=repr(value))
    return text


def _code_text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if np.isfinite(number) and number.is_integer() else repr(value)
    if isinstance(value, str):
        text = "".join(unicodedata.normalize("NFKC", value).split())
        return text[:-2] if text.endswith(".0") else text
    return repr(value)


def level_of_code(code: object) -> str:
    """Return the level (an entry of :data:`LEVELS`) that a code denotes.

    Parameters
    ----------
    code
        A code in any form :func:`normalise_code` accepts.

    Returns
    -------
    str
        ``"province"`` for NN0000, ``"city"`` for NNNN00, ``"county"`` for other 6-digit codes,
        ``"township"`` for 9 digits and ``"village"`` for 12.
    """
    text = normalise_code(code)
    if len(text) == 9:
        return "township"
    if len(text) == 12:
        return "village"
    if text[2:] == "0000":
        return "province"
    if text[4:] == "00":
        return "city"
    return "county"


def parent_code(code: object) -> str | None:
    """Return the code of the unit one level up, or None for a province.

    Parameters
    ----------
    code
        A code in any form :func:`normalise_code` accepts.

    Returns
    -------
    str or None
        The parent's code (see the module docs for municipalities and directly administered
        county-level units).
    """
    text = normalise_code(code)
    level = level_of_code(text)
    if level == "province":
        return None
    province = text[:2] + "0000"
    if level == "city":
        return province
    if level == "county":
        if province in MUNICIPALITIES:
            return text[:2] + "0100"
        if text[2:4] == "90":
            return province
        return text[:4] + "00"
    return text[:6] if level == "township" else text[:9]


def is_within(code: object, unit: object) -> bool:
    """Whether the unit ``code`` is ``unit`` or lies inside it (follows :func:`parent_code`).

    Parameters
    ----------
    code, unit
        Codes in any form :func:`normalise_code` accepts.

    Returns
    -------
    bool
        True for ``unit`` itself and every unit below it, including the ``NN02xx`` counties of a
        municipality (inside ``NN0100``) and a province's directly administered ``NN90xx`` units.
    """
    target = normalise_code(unit)
    current: str | None = normalise_code(code)
    for _ in LEVELS:  # at most one step per level
        if current is None:
            break
        if current == target:
            return True
        current = parent_code(current)
    return False


@dataclass(frozen=True)
class AdminProblem:
    """One problem found in an admin-units table.

    Attributes
    ----------
    kind
        A short key: ``missing_column``, ``bad_code``, ``invalid_geometry``, ``duplicate_code``,
        ``level_mismatch``, ``parent_mismatch``, ``missing_parent``, ``overlap``,
        ``outside_parent``, and ``gap`` through the ``extra_checks`` hook
        (:func:`rivernet.pieces.gap_problems`).
    message
        What is wrong, where and how to fix it.
    codes
        The codes concerned.
    severity
        ``"error"`` (answers would be wrong) or ``"warning"`` (a geometric defect within
        reason, such as a child polygon reaching a little outside its parent).
    """

    kind: str
    message: str
    codes: tuple[str, ...] = field(default_factory=tuple)
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return self.message


def admin_units_from_frame(
    gdf: gpd.GeoDataFrame, *, code_column: str = "code", name_column: str = "name"
) -> gpd.GeoDataFrame:
    """Build an admin-units table from polygons with codes, deriving level and parent.

    Parameters
    ----------
    gdf
        Units with a code column (any form :func:`normalise_code` accepts) and a name column.
    code_column, name_column
        The columns holding the code and the name.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code, name, level, parent_code, geometry`` (other columns follow), sorted by
        level then code, with a fresh RangeIndex.
    """
    for column in (code_column, name_column):
        if column not in gdf.columns:
            raise AdminUnitsError.from_key("err_admin.no_column", column=repr(column),
                                           columns=", ".join(map(str, gdf.columns)))  # fmt: skip
    codes = [normalise_code(value) for value in gdf[code_column]]
    rest = [c for c in gdf.columns if c not in (code_column, name_column, gdf.geometry.name)]
    rest = [c for c in rest if c not in ADMIN_COLUMNS]
    table = pd.DataFrame(
        {
            "code": codes,
            "name": gdf[name_column].to_numpy(),
            "level": [level_of_code(code) for code in codes],
            "parent_code": [parent_code(code) for code in codes],
        }
    )
    for column in rest:
        table[column] = gdf[column].to_numpy()
    result = gpd.GeoDataFrame(table, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    order = np.lexsort((result["code"].to_numpy(), result["level"].map(LEVELS.index).to_numpy()))
    return result.iloc[order].reset_index(drop=True)


def validate_admin_units(
    gdf: gpd.GeoDataFrame,
    *,
    overlap_tolerance_m2: float = 10_000.0,
    outside_tolerance_m: float = 200.0,
    extra_checks: Sequence[AdminCheck] = (),
) -> list[AdminProblem]:
    """Check an admin-units table and list every problem found.

    Codes, levels and the hierarchy (:func:`hierarchy_problems`), geometries, overlaps between
    units of one level, and children reaching outside their parent
    (:func:`containment_problems`, severity ``"warning"``).

    Parameters
    ----------
    gdf
        The table (columns ``code, name, level, parent_code, geometry``).
    overlap_tolerance_m2
        Overlaps between units of one level smaller than this (square metres) are ignored;
        independently digitised neighbours always overlap a little along their border.
    outside_tolerance_m
        How far (metres) a child's boundary may stray outside its parent's polygon.
    extra_checks
        More checks, each a function of the table returning problems (for example
        :func:`rivernet.pieces.gap_problems`).

    Returns
    -------
    list of AdminProblem
        Empty when the table is valid.
    """
    missing = [c for c in ("code", "name", "level") if c not in gdf.columns]
    if missing:
        return [
            AdminProblem(
                "missing_column",
                Message("admin.missing_columns", columns=", ".join(missing)),
            )
        ]
    problems = hierarchy_problems(gdf)
    problems += _geometry_problems(gdf)
    problems += _overlap_problems(gdf, tolerance_m2=overlap_tolerance_m2)
    problems += containment_problems(gdf, tolerance_m=outside_tolerance_m)
    for check in extra_checks:
        problems += check(gdf)
    return problems


def require_valid_admin_units(
    gdf: gpd.GeoDataFrame,
    *,
    overlap_tolerance_m2: float = 10_000.0,
    extra_checks: Sequence[AdminCheck] = (),
) -> None:
    """Raise AdminUnitsError listing every error :func:`validate_admin_units` finds.

    Problems of severity ``"warning"`` do not raise.

    Parameters
    ----------
    gdf
        The admin-units table.
    overlap_tolerance_m2, extra_checks
        As for :func:`validate_admin_units`.
    """
    found = validate_admin_units(
        gdf, overlap_tolerance_m2=overlap_tolerance_m2, extra_checks=extra_checks
    )
    problems = [problem for problem in found if problem.severity == "error"]
    if problems:
        lines = Lines(tuple(problem.message for problem in problems))
        raise AdminUnitsError.from_key("err_admin.problems", count=len(problems), lines=lines)


def hierarchy_problems(gdf: gpd.GeoDataFrame) -> list[AdminProblem]:
    """Problems of the codes and the hierarchy: every one makes answers wrong.

    Codes that are not GB/T 2260 codes, duplicate codes, levels that disagree with the code,
    a ``parent_code`` that disagrees with the code (a county whose parent is another
    province's city) and parents missing from the table.

    Parameters
    ----------
    gdf
        The table (columns ``code, name, level``, optionally ``parent_code``).

    Returns
    -------
    list of AdminProblem
        Empty when the codes and the hierarchy are consistent.
    """
    problems: list[AdminProblem] = []
    codes: list[str | None] = []
    for row, value in enumerate(gdf["code"]):
        try:
            codes.append(normalise_code(value))
        except InputError as error:
            codes.append(None)
            message = Message("admin.in_row", row=row, message=error.args[0])
            problems.append(AdminProblem("bad_code", message, (str(value),)))
    valid = pd.Series(codes, dtype=object).dropna()
    duplicated = sorted(set(valid[valid.duplicated()]))
    if duplicated:
        problems.append(
            AdminProblem(
                "duplicate_code",
                Message("admin.duplicate_code", codes=items(duplicated)),
                tuple(duplicated),
            )
        )
    known = set(valid)
    has_parent_column = "parent_code" in gdf.columns
    for row, code in enumerate(codes):
        if code is None:
            continue
        problems += _row_code_problems(gdf, row, code, known, check_parent=has_parent_column)
    return problems


def _row_code_problems(
    gdf: gpd.GeoDataFrame, row: int, code: str, known: set[str], *, check_parent: bool
) -> list[AdminProblem]:
    problems: list[AdminProblem] = []
    level = level_of_code(code)
    stated = gdf["level"].iloc[row]
    if stated != level:
        problems.append(
            AdminProblem(
                "level_mismatch",
                Message(
                    "admin.level_mismatch",
                    code=code,
                    stated=repr(stated),
                    level=Code("level", level),
                    levels=", ".join(LEVELS),
                ),
                (code,),
            )
        )
    expected = parent_code(code)
    if check_parent:
        stated_parent = gdf["parent_code"].iloc[row]
        stated_parent = None if pd.isna(stated_parent) else _code_text(stated_parent)
        if stated_parent != expected:
            problems.append(_parent_mismatch(gdf, row, code, stated_parent, expected))
    if expected is not None and expected not in known:
        problems.append(
            AdminProblem(
                "missing_parent",
                Message(
                    "admin.missing_parent", code=code, name=gdf["name"].iloc[row], parent=expected
                ),
                (code,),
            )
        )
    return problems


def _parent_mismatch(
    gdf: gpd.GeoDataFrame, row: int, code: str, stated: str | None, expected: str | None
) -> AdminProblem:
    names = dict(zip(gdf["code"].map(_code_text), gdf["name"], strict=False))

    def label(value: str | None) -> str:
        return f"{value} ({names[value]})" if value in names else str(value)

    fix = (Message("admin.set_parent", parent=expected) if expected
           else Message("admin.clear_parent"))  # fmt: skip
    message = Message("admin.parent_mismatch", unit=label(code), row=row, stated=label(stated),
                      expected=label(expected), fix=fix, stated_code=stated)  # fmt: skip
    return AdminProblem("parent_mismatch", message, (code,))


def _geometry_problems(gdf: gpd.GeoDataFrame) -> list[AdminProblem]:
    problems: list[AdminProblem] = []
    geoms = gdf.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    kinds = shapely.get_type_id(geoms)
    for row in np.flatnonzero(present & ~np.isin(kinds, (3, 6))):
        code = str(gdf["code"].iloc[row])
        problems.append(
            AdminProblem(
                "invalid_geometry",
                Message("admin.not_polygon", code=code, kind=geoms[row].geom_type),
                (code,),
            )
        )
    invalid = present & ~shapely.is_valid(geoms)
    for row in np.flatnonzero(invalid):
        code = str(gdf["code"].iloc[row])
        reason = shapely.is_valid_reason(geoms[row])
        problems.append(
            AdminProblem(
                "invalid_geometry",
                Message("admin.invalid_polygon", code=code, reason=reason),
                (code,),
            )
        )
    return problems


def _overlap_problems(gdf: gpd.GeoDataFrame, *, tolerance_m2: float) -> list[AdminProblem]:
    geoms = gdf.geometry.to_numpy()
    usable = ~shapely.is_missing(geoms) & shapely.is_valid(geoms) & ~shapely.is_empty(geoms)
    if gdf.crs is None or usable.sum() < 2:
        return []
    from rivernet.crs import metric_crs_for

    subset = gdf.loc[usable]
    metric = subset.geometry.to_crs(metric_crs_for(subset)).to_numpy()
    levels = subset["level"].to_numpy()
    codes = subset["code"].astype(str).to_numpy()
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    keep = (left < right) & (levels[left] == levels[right])
    left, right = left[keep], right[keep]
    areas = shapely.area(shapely.intersection(metric[left], metric[right]))
    problems = []
    for i, j, area in zip(left, right, areas, strict=True):
        if area > tolerance_m2:
            problems.append(
                AdminProblem(
                    "overlap",
                    Message(
                        "admin.overlap",
                        first=codes[i],
                        second=codes[j],
                        level=Code("level", levels[i]),
                        km2=f"{area / 1e6:.3f}",
                    ),
                    (codes[i], codes[j]),
                )
            )
    return problems


def containment_problems(
    gdf: gpd.GeoDataFrame, *, tolerance_m: float = 200.0, sample_size: int = 4000
) -> list[AdminProblem]:
    """Units whose polygon reaches outside their parent's polygon (severity ``"warning"``).

    Sampled boundary vertices of each child (at most ``sample_size`` in all, so the check stays
    cheap) are tested against the parent's polygon; a vertex more than ``tolerance_m`` outside
    it counts. Independently digitised levels never match exactly, hence the tolerance.

    Parameters
    ----------
    gdf
        The table (columns ``code, level, parent_code, geometry``) in a CRS with units.
    tolerance_m
        How far (metres) a child's boundary may stray outside its parent.
    sample_size
        How many child vertices to test at most.

    Returns
    -------
    list of AdminProblem
        One ``outside_parent`` warning per child concerned.
    """
    pairs = _child_parent_pairs(gdf)
    if pairs is None:
        return []
    child, parent, mask, scale = pairs
    coords, owner = shapely.get_coordinates(child, return_index=True)
    if len(coords) == 0:
        return []
    keep = np.arange(0, len(coords), max(1, len(coords) // sample_size))
    coords, owner = coords[keep], owner[keep]
    points = np.asarray(shapely.points(coords), dtype=object)
    shapely.prepare(parent)
    outside = ~shapely.covers(parent[owner], points)
    distance = np.zeros(len(points))
    distance[outside] = shapely.distance(parent[owner[outside]], points[outside]) * scale
    far = distance > tolerance_m
    return [
        _outside_problem(gdf, int(row), far[owner == i].mean(), distance[owner == i].max())
        for i, row in enumerate(np.flatnonzero(mask))
        if far[owner == i].any()
    ]


def _polygons(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Non-empty (Multi)Polygons (validity is not tested: that is costly, and checked apart)."""
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    return np.asarray(usable & np.isin(shapely.get_type_id(geoms), (3, 6)), dtype=bool)


def _parent_geometries(gdf: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    geoms = gdf.geometry.to_numpy()
    codes = [_code_text(code) for code in gdf["code"]]
    usable = _polygons(geoms)
    by_code = {code: geom for code, geom, ok in zip(codes, geoms, usable, strict=True) if ok}
    column = gdf["parent_code"] if "parent_code" in gdf.columns else pd.Series([None] * len(gdf))
    found = [None if pd.isna(p) else by_code.get(_code_text(p)) for p in column]
    return np.array(found, dtype=object)


def _child_parent_pairs(
    gdf: gpd.GeoDataFrame,
) -> tuple[ObjectArray, ObjectArray, npt.NDArray[np.bool_], float] | None:
    """Child and parent polygons, the rows of the children, and metres per CRS unit."""
    if gdf.crs is None or "code" not in gdf.columns or len(gdf) == 0:
        return None
    parent = _parent_geometries(gdf)
    mask = _polygons(gdf.geometry.to_numpy()) & np.array([g is not None for g in parent], bool)
    if not mask.any():
        return None
    from pyproj import CRS

    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        scale = 111_320.0  # metres per degree: a rough scale suits a tolerance
    else:
        scale = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return gdf.geometry.to_numpy()[mask], parent[mask], mask, scale


def _outside_problem(gdf: gpd.GeoDataFrame, row: int, share: float, far_m: float) -> AdminProblem:
    code = _code_text(gdf["code"].iloc[row])
    parent = _code_text(gdf["parent_code"].iloc[row])
    return AdminProblem(
        "outside_parent",
        Message(
            "admin.outside_parent",
            code=code,
            name=gdf["name"].iloc[row],
            share=f"{share:.0%}",
            parent=parent,
            far=f"{far_m:,.0f}",
        ),
        (code, parent),
        severity="warning",
    )


def missing_ancestors(gdf: gpd.GeoDataFrame) -> list[str]:
    """Codes of parents (and their parents) that units name but the table lacks.

    Parameters
    ----------
    gdf
        The table (``code``, optionally ``parent_code``).

    Returns
    -------
    list of str
        The missing codes, sorted coarse to fine.
    """
    known = {_code_text(code) for code in gdf["code"]}
    column = gdf["parent_code"] if "parent_code" in gdf.columns else gdf["code"].map(parent_code)
    todo = [_code_text(p) for p in column.dropna()]
    missing: set[str] = set()
    while todo:
        code = todo.pop()
        if code in known or code in missing or not _DIGITS.match(code):
            continue
        if len(code) not in _CODE_LENGTHS:
            continue
        missing.add(code)
        above = parent_code(code)
        if above is not None:
            todo.append(above)
    return sorted(missing, key=lambda code: (LEVELS.index(level_of_code(code)), code))


def polygon_levels(gdf: gpd.GeoDataFrame) -> tuple[str, ...]:
    """The levels of :data:`POLYGON_LEVELS` that have at least one polygon in a table.

    Parameters
    ----------
    gdf
        The table (``level``, ``geometry``).

    Returns
    -------
    tuple of str
        Coarse to fine.
    """
    geoms = gdf.geometry.to_numpy()
    drawn = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    present = set(gdf["level"].to_numpy()[drawn])
    return tuple(level for level in POLYGON_LEVELS if level in present)
