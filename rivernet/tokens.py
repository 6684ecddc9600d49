"""Access tokens for edits: who may change which part of the roster.

A token belongs to an office: a unit code (GB/T 2260, or a township/village code) and a role:

- ``viewer``: reads only (contact details stay hidden);
- ``editor``: edits the roster of its unit and every unit below it (by code prefix: 320505
  covers 320505xxx townships and their villages; a province 32 or 320000 covers 32xxxx);
- ``admin``: like an editor, and reads contact details; an admin of unit ``""`` or ``000000``
  covers everything.

:func:`create_token` returns the token once; the store keeps only its SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

from rivernet.errors import AuthError, InputError, NotFoundError
from rivernet.messages import Code, Message, items
from rivernet.store import Store, Tx, json_value

__all__ = [
    "Actor",
    "Role",
    "create_token",
    "list_tokens",
    "revoke_token",
    "scope_prefix",
    "verify_token",
]

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
_PREFIX = "rvn_"


def scope_prefix(unit_code: str) -> str:
    """The code prefix a unit covers: 320000 -> 32, 320500 -> 3205, 320505 -> 320505.

    Parameters
    ----------
    unit_code
        A unit code (2, 4, 6, 9 or 12 digits; trailing zero pairs of a 6-digit code are the
        province or city); ``""`` or ``000000`` for the whole country.

    Returns
    -------
    str
        Every unit whose code starts with it lies within the unit.
    """
    code = str(unit_code).strip()
    if code in ("", "0", "00", "000000"):
        return ""
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


@dataclass(frozen=True)
class Actor:
    """The office behind a token."""

    token_id: int
    name: str
    unit_code: str
    role: Role

    def can_edit(self, unit_code: str) -> bool:
        """Whether this office may edit rows of ``unit_code`` (its unit or any unit below).

        Parameters
        ----------
        unit_code
            The unit of the row (an assignment's, a person's).

        Returns
        -------
        bool
            False for viewers, whatever the unit.
        """
        if self.role not in ("editor", "admin"):
            return False
        return str(unit_code).startswith(scope_prefix(self.unit_code))

    @property
    def scope(self) -> str:
        """The scope in words, for messages: ``editor of 320505 and the units below it``."""
        role = Message(f"edit_role.{self.role}")
        if not scope_prefix(self.unit_code):
            return Message("edit_scope.all", role=role, name=self.name)
        return Message("edit_scope.unit", role=role, name=self.name, unit=self.unit_code)


def _hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_token(store: Store, *, unit: str, role: Role, name: str | None = None) -> str:
    """Create a token for an office and return it (shown only this once).

    Parameters
    ----------
    store
        The project's store.
    unit
        The office's unit code (``""`` for the whole country, admins only).
    role
        ``viewer``, ``editor`` or ``admin``.
    name
        The office, e.g. ``吴中区河长办`` (default: ``ROLE UNIT``).

    Returns
    -------
    str
        The token; the store keeps its SHA-256 only.

    Raises
    ------
    InputError
        If the role is unknown, or the unit code is not digits.
    """
    if role not in ROLES:
        roles = items((Code("err_analysis_codes", r) for r in ROLES), limit=len(ROLES))
        raise InputError.from_key("err_tokens.bad_role", role=repr(role), roles=roles)
    code = str(unit).strip()
    if code and not code.isdigit():
        raise InputError.from_key("err_tokens.bad_unit", unit=repr(unit))
    if not scope_prefix(code) and role != "admin":
        raise InputError.from_key("err_tokens.all_units_admin")
    token = _PREFIX + secrets.token_urlsafe(24)
    with store.write() as tx:
        tx.execute(
            "INSERT INTO rivernet_tokens (name, unit_code, role, sha256, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [name or f"{role} {code or 'all'}", code, role, _hash(token), _now()],
        )
    return token


def verify_token(store: Store, token: str | None) -> Actor:
    """The office a token belongs to.

    Parameters
    ----------
    store
        The project's store.
    token
        The token as sent (``Authorization: Bearer TOKEN``).

    Returns
    -------
    Actor
        Its office, unit and role.

    Raises
    ------
    AuthError
        If the token is missing, unknown or revoked.
    """
    if not token or not token.strip():
        raise AuthError.from_key("edit_error.no_token")
    with store.read() as tx:
        row = _find(tx, _hash(token))
    if row is None:
        raise AuthError.from_key("edit_error.unknown_token")
    if row["revoked_at"] is not None:
        raise AuthError.from_key("edit_error.revoked", token_id=row["token_id"], name=row["name"])
    return Actor(int(row["token_id"]), str(row["name"]), str(row["unit_code"]), row["role"])


def _find(tx: Tx, digest: str) -> dict[str, Any] | None:
    try:
        return tx.one("SELECT * FROM rivernet_tokens WHERE sha256 = ?", [digest])
    except Exception as error:  # a store never written: no token table yet
        if "rivernet_tokens" in str(error):
            return None
        raise


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every token: ``token_id, name, unit_code, role, created_at, revoked_at`` (no secrets)."""
    columns = "token_id, name, unit_code, role, created_at, revoked_at"
    with store.read() as tx:
        try:
            rows = tx.rows(f"SELECT {columns} FROM rivernet_tokens ORDER BY token_id")
        except Exception as error:
            if "rivernet_tokens" in str(error):
                return []
            raise
    return [{key: json_value(value) for key, value in row.items()} for row in rows]


def revoke_token(store: Store, token_id: int) -> None:
    """Revoke a token: it is refused from now on.

    Raises
    ------
    NotFoundError
        If no token has this id.
    """
    with store.write() as tx:
        row = tx.one("SELECT token_id FROM rivernet_tokens WHERE token_id = ?", [int(token_id)])
        if row is None:
            raise NotFoundError.from_key("err_tokens.no_token", token_id=token_id)
        tx.execute(
            "UPDATE rivernet_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
            [_now(), int(token_id)],
        )
