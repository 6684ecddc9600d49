"""The GeoPackage store: open_store, the data version, the store's tables inside the file,
the token commands and a roster import audited row by row."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner

from rivernet import edits
from rivernet._files import project_lock
from rivernet.cli import main
from rivernet.errors import AuthError, EditError, NotFoundError, ProjectFileError
from rivernet.project import open_project
from rivernet.store import GeoPackageStore, is_url, open_store, redact
from rivernet.tokens import Actor, scope_prefix, verify_token
from tests._stores import copy_sample


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return copy_sample(tmp_path)


def test_open_store_picks_the_kind_by_target(sample: Path) -> None:
    store = open_store(sample)
    assert isinstance(store, GeoPackageStore) and store.target == str(sample)
    assert is_url("postgresql://u:p@h/db") and is_url("postgres://h/db") and not is_url(str(sample))
    assert redact("postgresql://river:secret@db.example:5432/rivernet") == (
        "postgresql://river:***@db.example:5432/rivernet"
    )
    with pytest.raises(ProjectFileError, match="does not exist"):
        open_store(sample.with_name("missing.gpkg"))


def test_an_edit_bumps_the_version_and_the_project_follows(sample: Path) -> None:
    project = open_project(sample)
    assert isinstance(project.store, GeoPackageStore) and project.store_version == 0
    store = project.store
    row = edits.update_assignment(
        store, Actor(1, "t", "320505", "editor"), "A001380", {"valid_to": "2025-12-31"}
    )
    assert store.data_version() == 1 and row["valid_to"] == "2025-12-31"
    again = open_project(sample)
    assert again.store_version == 1
    stored = again.roster.assignments.set_index("assignment_id").loc["A001380", "valid_to"]
    assert str(stored.date()) == "2025-12-31"
    layers = {str(name) for name, _ in pyogrio.list_layers(sample)}
    assert not layers & {"rivernet_audit", "rivernet_tokens", "rivernet_version"}  # not layers


def test_a_failed_edit_leaves_the_file_as_it_was(sample: Path) -> None:
    store = GeoPackageStore(sample)
    before = sample.read_bytes()
    with pytest.raises(EditError):
        edits.update_assignment(store, Actor(1, "t", "320505", "editor"), "A001380", {"role": "?"})
    assert sample.read_bytes() == before


def test_an_edit_waits_for_the_project_lock(sample: Path) -> None:
    store = GeoPackageStore(sample)
    actor = Actor(1, "t", "320505", "editor")
    store.reference_project()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with project_lock(sample):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    with pytest.raises(ProjectFileError, match="another process"), store.write(timeout=0.2):
        pass
    release.set()
    holder.join()
    assert edits.update_assignment(store, actor, "A001380", {"source_document": "x"})


def test_token_commands(sample: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        main, ["token", "create", str(sample), "--unit", "320505", "--name", "虎丘区河长办"]
    )
    assert created.exit_code == 0, created.output
    token = created.output.splitlines()[0].strip()
    store = GeoPackageStore(sample)
    assert verify_token(store, token).unit_code == "320505"
    listed = runner.invoke(main, ["token", "list", str(sample), "--json"])
    assert "虎丘区河长办" in listed.output and token not in listed.output
    connection = sqlite3.connect(sample)
    try:
        assert token not in str(connection.execute("SELECT * FROM rivernet_tokens").fetchall())
    finally:
        connection.close()
    assert runner.invoke(main, ["token", "revoke", str(sample), "1"]).exit_code == 0
    with pytest.raises(AuthError, match="revoked"):
        verify_token(store, token)
    missing = runner.invoke(main, ["token", "revoke", str(sample), "99"])
    assert missing.exit_code == 1 and "没有编号为 99 的令牌" in missing.output
    viewer = runner.invoke(main, ["token", "create", str(sample), "--unit", "", "--role", "editor"])
    assert viewer.exit_code == 1 and "只有管理员令牌" in viewer.output
    assert scope_prefix("320000") == "32" and scope_prefix("320500") == "3205"
    with pytest.raises(NotFoundError):
        edits.get_assignment(store, "no such id")


def test_roster_import_writes_an_audit_row_per_change(sample: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    exported = tmp_path / "roster.csv"
    assert (
        runner.invoke(main, ["roster", "export", str(sample), "-o", str(exported)]).exit_code == 0
    )
    lines = exported.read_text(encoding="utf-8-sig").splitlines()
    kept = [line for line in lines if ",4060000" not in line and not line.startswith("A000002,")]
    (tmp_path / "edited.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    store = GeoPackageStore(sample)
    command = ["roster", "import", str(sample), str(tmp_path / "edited.csv")]
    results = []
    with project_lock(sample):  # another writer holds the project: refused after the wait
        holder = threading.Thread(
            target=lambda: results.append(runner.invoke(main, [*command, "--lock-timeout", "0"]))
        )
        holder.start()
        holder.join()
    assert results[0].exit_code == 1 and "正由另一个进程写入" in results[0].output
    done = runner.invoke(main, ["roster", "import", str(sample), str(tmp_path / "edited.csv")])
    assert done.exit_code == 0, done.output
    assert store.data_version() == 1
    entries = edits.audit(store)
    removed = {e["row_id"] for e in entries if e["table"] == "roster_assignments"}
    assert removed == {"A000002", "A010209", "A010210"}
    assert all(e["action"] == "import" and e["after"] is None for e in entries
               if e["table"] == "roster_assignments")  # fmt: skip
