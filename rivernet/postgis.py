"""The shared store: a project in PostgreSQL + PostGIS (``postgresql://`` URLs).

- :func:`migrate`: the schema, by versioned migrations (``rivernet/migrations/NNNN_*.sql``),
  each applied once, in its own transaction, recorded in ``schema_migrations``;
- :func:`load`: copy a project GeoPackage into a database in ONE transaction (schema
  included): every layer (PostGIS geometries with GiST indexes, the roster with the checker's
  constraints), the policy file, the tokens and the audit;
- :func:`dump`: write the database back to a GeoPackage (atomically), the same layers, columns,
  types and geometries as the file loaded;
- :class:`PostgisStore`: the store behind ``open_project(URL)``, edits and imports. Each edit is
  one transaction that bumps the ``rivernet_version`` row and sends ``NOTIFY rivernet_version``
  (delivered at commit), so every server worker can follow the data version.

Needs ``psycopg`` (``pip install 'rivernet[postgis]'``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rivernet._files import LOCK_TIMEOUT, replacing
from rivernet.errors import InputError, ProjectFileError, RivernetError
from rivernet.messages import Message
from rivernet.store import SQLITE_SCHEMA, STORE_TABLES, redact

if TYPE_CHECKING:
    import psycopg

    from rivernet.policy import CoveragePolicy
    from rivernet.project import Project
    from rivernet.roster import Roster

__all__ = ["PostgisStore", "dump", "load", "migrate", "migrations"]

MIGRATIONS = Path(__file__).with_name("migrations")
EDIT_LOCK = 0x5249_5645  # advisory lock key of edits ("RIVE")
IMPORT_LOCK = 0x5249_5646  # advisory lock key of roster imports
CHANNEL = "rivernet_version"
_INT_TYPES = {"smallint": "Int16", "integer": "Int32", "bigint": "Int64"}


def _psycopg() -> Any:
    try:
        import psycopg
    except ModuleNotFoundError as error:
        needs = Message("err_postgis.needs_psycopg")
        raise ModuleNotFoundError(needs, name="psycopg") from error
    return psycopg


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection to ``url`` (rows as dicts), with a clear error when it cannot connect."""
    psycopg = _psycopg()
    from psycopg.rows import dict_row

    try:
        connection: Any = psycopg.connect(url, autocommit=autocommit, row_factory=dict_row)
    except psycopg.OperationalError as error:
        raise ProjectFileError.from_key(
            "err_postgis.cannot_connect", url=redact(url), reason=connect_reason(error)
        ) from None
    return connection


CONNECT_REASONS = (
    ("Connection refused", "refused"),
    ("No such file or directory", "no_socket"),
    ("password authentication failed", "password"),
    ("could not translate host name", "no_host"),
    ("timeout expired", "timeout"),
)
"""What libpq says when a connection fails -> the key of its words (section ``pg_reason``)."""
_MISSING = re.compile(r'(database|role) "([^"]*)" does not exist')


def connect_reason(error: Exception) -> Any:
    """Why a connection failed, in words of either language for the common causes (server not
    running, no such database or user, wrong password), else libpq's own text."""
    said = str(error).strip()
    missing = _MISSING.search(said)
    if missing is not None:
        return Message(f"pg_reason.no_{missing.group(1)}", name=missing.group(2))
    for fragment, key in CONNECT_REASONS:
        if fragment in said:
            return Message(f"pg_reason.{key}")
    return said


# --- migrations ---------------------------------------------------------------------------------


