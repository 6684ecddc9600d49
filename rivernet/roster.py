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

Reading the cells of a spreadsheet as it really is (encodings, merged headers, header aliases)
is the mechanism in :mod:`rivernet._spreadsheet`; turning cells into typed rows and finding
every problem of every row (:func:`clean_rows`, :func:`reference_problems`) is here, with the
roster it checks. This module never imports the project: :func:`read_roster` checks references
through any object with a ``roster_problems`` method (a :class:`rivernet.project.Project`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import numbers
import re
import shutil
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyogrio

from rivernet._files import LOCK_TIMEOUT, project_lock, replacing, safe_cell
from rivernet._spreadsheet import RawTable, companion_path, read_tables
from rivernet.admin import LEVELS, level_from_word, level_of_code, normalise_code
from rivernet.errors import InputError, RosterError
from rivernet.messages import Code, Items, Message, choices, render
from rivernet.policy import ROLES

__all__ = [
    "REMOVAL_LIMIT",
    "TABLES",
    "Roster",
    "RosterContext",
    "as_date",
    "carry_over",
    "clean_rows",
    "export_roster",
    "parse_date",
    "parse_id",
    "read_roster",
    "reference_problems",
    "roster_changes",
    "safe_cell",
    "today",
    "write_roster",
    "write_roster_tables",
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
REMOVAL_LIMIT = 0.10
"""Share of the current assignments an import may remove without being told to (``--replace``)."""


@dataclass(eq=False)
class Roster:
    """People, assignments, sub-county units and sign boards (see the module docs).

    Attributes
    ----------
    people, assignments, units, boards
        The four tables; dates are ``datetime64`` columns (NaT when open-ended).
    source
        Where the roster was read from.
    missing
        What the source did not hold: ``"units"`` and ``"boards"`` for a file without those
        tables, ``"contact"`` when it has no contact column. :func:`carry_over` keeps the
        project's own for these instead of dropping them.
    """

    people: pd.DataFrame
    assignments: pd.DataFrame
    units: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNIT_COLUMNS)))
    boards: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(BOARD_COLUMNS)))
    source: str = ""
    missing: tuple[str, ...] = ()

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
            Assignment columns followed by ``name, post, organisation, is_fictional`` (an
            allow-list: other columns of the people table, such as a phone number under any
            name, are never included; ``contact`` only when asked).
        """
        shown = [c for c in PERSON_COLUMNS if c not in ("level", "unit_code")]
        if not include_contact:
            shown = [c for c in shown if c not in PRIVATE_COLUMNS]
        person = self.people[[c for c in shown if c in self.people.columns]]
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
    """Turn an ``as_of`` argument into a date; None is today in China (UTC+8).

    Parameters
    ----------
    value
        A ``datetime.date``, any date form a roster accepts (``"2025-06-30"``, ``"2025/6/30"``,
        ``"2025年6月30日"``, an Excel serial), or None.

    Returns
    -------
    datetime.date
        The day.

    Raises
    ------
    InputError
        If the value is not a date.
    """
    if value is None:
        return today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        pass
    try:
        parsed = parse_date(value)
    except InputError:
        parsed = None
    if parsed is None:
        raise InputError.from_key("err_roster.as_of", value=repr(value))
    return parsed


CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
"""China Standard Time (Asia/Shanghai has had no daylight saving since 1991)."""


def today() -> dt.date:
    """Today's date in China, whatever the machine's time zone (a server may run on UTC)."""
    return dt.datetime.now(CHINA).date()


class RosterContext(Protocol):
    """What a roster is checked against: a :class:`rivernet.project.Project`."""

    def roster_problems(self, roster: Roster) -> list[tuple[int, str]]:
        """Problems of the roster's rows against the project: ``(line, message)`` pairs."""


