"""The chief roster: people and posts, and their assignments to reaches, rivers and lakes.

Responsibility is a table, not node attributes. A :class:`Roster` holds:

- ``people``: ``person_id, name, post (职务), organisation, level, unit_code, contact,
  is_fictional``; contact details are private: exports leave them out unless asked;
- ``assignments``: ``assignment_id, person_id, level, unit_code, role, reach_id, from_m, to_m,
  river_id, lake_id, valid_from, valid_to, source_document``. The target is one of a reach
  (whole, or the stretch ``from_m .. to_m`` metres from its upstream end), a river (its main-stem
  id, optionally a stretch measured in metres up from its mouth) or a lake (湖长). ``valid_to``
  may be blank (open-ended);
- ``units``: township and village units (``code, name, level, parent_code``) that the project's
  admin layer does not hold;
- ``boards``: public sign boards (公示牌) ``board_id, reach_id, measure_m, level, person_id,
  updated_on`` naming the chief they show.

Rosters come from CSV or Excel files in the shape offices keep them (one row per assignment,
Chinese or English headers, GBK or UTF-8; see :func:`read_roster`) and live in the project
GeoPackage as the tables ``roster_people``, ``roster_assignments``, ``roster_units`` and
``roster_boards`` (:func:`write_roster`, written atomically).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyogrio

from rivernet._files import replacing
from rivernet._roster_check import (
    ASSIGNMENT_COLUMNS,
    PERSON_COLUMNS,
    clean_rows,
    overlapping_term_problems,
    parse_date,
    parse_id,
)
from rivernet._roster_read import read_table
from rivernet.errors import RosterError

__all__ = [
    "TABLES",
    "Roster",
    "as_date",
    "export_roster",
    "read_roster",
    "write_roster",
]

TABLES = {
    "people": "roster_people",
    "assignments": "roster_assignments",
    "units": "roster_units",
    "boards": "roster_boards",
}
UNIT_COLUMNS = ("code", "name", "level", "parent_code")
BOARD_COLUMNS = ("board_id", "reach_id", "measure_m", "level", "person_id", "updated_on")
PRIVATE_COLUMNS = ("contact",)
CATEGORY_COLUMNS = ("level", "unit_code", "role")
ID_COLUMNS = ("reach_id", "river_id", "lake_id")


@dataclass(eq=False)
class Roster:
    """People, assignments, sub-county units and sign boards (see the module docs).

    Attributes
    ----------
    people, assignments, units, boards
        The four tables; dates are ``datetime64`` columns (NaT when open-ended).
    source
        Where the roster was read from.
    """

    people: pd.DataFrame
    assignments: pd.DataFrame
    units: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNIT_COLUMNS)))
    boards: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(BOARD_COLUMNS)))
    source: str = ""

    def __post_init__(self) -> None:
        # Levels, roles and unit codes repeat a lot: categories make the audit's lookups cheap.
        frame = self.assignments
        convert = {
            column: frame[column].astype("category")
            for column in CATEGORY_COLUMNS
            if column in frame.columns and not isinstance(frame[column].dtype, pd.CategoricalDtype)
        }
        if convert:  # a new frame: the caller's table is left as it was
            self.assignments = frame.assign(**convert)

    def __repr__(self) -> str:
        return (
            f"Roster(people={len(self.people)}, assignments={len(self.assignments)}, "
            f"units={len(self.units)}, boards={len(self.boards)}, source={self.source!r})"
        )

    def to_frame(self, *, include_contact: bool = False) -> pd.DataFrame:
        """One row per assignment with the person's details, as offices keep rosters.

        Parameters
        ----------
        include_contact
            Include the ``contact`` column (private; left out by default).

        Returns
        -------
        pandas.DataFrame
            Assignment columns followed by ``name, post, organisation``.
        """
        person = self.people.drop(columns=["level", "unit_code"])
        if not include_contact:
            person = person.drop(columns=list(PRIVATE_COLUMNS))
        frame = self.assignments.drop(columns=["line"], errors="ignore")
        return frame.merge(person, on="person_id", how="left")

    def active(self, as_of: dt.date) -> pd.DataFrame:
        """Assignments whose term includes ``as_of``.

        Parameters
        ----------
        as_of
            The day.

        Returns
        -------
        pandas.DataFrame
            The active assignments.
        """
        frame = self.assignments
        day = pd.Timestamp(as_of)
        ends = frame["valid_to"]
        return frame[(frame["valid_from"] <= day) & (ends.isna() | (ends >= day))]


def as_date(value: dt.date | str | None) -> dt.date:
    """Turn an ``as_of`` argument into a date: a ``datetime.date``, an ISO string or None (today).

    Parameters
    ----------
    value
        The date, ``"2025-06-30"``, or None.

    Returns
    -------
    datetime.date
        The day.
    """
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        from rivernet.errors import InputError

        raise InputError(
            f"as_of={value!r} is not a date; pass a datetime.date or an ISO date such as "
            "'2025-06-30'"
        ) from None


class RosterContext(Protocol):
    """What a roster is checked against: a :class:`rivernet.project.Project`."""

    def roster_problems(self, roster: Roster) -> list[tuple[int, str]]:
        """Problems of the roster's rows against the project: ``(line, message)`` pairs."""


