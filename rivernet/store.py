"""Where a project lives: a GeoPackage file (one analyst) or PostgreSQL + PostGIS (shared).

:func:`open_store` takes a path or a ``postgresql://`` URL and returns a :class:`Store`: the
same :class:`~rivernet.project.Project` is read from either, and the same edits
(:mod:`rivernet.edits`), tokens (:mod:`rivernet.tokens`) and roster imports apply to both.

- :class:`GeoPackageStore`: the project file. Each edit holds the project's file lock
  (:func:`rivernet._files.project_lock`) and runs in one SQLite transaction, so it is in the
  file whole or not at all. The tables ``rivernet_audit``, ``rivernet_tokens`` (SHA-256 of
  each token) and ``rivernet_version`` (one row: the data version) live in the file.
- :class:`rivernet.postgis.PostgisStore`: the shared database (see :mod:`rivernet.postgis`).

Both offer :meth:`Store.write` (a transaction for an edit) and :meth:`Store.read` (a
connection for reading), yielding a :class:`Tx` that speaks one SQL dialect subset: ``?``
placeholders, ``RETURNING``, rows as dicts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rivernet._files import LOCK_TIMEOUT, project_lock
from rivernet.errors import ProjectFileError

if TYPE_CHECKING:
    from rivernet.policy import CoveragePolicy
    from rivernet.project import Project
    from rivernet.roster import Roster

__all__ = ["GeoPackageStore", "Store", "Tx", "is_url", "open_store", "redact"]

_URL = re.compile(r"^postgres(?:ql)?://", re.IGNORECASE)

STORE_TABLES = ("rivernet_version", "rivernet_tokens", "rivernet_audit")
"""The store's own tables (beside the project's layers), in both kinds of store."""

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS rivernet_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rivernet_tokens (
    token_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS rivernet_audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT,
    actor_unit TEXT,
    action TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id TEXT,
    unit_code TEXT,
    person_id TEXT,
    before TEXT,
    after TEXT,
    reason TEXT,
    source_document TEXT
);
CREATE INDEX IF NOT EXISTS rivernet_audit_unit ON rivernet_audit (unit_code);
"""