def read_roster(
    path: str | Path, *, project: RosterContext | None = None, sheet: str | None = None
) -> Roster:
    """Read and validate a roster from CSV, Excel or a project GeoPackage.

    Every row is checked and every problem reported at once; nothing is returned unless the
    whole file is valid. A file whose rows cannot be told apart (a quote never closed, a row
    with more or fewer cells than the header) or that holds no rows at all is refused with the
    lines concerned: an empty roster would silently end every chief's assignment.

    A roster file carries up to four tables (what :func:`export_roster` writes):

    - the main table, one row per assignment with the person's details;
    - ``people`` (:data:`PERSON_COLUMNS`): every person, also those without an assignment
      (a chief still shown on a sign board); when given, it is authoritative for level, unit
      and contact, and the main table's names must agree with it;
    - ``boards`` (sign boards, 公示牌) and ``units`` (sub-county units).

    In a workbook they are the sheets ``people``, ``boards`` and ``units`` (the main table is
    ``sheet``, or the first other sheet); beside a CSV file ``NAME.csv`` they are the files
    ``NAME.people.csv``, ``NAME.boards.csv`` and ``NAME.units.csv``, read when present. Tables
    the file does not hold are listed in :attr:`Roster.missing`.

    Parameters
    ----------
    path
        A ``.csv`` (UTF-8 or GBK), ``.xlsx`` (merged header cells, Excel date serials and
        full-width digits are understood; blank rows are skipped; ``=DATE(2024,12,31)``
        formulas saved without a value are evaluated, other such formulas refused) or ``.gpkg``
        project file. Headers may be English (``name, post, level, unit_code, role, reach_id,
        from_m, to_m, river_id, lake_id, valid_from, valid_to, source_document``) or Chinese
        (姓名, 职务, 层级, 行政区划代码, 角色, 河段编码, 起点, 终点, 河流编码, 湖泊编码, 任期开始,
        任期结束, 任命文件). A text cell that :func:`safe_cell` protected with a leading quote
        is read without it.
    project
        A :class:`rivernet.project.Project` to check references against: reach, river and lake
        ids, admin codes, that each unit contains its reach, and that measures fit the reach.
    sheet
        The Excel worksheet holding the main table (default: the first that is not a
        companion table).

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
        raise RosterError.from_key("err_roster.missing", file=file)
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
        raw, companions = read_tables(file, sheet=sheet)
        roster, problems = _roster_from_raw(raw, companions, source=file)
    if project is not None and not problems:
        problems = project.roster_problems(roster)
    if problems:
        raise _roster_error(file.name, problems)
    return roster


def _roster_from_raw(
    raw: RawTable, companions: dict[str, RawTable], *, source: Path
) -> tuple[Roster, list[Problem]]:
    people, assignments, problems = clean_rows(raw, source=source.stem)
    if not raw.rows:
        problems.append((raw.header_line, Message("problem_roster.no_rows", name=raw.name)))
    missing = [t for t in ("units", "boards") if t not in companions]
    units = _empty(UNIT_COLUMNS)
    boards = _empty(BOARD_COLUMNS)
    if "people" in companions:
        people, more = _merge_people(people, assignments, companions["people"])
        problems += more
    if "units" in companions:
        units, more = _clean_units(companions["units"])
        problems += more
    if "boards" in companions:
        boards, more = _clean_boards(companions["boards"], set(people["person_id"]))
        problems += more
    columns = set(raw.columns) | set(companions["people"].columns if "people" in companions else ())
    if "contact" not in columns:
        missing.append("contact")
    roster = Roster(people, assignments, units, boards, source=str(source), missing=tuple(missing))
    return roster, problems


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _companion_rows(raw: RawTable) -> list[tuple[int, dict[str, Any]]]:
    return [(line, _row_values(raw, cells)) for line, cells in raw.rows]


def _merge_people(
    people: pd.DataFrame, assignments: pd.DataFrame, raw: RawTable
) -> tuple[pd.DataFrame, list[Problem]]:
    """The people table: the ``people`` companion's rows first, then people only the main has."""
    problems = _table_problems(raw)
    rows: dict[str, dict[str, Any]] = {}
    for line, values in _companion_rows(raw):
        person_id = _text(values.get("person_id"))
        where = Message("problem_roster.person", name=raw.name,
                        person=person_id or Message("roster_problem.blank"))  # fmt: skip
        level = level_from_word(_text(values.get("level")))
        try:
            code = (
                normalise_code(values.get("unit_code")) if _text(values.get("unit_code")) else None
            )
        except InputError as error:
            code = None
            problems.append((line, _at(where, error.args[0])))
        if not person_id:
            problems.append((line, _at(raw.name, Message("problem_roster.no_person_id"))))
            continue
        if person_id in rows:
            problems.append((line, Message("problem_roster.person_twice", where=where)))
            continue
        if _text(values.get("level")) and level is None:
            problems.append((line, _at(where, _bad_level(repr(_text(values.get("level")))))))
        rows[person_id] = {
            "person_id": person_id,
            "name": _text(values.get("name")),
            "post": _text(values.get("post")) or None,
            "organisation": _text(values.get("organisation")) or None,
            "level": level,
            "unit_code": code,
            "contact": _text(values.get("contact")) or None,
            "is_fictional": _text(values.get("is_fictional")).lower() in _TRUE,
            "line": line,
        }
    first_line = assignments.groupby("person_id", sort=False)["line"].min().to_dict()
    for person in people.to_dict("records"):
        listed = rows.get(person["person_id"])
        if listed is None:
            continue
        for column in ("name", "post", "organisation"):
            if (person[column] or None) != (listed[column] or None):
                message = Message(
                    "problem_roster.person_differs",
                    column=column,
                    given=repr(person[column]),
                    person=person["person_id"],
                    listed=repr(listed[column]),
                    name=raw.name,
                    line=listed["line"],
                )
                problems.append((int(first_line.get(person["person_id"], 0)), message))
    listed_frame = pd.DataFrame(list(rows.values()), columns=[*PERSON_COLUMNS, "line"])
    rest = people[~people["person_id"].isin(rows)]
    merged = pd.concat([listed_frame.drop(columns="line"), rest], ignore_index=True)
    return merged.astype({"is_fictional": bool}), problems


