"""Packaging and layering: one installed package, the core never imports the layers or server."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import rivernet

ROOT = Path(__file__).resolve().parents[1]
OUTER = {"layers", "server", "cli"}


def _core_modules() -> set[str]:
    found = {f"rivernet.{info.name}" for info in pkgutil.iter_modules(rivernet.__path__)}
    return {name for name in found if name.split(".")[1] not in OUTER}


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_core_contract_lists_every_core_module() -> None:
    forbidden = [c for c in _contracts() if c["type"] == "forbidden"]
    assert len(forbidden) == 1
    listed = set(forbidden[0]["source_modules"])  # type: ignore[call-overload]
    assert listed == _core_modules(), "add new core modules to the import-linter contract"


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_layers_and_server_modules_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "layers.py").write_text("raise ImportError('a user module named layers')\n")
    (tmp_path / "server.py").write_text("raise ImportError('a user module named server')\n")
    code = (
        "import rivernet; rivernet.explore; rivernet.render; rivernet.unit_report; "
        "from rivernet.server.app import create_app; create_app(); "
        "import rivernet.layers.catalog as c; print(c.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "rivernet.layers.catalog"


@pytest.mark.slow
def test_the_wheel_installs_only_rivernet(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("rivernet-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith("top_level.txt")]
        assert archive.read(top_level).decode().split() == ["rivernet"]
    assert {n.split("/")[0] for n in names if not n.startswith("rivernet-")} == {"rivernet"}
    assert "rivernet/layers/catalog.py" in names and "rivernet/server/app.py" in names
    assert "rivernet/migrations/0001_project.sql" in names  # the shared store's schema
    assert "rivernet/server/static/index.html" in names or any(
        n.startswith("rivernet/server/static/") for n in names
    )
    assert any(n.startswith("rivernet/layers/vendor/leaflet/") for n in names)
    assert not any(n.startswith(("bench/", "layers/", "server/", "tests/")) for n in names)
