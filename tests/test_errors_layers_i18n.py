"""Errors of the map layers come from the catalogue: Chinese by default, English as before."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rivernet.errors import NotFoundError, ProjectFileError, RivernetError
from rivernet.layers.catalog import CATALOG, layer
from rivernet.layers.pmtiles import write_pmtiles
from rivernet.layers.report import report_html
from rivernet.project import Project, open_project
from tests.test_untranslated import english_words

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "taihu.gpkg"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def project() -> Project:
    return open_project(SAMPLE)


def _check_zh(error: RivernetError, *, data: str = "") -> None:
    """Chinese text without English words (``data``, a user's file name, is left out)."""
    zh = error.text("zh")
    assert CHINESE.search(zh), zh
    assert english_words(zh.replace(data, " ") if data else zh) == [], zh


def test_unknown_map_layer() -> None:
    with pytest.raises(NotFoundError) as caught:
        layer("河段")
    _check_zh(caught.value)
    known = ", ".join(entry.id for entry in CATALOG)
    assert caught.value.text("en") == f"no map layer '河段'; the catalog has: {known}."
    assert "`admin_units`、`lakes`、`reaches`" in caught.value.text("zh")  # ids as code


def test_pmtiles_over_an_existing_file(tmp_path: Path, project: Project) -> None:
    target = tmp_path / "taihu.pmtiles"
    target.write_bytes(b"old")
    with pytest.raises(ProjectFileError) as caught:
        write_pmtiles(project, target, maxzoom=2)
    _check_zh(caught.value, data=str(target))
    assert "`--force`" in caught.value.text("zh")
    assert caught.value.text("en") == (
        f"{target} already exists; pass force=True (`--force`) to replace it, or choose "
        "another file name."
    )
    assert str(caught.value) == caught.value.text("en")


def test_report_for_an_unknown_unit(project: Project) -> None:
    with pytest.raises(NotFoundError) as caught:
        report_html(project, unit="999999", as_of="2025-06-30")
    _check_zh(caught.value, data=SAMPLE.name)
    units = project.admin_units
    counties = ", ".join(units.loc[units["level"] == "county", "code"].astype(str).head(5))
    assert caught.value.text("en") == (
        f"no admin unit '999999' in taihu.gpkg; county codes include {counties}."
    )