def _table_problems(raw: RawTable) -> list[Problem]:
    """The problems found reading a companion table, each after the table's name."""
    return [(line, _at(raw.name, message)) for line, message in raw.problems]


def _at(where: str, message: str) -> Message:
    """``"<where>: <message>"`` in the language of the message."""
    return Message("problem_roster.at", where=where, message=message)


def _bad_level(level: str) -> Message:
    """A level cell that is not a level (``level`` is quoted, or says it is blank)."""
    levels = Items(tuple(Code("level", name) for name in LEVELS), limit=len(LEVELS))
    return Message("problem_roster.bad_level", level=level, levels=levels)


def _clean_units(raw: RawTable) -> tuple[pd.DataFrame, list[Problem]]:
    problems = _table_problems(raw)
    rows = []
    seen: dict[str, int] = {}
    for line, values in _companion_rows(raw):
        try:
            code = normalise_code(values.get("code"))
        except InputError as error:
            problems.append((line, _at(raw.name, error.args[0])))
            continue
        level = level_from_word(_text(values.get("level")))
        if level is None:
            level_text = _text(values.get("level"))
            shown = repr(level_text) if level_text else Message("problem_roster.blank_quoted")
            where = Message("problem_roster.unit", name=raw.name, code=code)
            problems.append((line, _at(where, _bad_level(shown))))
        if code in seen:
            problems.append((line, Message("problem_roster.unit_twice", name=raw.name, code=code,
                                           first=seen[code])))  # fmt: skip
        seen.setdefault(code, line)
        parent = _text(values.get("parent_code"))
        rows.append({"code": code, "name": _text(values.get("name")) or None, "level": level,
                     "parent_code": normalise_code(parent) if parent else None})  # fmt: skip
    return pd.DataFrame(rows, columns=list(UNIT_COLUMNS)), problems


def _clean_boards(raw: RawTable, people: set[Any]) -> tuple[pd.DataFrame, list[Problem]]:
    problems = _table_problems(raw)
    rows = []
    seen: dict[str, int] = {}
    for line, values in _companion_rows(raw):
        board = _text(values.get("board_id"))
        where = Message("problem_roster.board", name=raw.name,
                        board=board or Message("roster_problem.blank"))  # fmt: skip
        row: dict[str, Any] = {"board_id": board, "reach_id": parse_id(values.get("reach_id"))}
        if not board:
            problems.append((line, _at(where, Message("problem_roster.no_board_id"))))
        elif board in seen:
            problems.append((line, Message("problem_roster.board_twice", where=where,
                                           first=seen[board])))  # fmt: skip
        seen.setdefault(board, line)
        try:
            row["measure_m"] = _parse_measure(values.get("measure_m"))
            row["updated_on"] = parse_date(values.get("updated_on"))
        except InputError as error:
            problems.append((line, _at(where, error.args[0])))
            continue
        level_text = _text(values.get("level")).lower()
        row["level"] = level_from_word(level_text)
        if level_text and row["level"] is None:
            problems.append((line, _at(where, _bad_level(repr(level_text)))))
        row["person_id"] = _text(values.get("person_id")) or None
        if row["person_id"] is not None and row["person_id"] not in people:
            problems.append((line, Message("problem_roster.unknown_person", where=where,
                                           person=row["person_id"])))  # fmt: skip
        rows.append(row)
    boards = pd.DataFrame(rows, columns=list(BOARD_COLUMNS))
    boards["updated_on"] = pd.to_datetime(boards["updated_on"])
    return boards, problems


