"""Edits of the living roster: appointments, people and sign boards, scoped and audited.

Every function here is one transaction of the store (:mod:`rivernet.store`): it checks the
actor's scope (:meth:`rivernet.tokens.Actor.can_edit`), checks the row with the same rules as
``rivernet roster check`` (:func:`rivernet.roster.clean_rows`'s row rules, the duplicate and
overlapping-term rules, :func:`rivernet.roster.reference_problems`), writes it, writes its
audit row (before and after, actor, reason, 文号) and bumps the data version, all in the same
transaction: an edit is stored whole with its audit row, or not at all.

Rows are returned as JSON-able dicts (dates as ISO text) with an ``"etag"``; an update given
``if_match`` refuses to overwrite a row changed since (:class:`~rivernet.errors.StaleError`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rivernet.admin import LEVELS, level_from_word, level_of_code, normalise_code
from rivernet.errors import EditError, InputError, NotFoundError, ScopeError, StaleError
from rivernet.messages import Code, Message
from rivernet.roster import (
    ASSIGNMENT_COLUMNS,
    BOARD_COLUMNS,
    CHINA,
    PERSON_COLUMNS,
    _clean_row,
    _duplicate_problems,
    overlapping_term_problems,
    parse_date,
    parse_id,
    reference_problems,
)
from rivernet.store import Store, Tx, json_row, json_value
from rivernet.tokens import Actor, scope_prefix

__all__ = [
    "add_board",
    "add_person",
    "appoint",
    "audit",
    "etag",
    "get_assignment",
    "get_board",
    "get_person",
    "history",
    "update_assignment",
    "update_board",
    "update_person",
]


@dataclass(frozen=True)
class _Kind:
    table: str
    key: str
    columns: tuple[str, ...]
    prefix: str
    width: int


ASSIGNMENTS = _Kind("roster_assignments", "assignment_id",
                    tuple(c for c in ASSIGNMENT_COLUMNS if c != "line"), "A", 6)  # fmt: skip
PEOPLE = _Kind("roster_people", "person_id", PERSON_COLUMNS, "P", 5)
BOARDS = _Kind("roster_boards", "board_id", BOARD_COLUMNS, "B", 3)
_FIELDS = ("assignment_id", "person_id", "level", "unit_code", "role", "reach_id", "river_id",
           "lake_id", "from_m", "to_m", "valid_from", "valid_to", "source_document", "name",
           "post", "organisation", "contact", "is_fictional", "board_id", "measure_m",
           "updated_on")  # fmt: skip
_INTEGER_IDS = ("reach_id", "river_id", "lake_id")
_DATES = ("valid_from", "valid_to", "updated_on")


def etag(row: Mapping[str, Any]) -> str:
    """The strong ETag of a row's content (quoted), as sent in ``ETag`` and ``If-Match``.

    Parameters
    ----------
    row
        The row (an ``"etag"`` key in it is ignored).

    Returns
    -------
    str
        ``"..."``: 20 hex digits of the SHA-256 of the row's canonical JSON.
    """
    content = {k: json_value(v) for k, v in row.items() if k != "etag"}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


# --- reading ------------------------------------------------------------------------------------


def _clean(kind: _Kind, row: Mapping[str, Any]) -> dict[str, Any]:
    out = json_row({column: row.get(column) for column in kind.columns})
    for column in _INTEGER_IDS:
        if column in out:
            out[column] = parse_id(out[column])
    for column in ("from_m", "to_m", "measure_m"):
        if out.get(column) is not None:
            out[column] = float(out[column])
    for column in _DATES:
        if out.get(column) is not None:
            out[column] = str(out[column])[:10]
    if "is_fictional" in out:
        out["is_fictional"] = bool(out["is_fictional"])
    return out


def _fetch(tx: Tx, kind: _Kind, key: Any, *, lock: bool = False) -> dict[str, Any] | None:
    _require_roster(tx)
    row = tx.one(
        f"SELECT * FROM {kind.table} WHERE {kind.key} = ?{' FOR UPDATE' if lock else ''}",
        [str(key)],
    )
    return None if row is None else _clean(kind, row)


def _with_etag(row: dict[str, Any], *, include_contact: bool = True) -> dict[str, Any]:
    tag = etag(row)
    shown = dict(row) if include_contact else {k: v for k, v in row.items() if k != "contact"}
    return shown | {"etag": tag}


def _get(store: Store, kind: _Kind, key: Any, what: str) -> dict[str, Any]:
    with store.read() as tx:
        row = _fetch(tx, kind, key)
    if row is None:
        raise NotFoundError.from_key(
            "edit_error.not_found", what=_what(what), key=repr(key), store=store.target
        )
    return row


def get_assignment(store: Store, assignment_id: str | int) -> dict[str, Any]:
    """An assignment with its ``etag``; :class:`~rivernet.errors.NotFoundError` if unknown."""
    return _with_etag(_get(store, ASSIGNMENTS, assignment_id, "assignment"))


def get_person(store: Store, person_id: str, *, include_contact: bool = False) -> dict[str, Any]:
    """A person with the ``etag``; ``contact`` only when ``include_contact`` (admins)."""
    row = _get(store, PEOPLE, person_id, "person")
    return _with_etag(row, include_contact=include_contact)


def get_board(store: Store, board_id: str) -> dict[str, Any]:
    """A sign board (公示牌) with its ``etag``."""
    return _with_etag(_get(store, BOARDS, board_id, "sign board"))


# --- checks ---------------------------------------------------------------------------------------


def _what(what: str) -> Message:
    """The kind of row (assignment, person, sign board) in words of each language."""
    return Message(f"edit_what.{what.replace(' ', '_')}")


def _bad_level(level: Any) -> Message:
    return Message("edit_error.bad_level", level=repr(level), levels=", ".join(LEVELS))


def _require_roster(tx: Tx) -> None:
    if tx.dialect != "sqlite":
        return
    found = tx.one("SELECT 1 AS x FROM sqlite_master WHERE name = 'roster_assignments'")
    if found is None:
        raise EditError(Message("edit_error.no_roster"), "person_id")


def _field_of(message: str, default: str) -> str:
    if re.match(r"(unit \S+ \(|admin code )", message):
        return "unit_code"
    found = [(message.find(name), name) for name in _FIELDS if re.search(rf"\b{name}\b", message)]
    return min(found)[1] if found else default


def _fail(problems: list[str], default: str) -> None:
    if problems:
        raise EditError(problems[0], _field_of(problems[0], default))


def _require_scope(actor: Actor, *units: Any) -> None:
    for unit in units:
        if unit is None:
            continue
        if actor.role not in ("editor", "admin"):
            raise ScopeError.from_key("edit_error.viewer", scope=actor.scope)
        if not actor.can_edit(str(unit)):
            raise ScopeError.from_key("edit_error.out_of_scope", unit=unit, scope=actor.scope)


def _unknown(fields: Mapping[str, Any], kind: _Kind) -> None:
    extra = sorted(set(fields) - set(kind.columns) - {"etag"})
    if extra:
        columns = ", ".join(kind.columns)
        message = Message("edit_error.unknown_fields", extra=", ".join(extra), fields=columns)
        raise EditError(message, extra[0])


def _unit_codes(store: Store, tx: Tx) -> set[str]:
    project = store.reference_project()
    codes = {str(code) for code in project.admin_units["code"]}
    codes |= {str(r["code"]) for r in tx.rows("SELECT code FROM roster_units")}
    return codes


def _check_assignment_row(store: Store, row: Mapping[str, Any], units: set[str]) -> dict[str, Any]:
    """The roster checker's rules for one row against the network, lakes and ``units``.

    Needs no transaction: :func:`_create` and :func:`_change` run it before they take the
    edit lock, so edits queue only for the checks against other rows.
    """
    values = {k: v for k, v in row.items() if k != "assignment_id"}
    cleaned, problems = _clean_row(values, 2)
    _fail(problems, "person_id")
    cleaned = cleaned | {"assignment_id": row.get("assignment_id"), "person_id": row["person_id"]}
    frame = pd.DataFrame([cleaned], columns=list(ASSIGNMENT_COLUMNS))
    project = store.reference_project()
    from rivernet.pieces import piece_table

    found = reference_problems(
        frame,
        reach_lengths=project.network.reaches["length_m"],
        river_ids=set(project.network.main_stem_id().unique().tolist()),
        lake_ids=set(project.lakes["lake_id"].tolist()),
        unit_codes=units,
        pieces=piece_table(project),
    )
    _fail([message for _, message in found], "reach_id")
    return cleaned


def _precheck(store: Store, kind: _Kind, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`_check_assignment_row` of an assignment outside the edit lock; None for other
    rows or when the row fails (the check under the lock then raises the error)."""
    if kind is not ASSIGNMENTS or row.get("person_id") is None:
        return None
    with store.read() as tx:
        _require_roster(tx)
        units = _unit_codes(store, tx)
    try:
        return _check_assignment_row(store, row, units)
    except EditError:
        return None