def read_roster(
    path: str | Path, *, project: RosterContext | None = None, sheet: str | None = None
) -> Roster:
    """Read and validate a roster from CSV, Excel or a project GeoPackage.

    Every row is checked and every problem reported at once; nothing is returned unless the
    whole file is valid.

    Parameters
    ----------
    path
        A ``.csv`` (UTF-8 or GBK), ``.xlsx`` (merged header cells, Excel date serials and
        full-width digits are understood; blank rows are skipped) or ``.gpkg`` project file.
        Headers may be English (``name, post, level, unit_code, role, reach_id, from_m, to_m,
        river_id, lake_id, valid_from, valid_to, source_document``) or Chinese (姓名, 职务, 层级,
        行政区划代码, 角色, 河段编码, 起点, 终点, 河流编码, 湖泊编码, 任期开始, 任期结束, 任命文件).
    project
        A :class:`rivernet.project.Project` to check references against: reach, river and lake
        ids, admin codes, that each unit contains its reach, and that measures fit the reach.
    sheet
        The Excel worksheet (default: the first).

    Returns
    -------
    Roster
        The roster.

    Raises
    ------
    RosterError
        With ``problems``: ``(line, message)`` for every bad row (line = row in the file).
    """
    file = Path(path)
    if not file.exists():
        raise RosterError(f"roster file {file} does not exist; check the path")
    if file.suffix.lower() == ".gpkg":
        layers = {str(name) for name, _ in pyogrio.list_layers(file)}
        tables: dict[str, pd.DataFrame | None] = {
            name: pyogrio.read_dataframe(file, layer=name, read_geometry=False)
            for name in TABLES.values()
            if name in layers
        }
        roster = roster_from_tables(tables, source=str(file))
        problems = overlapping_term_problems(roster.assignments)
    else:
        raw = read_table(file, sheet=sheet)
        people, assignments, problems = clean_rows(raw, source=file.stem)
        roster = Roster(people=people, assignments=assignments, source=str(file))
    if project is not None and not problems:
        problems = project.roster_problems(roster)
    if problems:
        raise _roster_error(file.name, problems)
    return roster


def _roster_error(name: str, problems: list[tuple[int, str]]) -> RosterError:
    problems = sorted(set(problems))
    shown = "\n".join(f"- line {line}: {message}" for line, message in problems[:50])
    more = f"\n- ... and {len(problems) - 50} more" if len(problems) > 50 else ""
    return RosterError(
        f"{name}: {len(problems)} problem(s); nothing was imported. Fix these rows and "
        f"import again:\n{shown}{more}",
        problems,
    )