def migrations() -> list[tuple[int, str, str]]:
    """The schema migrations shipped with rivernet: ``(version, name, sql)`` in order."""
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        match = re.match(r"(\d+)_(.+)\.sql$", path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    return found


def _apply_migrations(connection: psycopg.Connection[Any]) -> list[int]:
    """Apply the missing migrations on ``connection`` (inside the caller's transaction)."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
        "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    connection.execute("SELECT pg_advisory_xact_lock(%s)", [EDIT_LOCK + 100])
    done = {row["version"] for row in connection.execute("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        connection.execute(sql)
        connection.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", [version, name]
        )
        applied.append(version)
    return applied


def migrate(url: str) -> list[int]:
    """Bring a database's schema up to date (``rivernet db migrate URL``).

    Parameters
    ----------
    url
        The database (the PostGIS extension is created if missing; that needs the right).

    Returns
    -------
    list of int
        The versions applied now (empty when up to date).
    """
    with connect(url) as connection, connection.transaction():
        return _apply_migrations(connection)


# --- the store ------------------------------------------------------------------------------------


class _PgTx:
    dialect = "postgresql"

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(_pg_sql(sql), list(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.connection.execute(_pg_sql(sql), list(params)).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        row: dict[str, Any] | None = self.connection.execute(_pg_sql(sql), list(params)).fetchone()
        return row


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgisStore:
    """A project in PostgreSQL + PostGIS (made by :func:`load`).

    Parameters
    ----------
    url
        ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``?host=/socket/dir``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = redact(url)
        self._local = threading.local()
        self._guard = threading.RLock()  # reference_project holds it while its read connects
        self._reference: Project | None = None
        self._opened: list[Any] = []  # every thread's connection, closed by close()
        self._opened_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgisStore({self.target!r})"

    def __del__(self) -> None:
        self.close()

    def __str__(self) -> str:
        return self.target

    def _connection(self) -> psycopg.Connection[Any]:
        """This thread's connection (a new one after a fork or a broken connection)."""
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid() and not held[1].closed:
            connection: psycopg.Connection[Any] = held[1]
            return connection
        connection = connect(self.url)
        self._local.held = (os.getpid(), connection)
        with self._opened_guard:
            self._opened = [c for c in self._opened if not c.closed] + [connection]
        return connection

    @contextmanager
    def write(self, *, timeout: float = LOCK_TIMEOUT) -> Iterator[_PgTx]:
        """One edit: a transaction holding the edit lock (edits commit one after another)."""
        connection = self._connection()
        with connection.transaction():
            connection.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
            connection.execute("SELECT pg_advisory_xact_lock(%s)", [EDIT_LOCK])
            yield _PgTx(connection)

    @contextmanager
    def read(self) -> Iterator[_PgTx]:
        """A connection for reading (each statement sees the latest commit)."""
        yield _PgTx(self._connection())

    def bump(self, tx: Any) -> int:
        """Increase the data version inside ``tx`` and notify listeners at commit."""
        row = tx.one("UPDATE rivernet_version SET version = version + 1 WHERE id = 1 "
                     "RETURNING version")  # fmt: skip
        if row is None:
            raise ProjectFileError.from_key("err_postgis.no_version_row", target=self.target)
        version = int(row["version"])
        tx.execute(f"NOTIFY {CHANNEL}, '{version}'")
        return version

    def data_version(self) -> int:
        """The data version (one indexed row read)."""
        try:
            row = self._connection().execute("SELECT version FROM rivernet_version").fetchone()
        except _psycopg().errors.UndefinedTable:
            raise _not_loaded(self.target) from None
        return 0 if row is None else int(row["version"])

    def read_project(self, *, policy: CoveragePolicy | str | Path | None = None) -> Project:
        """The project: the same :class:`~rivernet.project.Project` as from the GeoPackage."""
        from rivernet.project import open_project

        version = self.data_version()
        folder = Path(tempfile.mkdtemp(prefix="rivernet-store-"))
        try:
            path = dump(self.url, folder / "project.gpkg")
            project = open_project(path, policy=policy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        project.store, project.store_version = self, version
        project.file_version = f"pg{version}"
        return project

    def read_roster(self) -> Roster | None:
        """The roster tables as stored now."""
        from rivernet.roster import TABLES, roster_from_tables

        tables: dict[str, pd.DataFrame | None] = {}
        for name in TABLES.values():
            tables[name] = _read_table(self._connection(), name, None)
        return roster_from_tables(tables, source=self.target)

    def reference_project(self) -> Project:
        """The project edits are checked against (read once)."""
        with self._guard:
            if self._reference is None:
                self._reference = self.read_project()
            return self._reference

    @contextmanager
    def import_lock(self) -> Iterator[None]:
        """Refuse a second roster import while one runs (a session advisory lock; the same
        thread may take it again)."""
        depth = getattr(self._local, "imports", 0)
        if depth:
            self._local.imports = depth + 1
            try:
                yield
            finally:
                self._local.imports = depth
            return
        connection = connect(self.url)
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s) AS ok", [IMPORT_LOCK])
            found = row.fetchone()
            if not found or not found["ok"]:
                raise RivernetError.from_key("err_postgis.import_running", target=self.target)
            self._local.imports = 1
            try:
                yield
            finally:
                self._local.imports = 0
        finally:
            connection.close()

    def close(self) -> None:
        """Close the connections of every thread (of this process)."""
        for connection in getattr(self, "_opened", []):
            if not connection.closed and getattr(connection, "pgconn", None) is not None:
                try:
                    connection.close()
                except Exception:  # a connection of a forked parent, or one being used
                    continue
        self._opened = []


def _not_loaded(target: str) -> ProjectFileError:
    return ProjectFileError.from_key("err_postgis.not_loaded", target=target)


# --- load: GeoPackage -> PostGIS ------------------------------------------------------------------


def _pg_type(declared: str) -> str:
    kind = declared.upper().split("(")[0].strip()
    return {
        "BOOLEAN": "boolean",
        "TINYINT": "smallint",
        "SMALLINT": "smallint",
        "MEDIUMINT": "integer",
        "INT": "bigint",
        "INTEGER": "bigint",
        "BIGINT": "bigint",
        "FLOAT": "real",
        "REAL": "double precision",
        "DOUBLE": "double precision",
        "DATE": "date",
        "DATETIME": "timestamptz",
        "BLOB": "bytea",
    }.get(kind, "text")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _gpkg_layers(file: Path) -> list[dict[str, Any]]:
    """Each layer of a GeoPackage: name, declared columns, geometry column, type and SRID."""
    connection = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        contents = connection.execute(
            "SELECT table_name, data_type FROM gpkg_contents WHERE data_type IN "
            "('features', 'attributes') ORDER BY rowid"
        ).fetchall()
        layers = []
        for name, _ in contents:
            geometry = connection.execute(
                "SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns "
                "WHERE table_name = ?",
                [name],
            ).fetchone()
            info = connection.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
            skip = {"fid", geometry[0] if geometry else None}
            columns = [[row[1], row[2] or "TEXT"] for row in info if row[1] not in skip]
            layers.append(
                {
                    "name": name,
                    "columns": columns,
                    "geometry_column": geometry[0] if geometry else None,
                    "geometry_type": _geometry_type(geometry[1]) if geometry else None,
                    "srid": int(geometry[2]) if geometry else None,
                }
            )
        return layers
    finally:
        connection.close()


def _geometry_type(name: str) -> str:
    known = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon",
             "MULTIPOINT": "MultiPoint", "MULTILINESTRING": "MultiLineString",
             "MULTIPOLYGON": "MultiPolygon"}  # fmt: skip
    return known.get(name.upper(), "Geometry")


