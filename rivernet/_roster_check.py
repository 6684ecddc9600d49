"""Cleaning and checking roster rows: every problem of every row, with its line and the fix.

:func:`clean_rows` turns raw spreadsheet cells into typed people and assignment tables and lists
row problems (bad levels, roles, codes, dates, measures, duplicates, overlapping terms).
:func:`reference_problems` checks the rows against a project: unknown reaches, rivers, lakes and
admin codes, and units that do not contain the reach they are assigned to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import numbers
import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from rivernet._roster_read import RawTable
from rivernet.admin import LEVEL_LABELS_ZH, LEVELS, level_of_code, normalise_code
from rivernet.errors import InputError
from rivernet.policy import ROLES

__all__ = ["clean_rows", "parse_date", "parse_id", "reference_problems"]

Problem = tuple[int, str]

_LEVEL_WORDS = {
    **{level: level for level in LEVELS},
    **{zh: level for level, zh in LEVEL_LABELS_ZH.items()},
    **{zh + "级": level for level, zh in LEVEL_LABELS_ZH.items()},
    "镇": "township",
    "镇级": "township",
    "乡镇": "township",
    "乡镇级": "township",
    "街道": "township",
    "区": "county",
    "县区": "county",
    "县级市": "county",
}
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_PATTERN = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
PERSON_COLUMNS = ("person_id", "name", "post", "organisation", "level", "unit_code", "contact",
                  "is_fictional")  # fmt: skip
ASSIGNMENT_COLUMNS = ("assignment_id", "person_id", "level", "unit_code", "role", "reach_id",
                      "from_m", "to_m", "river_id", "lake_id", "valid_from", "valid_to",
                      "source_document", "line")  # fmt: skip


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_date(value: Any) -> dt.date | None:
    """Parse a date as found in spreadsheets.

    Parameters
    ----------
    value
        A ``date``/``datetime``, an ISO string (``2024-03-01``), ``2024/3/1``, ``2024.3.1``,
        ``2024年3月1日``, or an Excel date serial (``45352``, the days since 1899-12-30).

    Returns
    -------
    datetime.date or None
        None for a blank cell.

    Raises
    ------
    InputError
        If the value is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if np.isnan(float(value)):
            return None
        return _from_serial(float(value))
    text = _text(value)
    if not text:
        return None
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return _from_serial(float(text))
    match = _DATE_PATTERN.match(text.split(" ")[0].split("T")[0])
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    raise InputError(
        f"{value!r} is not a date; write dates as 2024-03-01 (or 2024/3/1, 2024年3月1日)"
    )


def _from_serial(serial: float) -> dt.date:
    if not 1 <= serial < 2_958_466 or not float(serial).is_integer():
        raise InputError(f"{serial!r} is not an Excel date serial; write dates as 2024-03-01")
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def parse_id(value: Any) -> int | str | None:
    """Parse a reach, river or lake id: integers stay integers (``"40618366.0"`` too).

    Parameters
    ----------
    value
        The cell (full-width digits are accepted).

    Returns
    -------
    int, str or None
        None for a blank cell.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if np.isnan(number):
            return None
        return int(number) if number.is_integer() else str(value)
    text = "".join(_text(value).split())
    if not text:
        return None
    if re.fullmatch(r"-?\d+(\.0+)?", text):
        return int(text.split(".")[0])
    return text


def _parse_measure(value: Any) -> float | None:
    text = _text(value).replace(",", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{value!r} is not a number of metres") from None
    if not np.isfinite(number) or number < 0:
        raise InputError(f"{value!r} is not a measure: give metres >= 0 from the upstream end")
    return number


def _row_values(raw: RawTable, cells: list[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, cell in zip(raw.columns, cells, strict=False):
        if column is not None and column not in values:
            values[column] = cell
    return values


def clean_rows(raw: RawTable, *, source: str) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Turn raw rows into people and assignments, listing every row problem.

    Parameters
    ----------
    raw
        The rows read from the file.
    source
        The file name, used for generated ids.

    Returns
    -------
    people, assignments, problems
        The two tables (:data:`PERSON_COLUMNS`, :data:`ASSIGNMENT_COLUMNS`) and ``(line,
        message)`` problems; rows with problems are left out of the tables.
    """
    problems: list[Problem] = []
    missing = [c for c in ("name", "level", "unit_code", "role", "valid_from")
               if c not in raw.columns]  # fmt: skip
    if missing:
        problems.append((1, f"missing column(s) {', '.join(missing)}: add them to the header"))
        return _empty_people(), _empty_assignments(), problems
    people: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for line, cells in raw.rows:
        values = _row_values(raw, cells)
        row, row_problems = _clean_row(values, line)
        problems += [(line, p) for p in row_problems]
        if row_problems:
            continue
        person = _person(values, row)
        people.setdefault(person["person_id"], person)
        row["person_id"] = person["person_id"]
        if not row["assignment_id"]:
            row["assignment_id"] = f"{source}:{line}"
        rows.append(row)
    assignments = pd.DataFrame(rows, columns=list(ASSIGNMENT_COLUMNS))
    for column in ("valid_from", "valid_to"):
        assignments[column] = pd.to_datetime(assignments[column])
    problems += _duplicate_problems(assignments)
    problems += overlapping_term_problems(assignments)
    people_table = pd.DataFrame(list(people.values()), columns=list(PERSON_COLUMNS))
    return people_table, assignments, sorted(problems)