@dataclass(frozen=True)
class ProblemLines:
    """Row problems as the lines of an error message, in either language (50 at most)."""

    problems: tuple[Problem, ...]
    limit: int = 50

    def text(self, lang: str = "zh") -> str:
        """One line per problem, ``- 第 4 行：...`` / ``- line 4: ...``."""
        lines = [
            Message("roster_problem.line", line=line, message=render(message, lang)).text(lang)
            for line, message in self.problems[: self.limit]
        ]
        rest = len(self.problems) - self.limit
        if rest > 0:
            lines.append(Message("roster_problem.more_lines", rest=rest).text(lang))
        return "\n".join(lines)


def _roster_error(name: str, problems: list[tuple[int, str]]) -> RosterError:
    problems = sorted(set(problems))
    message = Message("roster_problem.summary", name=name, count=len(problems),
                      lines=ProblemLines(tuple(problems)))  # fmt: skip
    return RosterError(message, problems)


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
    people, assignments, units, boards = (
        parse_table(name, tables.get(TABLES[name]))
        for name in ("people", "assignments", "units", "boards")
    )
    return Roster(people, assignments, units, boards, source=source)


def parse_table(name: str, table: pd.DataFrame | None) -> pd.DataFrame:
    """One ``roster_*`` table as the :class:`Roster` holds it (typed dates, ids, measures).

    Parameters
    ----------
    name
        ``"people"``, ``"assignments"``, ``"units"`` or ``"boards"``.
    table
        The stored table (None: empty).

    Returns
    -------
    pandas.DataFrame
        The table with the roster's columns and types.
    """
    columns = {"people": PERSON_COLUMNS, "assignments": ASSIGNMENT_COLUMNS,
               "units": UNIT_COLUMNS, "boards": BOARD_COLUMNS}[name]  # fmt: skip
    frame = _frame(table, columns)
    if name == "assignments":
        for column in ("valid_from", "valid_to"):
            frame[column] = pd.to_datetime(_dates(frame[column]))
        for column in ("reach_id", "river_id", "lake_id"):
            frame[column] = _ids(frame[column])
        for column in ("from_m", "to_m"):
            frame[column] = pd.to_numeric(frame[column]).astype(float)
        if frame["line"].isna().all():
            frame["line"] = np.arange(2, len(frame) + 2)
    elif name == "boards":
        frame["updated_on"] = pd.to_datetime(_dates(frame["updated_on"]))
        frame["reach_id"] = _ids(frame["reach_id"])
    elif name == "people":
        frame["is_fictional"] = frame["is_fictional"].fillna(False).astype(bool)
    return frame


_NONE: Any = None
"""None as ``na_value`` (pandas accepts it; its type stubs do not list it)."""