def _columns(connection: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = connection.execute(
        "SELECT column_name, data_type, udt_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {
        row["column_name"]: (row["udt_name"] if row["data_type"] == "USER-DEFINED" else
                             row["data_type"])
        for row in rows
    }  # fmt: skip


def _is_empty(connection: psycopg.Connection[Any]) -> bool:
    tables = _columns(connection, "reaches")
    if not tables:
        return True
    row = connection.execute("SELECT EXISTS (SELECT 1 FROM reaches) AS found").fetchone()
    return not (row and row["found"])


def _drop_everything(connection: psycopg.Connection[Any]) -> None:
    rows = connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename <> 'spatial_ref_sys'"
    ).fetchall()
    for row in rows:
        connection.execute(f"DROP TABLE IF EXISTS {_quote(row['tablename'])} CASCADE")


def load(path: str | Path, url: str, *, replace: bool = False) -> dict[str, int]:
    """Copy a project GeoPackage into a database, schema included, in one transaction.

    Parameters
    ----------
    path
        The project GeoPackage.
    url
        The database (PostGIS must be installed on the server).
    replace
        Replace a project the database holds already (else refuse to touch it).

    Returns
    -------
    dict of str to int
        Rows copied per layer (and store table).

    Raises
    ------
    ProjectFileError
        If the file is not a GeoPackage, or the database holds a project and ``replace`` is
        false, or a row breaks a constraint (the message names the table, the constraint and
        the row); nothing is written then.
    """
    from rivernet.project import open_project

    file = Path(path)
    project = open_project(file)  # refuse a broken project before touching the database
    layers = _gpkg_layers(file)
    counts: dict[str, int] = {}
    psycopg = _psycopg()
    with connect(url) as connection:
        try:
            with connection.transaction():
                if not _is_empty(connection):
                    if not replace:
                        raise ProjectFileError.from_key("err_postgis.has_project", url=redact(url))
                    _drop_everything(connection)
                _apply_migrations(connection)
                for position, layer in enumerate(layers):
                    counts[layer["name"]] = _load_layer(connection, file, layer, position)
                counts |= _load_store_tables(connection, file)
                _load_policy(connection, file, project.meta)
                connection.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check people refs now
                _add_references(connection, project.meta["id_column"])
                for table in ("roster_people", "roster_assignments", "roster_boards",
                              "roster_units"):  # fmt: skip
                    connection.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'fid'), "
                        f"GREATEST((SELECT MAX(fid) FROM {table}), 1))"
                    )
                connection.execute(f"NOTIFY {CHANNEL}")
        except psycopg.errors.IntegrityError as error:
            raise ProjectFileError(_constraint_message(error, file)) from None
    return counts


