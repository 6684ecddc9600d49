"""The notebooks run top to bottom on the sample project (and are stored without outputs)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests._maps_sample import ROOT, sample_with_roster

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    names = [path.name for path in NOTEBOOKS]
    assert names[:3] == [
        "01_quickstart.ipynb",
        "02_coverage_audit_city.ipynb",
        "03_cross_boundary_zhejiang_jiangsu.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    needs = notebook.metadata.get("rivernet", {}).get("needs")
    if needs and not (path.parent / needs).is_dir():
        pytest.skip(
            f"{path.name} builds a project from the raw files in {needs} (beside the "
            "repository), which is absent"
        )
    monkeypatch.setenv("RIVERNET_PROJECT", str(sample_with_roster()))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=dict(os.environ))
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
