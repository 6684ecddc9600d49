"""The shared store on a real (throwaway) PostgreSQL + PostGIS cluster: migrations, load and
dump (round trip identical), the constraints, open_project(URL), the CLI and NOTIFY."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from rivernet import edits
from rivernet.cli import main
from rivernet.coverage import coverage_summary
from rivernet.errors import ProjectFileError
from rivernet.project import open_project
from rivernet.tokens import Actor
from tests._stores import copy_sample

psycopg = pytest.importorskip("psycopg", reason="needs psycopg: pip install 'rivernet[postgis]'")
AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def loaded(pg_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample (with a token and an edit in its audit) loaded into a new database."""
    from rivernet.postgis import load
    from rivernet.store import GeoPackageStore
    from rivernet.tokens import create_token
    from tests.pgcluster import create_database

    path = copy_sample(tmp_path_factory.mktemp("loaded"))
    store = GeoPackageStore(path)
    create_token(store, unit="320505", role="editor", name="虎丘区河长办")
    edits.update_assignment(
        store, Actor(1, "虎丘区河长办", "320505", "editor"), "A001380", {"source_document": "改"}
    )
    url = create_database(pg_cluster, "rivernet_loaded", template="rivernet_template")
    load(path, url)
    return path, url


def _store_rows(path: Path, table: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    finally:
        connection.close()


def test_dump_gives_back_every_table_and_geometry(loaded: tuple[Path, str], tmp_path: Path) -> None:
    from rivernet.postgis import dump

    path, url = loaded
    out = dump(url, tmp_path / "back.gpkg")
    layers = pyogrio.list_layers(path).tolist()
    assert pyogrio.list_layers(out).tolist() == layers
    for name, kind in layers:
        before = pyogrio.read_dataframe(path, layer=name, read_geometry=kind is not None)
        after = pyogrio.read_dataframe(out, layer=name, read_geometry=kind is not None)
        pd.testing.assert_frame_equal(pd.DataFrame(after), pd.DataFrame(before), check_exact=True)
        if kind is not None:  # every vertex, exactly
            assert (before.geometry.to_wkb() == after.geometry.to_wkb()).all(), name
            assert (
                pyogrio.read_info(out, layer=name)["crs"]
                == pyogrio.read_info(path, layer=name)["crs"]
            )
    for table in ("rivernet_tokens", "rivernet_audit", "rivernet_version"):
        assert _store_rows(out, table) == _store_rows(path, table), table
    assert (tmp_path / "policy.toml").read_text() == path.with_name("policy.toml").read_text()


def test_schema_types_indexes_and_migrations(loaded: tuple[Path, str]) -> None:
    from rivernet.postgis import migrate

    _, url = loaded
    assert migrate(url) == []  # up to date: nothing applied twice
    with psycopg.connect(url) as connection:
        versions = connection.execute("SELECT version FROM schema_migrations").fetchall()
        assert versions == [(1,)]
        types = dict(
            connection.execute(
                "SELECT f_table_name, type || ',' || srid FROM geometry_columns"
            ).fetchall()
        )
        assert types == {
            "reaches": "LINESTRING,4326",
            "admin_units": "MULTIPOLYGON,4326",
            "lakes": "POLYGON,4326",
            "river_names": "MULTILINESTRING,4326",  # the sample's fictional named lines
        }
        indexes = connection.execute(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'"
        ).fetchall()
        assert {row[0] for row in indexes} >= {"reaches", "admin_units", "lakes"}


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("UPDATE roster_assignments SET valid_to = '2000-01-01' WHERE assignment_id = 'A000001'",
         "roster_assignments_term"),
        ("UPDATE roster_assignments SET level = 'town' WHERE assignment_id = 'A000001'",
         "roster_assignments_level_check"),
        ("UPDATE roster_assignments SET role = '大河长' WHERE assignment_id = 'A000001'",
         "roster_assignments_role_check"),
        ("UPDATE roster_assignments SET person_id = 'P99999' WHERE assignment_id = 'A000001'",
         "roster_assignments_person_id_fkey"),
        ("UPDATE roster_assignments SET reach_id = 1, river_id = NULL "
         "WHERE assignment_id = 'A000001'", "roster_assignments_reach_fk"),
        ("UPDATE roster_assignments SET reach_id = 40631534 WHERE assignment_id = 'A000001'",
         "roster_assignments_one_target"),
        ("UPDATE roster_assignments SET assignment_id = 'A000002' WHERE assignment_id = 'A000001'",
         "roster_assignments_assignment_id_key"),
        ("UPDATE roster_people SET person_id = 'P00002' WHERE person_id = 'P00001'",
         "roster_people_person_id_key"),
        ("UPDATE roster_boards SET person_id = 'P99999' WHERE board_id = 'B001'",
         "roster_boards_person_id_fkey"),
    ],
)  # fmt: skip
def test_constraints_refuse_what_the_roster_checker_refuses(
    loaded: tuple[Path, str], statement: str, rule: str
) -> None:
    _, url = loaded
    with psycopg.connect(url) as connection:
        with pytest.raises(psycopg.errors.IntegrityError) as raised, connection.transaction():
            connection.execute(statement)
            connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
        assert raised.value.diag.constraint_name == rule