def _clean_row(values: dict[str, Any], line: int) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    row: dict[str, Any] = {"line": line}
    row["assignment_id"] = _text(values.get("assignment_id"))
    if not _text(values.get("name")) and not _text(values.get("person_id")):
        problems.append("no name (姓名): give the chief's name")
    level_text = _text(values.get("level")).lower()
    row["level"] = _LEVEL_WORDS.get(level_text)
    if row["level"] is None:
        problems.append(
            f"level {level_text or '(blank)'!r} is not one of {', '.join(LEVELS)} "
            f"({'/'.join(LEVEL_LABELS_ZH.values())})"
        )
    try:
        row["unit_code"] = normalise_code(values.get("unit_code"))
    except InputError as error:
        row["unit_code"] = None
        problems.append(str(error))
    if row["unit_code"] and row["level"] and level_of_code(row["unit_code"]) != row["level"]:
        problems.append(
            f"level {row['level']} does not match unit {row['unit_code']}, a "
            f"{level_of_code(row['unit_code'])}-level code; fix the level or the code"
        )
    role = _text(values.get("role"))
    row["role"] = role
    if role not in ROLES:
        problems.append(f"role {role or '(blank)'!r} is not one of {', '.join(ROLES)}")
    problems += _target(values, row)
    problems += _term(values, row)
    row["source_document"] = _text(values.get("source_document")) or None
    return row, problems