def _constraint_message(error: Exception, file: Path) -> Message:
    diag = getattr(error, "diag", None)
    table = getattr(diag, "table_name", None) or "?"
    constraint = getattr(diag, "constraint_name", None) or "?"
    detail = getattr(diag, "message_detail", None) or ""
    first = str(error).strip().splitlines()[0]
    return Message(
        "err_postgis.constraint", file=file.name, table=table, constraint=constraint,
        first=first, detail=f"; {detail}" if detail else "",
    )  # fmt: skip


def _load_layer(
    connection: psycopg.Connection[Any], file: Path, layer: dict[str, Any], position: int
) -> int:
    import pyogrio
    import shapely

    name = layer["name"]
    existing = _columns(connection, name)
    geometry = layer["geometry_column"]
    if not existing:
        parts = ["fid bigint PRIMARY KEY"] + [
            f"{_quote(column)} {_pg_type(declared)}" for column, declared in layer["columns"]
        ]
        connection.execute(f"CREATE TABLE {_quote(name)} ({', '.join(parts)})")
        if geometry:
            connection.execute(f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(geometry)} "
                               f"geometry(Geometry, {layer['srid']})")  # fmt: skip
            connection.execute(
                f"CREATE INDEX {_quote(name + '_geom')} ON {_quote(name)} "
                f"USING gist ({_quote(geometry)})"
            )
    else:
        for column, declared in layer["columns"]:
            if column not in existing:
                connection.execute(f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(column)} "
                                   f"{_pg_type(declared)}")  # fmt: skip
        if geometry and geometry not in existing and "geom" in existing:
            connection.execute(f"ALTER TABLE {_quote(name)} RENAME COLUMN geom TO "
                               f"{_quote(geometry)}")  # fmt: skip
    if geometry:
        kind = layer["geometry_type"]
        connection.execute(
            f"ALTER TABLE {_quote(name)} ALTER COLUMN {_quote(geometry)} TYPE "
            f"geometry({kind}, {layer['srid']}) USING {_quote(geometry)}"
        )
    connection.execute(
        "INSERT INTO rivernet_layers (name, position, geometry_type, geometry_column, srid, "
        "columns) VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
        [name, position, layer["geometry_type"], geometry, layer["srid"],
         json.dumps(layer["columns"])],
    )  # fmt: skip
    frame = pyogrio.read_dataframe(file, layer=name, fid_as_index=True,
                                   read_geometry=bool(geometry))  # fmt: skip
    types = _columns(connection, name)
    names = [column for column, _ in layer["columns"]]
    values = [_to_sql(frame[column], types[column]) for column in names]
    if geometry:
        geoms = shapely.set_srid(frame.geometry.to_numpy(), int(layer["srid"]))
        values.append(shapely.to_wkb(geoms, hex=True, include_srid=True).tolist())
        names.append(geometry)
    fids = [int(fid) for fid in frame.index]
    columns = ", ".join(_quote(c) for c in ["fid", *names])
    with connection.cursor().copy(f"COPY {_quote(name)} ({columns}) FROM STDIN") as copy:
        for row in zip(fids, *values, strict=True):
            copy.write_row(row)
    return len(frame)


