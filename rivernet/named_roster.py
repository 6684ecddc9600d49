"""Rosters keyed by river name and unit, as public lists are written (issue 12, item 3).

Offices publish chiefs as "河流名称, 行政区, 层级, 姓名, 职务": a river named inside a unit,
not reach ids. :func:`resolve_named_roster` turns such rows into a :class:`rivernet.roster.Roster`
whose assignments are the river's responsibility pieces inside the unit (one assignment per
contiguous stretch of a reach), and :func:`read_named_roster` reads such a list from CSV or
Excel.

A river is the connected reaches of matching names (:func:`rivernet.dossier.river_labels`,
names compared with :func:`rivernet.names.name_keys`, so 京杭运河 matches 京杭大运河 and a
trailing 河 is optional) or, when the row gives a river code, the reaches with that
``river_code``. A unit is a 6-digit admin code or a name of the project's admin units, or a
9/12-digit code or a name of the roster's sub-county units (township and village rows resolve
to the river's pieces inside their county).

Every row is checked and every problem reported at once (:class:`rivernet.errors.RosterError`,
``(line, message)`` pairs, the header being line 1): a river name that two unconnected rivers of
the unit answer to (the candidates are listed), a river not found in the unit (the names found
there are listed), an unknown or ambiguous unit. Nothing is returned unless every row resolves.
A stated length (长度, km) that differs from the resolved one by more than ``length_tolerance``
is a :class:`rivernet.errors.DataQualityWarning`, not an error.

Start and end descriptions (起点, 终点) cut the stretch where they can be placed on the river:
the river's source (源头) or mouth (河口, 入湖口), the confluence of another named river
(``白沙河交汇处``, ``白沙河口``, ``入白沙河``) and the boundary of a neighbouring unit
(``吴江区界``, ``与吴江区交界处``). Only the part of the river between the two places (by
distance along the flow) is assigned; a description that cannot be placed (a bridge, a
village) leaves that end uncut, with a :class:`rivernet.errors.DataQualityWarning`.

Choices: ``valid_from`` (任期开始) defaults to today in China when blank (a published list
names the chiefs in office now); ``role`` (角色) defaults to 河长.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rivernet._spreadsheet import canonical_column, read_table
from rivernet.admin import POLYGON_LEVELS, level_from_word, level_of_code, normalise_code
from rivernet.dossier import river_labels
from rivernet.errors import DataQualityWarning, InputError, RosterError
from rivernet.messages import Code, Items, Message
from rivernet.names import CODE_COLUMN, NAME_COLUMN, name_keys, normalise_name
from rivernet.pieces import piece_table
from rivernet.policy import ROLES
from rivernet.roster import (
    ASSIGNMENT_COLUMNS,
    PERSON_COLUMNS,
    ProblemLines,
    Roster,
    overlapping_term_problems,
    parse_date,
    today,
)

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["LENGTH_TOLERANCE", "header_column", "read_named_roster", "resolve_named_roster"]

LENGTH_TOLERANCE = 0.2
"""Share by which a stated length may differ from the resolved one before a warning."""

DEFAULT_ROLE = "河长"
_EPS_M = 1e-6
_MAX_NAMES = 5
# Headers of named rosters that the roster reader does not know, after normalising.
_EXTRA_HEADERS = {
    "river_name": ("river_name", "river", "河流名称", "河流", "河名", "河流名", "河湖名称"),
    "length_km": ("length_km", "length", "长度", "河长", "河段长度", "长度km", "长度公里"),
    "unit": ("unit", "行政区划", "所在行政区", "所在地"),
}
_HEADER_LOOKUP = {alias: column for column, aliases in _EXTRA_HEADERS.items() for alias in aliases}
# What the roster reader calls the columns of a named roster (起点/终点 are descriptions here).
_RENAMED = {
    "river_id": "river_code",
    "unit_code": "unit",
    "unit_name": "unit",
    "from_m": "start",
    "to_m": "end",
}
_YES = frozenset({"1", "1.0", "true", "yes", "y", "是", "虚构", "true()"})
SOURCE_WORDS = ("源头", "河源", "源", "发源地", "起源")
"""Descriptions of a river's source (起点 = 源头: no cut upstream)."""
MOUTH_WORDS = ("河口", "入湖口", "入江口", "入海口", "出口", "汇入口", "末端", "尾闾")
"""Descriptions of a river's mouth (终点 = 河口: no cut downstream)."""
_CONFLUENCE = re.compile(
    r"^(?:与|入|汇入|流入)?(.+?)(?:交汇处|交汇口|汇合处|汇合口|汇入处|交汇|汇合|口)?$"
)
_BOUNDARY = re.compile(r"^(?:与)?(.+?)(?:交界处|交界|边界|界)$")
_UNIT_SUFFIXES = (
    "自治县",
    "自治州",
    "街道",
    "乡镇",
    "省",
    "市",
    "县",
    "区",
    "镇",
    "乡",
    "村",
    "旗",
)