def _target(values: dict[str, Any], row: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for column in ("reach_id", "river_id", "lake_id"):
        row[column] = parse_id(values.get(column))
    targets = [c for c in ("reach_id", "river_id", "lake_id") if row[c] is not None]
    if len(targets) != 1:
        problems.append(
            "give exactly one of reach_id (河段编码), river_id (河流编码) or lake_id (湖泊编码)"
            + (f"; this row gives {', '.join(targets)}" if targets else "")
        )
    for column in ("from_m", "to_m"):
        try:
            row[column] = _parse_measure(values.get(column))
        except InputError as error:
            row[column] = None
            problems.append(f"{column}: {error}")
    if (row["from_m"] is None) != (row["to_m"] is None):
        problems.append("give both from_m and to_m (起点, 终点) or neither (whole reach)")
    elif row["from_m"] is not None and row["from_m"] >= row["to_m"]:
        problems.append(
            f"from_m {row['from_m']:g} is not below to_m {row['to_m']:g}; swap them (measures "
            "run from the upstream end)"
        )
    if row["lake_id"] is not None and row["from_m"] is not None:
        problems.append("a lake assignment takes no from_m/to_m")
    return problems


def _term(values: dict[str, Any], row: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for column in ("valid_from", "valid_to"):
        try:
            row[column] = parse_date(values.get(column))
        except InputError as error:
            row[column] = None
            problems.append(f"{column}: {error}")
    if row["valid_from"] is None and not problems:
        problems.append("valid_from (任期开始) is blank: give the date the term began")
    if row["valid_from"] and row["valid_to"] and row["valid_to"] < row["valid_from"]:
        problems.append(
            f"valid_to {row['valid_to']} is before valid_from {row['valid_from']}; swap them "
            "or fix the year"
        )
    return problems


def _person(values: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    name = _text(values.get("name"))
    post = _text(values.get("post"))
    person_id = _text(values.get("person_id"))
    if not person_id:
        key = f"{name}|{post}|{row['unit_code']}".encode()
        person_id = "P" + hashlib.sha1(key).hexdigest()[:10]
    fictional = _text(values.get("is_fictional")).lower() in ("1", "true", "yes", "是", "y")
    return {
        "person_id": person_id,
        "name": name,
        "post": post or None,
        "organisation": _text(values.get("organisation")) or None,
        "level": row["level"],
        "unit_code": row["unit_code"],
        "contact": _text(values.get("contact")) or None,
        "is_fictional": fictional,
    }


def _as_text(values: pd.Series) -> pd.Series:
    """Values as text, missing ones (None, NaN, NaT) as ``""``."""
    return values.astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v))


def _row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    texts = [_as_text(frame[c]) for c in columns]
    return pd.Series(["|".join(parts) for parts in zip(*texts, strict=True)], index=frame.index)


def _target_key(frame: pd.DataFrame) -> pd.Series:
    return _row_keys(frame, ["reach_id", "river_id", "lake_id"])


def _duplicate_problems(assignments: pd.DataFrame) -> list[Problem]:
    if assignments.empty:
        return []
    columns = [c for c in ASSIGNMENT_COLUMNS if c not in ("line", "assignment_id")]
    key = _row_keys(assignments, columns)
    duplicated = key.duplicated(keep="first")
    first_line = assignments.groupby(key, sort=False)["line"].transform("min")
    problems = [
        (int(line), f"duplicate of line {int(first)}: delete one of them")
        for line, first in zip(
            assignments.loc[duplicated, "line"], first_line[duplicated], strict=True
        )
    ]
    ids = assignments["assignment_id"]
    dup_ids = ids.duplicated(keep="first") & ~duplicated
    problems += [
        (int(line), f"assignment id {aid!r} is used twice; ids must be unique")
        for line, aid in zip(assignments.loc[dup_ids, "line"], ids[dup_ids], strict=True)
    ]
    return problems


def overlapping_term_problems(assignments: pd.DataFrame) -> list[Problem]:
    """Rows giving one person the same post on the same target twice over overlapping terms.

    Parameters
    ----------
    assignments
        Cleaned assignments.

    Returns
    -------
    list of (line, message)
    """
    if assignments.empty:
        return []
    frame = assignments.assign(key=_target_key(assignments))
    columns = [c for c in ASSIGNMENT_COLUMNS if c not in ("line", "assignment_id")]
    frame = frame.loc[~_row_keys(frame, columns).duplicated(keep="first")]
    pairs = frame.merge(frame, on=["person_id", "level", "role", "key"], suffixes=("", "_b"))
    pairs = pairs[pairs["line"] < pairs["line_b"]]
    far = pd.Timestamp.max
    end_a = pairs["valid_to"].where(pairs["valid_to"].notna(), far)
    end_b = pairs["valid_to_b"].where(pairs["valid_to_b"].notna(), far)
    same_span = _as_text(pairs["from_m"]) + _as_text(pairs["to_m"])
    same_span_b = _as_text(pairs["from_m_b"]) + _as_text(pairs["to_m_b"])
    overlap = (pairs["valid_from"] <= end_b) & (pairs["valid_from_b"] <= end_a)
    overlap &= same_span == same_span_b
    return [
        (
            _int(row.line_b),
            f"overlaps the term on line {_int(row.line)} for the same person, post and reach "
            f"({_day(row.valid_from)} .. {_day(row.valid_to)}); merge the rows or end the first "
            "term before the second begins",
        )
        for row in pairs[overlap].itertuples()
    ]


def _int(value: Any) -> int:
    """A line number from an ``itertuples`` row (typed ``Any`` for mypy)."""
    return int(value)


def _day(value: Any) -> str:
    return "open" if pd.isna(value) else str(pd.Timestamp(value).date())


def _empty_people() -> pd.DataFrame:
    return pd.DataFrame(columns=list(PERSON_COLUMNS))


def _empty_assignments() -> pd.DataFrame:
    frame = pd.DataFrame(columns=list(ASSIGNMENT_COLUMNS))
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def reference_problems(
    assignments: pd.DataFrame,
    *,
    reach_lengths: pd.Series,
    river_ids: set[Any],
    lake_ids: set[Any],
    unit_codes: set[str],
    pieces: pd.DataFrame,
) -> list[Problem]:
    """Check assignments against a project.

    Parameters
    ----------
    assignments
        Cleaned assignments.
    reach_lengths
        ``length_m`` by reach id.
    river_ids, lake_ids
        Known river (main-stem) ids and lake ids.
    unit_codes
        Known admin unit codes (admin units and the roster's own sub-county units).
    pieces
        Responsibility pieces (reach_id, from_m, to_m, county/city/province codes).

    Returns
    -------
    list of (line, message)
    """
    problems: list[Problem] = []
    for row in assignments.itertuples(index=False):
        problems += [(_int(row.line), m) for m in _row_reference(row, reach_lengths, river_ids,
                                                               lake_ids, unit_codes)]  # fmt: skip
    problems += _containment_problems(assignments, reach_lengths, pieces)
    return problems


def _row_reference(
    row: Any, lengths: pd.Series, rivers: set[Any], lakes: set[Any], units: set[str]
) -> list[str]:
    # An id column holding both ids and blanks is float in a DataFrame: blanks are NaN there.
    reach, river, lake = (_given(row.reach_id), _given(row.river_id), _given(row.lake_id))
    to_m = _given(row.to_m)
    problems = []
    if reach is not None and reach not in lengths.index:
        problems.append(
            f"reach {reach} is not in the project's network; check the id (河段编码) "
            "against the reaches layer"
        )
    elif reach is not None and to_m is not None:
        length = float(lengths[reach])
        if to_m > length + 1.0:
            problems.append(
                f"to_m {to_m:g} is beyond the end of reach {reach} "
                f"({length:.0f} m long); measures run from its upstream end"
            )
    if river is not None and river not in rivers:
        problems.append(f"river {river} is not a main-stem id of the network")
    if lake is not None and lake not in lakes:
        problems.append(f"lake {lake} is not in the project's lakes layer")
    code = row.unit_code
    county = code[:6]
    if len(code) == 6 and code not in units:
        problems.append(f"admin code {code} is not in the project's admin units; check the code")
    elif len(code) > 6 and code not in units and county not in units:
        problems.append(f"admin code {code}: its county {county} is not in the project")
    return problems


def _given(value: Any) -> Any:
    """A cell's value, None when blank (None or NaN); whole floats back to int ids."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _containment_problems(
    assignments: pd.DataFrame, lengths: pd.Series, pieces: pd.DataFrame
) -> list[Problem]:
    on_reach = assignments[assignments["reach_id"].notna()]
    on_reach = on_reach[on_reach["reach_id"].isin(lengths.index)]
    if on_reach.empty:
        return []
    frame = on_reach[["line", "reach_id", "from_m", "to_m", "level", "unit_code"]].copy()
    frame["from_m"] = frame["from_m"].fillna(0.0).astype(float)
    frame["to_m"] = frame["to_m"].fillna(np.inf).astype(float)
    frame["county"] = frame["unit_code"].str[:6]
    joined = frame.merge(pieces, on="reach_id", suffixes=("", "_piece"))
    overlap = (joined["from_m"] < joined["to_m_piece"]) & (joined["to_m"] > joined["from_m_piece"])
    level = joined["level"]
    unit = joined["unit_code"]
    match = np.select(
        [level == "province", level == "city", level == "county"],
        [
            joined["province_code"] == unit,
            joined["city_code"] == unit,
            joined["county_code"] == unit,
        ],
        default=joined["county_code"] == joined["county"],
    )
    inside = joined.loc[overlap & match.astype(bool), "line"].unique()
    outside = frame[~frame["line"].isin(inside)]
    return [
        (
            _int(row.line),
            f"unit {row.unit_code} ({row.level}) does not contain reach {row.reach_id}"
            + ("" if row.from_m == 0 and row.to_m == np.inf else " on that stretch")
            + "; assign the chief of the unit the reach flows through, or fix the reach id",
        )
        for row in outside.itertuples(index=False)
    ]