def _to_sql(values: pd.Series, pg_type: str) -> list[Any]:
    out: list[Any] = []
    for value in values.astype(object):
        if value is None or (not isinstance(value, bytes | list | dict) and pd.isna(value)):
            out.append(None)
        elif pg_type in _INT_TYPES:
            out.append(int(value))
        elif pg_type == "boolean":
            out.append(bool(value))
        elif pg_type == "date":
            out.append(str(value)[:10])
        elif pg_type in ("double precision", "real"):
            out.append(float(value))
        elif pg_type == "text":
            out.append(str(value))
        else:
            out.append(value)
    return out


def _load_store_tables(connection: psycopg.Connection[Any], file: Path) -> dict[str, int]:
    counts = {}
    source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    source.row_factory = sqlite3.Row
    try:
        have = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in STORE_TABLES:
            if table not in have:
                continue
            rows = [dict(row) for row in source.execute(f"SELECT * FROM {table}")]
            counts[table] = len(rows)
            if table == "rivernet_version":
                for row in rows:
                    connection.execute("UPDATE rivernet_version SET version = %s", [row["version"]])
                continue
            for row in rows:
                names = ", ".join(row)
                marks = ", ".join("%s::jsonb" if k in ("before", "after") else "%s" for k in row)
                connection.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                   list(row.values()))  # fmt: skip
            key = "token_id" if table == "rivernet_tokens" else "audit_id"
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), "
                f"GREATEST((SELECT MAX({key}) FROM {table}), 1))"
            )
    finally:
        source.close()
    return counts


def _load_policy(connection: psycopg.Connection[Any], file: Path, meta: dict[str, str]) -> None:
    named = meta.get("policy_file")
    policy = file.parent / named if named else file.with_name("policy.toml")
    if policy.exists():
        connection.execute(
            "INSERT INTO rivernet_files (name, content) VALUES (%s, %s)",
            [named or "policy.toml", policy.read_text(encoding="utf-8")],
        )


def _add_references(connection: psycopg.Connection[Any], id_column: str) -> None:
    """Unique reach ids; assignments and boards must name a reach (rows loaded as they were:
    the roster checker reports old defects, new rows are refused)."""
    types = _columns(connection, "reaches")
    if types.get(id_column) not in _INT_TYPES:
        return
    column = _quote(id_column)
    connection.execute(f"ALTER TABLE reaches ADD CONSTRAINT reaches_id_unique UNIQUE ({column})")
    for table in ("roster_assignments", "roster_boards"):
        connection.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_reach_fk FOREIGN KEY (reach_id) "
            f"REFERENCES reaches ({column}) NOT VALID"
        )


# --- dump: PostGIS -> GeoPackage ------------------------------------------------------------------


def _read_table(
    connection: psycopg.Connection[Any], name: str, layer: dict[str, Any] | None
) -> pd.DataFrame:
    """A table as a DataFrame with the GeoPackage column types it was loaded from."""
    types = _columns(connection, name)
    if layer is None:
        declared = [[c, "TEXT"] for c in types if c != "fid" and types[c] != "geometry"]
    else:
        declared = layer["columns"]
    names = [column for column, _ in declared]
    selected = ", ".join(_quote(c) for c in names) or "fid"
    geometry = None if layer is None else layer["geometry_column"]
    if geometry:
        selected += f", ST_AsBinary({_quote(geometry)}) AS {_quote('__wkb')}"
    rows = connection.execute(f"SELECT {selected} FROM {_quote(name)} ORDER BY fid").fetchall()
    frame = pd.DataFrame(rows, columns=[*names, *(["__wkb"] if geometry else [])])
    for column, kind in declared:
        frame[column] = _typed(frame[column], kind, types.get(column, "text"), layer is None)
    return frame