def is_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` is a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    return isinstance(target, str) and bool(_URL.match(target))


def redact(url: str) -> str:
    """A URL with its password replaced by ``***`` (for messages and ``str(store)``)."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]*):[^@]*@", r"\1:***@", url, flags=re.IGNORECASE)


class Tx(Protocol):
    """A connection inside a transaction (writes) or for reading."""

    dialect: str
    """``"sqlite"`` or ``"postgresql"``."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement (``?`` placeholders)."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query; every row as a dict of column to value."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """Run a query; its first row, or None."""


@runtime_checkable
class Store(Protocol):
    """A project's home: a GeoPackage file or a PostGIS database."""

    target: str
    """The path, or the URL with its password redacted."""

    def read_project(self, *, policy: CoveragePolicy | str | Path | None = None) -> Project:
        """The whole project (what :func:`rivernet.open_project` returns for this target)."""

    def read_roster(self) -> Roster | None:
        """The chief roster as stored now (None when the project has none)."""

    def data_version(self) -> int:
        """The data version: bumped by every committed edit or import."""

    def close(self) -> None:
        """Release connections."""

    def write(self, *, timeout: float = LOCK_TIMEOUT) -> Any:
        """A context manager: one transaction for an edit, yielding a :class:`Tx`."""

    def read(self) -> Any:
        """A context manager yielding a :class:`Tx` for reading."""

    def bump(self, tx: Tx) -> int:
        """Increase the data version inside the transaction ``tx``; the new version."""

    def reference_project(self) -> Project:
        """The project (network, units, lakes) edits are checked against; cached."""


def open_store(target: str | os.PathLike[str]) -> Store:
    """The store of a project: a GeoPackage path or a PostgreSQL URL.

    Parameters
    ----------
    target
        A ``.gpkg`` path, or ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (also
        ``postgres://``; ``?host=/socket/dir`` for a unix socket).

    Returns
    -------
    Store
        A :class:`GeoPackageStore` or a :class:`rivernet.postgis.PostgisStore`.

    Raises
    ------
    ProjectFileError
        If the file does not exist.
    """
    if is_url(target):
        from rivernet.postgis import PostgisStore

        return PostgisStore(str(target))
    return GeoPackageStore(target)


class _SqliteTx:
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(_sqlite_sql(sql), [_sqlite_value(p) for p in params])

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.connection.execute(_sqlite_sql(sql), [_sqlite_value(p) for p in params])
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None


def _sqlite_sql(sql: str) -> str:
    return sql.replace(" FOR UPDATE", "")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


class GeoPackageStore:
    """A project GeoPackage as a store: file lock plus one SQLite transaction per edit.

    Parameters
    ----------
    path
        The project file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise ProjectFileError.from_key("err_store.no_file", path=self.path)
        self.target = str(self.path)
        self._reference: Project | None = None
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"GeoPackageStore({self.target!r})"

    def __str__(self) -> str:
        return self.target

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = OFF")
        return connection

    @contextmanager
    def write(self, *, timeout: float = LOCK_TIMEOUT) -> Iterator[Tx]:
        """One edit: the project lock, then one SQLite transaction (committed when the block
        ends without error, rolled back otherwise)."""
        with project_lock(self.path, timeout=timeout):
            connection = self._connect()
            try:
                connection.execute("BEGIN IMMEDIATE")
                for statement in _statements(SQLITE_SCHEMA):
                    connection.execute(statement)
                yield _SqliteTx(connection)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            finally:
                connection.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only connection to the file."""
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=LOCK_TIMEOUT)
        try:
            yield _SqliteTx(connection)
        finally:
            connection.close()

    def has_table(self, tx: Tx, name: str) -> bool:
        """Whether the file has a table ``name``."""
        found = tx.one("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
        return found is not None

    def bump(self, tx: Tx) -> int:
        """Increase the data version inside ``tx``; the new version."""
        tx.execute(
            "INSERT INTO rivernet_version (id, version) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET version = version + 1"
        )
        row = tx.one("SELECT version FROM rivernet_version WHERE id = 1")
        assert row is not None
        return int(row["version"])

    def data_version(self) -> int:
        """The data version (0 before the first edit)."""
        try:
            with self.read() as tx:
                row = tx.one("SELECT version FROM rivernet_version WHERE id = 1")
        except sqlite3.DatabaseError:  # no such table (never edited), or not a GeoPackage
            return 0
        return 0 if row is None else int(row["version"])

    def read_project(self, *, policy: CoveragePolicy | str | Path | None = None) -> Project:
        """The project in the file (:func:`rivernet.open_project`)."""
        from rivernet.project import open_project

        return open_project(self.path, policy=policy)

    def read_roster(self) -> Roster | None:
        """The roster tables of the file, or None when it has none."""
        import pyogrio

        from rivernet.roster import TABLES, roster_from_tables

        layers = {str(name) for name, _ in pyogrio.list_layers(self.path)}
        if TABLES["assignments"] not in layers:
            return None
        tables = {
            name: pyogrio.read_dataframe(self.path, layer=name, read_geometry=False)
            for name in TABLES.values()
            if name in layers
        }
        return roster_from_tables(dict(tables), source=str(self.path))

    def reference_project(self) -> Project:
        """The project edits are checked against (read once: edits never change the network,
        admin units or lakes)."""
        with self._guard:
            if self._reference is None:
                self._reference = self.read_project()
            return self._reference

    def close(self) -> None:
        """Nothing to release (connections are opened per operation)."""


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with JSON-able values: dates as ISO text, NaN as None, numpy scalars as Python."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = json_value(value)
    return out


def json_value(value: Any) -> Any:
    """One value made JSON-able (see :func:`json_row`)."""
    if value is None or type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