def _check_assignment(
    store: Store, tx: Tx, row: dict[str, Any], *, prechecked: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The row checked and typed with the roster's rules; EditError naming the field.

    ``prechecked``: :func:`_check_assignment_row` of this row, done before the lock; then only
    the unit (the roster's own units may have changed since), the person and the other rows
    are checked here.
    """
    if prechecked is None:
        cleaned = _check_assignment_row(store, row, _unit_codes(store, tx))
    else:
        cleaned = dict(prechecked)
        _require_unit(store, tx, str(cleaned["unit_code"]))
    person = tx.one("SELECT person_id FROM roster_people WHERE person_id = ?", [row["person_id"]])
    if person is None:
        raise EditError(Message("edit_error.no_person", person=repr(row["person_id"])),
                        "person_id")  # fmt: skip
    cleaned = cleaned | {"assignment_id": row["assignment_id"], "person_id": row["person_id"]}
    _check_terms(tx, cleaned)
    return {column: cleaned.get(column) for column in ASSIGNMENTS.columns}


def _check_terms(tx: Tx, row: dict[str, Any]) -> None:
    """The duplicate and overlapping-term rules against the person's other assignments of
    the same stretch of the same reach, river or lake (the only ones these rules compare)."""
    sql = "SELECT * FROM roster_assignments WHERE person_id = ? AND assignment_id <> ?"
    params: list[Any] = [row["person_id"], str(row["assignment_id"])]
    for column in ("reach_id", "river_id", "lake_id", "from_m", "to_m"):
        if row.get(column) is not None:  # both rules compare rows on one target and stretch
            sql += f" AND {column} = ?"
            params.append(row[column])
        elif column in ("from_m", "to_m"):
            sql += f" AND {column} IS NULL"
    records = [_clean(ASSIGNMENTS, other) for other in tx.rows(sql, params)]
    if not records:
        return
    line = len(records) + 2
    records.append(json_row(row))
    frame = pd.DataFrame(records, columns=list(ASSIGNMENT_COLUMNS))
    frame["line"] = range(2, line + 1)
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.to_datetime(frame[column])
    for column in ("from_m", "to_m"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    problems = _duplicate_problems(frame) + overlapping_term_problems(frame)
    mine = [message for at, message in problems if at == line]
    if mine:
        found = mine[0]
        values = getattr(found, "values", {})
        other = frame["assignment_id"].tolist()[int(values.get("first", 2)) - 2]
        if getattr(found, "key", "") == "roster_problem.overlapping_term":
            found = Message("edit_error.overlapping_term", id=other, start=values["start"],
                            end=values["end"])  # fmt: skip
        else:
            found = Message("edit_error.duplicate_assignment", id=other)
        raise EditError(found, "valid_from")


def _check_person(store: Store, tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    name = str(row.get("name") or "").strip()
    if not name:
        raise EditError(Message("edit_error.no_name"), "name")
    out["name"] = name
    level = level_from_word(row.get("level") or "")
    if level is None:
        raise EditError(_bad_level(row.get("level")), "level")
    out["level"] = level
    try:
        out["unit_code"] = normalise_code(row.get("unit_code"))
    except InputError as error:
        raise EditError(error.args[0], "unit_code") from None
    if level_of_code(out["unit_code"]) != level:
        mismatch = Message("roster_problem.level_mismatch", level=Code("level", level),
                           code=out["unit_code"],
                           code_level=Code("level", level_of_code(out["unit_code"])))  # fmt: skip
        raise EditError(mismatch, "level")
    _require_unit(store, tx, out["unit_code"])
    out["is_fictional"] = bool(row.get("is_fictional") or False)
    for column in ("post", "organisation", "contact"):
        text = row.get(column)
        out[column] = None if text is None or not str(text).strip() else str(text).strip()
    return out


def _require_unit(store: Store, tx: Tx, code: str) -> None:
    units = _unit_codes(store, tx)
    if code not in units and code[:6] not in units:
        raise EditError(Message("edit_error.unknown_unit", code=code), "unit_code")


def _check_board(store: Store, tx: Tx, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    project = store.reference_project()
    lengths = project.network.reaches["length_m"]
    reach = parse_id(row.get("reach_id"))
    if reach is None or reach not in lengths.index:
        raise EditError(Message("edit_error.unknown_reach", reach=reach), "reach_id")
    out["reach_id"] = reach
    try:
        given: Any = row.get("measure_m")
        measure = float(given if given is not None else 0.0)
    except (TypeError, ValueError):
        raise EditError(
            Message("edit_error.measure_not_number", measure=repr(row.get("measure_m"))),
            "measure_m",
        ) from None
    if not 0 <= measure <= float(lengths[reach]) + 1.0:
        off = Message("edit_error.measure_off_reach", measure=f"{measure:g}", reach=reach,
                      length=f"{float(lengths[reach]):.0f}")  # fmt: skip
        raise EditError(off, "measure_m")
    out["measure_m"] = measure
    level = level_from_word(row.get("level") or "")
    if level is None:
        raise EditError(_bad_level(row.get("level")), "level")
    out["level"] = level
    if (
        tx.one("SELECT 1 AS x FROM roster_people WHERE person_id = ?", [row.get("person_id")])
        is None
    ):
        raise EditError(Message("edit_error.no_person", person=repr(row.get("person_id"))),
                        "person_id")  # fmt: skip
    try:
        out["updated_on"] = parse_date(row.get("updated_on"))
    except InputError as error:
        problem = Message("edit_error.field_problem", field="updated_on", problem=error.args[0])
        raise EditError(problem, "updated_on") from None
    return out


# --- writing --------------------------------------------------------------------------------------


_IDS = re.compile(r"^([^\d\n]*)(\d+)$", re.MULTILINE)


def _next_id(tx: Tx, kind: _Kind) -> str:
    """The next free id: the largest ``PREFIX + number`` id plus one, in its prefix and width."""
    sql = f"SELECT {kind.key} AS k FROM {kind.table}"
    if tx.dialect == "postgresql":  # the database picks the one candidate
        sql += (f" WHERE {kind.key} ~ '^\\D*\\d+$' ORDER BY "
                f"substring({kind.key} from '\\d+$')::numeric DESC LIMIT 1")  # fmt: skip
    keys = "\n".join(str(row["k"]) for row in tx.rows(sql))
    found = [(int(digits), prefix, len(digits)) for prefix, digits in _IDS.findall(keys)]
    number, prefix, width = (
        max(found, key=lambda f: f[0]) if found else (0, kind.prefix, kind.width)
    )
    return f"{prefix}{number + 1:0{width}d}"


def _sql_value(column: str, value: Any) -> Any:
    if column in _DATES and value is not None:
        return parse_date(value)
    return value


def _insert(tx: Tx, kind: _Kind, row: dict[str, Any], extra: Mapping[str, Any]) -> None:
    values = {c: _sql_value(c, row.get(c)) for c in kind.columns} | dict(extra)
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    tx.execute(f"INSERT INTO {kind.table} ({names}) VALUES ({marks})", list(values.values()))


def _update(tx: Tx, kind: _Kind, key: Any, row: dict[str, Any]) -> None:
    columns = [c for c in kind.columns if c != kind.key]
    sets = ", ".join(f"{c} = ?" for c in columns)
    params = [_sql_value(c, row.get(c)) for c in columns] + [str(key)]
    tx.execute(f"UPDATE {kind.table} SET {sets} WHERE {kind.key} = ?", params)


def _audit_row(
    store: Store,
    tx: Tx,
    actor: Actor,
    *,
    action: str,
    kind: _Kind,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
) -> None:
    current = after if after is not None else before
    assert current is not None
    unit = current.get("unit_code")
    if kind is BOARDS:
        person = tx.one("SELECT unit_code FROM roster_people WHERE person_id = ?",
                        [current.get("person_id")])  # fmt: skip
        unit = None if person is None else person["unit_code"]
    record_audit(
        tx,
        actor_name=actor.name,
        actor_unit=actor.unit_code,
        action=action,
        table=kind.table,
        row_id=str(current[kind.key]),
        unit_code=unit,
        person_id=current.get("person_id"),
        before=before,
        after=after,
        reason=reason,
        source_document=current.get("source_document"),
    )


def record_audit(
    tx: Tx,
    *,
    actor_name: str | None,
    actor_unit: str | None,
    action: str,
    table: str,
    row_id: str,
    unit_code: str | None,
    person_id: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str | None = None,
    source_document: str | None = None,
) -> None:
    """Write one audit row inside the transaction ``tx`` (edits and imports call this)."""
    tx.execute(
        "INSERT INTO rivernet_audit (at, actor, actor_unit, action, table_name, row_id, "
        "unit_code, person_id, before, after, reason, source_document) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            dt.datetime.now(dt.UTC),
            actor_name,
            actor_unit,
            action,
            table,
            row_id,
            unit_code,
            person_id,
            _json(before),
            _json(after),
            reason,
            source_document,
        ],
    )


def _json(row: Mapping[str, Any] | None) -> str | None:
    if row is None:
        return None
    return json.dumps(json_row(row), ensure_ascii=False, sort_keys=True)


def _check_stale(current: dict[str, Any], if_match: str | None, what: str, key: Any) -> None:
    if if_match is None:
        return
    tag = etag(current)
    given = if_match.strip()
    if given.startswith("W/"):
        given = given[2:]
    if given != "*" and given != tag and f'"{given}"' != tag:
        stale = Message("edit_error.stale", what=_what(what), key=key, given=if_match, now=tag)
        raise StaleError(stale, tag)


def _create(
    store: Store,
    actor: Actor,
    kind: _Kind,
    fields: Mapping[str, Any],
    *,
    action: str,
    reason: str | None,
) -> dict[str, Any]:
    _unknown(fields, kind)
    store.reference_project()  # read before the lock: the first time takes a while
    row = {column: fields.get(column) for column in kind.columns}
    if kind is ASSIGNMENTS:
        _require_scope(actor, row.get("unit_code"))  # a 403 before a 422, as under the lock
    prechecked = _precheck(store, kind, row)
    with store.write() as tx:
        _require_roster(tx)
        given = row.get(kind.key)
        if given is None or not str(given).strip():
            row[kind.key] = _next_id(tx, kind)
        else:
            row[kind.key] = str(given).strip()
            if _fetch(tx, kind, row[kind.key]) is not None:
                used = Message("edit_error.id_used", key=kind.key, id=repr(row[kind.key]))
                raise EditError(used, kind.key)
        checked = _checked(store, tx, actor, kind, row, prechecked=prechecked)
        extra: dict[str, Any] = {}
        if kind is ASSIGNMENTS:
            found = tx.one("SELECT MAX(line) AS line FROM roster_assignments")
            extra["line"] = int((found or {}).get("line") or 1) + 1
        _insert(tx, kind, checked, extra)
        stored = _fetch(tx, kind, checked[kind.key])
        assert stored is not None
        _audit_row(store, tx, actor, action=action, kind=kind, before=None, after=stored,
                   reason=reason)  # fmt: skip
        store.bump(tx)
    return _with_etag(stored, include_contact=actor.role == "admin")


def _checked(
    store: Store,
    tx: Tx,
    actor: Actor,
    kind: _Kind,
    row: dict[str, Any],
    *,
    prechecked: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if kind is ASSIGNMENTS:
        _require_scope(actor, row.get("unit_code"))
        return _check_assignment(store, tx, row, prechecked=prechecked)
    if kind is PEOPLE:
        _require_scope(actor, row.get("unit_code"))
        return _check_person(store, tx, row)
    person = tx.one(
        "SELECT unit_code FROM roster_people WHERE person_id = ?", [row.get("person_id")]
    )
    _require_scope(actor, "" if person is None else person["unit_code"])
    return _check_board(store, tx, row)


def _change(
    store: Store,
    actor: Actor,
    kind: _Kind,
    key: Any,
    changes: Mapping[str, Any],
    *,
    action: str,
    if_match: str | None,
    reason: str | None,
    what: str,
) -> dict[str, Any]:
    _unknown(changes, kind)
    if kind.key in changes and str(changes[kind.key]) != str(key):
        raise EditError(Message("edit_error.key_fixed", key=kind.key), kind.key)
    store.reference_project()
    seen, prechecked = _seen_and_checked(store, kind, key, changes)
    with store.write() as tx:
        current = _fetch(tx, kind, key, lock=True)
        if current is None:
            raise NotFoundError.from_key(
                "edit_error.not_found", what=_what(what), key=repr(key), store=store.target
            )
        before_units = [current.get("unit_code")]
        if kind is BOARDS:
            person = tx.one("SELECT unit_code FROM roster_people WHERE person_id = ?",
                            [current.get("person_id")])  # fmt: skip
            before_units = [None if person is None else person["unit_code"]]
        _require_scope(actor, *before_units)
        _check_stale(current, if_match, what, key)
        row = current | {k: v for k, v in changes.items() if k != "etag"}
        checked = _checked(store, tx, actor, kind, row,
                           prechecked=prechecked if current == seen else None)  # fmt: skip
        _update(tx, kind, key, checked)
        stored = _fetch(tx, kind, key)
        assert stored is not None
        _audit_row(store, tx, actor, action=action, kind=kind, before=current, after=stored,
                   reason=reason)  # fmt: skip
        store.bump(tx)
    return _with_etag(stored, include_contact=actor.role == "admin")


def _seen_and_checked(
    store: Store, kind: _Kind, key: Any, changes: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The row before the lock and its changed form checked (:func:`_precheck`), so the check
    under the lock is skipped when the row is still the same."""
    if kind is not ASSIGNMENTS:
        return None, None
    with store.read() as tx:
        seen = _fetch(tx, kind, key)
    if seen is None:
        return None, None
    return seen, _precheck(store, kind, seen | {k: v for k, v in changes.items() if k != "etag"})


def appoint(
    store: Store, actor: Actor, fields: Mapping[str, Any], *, reason: str | None = None
) -> dict[str, Any]:
    """Appoint a chief: add an assignment (one transaction, audited, data version bumped).

    Parameters
    ----------
    store
        The project's store.
    actor
        The office making the change (:func:`rivernet.tokens.verify_token`).
    fields
        ``person_id, level, unit_code, role``, one of ``reach_id | river_id | lake_id``,
        optionally ``from_m, to_m``, ``valid_from`` (required), ``valid_to``,
        ``source_document`` (文号) and ``assignment_id`` (default: the next free id).
    reason
        Why (kept in the audit).

    Returns
    -------
    dict
        The stored assignment (dates as ISO text) with its ``assignment_id`` and ``etag``.

    Raises
    ------
    ScopeError
        If the actor is a viewer, or the unit is outside its scope.
    EditError
        If the row breaks a roster rule; ``.field`` names the field.
    """
    return _create(store, actor, ASSIGNMENTS, fields, action="appoint", reason=reason)


def update_assignment(
    store: Store,
    actor: Actor,
    assignment_id: str | int,
    changes: Mapping[str, Any],
    *,
    if_match: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Change an assignment (end a term with ``valid_to``, correct a stretch...).

    Raises
    ------
    NotFoundError, ScopeError, StaleError, EditError
        Unknown id; outside the scope (before or after the change); ``if_match`` is not the
        current ETag; the changed row breaks a rule.
    """
    return _change(store, actor, ASSIGNMENTS, assignment_id, changes, action="update_assignment",
                   if_match=if_match, reason=reason, what="assignment")  # fmt: skip


def add_person(
    store: Store, actor: Actor, fields: Mapping[str, Any], *, reason: str | None = None
) -> dict[str, Any]:
    """Add a person: ``name, post, organisation, level, unit_code, contact, is_fictional``
    (``person_id`` optional). Same transaction, audit and errors as :func:`appoint`."""
    return _create(store, actor, PEOPLE, fields, action="add_person", reason=reason)


def update_person(
    store: Store,
    actor: Actor,
    person_id: str,
    changes: Mapping[str, Any],
    *,
    if_match: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Change a person's details (see :func:`update_assignment` for the errors)."""
    return _change(store, actor, PEOPLE, person_id, changes, action="update_person",
                   if_match=if_match, reason=reason, what="person")  # fmt: skip


def add_board(
    store: Store, actor: Actor, fields: Mapping[str, Any], *, reason: str | None = None
) -> dict[str, Any]:
    """Add a sign board (公示牌): ``reach_id, measure_m, level, person_id, updated_on``
    (``board_id`` optional). The scope is the unit of the person the board names."""
    return _create(store, actor, BOARDS, fields, action="add_board", reason=reason)


def update_board(
    store: Store,
    actor: Actor,
    board_id: str,
    changes: Mapping[str, Any],
    *,
    if_match: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Change a sign board (new chief on it, ``updated_on``...)."""
    return _change(store, actor, BOARDS, board_id, changes, action="update_board",
                   if_match=if_match, reason=reason, what="sign board")  # fmt: skip


# --- audit and history ----------------------------------------------------------------------------


def audit(
    store: Store,
    *,
    unit: str | None = None,
    since: dt.datetime | dt.date | None = None,
    person: str | None = None,
    after: int | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """The audit trail, newest first: who changed what, when, before and after.

    Parameters
    ----------
    store
        The project's store.
    unit
        Only changes to rows of this unit and the units below it.
    since
        Only changes at or after this time (a day: from its start, China time).
    person
        Only changes to this person's rows (the person and their assignments and boards).
    after
        Only entries after this ``audit_id`` (edits commit one after another, so their ids
        grow in commit order: a follower asks for what it has not seen).
    limit
        At most this many entries.

    Returns
    -------
    list of dict
        ``audit_id, at (ISO UTC), actor, actor_unit, action, table, row_id, unit_code,
        person_id, before, after, reason, source_document``.
    """
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if unit:
        where.append("unit_code LIKE ?")
        params.append(scope_prefix(unit) + "%")
    if since is not None:
        if not isinstance(since, dt.datetime):
            since = dt.datetime.combine(since, dt.time(), tzinfo=CHINA)
        elif since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        where.append("at >= ?")
        params.append(since)
    if person:
        where.append("person_id = ?")
        params.append(person)
    if after is not None:
        where.append("audit_id > ?")
        params.append(int(after))
    sql = (
        f"SELECT * FROM rivernet_audit WHERE {' AND '.join(where)} "
        f"ORDER BY audit_id DESC LIMIT {int(limit)}"
    )
    with store.read() as tx:
        try:
            rows = tx.rows(sql, params)
        except Exception as error:  # a GeoPackage never edited has no audit table
            if "rivernet_audit" in str(error):
                return []
            raise
    return [_audit_entry(row) for row in rows]


def _audit_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    out = json_row(row)
    out["table"] = out.pop("table_name")
    for column in ("before", "after"):
        value = out[column]
        out[column] = json.loads(value) if isinstance(value, str) else value
    return out


def history(store: Store, reach_id: int | str) -> list[dict[str, Any]]:
    """Every assignment ever made on a reach (directly or via its river), by start date.

    Parameters
    ----------
    store
        The project's store.
    reach_id
        The reach.

    Returns
    -------
    list of dict
        The assignments with the person's ``name`` and ``post`` and the 文号
        (``source_document``), oldest first.

    Raises
    ------
    NotFoundError
        If the reach is not in the network.
    """
    project = store.reference_project()
    reach = parse_id(reach_id)
    stems = project.network.main_stem_id()
    if reach not in stems.index:
        raise NotFoundError.from_key(
            "err_edits.reach_not_in_store", reach=reach_id, store=store.target
        )
    river = parse_id(stems.to_dict()[reach])
    with store.read() as tx:
        _require_roster(tx)
        rows = tx.rows(
            "SELECT a.*, p.name AS name, p.post AS post FROM roster_assignments a "
            "LEFT JOIN roster_people p ON p.person_id = a.person_id "
            "WHERE a.reach_id = ? OR a.river_id = ?",
            [reach, river],
        )
    found = [
        _with_etag(_clean(ASSIGNMENTS, row)) | {"name": row["name"], "post": row["post"]}
        for row in rows
    ]
    return sorted(found, key=lambda r: (str(r["valid_from"]), str(r["assignment_id"])))


# --- a whole roster at once (``rivernet roster import``) ------------------------------------------


def _rows_by_id(kind: _Kind, frame: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if frame is None or frame.empty:
        return {}
    records = frame.drop(columns=["line"], errors="ignore").to_dict("records")
    return {
        str(row[kind.key]): _clean(kind, {str(k): v for k, v in row.items()}) for row in records
    }


def roster_audit_changes(current: Any, new: Any) -> list[tuple[_Kind, dict | None, dict | None]]:
    """Every row an import adds, removes or changes: ``(kind, before, after)``, by id.

    Parameters
    ----------
    current, new
        The stored roster (None: none) and the roster imported.

    Returns
    -------
    list of (kind, before, after)
        ``before`` None for an added row, ``after`` None for a removed one.
    """
    changes: list[tuple[_Kind, dict | None, dict | None]] = []
    for kind, attribute in ((PEOPLE, "people"), (ASSIGNMENTS, "assignments"), (BOARDS, "boards")):
        old = _rows_by_id(kind, None if current is None else getattr(current, attribute))
        fresh = _rows_by_id(kind, getattr(new, attribute))
        for key in sorted(set(old) | set(fresh)):
            before, after = old.get(key), fresh.get(key)
            if before != after:
                changes.append((kind, before, after))
    return changes


def import_roster(
    store: Store,
    roster: Any,
    *,
    actor: str = "rivernet roster import",
    reason: str | None = None,
    lock_timeout: float = 30.0,
) -> int:
    """Replace the stored roster by ``roster`` in one transaction, one audit row per change.

    Refused while another import of the same store runs (an advisory lock on PostgreSQL, the
    project's file lock on a GeoPackage).

    Parameters
    ----------
    store
        The project's store.
    roster
        The checked roster (:func:`rivernet.roster.read_roster` with ``carry_over``).
    actor
        Who imports (kept in the audit).
    reason
        Why, e.g. the file imported.
    lock_timeout
        Seconds to wait for another writer of a GeoPackage.

    Returns
    -------
    int
        How many rows changed (= audit rows written).
    """
    from rivernet.postgis import PostgisStore

    if isinstance(store, PostgisStore):
        with store.import_lock():
            return _import_postgis(store, roster, actor=actor, reason=reason)
    return _import_geopackage(store, roster, actor=actor, reason=reason, timeout=lock_timeout)


def _audit_import(tx: Tx, changes: list[Any], *, actor: str, reason: str | None) -> None:
    for kind, before, after in changes:
        current = after if after is not None else before
        record_audit(tx, actor_name=actor, actor_unit=None, action="import", table=kind.table,
                     row_id=str(current[kind.key]), unit_code=current.get("unit_code"),
                     person_id=current.get("person_id"), before=before, after=after,
                     reason=reason, source_document=current.get("source_document"))  # fmt: skip


def _import_geopackage(
    store: Any, roster: Any, *, actor: str, reason: str | None, timeout: float
) -> int:
    import shutil
    import sqlite3

    from rivernet._files import project_lock, replacing
    from rivernet.roster import write_roster_tables
    from rivernet.store import SQLITE_SCHEMA, _SqliteTx

    target = store.path
    with project_lock(target, timeout=timeout):
        changes = roster_audit_changes(store.read_roster(), roster)
        with replacing(target, suffix=".gpkg") as temp:
            shutil.copyfile(target, temp)
            write_roster_tables(roster, temp)
            connection = sqlite3.connect(temp, isolation_level=None)
            try:
                connection.execute("BEGIN")
                for statement in SQLITE_SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                tx = _SqliteTx(connection)
                _audit_import(tx, changes, actor=actor, reason=reason)
                store.bump(tx)
                connection.execute("COMMIT")
            finally:
                connection.close()
    return len(changes)


def _import_postgis(store: Any, roster: Any, *, actor: str, reason: str | None) -> int:
    from rivernet.postgis import copy_roster

    with store.write() as tx:
        changes = roster_audit_changes(store.read_roster(), roster)
        copy_roster(tx.connection, roster)
        _audit_import(tx, changes, actor=actor, reason=reason)
        store.bump(tx)
    return len(changes)