def _typed(values: pd.Series, declared: str, pg_type: str, raw: bool) -> pd.Series:
    kind = declared.upper().split("(")[0].strip()
    if raw:  # roster tables for read_roster: Python values as stored
        return values.astype(object).where(values.notna(), None)
    if pg_type == "date" and kind != "DATE":
        text = values.map(lambda v: None if v is None else v.isoformat())
        return text.astype(object)
    ints = {"TINYINT": "Int16", "SMALLINT": "Int16", "MEDIUMINT": "Int32", "INT": "Int64",
            "INTEGER": "Int64", "BIGINT": "Int64"}  # fmt: skip
    if kind in ints:
        dtype: Any = ints[kind]
        return values.astype(object).where(values.notna(), None).astype(dtype)
    if kind == "BOOLEAN":
        return values.astype(bool) if values.notna().all() else values.astype(object)
    if kind in ("REAL", "DOUBLE", "FLOAT"):
        numbers = pd.to_numeric(values.astype(object).where(values.notna(), np.nan))
        return numbers.astype("float32" if kind == "FLOAT" else "float64")
    if kind == "DATETIME":
        return pd.to_datetime(values)
    return values.astype(object).where(values.notna(), None)


def dump(url: str, path: str | Path) -> Path:
    """Write the project of a database to a GeoPackage, atomically (``rivernet db dump``).

    Parameters
    ----------
    url
        The database (made by :func:`load`).
    path
        The GeoPackage to write; replaced whole when the dump is complete. The policy file
        the database holds is written beside it as well unless one is there already.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import geopandas as gpd
    import pyogrio
    import shapely

    target = Path(path)
    with connect(url) as connection, connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            layers = connection.execute(
                "SELECT * FROM rivernet_layers ORDER BY position"
            ).fetchall()
        except _psycopg().errors.UndefinedTable:
            raise _not_loaded(redact(url)) from None
        with replacing(target, suffix=".gpkg") as temp:
            temp.unlink()
            for layer in layers:
                frame = _read_table(connection, layer["name"], layer)
                if layer["geometry_column"]:
                    geoms = shapely.from_wkb(frame.pop("__wkb").to_numpy())
                    crs = f"EPSG:{layer['srid']}"
                    data = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs))
                    data = data.rename_geometry(layer["geometry_column"])
                    pyogrio.write_dataframe(
                        data, temp, layer=layer["name"], driver="GPKG",
                        geometry_type=layer["geometry_type"],
                    )  # fmt: skip
                else:
                    pyogrio.write_dataframe(frame, temp, layer=layer["name"], driver="GPKG")
            _dump_store_tables(connection, temp)
        files = connection.execute("SELECT name, content FROM rivernet_files").fetchall()
    for row in files:
        beside = target.with_name(row["name"])
        if not beside.exists():
            beside.write_text(row["content"], encoding="utf-8")
    return target


def _dump_store_tables(connection: psycopg.Connection[Any], temp: Path) -> None:
    from rivernet.store import json_value

    out = sqlite3.connect(temp)
    try:
        out.executescript(SQLITE_SCHEMA)
        for table in STORE_TABLES:
            rows = connection.execute(f"SELECT * FROM {table}").fetchall()
            if table == "rivernet_version":
                rows = [row for row in rows if row["version"]]
            for row in rows:
                values = [
                    json.dumps(v, ensure_ascii=False, sort_keys=True)
                    if k in ("before", "after") and v is not None
                    else json_value(v)
                    for k, v in row.items()
                ]
                marks = ", ".join("?" for _ in row)
                out.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)
        out.commit()
    finally:
        out.close()


def check_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL, else an :class:`InputError` saying the form."""
    from rivernet.store import is_url

    if not is_url(url):
        raise InputError.from_key("err_postgis.bad_url", url=repr(url))
    return url


def copy_roster(connection: psycopg.Connection[Any], roster: Roster) -> None:
    """Replace the roster tables' rows by ``roster`` (inside the caller's transaction)."""
    from rivernet.roster import TABLES, _table_for_file

    frames = {
        TABLES["people"]: roster.people,
        TABLES["assignments"]: roster.assignments,
        TABLES["units"]: roster.units,
        TABLES["boards"]: roster.boards,
    }
    connection.execute("SET CONSTRAINTS ALL DEFERRED")
    for table in frames:
        connection.execute(f"DELETE FROM {table}")
    for table, frame in frames.items():
        types = _columns(connection, table)
        data = _table_for_file(frame)
        names = [column for column in data.columns if column in types and column != "fid"]
        values = [_to_sql(data[column], types[column]) for column in names]
        columns = ", ".join(_quote(c) for c in names)
        with connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in zip(*values, strict=True):
                copy.write_row(row)
    connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