Problem = tuple[int, str]


@dataclass(frozen=True)
class _Unit:
    code: str
    name: str
    level: str


def read_named_roster(
    project: Project,
    path: str | Path,
    *,
    sheet: str | None = None,
    length_tolerance: float = LENGTH_TOLERANCE,
) -> Roster:
    """Read a roster keyed by river name and unit from CSV or Excel and resolve it.

    Parameters
    ----------
    project
        The project whose reaches carry names (``name``) and whose admin units the rows name.
    path
        A ``.csv`` (UTF-8 or GBK) or ``.xlsx`` file with the headers 河流名称 or 河流编码,
        行政区 (a name or a code) or 行政区划代码, 层级, 姓名, 职务, and optionally 长度 (km),
        角色, 任期开始, 任期结束, 任命文件.
    sheet
        The worksheet to read (default: the first).
    length_tolerance
        See :func:`resolve_named_roster`.

    Returns
    -------
    Roster
        The resolved roster.

    Raises
    ------
    RosterError
        With every ``(line, message)`` problem (line = row in the file); nothing is returned.
    """
    file = Path(path)
    if not file.exists():
        raise RosterError.from_key("err_roster.missing", file=file)
    raw = read_table(file, sheet=sheet)
    headers = [h or f"column {i + 1}" for i, h in enumerate(raw.headers)]
    width = len(headers)
    frame = pd.DataFrame([cells[:width] for _, cells in raw.rows], columns=headers)
    frame["line"] = [line for line, _ in raw.rows]
    return _resolve(project, frame, length_tolerance, file.name, list(raw.problems))


def resolve_named_roster(
    project: Project,
    rows: pd.DataFrame,
    *,
    length_tolerance: float = LENGTH_TOLERANCE,
    source: str = "named roster",
) -> Roster:
    """Resolve rows naming a river and a unit to the river's pieces inside that unit.

    Parameters
    ----------
    project
        The project whose reaches carry names (``name``, see
        :func:`rivernet.names.attach_names`) or river codes (``river_code``).
    rows
        One row per chief and river, with Chinese or English headers: river name (河流名称,
        ``river_name``) or code (河流编码, ``river_code``), unit (行政区 / 行政区划代码,
        ``unit``: a name or a 6/9/12-digit code), level (层级; default the unit's level), name
        (姓名), post (职务) and optionally length (长度, km), role (角色, default 河长), term
        (任期开始 / 任期结束; the start defaults to today), source document (任命文件). A
        ``line`` column gives the row numbers used in messages (default: header = line 1).
    length_tolerance
        A stated length differing from the resolved one by more than this share of the
        resolved length is warned about.
    source
        Where the rows came from (messages and generated assignment ids).

    Returns
    -------
    Roster
        People and one assignment per contiguous stretch of a reach; the units, boards and
        contacts are left to the project's roster (:attr:`Roster.missing`).

    Raises
    ------
    RosterError
        With every ``(line, message)`` problem; nothing is returned.

    Warns
    -----
    DataQualityWarning
        For each row whose stated length differs too much from the resolved one.
    """
    return _resolve(project, rows, length_tolerance, source, [])