def roster_from_tables(tables: dict[str, pd.DataFrame | None], *, source: str = "") -> Roster:
    """Build a roster from the ``roster_*`` tables of a project file.

    Parameters
    ----------
    tables
        Tables by layer name (``Project.tables``).
    source
        Where they came from.

    Returns
    -------
    Roster
        The roster (empty tables where a table is missing).
    """
    people = _frame(tables.get(TABLES["people"]), PERSON_COLUMNS)
    assignments = _frame(tables.get(TABLES["assignments"]), ASSIGNMENT_COLUMNS)
    units = _frame(tables.get(TABLES["units"]), UNIT_COLUMNS)
    boards = _frame(tables.get(TABLES["boards"]), BOARD_COLUMNS)
    for column in ("valid_from", "valid_to"):
        assignments[column] = pd.to_datetime(_dates(assignments[column]))
    boards["updated_on"] = pd.to_datetime(_dates(boards["updated_on"]))
    for column in ("reach_id", "river_id", "lake_id"):
        assignments[column] = _ids(assignments[column])
    boards["reach_id"] = _ids(boards["reach_id"])
    for column in ("from_m", "to_m"):
        assignments[column] = pd.to_numeric(assignments[column]).astype(float)
    if assignments["line"].isna().all():
        assignments["line"] = np.arange(2, len(assignments) + 2)
    people["is_fictional"] = people["is_fictional"].fillna(False).astype(bool)
    return Roster(people, assignments, units, boards, source=source)


def _frame(table: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(columns=list(columns)) if table is None else pd.DataFrame(table).copy()
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[list(columns)].astype(object)
    return frame.where(frame.notna(), None)


def _dates(values: pd.Series) -> pd.Series:
    return pd.Series([parse_date(v) for v in values], index=values.index, dtype=object)


def _ids(values: pd.Series) -> pd.Series:
    return pd.Series([parse_id(v) for v in values], index=values.index, dtype=object)


def _table_for_file(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in ID_COLUMNS:
            out[column] = _integer_ids(values)
        elif pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%d")
            out[column] = text.where(values.notna(), None)
    return out.reset_index(drop=True)


def _integer_ids(values: pd.Series) -> pd.Series:
    """Ids as nullable integers when they all are integers (so files hold 40618366, not text)."""
    present = values.dropna()
    try:
        numbers = pd.to_numeric(present.astype(object))
    except (TypeError, ValueError):
        return values
    if len(numbers) and not (numbers == numbers.round()).all():
        return values
    return pd.to_numeric(values.astype(object)).astype("Int64")


def write_roster(
    roster: Roster, path: str | Path, *, extra_tables: dict[str, pd.DataFrame] | None = None
) -> Path:
    """Write a roster into a project GeoPackage in one step: all tables or none.

    The file is copied to a temporary file beside it, the tables are written there and the copy
    is renamed over the original, so a reader never sees half a roster and a failure leaves
    the project file untouched.

    Parameters
    ----------
    roster
        The roster; its tables replace any ``roster_*`` tables in the file.
    path
        The project GeoPackage.
    extra_tables
        More non-spatial tables to write in the same step (by layer name).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(path)
    if not target.exists():
        raise RosterError(f"project file {target} does not exist; create the project first")
    tables = {
        TABLES["people"]: roster.people,
        TABLES["assignments"]: roster.assignments,
        TABLES["units"]: roster.units,
        TABLES["boards"]: roster.boards,
        **(extra_tables or {}),
    }
    with replacing(target, suffix=".gpkg") as temp:
        shutil.copyfile(target, temp)
        for layer, frame in tables.items():
            pyogrio.write_dataframe(_table_for_file(frame), temp, layer=layer, driver="GPKG")
        _vacuum(temp)
    return target


def _vacuum(path: Path) -> None:
    """Reclaim the space of replaced tables (the file is still private to the writer)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("VACUUM")
    finally:
        connection.close()


def export_roster(roster: Roster, path: str | Path, *, include_contact: bool = False) -> Path:
    """Write a roster as one row per assignment to CSV or Excel, as offices keep it.

    Parameters
    ----------
    roster
        The roster.
    path
        A ``.csv`` (UTF-8 with a byte-order mark, so that Excel shows Chinese text) or ``.xlsx``
        file; written to a temporary file and renamed into place.
    include_contact
        Include the private ``contact`` column.

    Returns
    -------
    pathlib.Path
        The path written. :func:`read_roster` reads it back.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise RosterError(f"cannot export a roster to {target.name}: use a .csv or .xlsx file")
    frame = roster.to_frame(include_contact=include_contact)
    for column in ("valid_from", "valid_to"):
        frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    frame = frame.astype(object).where(frame.notna(), None)
    with replacing(target, suffix=suffix) as temp:
        if suffix == ".csv":
            frame.to_csv(temp, index=False, encoding="utf-8-sig")
        else:
            frame.to_excel(temp, index=False, sheet_name="roster")
    return target