def test_load_refuses_a_bad_row_naming_the_rule_and_writes_nothing(
    fresh_db: str, tmp_path: Path
) -> None:
    from rivernet.postgis import load

    path = copy_sample(tmp_path)
    connection = sqlite3.connect(path)
    connection.execute(
        "UPDATE roster_assignments SET valid_to = '2001-01-01' WHERE assignment_id = 'A000003'"
    )
    connection.commit()
    connection.close()
    with pytest.raises(ProjectFileError) as raised:
        load(path, fresh_db)
    message = str(raised.value)
    assert "roster_assignments" in message and "roster_assignments_term" in message
    assert "nothing was loaded" in message
    with psycopg.connect(fresh_db) as check:
        tables = check.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'spatial_ref_sys'"
        ).fetchone()
        assert tables == (0,)  # one transaction: not even the schema stayed


def test_open_project_from_url_equals_the_geopackage(loaded: tuple[Path, str]) -> None:
    path, url = loaded
    from_file = open_project(path)
    from_db = open_project(url)
    assert from_db.store is not None and from_db.store.target == url
    assert from_db.store_version == from_db.store.data_version() == 1
    assert len(from_db.network) == len(from_file.network)
    assert from_db.policy == from_file.policy
    pd.testing.assert_frame_equal(
        coverage_summary(from_db, as_of=AS_OF), coverage_summary(from_file, as_of=AS_OF)
    )


def test_cli_load_refuses_a_full_database_then_replaces(fresh_db: str, tmp_path: Path) -> None:
    path = copy_sample(tmp_path)
    runner = CliRunner()
    first = runner.invoke(main, ["db", "load", str(path), fresh_db, "--lang", "en"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["db", "load", str(path), fresh_db])
    assert again.exit_code == 1 and "--replace" in again.output
    replaced = runner.invoke(main, ["db", "load", str(path), fresh_db, "--replace"])
    assert replaced.exit_code == 0, replaced.output
    out = tmp_path / "out" / "dumped.gpkg"
    dumped = runner.invoke(main, ["db", "dump", fresh_db, "-o", str(out)])
    assert dumped.exit_code == 0 and out.exists()
    assert runner.invoke(main, ["db", "migrate", fresh_db, "--lang", "en"]).output.strip() == (
        "the schema is up to date"
    )
    coverage = runner.invoke(main, ["coverage", fresh_db, "--unit", "310114", "--as-of", AS_OF])
    assert coverage.exit_code == 0 and "71.1" in coverage.output


def test_cli_roster_import_into_the_store(fresh_db: str, tmp_path: Path) -> None:
    from rivernet.postgis import IMPORT_LOCK, PostgisStore, load

    load(copy_sample(tmp_path), fresh_db)
    runner = CliRunner()
    exported = tmp_path / "roster.csv"
    assert runner.invoke(main, ["roster", "export", fresh_db, "-o", str(exported)]).exit_code == 0
    lines = exported.read_text(encoding="utf-8-sig").splitlines()
    kept = [line for line in lines if ",4060000" not in line and not line.startswith("A000002,")]
    kept = [kept[0]] + [
        line.replace(",2021-10-01,,", ",2021-10-01,2025-12-31,", 1) if line.startswith("A000003,")
        else line for line in kept[1:]
    ]  # fmt: skip
    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join(kept) + "\n", encoding="utf-8")
    store = PostgisStore(fresh_db)
    version = store.data_version()
    dry = runner.invoke(
        main, ["roster", "import", fresh_db, str(edited), "--dry-run", "--lang", "en"]
    )
    assert dry.exit_code == 0, dry.output
    assert (
        "ended 1" in dry.output.replace(":", "") or "1 ended" in dry.output or "ended" in dry.output
    )
    assert store.data_version() == version and edits.audit(store) == []
    with psycopg.connect(fresh_db, autocommit=True) as other:  # another import runs
        other.execute("SELECT pg_advisory_lock(%s)", [IMPORT_LOCK])
        refused = runner.invoke(main, ["roster", "import", fresh_db, str(edited)])
        assert refused.exit_code == 1 and "另一次名录导入正在写入" in refused.output
    done = runner.invoke(main, ["roster", "import", fresh_db, str(edited), "--lang", "en"])
    assert done.exit_code == 0, done.output
    assert store.data_version() == version + 1
    entries = edits.audit(store)
    changed = {(e["table"], e["row_id"]) for e in entries}
    assert {("roster_assignments", "A000002"), ("roster_assignments", "A000003")} <= changed
    assert all(e["action"] == "import" for e in entries)
    ended = next(e for e in entries if e["row_id"] == "A000003")
    assert (ended["before"]["valid_to"], ended["after"]["valid_to"]) == (None, "2025-12-31")
    store.close()


def test_an_edit_notifies_listeners(loaded: tuple[Path, str]) -> None:
    from rivernet.postgis import PostgisStore

    _, url = loaded
    store = PostgisStore(url)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN rivernet_version")
        row = edits.update_assignment(
            store, Actor(1, "t", "320505", "editor"), "A001380", {"source_document": "通知"}
        )
        assert row["source_document"] == "通知"
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert payloads == [str(store.data_version())]
    store.close()


def test_file_commands_take_a_url(loaded: tuple[Path, str]) -> None:
    _, url = loaded
    info = CliRunner().invoke(main, ["info", url, "--lang", "en"])
    assert info.exit_code == 0 and "reaches:   2082" in info.output
    checked = CliRunner().invoke(main, ["check", url, "--lang", "en"])
    assert checked.exit_code == 0 and "validation OK" in checked.output