def _resolve(
    project: Project,
    rows: pd.DataFrame,
    tolerance: float,
    source: str,
    problems: list[Problem],
) -> Roster:
    frame = _canonical_frame(rows)
    missing: list[str] = [c for c in ("unit", "name") if c not in frame.columns]
    if "river_name" not in frame.columns and "river_code" not in frame.columns:
        missing.insert(0, Message("problem_named_roster.river_columns"))
    if missing:
        message = Message("problem_named_roster.missing_columns", columns=_all(missing),
                          headers=_all(("河流名称/河流编码", "行政区", "姓名")))  # fmt: skip
        problems.append((1, message))
        raise _error(source, problems)
    resolver = _Resolver(project)
    people: dict[str, dict[str, Any]] = {}
    assignments: list[dict[str, Any]] = []
    notes: list[str] = []
    for record in frame.to_dict("records"):
        values = {str(key): value for key, value in record.items()}
        line = int(values["line"])
        try:
            row_people, row_assignments, note = resolver.row(values, line, source, tolerance)
        except InputError as error:
            problems.append((line, _reason(error)))
            continue
        people.setdefault(row_people["person_id"], row_people)
        assignments += row_assignments
        notes += [note] if note else []
    table = pd.DataFrame(assignments, columns=list(ASSIGNMENT_COLUMNS))
    for column in ("valid_from", "valid_to"):
        table[column] = pd.to_datetime(table[column])
    problems += overlapping_term_problems(table)
    roster = Roster(
        pd.DataFrame(list(people.values()), columns=list(PERSON_COLUMNS)),
        table,
        source=source,
        missing=("units", "boards", "contact"),
    )
    if not problems:
        problems += project.roster_problems(roster)
    if problems:
        raise _error(source, problems)
    for note in notes:
        warnings.warn(DataQualityWarning(note), stacklevel=3)
    return roster


def _all(values: Any) -> Items:
    """Every one of ``values`` as a list for a message (none left out)."""
    shown = tuple(values)
    return Items(shown, limit=len(shown))


def _joined(parts: Sequence[str]) -> str:
    """Messages joined by semicolons (；/ ``"; "``), each in the language of the whole."""
    return functools.reduce(
        lambda first, rest: Message("problem_named_roster.joined", first=first, rest=rest), parts
    )


def _reason(error: Exception) -> str:
    """The message of an error, kept as a catalogue message when it is one."""
    head = error.args[0] if len(error.args) == 1 else None
    return head if isinstance(head, Message) else str(error)


def _canonical_frame(rows: pd.DataFrame) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for header in rows.columns:
        column = header_column(header)
        if column is not None and column not in columns:
            columns[column] = rows[header].to_numpy(dtype=object)
    frame = pd.DataFrame(columns, index=range(len(rows)))
    if "line" not in frame.columns:
        frame["line"] = np.arange(2, len(rows) + 2)
    return frame


def header_column(header: object) -> str | None:
    """The column a named roster's header stands for (``river_name``, ``unit``, ``start``...).

    Parameters
    ----------
    header
        A header in Chinese or English (河流名称, 行政区, 起点, 长度(km) ...).

    Returns
    -------
    str or None
        The canonical column, or None for an unknown header.
    """
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(header))).lower()
    if text == "line":
        return "line"
    bare = re.sub(r"\((km|公里|m|米)\)$", r"\1", text)
    if bare in _HEADER_LOOKUP:
        return _HEADER_LOOKUP[bare]
    if bare in ("river_code", "unit"):
        return bare
    canonical = canonical_column(header)
    return _RENAMED.get(canonical, canonical) if canonical else None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def _code_text(value: Any) -> str:
    text = _text(value)
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


