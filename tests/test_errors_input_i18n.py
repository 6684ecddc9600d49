"""Errors about input data come from the message catalogue: Chinese by default, English as before.

Each error is raised through the public API on tiny real inputs; its Chinese text holds no
English words (only identifiers) and its English text is what ``str(error)`` always said.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from rivernet.build import Manifest
from rivernet.errors import CRSError, InputError, RivernetError, RosterError
from rivernet.network import RiverNetwork
from rivernet.roster import as_date, read_roster
from tests.conftest import tiny_frame
from tests.test_untranslated import english_words

CJK = re.compile(r"[\u3400-\u9fff]")


def check_languages(error: RivernetError, english: str) -> str:
    """The Chinese text of ``error``, checked; its English text must be ``english``."""
    chinese = error.text("zh")
    assert CJK.search(chinese), chinese
    assert english_words(chinese) == [], chinese
    assert error.text("en") == english == str(error)
    return chinese


def test_a_layer_without_crs() -> None:
    lines = tiny_frame().set_crs(None, allow_override=True)
    with pytest.raises(CRSError) as caught:
        RiverNetwork.from_downstream_ids(lines, id_column="rid", downstream_column="down")
    chinese = check_languages(
        caught.value,
        "the reach lines have no CRS; set it before use, e.g. gdf.set_crs(4326) for WGS84 "
        "degrees (EPSG:4326) or gdf.set_crs(4490) for CGCS2000 degrees (EPSG:4490), or add a "
        ".prj beside a shapefile (if the data came from a Chinese web map it may be GCJ-02: "
        "convert it with rivernet.crs.to_wgs84)",
    )
    assert chinese.startswith("河段线没有坐标参考系")


def test_an_as_of_that_is_not_a_date() -> None:
    with pytest.raises(InputError) as caught:
        as_date("2025-13-45")
    check_languages(
        caught.value,
        "as_of='2025-13-45' is not a date; pass a datetime.date or a date such as "
        "'2025-06-30' or '2025年6月30日'",
    )


def test_a_roster_without_a_header(tmp_path: Path) -> None:
    file = tmp_path / "r1.csv"
    file.write_text("甲,乙\n1,2\n", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        read_roster(file)
    check_languages(
        caught.value,
        "r1.csv: no recognisable header in row 1 (found: 甲, 乙); name the columns as in "
        "rivernet.roster (e.g. 姓名/name, 职务/post, 层级/level, 行政区划代码/unit_code, "
        "河段编码/reach_id, 任期开始/valid_from)",
    )
    [(line, problem)] = caught.value.problems
    assert (line, problem, problem.text("zh")) == (1, "no recognisable header", "没有可识别的表头")


def test_a_manifest_with_unknown_and_missing_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m1.toml").write_text('units = "u1.csv"\ncolour = 1\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        Manifest.from_toml("m1.toml")
    keys = ", ".join(sorted(f.name for f in fields(Manifest)))
    chinese = check_languages(
        caught.value,
        f"manifest m1.toml: unknown key(s) colour; the key 'rivers' is required. Keys: {keys}",
    )
    assert "；" in chinese
