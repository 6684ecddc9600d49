"""A throwaway PostgreSQL + PostGIS cluster for the tests (and for ``make postgres``).

:func:`start_cluster` runs ``initdb`` into a folder and ``pg_ctl start`` on a unix socket in
that folder (no TCP), on a free port; the session fixture ``pg_url`` yields the URL of a
database with the PostGIS extension, and ``fresh_db`` makes one more database from it per test.
The binaries are Debian's (``/usr/lib/postgresql/*/bin``); tests skip, saying what to install,
when they or the PostGIS extension are absent. PostgreSQL refuses to run as root: as root the
cluster runs as the ``postgres`` user.

``python -m tests.pgcluster DIR`` starts (or reuses) a developer cluster in DIR and prints its
URL; ``python -m tests.pgcluster DIR --stop`` stops it.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL = "apt-get install postgresql postgresql-postgis (the .ci/run script does)"


def pg_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl`` (the newest installed version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def has_postgis(bin_dir: Path) -> bool:
    """Whether the PostGIS extension is installed for this PostgreSQL."""
    share = subprocess.run(
        [str(bin_dir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not share:
        version = bin_dir.parent.name
        share = f"/usr/share/postgresql/{version}"
    return bool(glob.glob(f"{share}/extension/postgis.control"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_user() -> list[str]:
    """Run as ``postgres`` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


def start_cluster(folder: Path, *, port: int | None = None) -> str:
    """initdb (if needed) and start a cluster in ``folder``; its ``postgres`` database URL.

    Parameters
    ----------
    folder
        The cluster's folder (data in ``folder/data``, the socket in ``folder``).
    port
        The port (names the socket); a free one by default.

    Returns
    -------
    str
        ``postgresql://postgres@/postgres?host=FOLDER&port=PORT``.
    """
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError(f"PostgreSQL is not installed: {INSTALL}")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    _chown(folder)
    data = folder / "data"
    user = _as_user()
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            [*user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
    port_file = folder / "port"
    if port is None:
        port = int(port_file.read_text()) if port_file.exists() else _free_port()
    port_file.write_text(str(port))
    status = subprocess.run([*user, str(bin_dir / "pg_ctl"), "-D", str(data), "status"],
                            capture_output=True, check=False)  # fmt: skip
    if status.returncode != 0:
        options = (
            f"-k {folder} -p {port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        subprocess.run(
            [*user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"),
             "-o", options, "-w", "-t", "60", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
    return f"postgresql://postgres@/postgres?host={folder}&port={port}"


def stop_cluster(folder: Path) -> None:
    """Stop the cluster in ``folder`` (fast shutdown)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        return
    subprocess.run(
        [*_as_user(), str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w",
         "stop"],
        capture_output=True, check=False,
    )  # fmt: skip


def database_url(url: str, name: str) -> str:
    """The URL of database ``name`` in the cluster of ``url``."""
    head, _, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}?{query}"


def create_database(url: str, name: str, *, template: str | None = None) -> str:
    """Create database ``name`` (with PostGIS, or from ``template``); its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        suffix = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{suffix}')
    created = database_url(url, name)
    if template is None:
        with psycopg.connect(created, autocommit=True) as connection:
            connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return created


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """A running throwaway cluster (its ``postgres`` database URL); skipped without binaries."""
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip(f"PostgreSQL binaries (initdb, pg_ctl) not found: {INSTALL}")
    if not has_postgis(bin_dir):
        pytest.skip(f"the PostGIS extension is not installed for {bin_dir.parent}: {INSTALL}")
    pytest.importorskip(
        "psycopg", reason="psycopg is not installed: pip install 'rivernet[postgis]'"
    )
    folder = Path(tempfile.mkdtemp(prefix="rivernet-pg-"))
    try:
        url = start_cluster(folder)
        create_database(url, "rivernet_template")
        yield url
    finally:
        stop_cluster(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_cluster: str) -> str:
    """The URL of a session-wide database with PostGIS (nothing loaded)."""
    return create_database(pg_cluster, "rivernet_session", template="rivernet_template")


_COUNTER = itertools.count(1)


@pytest.fixture
def fresh_db(pg_cluster: str) -> str:
    """The URL of a new, empty PostGIS database for one test."""
    return create_database(pg_cluster, f"rivernet_t{next(_COUNTER)}", template="rivernet_template")


def main(argv: list[str]) -> int:
    """``python -m tests.pgcluster DIR [--stop]``: the developer cluster of ``make postgres``."""
    if not argv:
        print("usage: python -m tests.pgcluster DIR [--stop]", file=sys.stderr)
        return 2
    folder = Path(argv[0]).absolute()
    if "--stop" in argv:
        stop_cluster(folder)
        print(f"stopped the cluster in {folder}")
        return 0
    url = start_cluster(folder)
    name = "rivernet"
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    created = database_url(url, name)
    with psycopg.connect(created, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    print(created)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