class _Resolver:
    """The project's units, pieces and river labels, looked up once for all rows."""

    def __init__(self, project: Project) -> None:
        reaches = project.network.reaches
        self.pieces = piece_table(project)
        names = (
            reaches[NAME_COLUMN].map(normalise_name)
            if NAME_COLUMN in reaches.columns
            else pd.Series("", index=reaches.index)
        )
        self.names = names.to_numpy(dtype=object)
        self.labels = (
            river_labels(project.network)
            if NAME_COLUMN in reaches.columns
            else np.full(len(reaches), -1, dtype=np.int64)
        )
        self.codes = (
            reaches[CODE_COLUMN].map(_code_text).to_numpy(dtype=object)
            if CODE_COLUMN in reaches.columns
            else None
        )
        self.keys = {name: name_keys(name) for name in set(self.names.tolist()) if name}
        self.units = _units(project)
        core = self.core = project.network.core
        self.downstream = core.downstream
        self.to_outlet = core.distance_to_outlet_m()
        self.length = reaches["length_m"].to_numpy(dtype=float)

    def row(
        self, values: dict[str, Any], line: int, source: str, tolerance: float
    ) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        problems: list[str] = []
        name = _text(values.get("name"))
        if not name:
            problems.append(Message("roster_problem.no_name"))
        unit = self._unit(_text(values.get("unit")), _text(values.get("level")), problems)
        level = self._level(_text(values.get("level")), unit, problems)
        role = _text(values.get("role")) or DEFAULT_ROLE
        if role not in ROLES:
            problems.append(
                Message("problem_named_roster.role", role=repr(role), roles=_all(ROLES))
            )
        valid_from, valid_to = _term(values, problems)
        stated = _length_km(values.get("length_km"), problems)
        stretches = pd.DataFrame()
        notes: list[str] = []
        if unit is not None:
            stretches = self._stretches(values, unit, problems)
            if not problems and not stretches.empty:
                stretches = self._between_ends(values, unit, stretches, problems, notes)
        if problems:
            raise InputError(_joined(problems))
        assert unit is not None and level is not None
        post = _text(values.get("post"))
        key = f"{name}|{post}|{unit.code}".encode()
        person = {
            "person_id": "P" + hashlib.sha1(key).hexdigest()[:10],
            "name": name,
            "post": post or None,
            "organisation": None,
            "level": level,
            "unit_code": unit.code,
            "contact": None,
            "is_fictional": _text(values.get("is_fictional")).lower() in _YES,
        }
        rows = [
            {
                "assignment_id": f"{source}:{line}:{k + 1}",
                "person_id": person["person_id"],
                "level": level,
                "unit_code": unit.code,
                "role": role,
                "reach_id": reach,
                "from_m": start,
                "to_m": end,
                "river_id": None,
                "lake_id": None,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "source_document": _text(values.get("source_document")) or None,
                "line": line,
            }
            for k, (reach, start, end) in enumerate(stretches.itertuples(index=False))
        ]
        resolved = float((stretches["to_m"] - stretches["from_m"]).sum()) / 1000.0
        if stated is not None and abs(stated - resolved) > tolerance * resolved:
            notes.append(
                Message("warn_named_roster.length_differs", stated=f"{stated:g}",
                        resolved=f"{resolved:.3f}", river=_river_text(values),
                        unit=unit.name or unit.code, tolerance=f"{tolerance:.0%}")
            )  # fmt: skip
        at_line = [Message("warn_named_roster.at_line", source=source, line=line, message=note)
                   for note in notes]  # fmt: skip
        return person, rows, _joined(at_line) if at_line else ""

    def _unit(self, text: str, level_text: str, problems: list[str]) -> _Unit | None:
        if not text:
            problems.append(Message("problem_named_roster.no_unit", header="行政区"))
            return None
        if re.fullmatch(r"\d+(\.0+)?", text):
            try:
                code = normalise_code(text)
            except InputError as error:
                problems.append(_reason(error))
                return None
            unit = next((u for u in self.units if u.code == code), None)
            if unit is None and len(code) > 6 and any(u.code == code[:6] for u in self.units):
                unit = _Unit(code, "", level_of_code(code))
            if unit is None:
                problems.append(Message("problem_named_roster.code_not_in_project", code=code))
            return unit
        found = [u for u in self.units if u.name == text]
        if not found:
            found = [u for u in self.units if _stem(u.name) == _stem(text)]
        level = level_from_word(level_text) if level_text else None
        if len(found) > 1 and level is not None:
            found = [u for u in found if u.level == level] or found
        if len(found) == 1:
            return found[0]
        if found:
            listed = _all(_unit_text(u.name, u.code) for u in found)
            problems.append(
                Message("problem_named_roster.ambiguous_unit", unit=repr(text), units=listed)
            )
        else:
            problems.append(Message("problem_named_roster.unknown_unit", unit=repr(text)))
        return None

    def _level(self, text: str, unit: _Unit | None, problems: list[str]) -> str | None:
        if unit is None:
            return None
        if not text:
            return unit.level
        level = level_from_word(text)
        if level is None:
            problems.append(Message("problem_named_roster.not_a_level", level=repr(text),
                                    words="省/市/县/乡镇/村"))  # fmt: skip
        elif level != unit.level and not (text == "市" and unit.level == "county"):
            unit_level = Code("level", unit.level)
            problems.append(Message("problem_named_roster.level_mismatch", level=repr(text),
                                    code=unit.code, unit_level=unit_level))  # fmt: skip
            return None
        return unit.level

    def _stretches(self, values: dict[str, Any], unit: _Unit, problems: list[str]) -> pd.DataFrame:
        pieces = self.pieces
        if unit.level in POLYGON_LEVELS:
            inside = pieces[pieces[f"{unit.level}_code"].astype(str) == unit.code]
        else:
            inside = pieces[pieces["county_code"].astype(str) == unit.code[:6]]
        positions = inside["position"].to_numpy(dtype=np.int64)
        river_name = _text(values.get("river_name"))
        code = _code_text(values.get("river_code"))
        unit_text = _unit_text(unit.name or unit.code, unit.code)
        if river_name:
            keys = name_keys(river_name)
            matching = {name for name, k in self.keys.items() if k & keys}
            hit = np.array([self.names[p] in matching for p in positions], dtype=bool)
        elif self.codes is None:
            problems.append(Message("problem_named_roster.no_code_column", column=CODE_COLUMN))
            return inside.iloc[:0]
        else:
            hit = np.array([self.codes[p] == code for p in positions], dtype=bool)
        chosen = inside[hit]
        if chosen.empty:
            present = _names_by_length(inside, self.names)
            none = Message("problem_named_roster.no_named_river")
            there = _all(present[:_MAX_NAMES]) if present else none
            problems.append(Message("problem_named_roster.no_river", river=_river_text(values),
                                    unit=unit_text, there=there))  # fmt: skip
            return chosen
        labels = self.labels[chosen["position"].to_numpy(dtype=np.int64)]
        if river_name and len(set(labels.tolist())) > 1:
            candidates = []
            for label in sorted(set(labels.tolist())):
                part = chosen[labels == label]
                ids = _all(dict.fromkeys(part["reach_id"].tolist()))
                km = float((part["to_m"] - part["from_m"]).sum()) / 1000.0
                candidates.append(Message("problem_named_roster.candidate", ids=ids,
                                          km=f"{km:.3f}"))  # fmt: skip
            problems.append(
                Message("problem_named_roster.same_name", count=len(candidates),
                        name=repr(river_name), unit=unit_text, candidates=_joined(candidates))
            )  # fmt: skip
        return _merged(chosen).assign(position=lambda f: self._position(f["reach_id"]))

    def _position(self, reach_ids: pd.Series) -> npt.NDArray[np.int64]:
        return np.asarray(self.core.position(reach_ids.to_numpy()), dtype=np.int64)

    def _between_ends(
        self,
        values: dict[str, Any],
        unit: _Unit,
        stretches: pd.DataFrame,
        problems: list[str],
        notes: list[str],
    ) -> pd.DataFrame:
        """The part of the stretches between the places 起点 and 终点 describe."""
        places = []
        for column, word in (("start", "起点"), ("end", "终点")):
            text = _text(values.get(column))
            place = self._place(text, unit, stretches) if text else None
            if text and place is None:
                notes.append(Message("warn_named_roster.not_placed", word=word, text=repr(text),
                                     river=_river_text(values)))  # fmt: skip
            places.append(place)
        if all(p is None for p in places):
            return stretches.drop(columns="position")
        known = [p for p in places if p is not None]
        if len(known) == 2 and abs(known[0] - known[1]) < 1.0:
            problems.append(Message("problem_named_roster.same_place", start="起点", end="终点"))
            return stretches.iloc[:0]
        if len(known) == 2:  # either may be the upstream one
            high, low = max(known), min(known)
        elif places[0] is not None:  # only a start: keep what lies downstream of it
            high, low = known[0], -np.inf
        else:  # only an end: keep what lies upstream of it
            high, low = np.inf, known[0]
        cut = _cut(stretches, self.to_outlet, self.length, low=low, high=high)
        if cut.empty:
            problems.append(
                Message("problem_named_roster.nothing_between", river=_river_text(values),
                        unit=unit.name or unit.code, start_word="起点",
                        start=repr(_text(values.get("start"))), end_word="终点",
                        end=repr(_text(values.get("end"))))
            )  # fmt: skip
        return cut

    def _place(self, text: str, unit: _Unit, stretches: pd.DataFrame) -> float | None:
        """A place on the river as metres from the network outlet (inf: source, -inf: mouth)."""
        word = normalise_name(text)
        positions = stretches["position"].to_numpy(dtype=np.int64)
        tops = self.to_outlet[positions] + self.length[positions] - stretches["from_m"].to_numpy()
        bottoms = tops - (stretches["to_m"] - stretches["from_m"]).to_numpy()
        low, high = float(bottoms.min()) - 1.0, float(tops.max()) + 1.0
        found = self._confluence(word, positions, low, high)
        if found is None:
            found = self._boundary(word, unit, positions, tops, bottoms)
        if found is None and word in SOURCE_WORDS:
            found = np.inf
        if found is None and (word in MOUTH_WORDS or word.startswith("入")):
            found = -np.inf
        return found

    def _confluence(
        self, word: str, positions: npt.NDArray[np.int64], low: float, high: float
    ) -> float | None:
        match = _CONFLUENCE.match(word)
        keys = name_keys(match.group(1)) if match else set()
        other = {name for name, k in self.keys.items() if k & keys}
        river = set(self.names[positions].tolist())
        other -= river
        if not other:
            return None
        tributary = np.isin(self.names, list(other))
        labels = set(self.labels[positions].tolist())
        on_river = np.isin(self.labels, list(labels))
        places: list[float] = []
        down = self.downstream
        joins = np.flatnonzero(tributary & (down >= 0))
        for p in joins[on_river[down[joins]]]:  # the other river flows into this one
            q = down[p]
            places.append(float(self.to_outlet[q] + self.length[q]))
        ends = np.flatnonzero(on_river & (down >= 0))
        for p in ends[tributary[down[ends]]]:  # this river flows into the other
            places.append(float(self.to_outlet[p]))
        inside = [place for place in places if low <= place <= high]
        return inside[0] if inside else None

    def _boundary(
        self,
        word: str,
        unit: _Unit,
        positions: npt.NDArray[np.int64],
        tops: npt.NDArray[np.float64],
        bottoms: npt.NDArray[np.float64],
    ) -> float | None:
        match = _BOUNDARY.match(word)
        if match is None:
            return None
        name = match.group(1)
        neighbours = [
            u for u in self.units
            if u.code != unit.code and u.level in POLYGON_LEVELS
            and (u.name == name or _stem(u.name) == _stem(name))
        ]  # fmt: skip
        labels = set(self.labels[positions].tolist())
        river = np.isin(self.labels, list(labels)) if labels != {-1} else np.zeros(0, bool)
        ends = np.concatenate([tops, bottoms])
        for neighbour in neighbours:
            pieces = self.pieces[
                self.pieces[f"{neighbour.level}_code"].astype(str) == neighbour.code
            ]
            pieces = (
                pieces[river[pieces["position"].to_numpy(dtype=np.int64)]]
                if len(river)
                else pieces.iloc[:0]
            )
            at = pieces["position"].to_numpy(dtype=np.int64)
            top = self.to_outlet[at] + self.length[at] - pieces["from_m"].to_numpy()
            bottom = self.to_outlet[at] + self.length[at] - pieces["to_m"].to_numpy()
            theirs = np.concatenate([top, bottom])
            close = np.abs(ends[:, None] - theirs[None, :]) < 1.0
            if close.any():
                return float(ends[np.flatnonzero(close.any(axis=1))[0]])
        return None