def _frame(table: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of ``table`` as objects, missing values (NaN, NaT, NA) as None."""
    source = pd.DataFrame(columns=list(columns)) if table is None else pd.DataFrame(table)
    missing = np.full(len(source), None, dtype=object)
    data = {
        column: source[column].to_numpy(dtype=object, na_value=_NONE)
        if column in source.columns
        else missing.copy()
        for column in columns
    }
    return pd.DataFrame(data, index=source.index, columns=list(columns), dtype=object)


def _dates(values: pd.Series) -> pd.Series:
    return pd.Series([parse_date(v) for v in values], index=values.index, dtype=object)


def _ids(values: pd.Series) -> pd.Series:
    """:func:`parse_id` of each value; numeric columns (a database's bigint or float ids) in
    one vectorised step, other values parsed once per distinct value."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(numbers)
        if np.all(np.mod(numbers[present], 1) == 0) and np.all(np.abs(numbers[present]) < 2**53):
            whole = np.where(present, numbers, 0).astype(np.int64).tolist()
            ids = [v if p else None for v, p in zip(whole, present.tolist(), strict=True)]
            return pd.Series(ids, index=values.index, dtype=object)
    parsed: dict[Any, int | str | None] = {}
    out = []
    for value in values.tolist():
        try:
            key = (type(value), value)
            if key not in parsed or value != value:  # NaN is never equal to itself: parse it
                parsed[key] = parse_id(value)
            out.append(parsed[key])
        except TypeError:  # an unhashable cell: parse_id says what is wrong with it
            out.append(parse_id(value))
    return pd.Series(out, index=values.index, dtype=object)


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
    roster: Roster,
    path: str | Path,
    *,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Path:
    """Write a roster into a project GeoPackage in one step: all tables or none.

    The writer takes the project's lock (:func:`rivernet._files.project_lock`, the file
    ``PROJECT.gpkg.lock``), copies the file to a temporary file beside it, writes the tables
    there and renames the copy over the original, so a reader never sees half a roster, a
    failure or a kill leaves the project file untouched, and two writers never interleave.

    Parameters
    ----------
    roster
        The roster; its tables replace any ``roster_*`` tables in the file.
    path
        The project GeoPackage.
    extra_tables
        More non-spatial tables to write in the same step (by layer name).
    lock_timeout
        Seconds to wait for another writer of the project.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ProjectFileError
        If another writer holds the project for longer than ``lock_timeout``.
    """
    target = Path(path)
    if not target.exists():
        raise RosterError.from_key("err_roster.no_project", file=target)
    with project_lock(target, timeout=lock_timeout), replacing(target, suffix=".gpkg") as temp:
        shutil.copyfile(target, temp)
        write_roster_tables(roster, temp, extra_tables=extra_tables)
    return target


def write_roster_tables(
    roster: Roster, path: str | Path, *, extra_tables: dict[str, pd.DataFrame] | None = None
) -> None:
    """Write the roster tables into a GeoPackage the caller alone holds, then vacuum it.

    This is the step :func:`write_roster` runs inside its temporary copy; call it directly
    only on a file nobody else reads yet (a project being built in a temporary file).

    Parameters
    ----------
    roster
        The roster; its tables replace any ``roster_*`` tables in the file.
    path
        The GeoPackage.
    extra_tables
        More non-spatial tables to write (by layer name).
    """
    tables = {
        TABLES["people"]: roster.people,
        TABLES["assignments"]: roster.assignments,
        TABLES["units"]: roster.units,
        TABLES["boards"]: roster.boards,
        **(extra_tables or {}),
    }
    for layer, frame in tables.items():
        pyogrio.write_dataframe(_table_for_file(frame), path, layer=layer, driver="GPKG")
    _vacuum(Path(path))


def _vacuum(path: Path) -> None:
    """Reclaim the space of replaced tables (the file is still private to the writer)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("VACUUM")
    finally:
        connection.close()


def export_roster(roster: Roster, path: str | Path, *, include_contact: bool = False) -> Path:
    """Write a roster to CSV or Excel, as offices keep it, with every table it holds.

    The main table has one row per assignment with the person's details. The other tables go
    beside it: a workbook gets the sheets ``roster`` (the main table), ``people``, ``boards``
    (sign boards, 公示牌) and ``units`` (sub-county units); a CSV file ``NAME.csv`` gets the
    files ``NAME.people.csv``, ``NAME.boards.csv`` and ``NAME.units.csv``. :func:`read_roster`
    reads all of them back, so export then import gives the same roster (ids and dates
    included; contacts only with ``include_contact``).

    Text cells that a spreadsheet would run as formulas (starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) are written with a protective leading quote
    (:func:`safe_cell`), which :func:`read_roster` removes again.

    Parameters
    ----------
    roster
        The roster.
    path
        A ``.csv`` (UTF-8 with a byte-order mark, so that Excel shows Chinese text) or ``.xlsx``
        file; each file is written to a temporary file and renamed into place.
    include_contact
        Include the private ``contact`` column.

    Returns
    -------
    pathlib.Path
        The path of the main file.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise RosterError.from_key("err_roster.bad_export", file=target.name)
    people = roster.people[[c for c in PERSON_COLUMNS if include_contact or c != "contact"]]
    tables = {
        "roster": roster.to_frame(include_contact=include_contact),
        "people": people,
        "boards": roster.boards[list(BOARD_COLUMNS)],
        "units": roster.units[list(UNIT_COLUMNS)],
    }
    sheets = {name: _safe_frame(frame) for name, frame in tables.items()}
    if suffix == ".xlsx":
        with replacing(target, suffix=suffix) as temp, pd.ExcelWriter(temp) as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, index=False, sheet_name=name)
        return target
    for name, frame in sheets.items():
        file = target if name == "roster" else companion_path(target, name)
        with replacing(file, suffix=suffix) as temp:
            frame.to_csv(temp, index=False, encoding="utf-8-sig")
    return target


def _safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text, blanks as None, and every text cell made safe (:func:`safe_cell`)."""
    out = frame.drop(columns=["line"], errors="ignore").reset_index(drop=True).copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.dt.strftime("%Y-%m-%d").where(values.notna(), None)
        else:
            out[column] = values.astype(object).where(values.notna(), None).map(safe_cell)
    return out


def carry_over(roster: Roster, current: Roster | None) -> tuple[Roster, list[str]]:
    """Keep the current roster's tables that a newly read roster's file did not hold.

    A roster file without ``boards`` or ``units`` tables (see :attr:`Roster.missing`) keeps
    the project's sign boards and sub-county units, and a file without a contact column keeps
    the contacts of the people it names (by ``person_id``), rather than dropping them.

    Parameters
    ----------
    roster
        The roster read from a file.
    current
        The project's roster (None: nothing to keep).

    Returns
    -------
    roster, notes
        The completed roster (a new object) and one sentence per table kept, for the user.
    """
    if current is None:
        return roster, []
    notes: list[str] = []
    tables = {"units": roster.units, "boards": roster.boards}
    labels = {"boards": Message("warn_roster.boards", word="公示牌"),
              "units": Message("warn_roster.units")}  # fmt: skip
    for name, label in labels.items():
        kept = getattr(current, name)
        if name in roster.missing and len(kept):
            tables[name] = kept
            notes.append(Message("warn_roster.kept_table", count=len(kept), what=label, name=name))
    people = roster.people
    if "contact" in roster.missing and current.people["contact"].notna().any():
        contacts = current.people.set_index("person_id")["contact"]
        contacts = contacts[~contacts.index.duplicated()]
        filled = people["person_id"].map(contacts)
        people = people.assign(contact=people["contact"].where(people["contact"].notna(), filled))
        notes.append(Message("warn_roster.kept_contacts", count=int(filled.notna().sum())))
    completed = Roster(
        people,
        roster.assignments,
        tables["units"],
        tables["boards"],
        source=roster.source,
        missing=(),
    )
    return completed, notes


_MATCH_COLUMNS = ["person_id", "level", "unit_code", "role", "reach_id", "river_id", "lake_id",
                  "from_m", "to_m", "valid_from"]  # fmt: skip


def roster_changes(current: Roster | None, new: Roster) -> pd.DataFrame:
    """What replacing ``current`` by ``new`` does to the assignments, per unit.

    Assignments are matched by ``assignment_id``, then the rest by their content (person,
    level, unit, role, target, stretch and start). A matched assignment whose term now ends
    (earlier than before) is *ended*; an unmatched current one is *removed*; an unmatched new
    one is *added*; the others are *kept*.

    Parameters
    ----------
    current
        The project's roster (None: everything is added).
    new
        The roster to import.

    Returns
    -------
    pandas.DataFrame
        ``unit_code`` (the 6-digit county, city or province code the assignment's unit lies
        in), ``added``, ``ended``, ``removed``, ``kept``, one row per unit with any
        assignment, sorted by unit code.
    """
    columns = ["unit_code", "added", "ended", "removed", "kept"]
    old = _empty_assignments() if current is None else current.assignments
    old_key = _row_keys(old, _MATCH_COLUMNS)
    new_key = _row_keys(new.assignments, _MATCH_COLUMNS)
    by_id = old["assignment_id"].isin(set(new.assignments["assignment_id"]))
    new_by_id = new.assignments["assignment_id"].isin(set(old["assignment_id"]))
    old_rest = ~by_id & old_key.isin(set(new_key[~new_by_id]))
    new_rest = ~new_by_id & new_key.isin(set(old_key[~by_id]))
    matched_old = old[by_id | old_rest].assign(
        match=np.where(by_id, "id:" + old["assignment_id"].astype(str), "key:" + old_key)[
            (by_id | old_rest).to_numpy()
        ]
    )
    fresh = new.assignments
    matched_new = fresh[new_by_id | new_rest].assign(
        match=np.where(new_by_id, "id:" + fresh["assignment_id"].astype(str), "key:" + new_key)[
            (new_by_id | new_rest).to_numpy()
        ]
    )
    pairs = matched_old[["match", "unit_code", "valid_to"]].merge(
        matched_new[["match", "valid_to"]].drop_duplicates("match"),
        on="match",
        suffixes=("", "_new"),
    )
    far = pd.Timestamp.max
    ended = pairs["valid_to_new"].notna() & (
        pairs["valid_to_new"] < pairs["valid_to"].where(pairs["valid_to"].notna(), far)
    )
    parts = [
        _count_by_unit(fresh.loc[~(new_by_id | new_rest), "unit_code"], "added"),
        _count_by_unit(pairs.loc[ended, "unit_code"], "ended"),
        _count_by_unit(old.loc[~(by_id | old_rest), "unit_code"], "removed"),
        _count_by_unit(pairs.loc[~ended, "unit_code"], "kept"),
    ]
    table = pd.concat(parts, axis=1).fillna(0).astype(int)
    table = table.rename_axis("unit_code").reset_index().sort_values("unit_code")
    return table.reindex(columns=columns, fill_value=0).reset_index(drop=True)


def _count_by_unit(codes: pd.Series, name: str) -> pd.Series:
    units = codes.astype(str).str[:6]
    return units.value_counts().rename(name)


# --- cleaning and checking rows: every problem of every row, with its line and the fix ---


Problem = tuple[int, str]

_TRUE = ("1", "true", "yes", "是", "y")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_PATTERN = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
PERSON_COLUMNS = ("person_id", "name", "post", "organisation", "level", "unit_code", "contact",
                  "is_fictional")  # fmt: skip
ASSIGNMENT_COLUMNS = ("assignment_id", "person_id", "level", "unit_code", "role", "reach_id",
                      "from_m", "to_m", "river_id", "lake_id", "valid_from", "valid_to",
                      "source_document", "line")  # fmt: skip
PUBLIC_COLUMNS = frozenset(
    {c for c in PERSON_COLUMNS if c not in PRIVATE_COLUMNS}
    | {c for c in ASSIGNMENT_COLUMNS if c != "line"}
    | set(UNIT_COLUMNS)
    | set(BOARD_COLUMNS)
)
"""The roster columns that may be published (an allow-list): ids, names, posts, organisations,
levels, units, roles, targets and stretches, terms, source documents, the fictional flag, the
sub-county units and the sign boards. Never a contact column, whatever its name."""


_LEVEL_CHOICES = choices(Code("level", level) for level in LEVELS)


def _shown(text: str) -> str:
    """A cell's text quoted for a message; a blank cell said in words."""
    return repr(text) if text else Message("roster_problem.blank")


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
    raise InputError.from_key("roster_problem.not_a_date", value=repr(value))


def _from_serial(serial: float) -> dt.date:
    if not 1 <= serial < 2_958_466 or not float(serial).is_integer():
        raise InputError.from_key("roster_problem.not_a_serial", value=repr(serial))
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
        raise InputError.from_key("roster_problem.not_metres", value=repr(value)) from None
    if not np.isfinite(number) or number < 0:
        raise InputError.from_key("roster_problem.not_a_measure", value=repr(value))
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
    problems: list[Problem] = list(raw.problems)
    missing = [c for c in ("name", "level", "unit_code", "role", "valid_from")
               if c not in raw.columns]  # fmt: skip
    if missing:
        problems.append((1, Message("roster_problem.missing_columns", columns=", ".join(missing))))
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
        problems.append(Message("roster_problem.no_name"))
    level_text = _text(values.get("level")).lower()
    row["level"] = level_from_word(level_text)
    if row["level"] is None:
        problems.append(
            Message("roster_problem.bad_level", level=_shown(level_text), levels=_LEVEL_CHOICES)
        )
    try:
        row["unit_code"] = normalise_code(values.get("unit_code"))
    except InputError as error:
        row["unit_code"] = None
        problems.append(error.args[0])
    if row["unit_code"] and row["level"] and level_of_code(row["unit_code"]) != row["level"]:
        code_level = Code("level", level_of_code(row["unit_code"]))
        problems.append(
            Message("roster_problem.level_mismatch", level=Code("level", row["level"]),
                    code=row["unit_code"], code_level=code_level)
        )  # fmt: skip
    role = _text(values.get("role"))
    row["role"] = role
    if role not in ROLES:
        problems.append(Message("roster_problem.bad_role", role=_shown(role), roles=choices(ROLES)))
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
        key = "roster_problem.two_targets" if targets else "roster_problem.no_target"
        problems.append(Message(key, given=", ".join(targets)) if targets else Message(key))
    for column in ("from_m", "to_m"):
        try:
            row[column] = _parse_measure(values.get(column))
        except InputError as error:
            row[column] = None
            problems.append(Message("roster_problem.in_column", column=column,
                                    message=error.args[0]))  # fmt: skip
    if (row["from_m"] is None) != (row["to_m"] is None):
        problems.append(Message("roster_problem.one_measure"))
    elif row["from_m"] is not None and row["from_m"] >= row["to_m"]:
        problems.append(Message("roster_problem.measures_swapped", from_m=f"{row['from_m']:g}",
                                to_m=f"{row['to_m']:g}"))  # fmt: skip
    if row["lake_id"] is not None and row["from_m"] is not None:
        problems.append(Message("roster_problem.lake_measures"))
    return problems


def _term(values: dict[str, Any], row: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for column in ("valid_from", "valid_to"):
        try:
            row[column] = parse_date(values.get(column))
        except InputError as error:
            row[column] = None
            problems.append(Message("roster_problem.in_column", column=column,
                                    message=error.args[0]))  # fmt: skip
    if row["valid_from"] is None and not problems:
        problems.append(Message("roster_problem.no_start"))
    if row["valid_from"] and row["valid_to"] and row["valid_to"] < row["valid_from"]:
        problems.append(Message("roster_problem.term_swapped", valid_to=row["valid_to"],
                                valid_from=row["valid_from"]))  # fmt: skip
    return problems


def _person(values: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    name = _text(values.get("name"))
    post = _text(values.get("post"))
    person_id = _text(values.get("person_id"))
    if not person_id:
        key = f"{name}|{post}|{row['unit_code']}".encode()
        person_id = "P" + hashlib.sha1(key).hexdigest()[:10]
    fictional = _text(values.get("is_fictional")).lower() in _TRUE
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
    problems: list[Problem] = [
        (int(line), Message("roster_problem.duplicate_row", first=int(first)))
        for line, first in zip(
            assignments.loc[duplicated, "line"], first_line[duplicated], strict=True
        )
    ]
    ids = assignments["assignment_id"]
    dup_ids = ids.duplicated(keep="first") & ~duplicated
    problems += [
        (int(line), Message("roster_problem.duplicate_id", id=repr(aid)))
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
            Message(
                "roster_problem.overlapping_term",
                first=_int(row.line),
                start=_day(row.valid_from),
                end=_day(row.valid_to),
            ),
        )
        for row in pairs[overlap].itertuples()
    ]


def _int(value: Any) -> int:
    """A line number from an ``itertuples`` row (typed ``Any`` for mypy)."""
    return int(value)


def _day(value: Any) -> str:
    return Message("roster_problem.open_end") if pd.isna(value) else str(pd.Timestamp(value).date())


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
    problems: list[str] = []
    if reach is not None and reach not in lengths.index:
        problems.append(Message("roster_problem.unknown_reach", reach=reach))
    elif reach is not None and to_m is not None:
        length = float(lengths[reach])
        if to_m > length + 1.0:
            problems.append(Message("roster_problem.beyond_end", to_m=f"{to_m:g}", reach=reach,
                                    length=f"{length:.0f}"))  # fmt: skip
    if river is not None and river not in rivers:
        problems.append(Message("roster_problem.unknown_river", river=river))
    if lake is not None and lake not in lakes:
        problems.append(Message("roster_problem.unknown_lake", lake=lake))
    code = row.unit_code
    county = code[:6]
    if len(code) == 6 and code not in units:
        problems.append(Message("roster_problem.unknown_code", code=code))
    elif len(code) > 6 and code not in units and county not in units:
        problems.append(Message("roster_problem.unknown_county", code=code, county=county))
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
            Message(
                "roster_problem.outside_unit"
                if row.from_m == 0 and row.to_m == np.inf
                else "roster_problem.stretch_outside_unit",
                code=row.unit_code,
                level=Code("level", row.level),
                reach=row.reach_id,
            ),
        )
        for row in outside.itertuples(index=False)
    ]