def _cut(
    stretches: pd.DataFrame,
    to_outlet: npt.NDArray[np.float64],
    length: npt.NDArray[np.float64],
    *,
    low: float,
    high: float,
) -> pd.DataFrame:
    """The parts of stretches lying between ``low`` and ``high`` metres from the outlet."""
    rows = []
    for reach, start, end, position in stretches.itertuples(index=False):
        top = float(to_outlet[position] + length[position])  # the reach's upstream end
        first, last = max(float(start), top - high), min(float(end), top - low)
        if last - first > _EPS_M:
            rows.append((reach, first, last))
    return pd.DataFrame(rows, columns=["reach_id", "from_m", "to_m"])


def _units(project: Project) -> list[_Unit]:
    admin = project.admin_units
    names = admin["name"] if "name" in admin.columns else pd.Series("", index=admin.index)
    units = [
        _Unit(normalise_code(code), _text(name), level_of_code(code))
        for code, name in zip(admin["code"], names, strict=True)
    ]
    roster = project.roster
    if roster is not None and not roster.units.empty:
        units += [
            _Unit(normalise_code(code), _text(name), level_of_code(code))
            for code, name in zip(roster.units["code"], roster.units["name"], strict=True)
        ]
    return units


def _stem(name: str) -> str:
    for suffix in _UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _river_text(values: dict[str, Any]) -> Message:
    """The river of a row: its quoted name, or the code it is given by."""
    name = _text(values.get("river_name"))
    if name:
        return Message("problem_named_roster.river_named", name=repr(name))
    return Message(
        "problem_named_roster.river_with_code", code=_code_text(values.get("river_code"))
    )


def _unit_text(name: str, code: str) -> Message:
    """A unit as ``name (code)``."""
    return Message("problem_named_roster.unit_with_code", name=name, code=code)


def _names_by_length(pieces: pd.DataFrame, names: np.ndarray) -> list[str]:
    frame = pd.DataFrame(
        {"name": names[pieces["position"].to_numpy(dtype=np.int64)],
         "length": (pieces["to_m"] - pieces["from_m"]).to_numpy()}
    )  # fmt: skip
    frame = frame[frame["name"] != ""]
    totals = frame.groupby("name")["length"].sum().sort_values(ascending=False, kind="stable")
    return [str(n) for n in totals.index]


def _merged(pieces: pd.DataFrame) -> pd.DataFrame:
    """Contiguous pieces of one reach as one stretch (reach_id, from_m, to_m)."""
    stretches: list[list[Any]] = []
    starts = pieces["from_m"].to_numpy(dtype=float)
    ends = pieces["to_m"].to_numpy(dtype=float)
    for reach, start, end in zip(pieces["reach_id"].tolist(), starts, ends, strict=True):
        last = stretches[-1] if stretches else None
        if last is not None and last[0] == reach and abs(last[2] - start) < _EPS_M:
            last[2] = float(end)
        else:
            stretches.append([reach, float(start), float(end)])
    return pd.DataFrame(stretches, columns=["reach_id", "from_m", "to_m"])


def _term(values: dict[str, Any], problems: list[str]) -> tuple[dt.date | None, dt.date | None]:
    days: list[dt.date | None] = []
    for column in ("valid_from", "valid_to"):
        try:
            days.append(parse_date(values.get(column)))
        except InputError as error:
            days.append(None)
            problems.append(Message("roster_problem.in_column", column=column,
                                    message=_reason(error)))  # fmt: skip
    start, end = days
    start = start or today()
    if end is not None and end < start:
        problems.append(Message("roster_problem.term_swapped", valid_to=end, valid_from=start))
    return start, end


def _length_km(value: Any, problems: list[str]) -> float | None:
    text = _text(value).replace(",", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        problems.append(Message("problem_named_roster.not_km", value=repr(value)))
        return None
    if not np.isfinite(number) or number <= 0:
        problems.append(Message("problem_named_roster.not_positive_km", value=repr(value)))
        return None
    return number


def _error(source: str, problems: list[Problem]) -> RosterError:
    problems = sorted(set(problems))
    shown = ProblemLines(tuple(problems), limit=len(problems))
    message = Message("roster_problem.summary", name=source, count=len(problems), lines=shown)
    return RosterError(message, problems)
