"""Unit reports (rivernet.layers.report): sections, problem list, cross-boundary, maps, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rivernet
from rivernet.errors import InputError, NotFoundError
from rivernet.joint_control import partners as partner_table
from rivernet.layers.catalog import layer
from rivernet.layers.report import find_chromium, html_table, report_html
from tests._maps_sample import AS_OF, COUNTY, POLICY, sample_with_roster
from tests.conftest import CHROMIUM, NO_CHROMIUM
from tests.test_folium import external_references, tag_references


@pytest.fixture(scope="module")
def project() -> rivernet.Project:
    return rivernet.open_project(sample_with_roster())


@pytest.fixture(scope="module")
def page(project: rivernet.Project) -> str:
    return report_html(project, unit=COUNTY, as_of=AS_OF, policy=POLICY)


def test_report_has_every_section(page: str) -> None:
    for heading in ("河长覆盖情况", "分级汇总", "问题清单", "缺失河长的河段", "跨界河流",
                    "交接断面", "界河", "上下游联系河长", "图件"):  # fmt: skip
        assert heading in page, heading
    assert "虎丘区河湖长制工作报告" in page
    assert AS_OF in page


def test_problem_list_matches_the_audit(page: str, project: rivernet.Project) -> None:
    gaps = rivernet.coverage_gaps(project, as_of=AS_OF, policy=POLICY)
    mine = gaps[gaps["unit_code"].astype(str).str.startswith(COUNTY)]
    assert len(mine) > 0
    for reach_id in mine["reach_id"].unique():
        assert f">{reach_id}<" in page
    problems = rivernet.coverage_problems(project, as_of=AS_OF, policy=POLICY)
    kinds = set(problems.loc[problems["unit_code"].astype(str).str.startswith(COUNTY), "kind"])
    assert {"expired", "broken_chain"} <= kinds
    assert "任期已满未续任" in page and "上级河长缺失" in page


def test_cross_boundary_rows_name_partner_chiefs(page: str, project: rivernet.Project) -> None:
    crossings = rivernet.crossings(project, level="county", as_of=AS_OF)
    mine = crossings[
        (crossings["upstream_code"] == COUNTY) | (crossings["downstream_code"] == COUNTY)
    ]
    assert len(mine) > 0
    chief = str(mine["downstream_chiefs"].dropna().iloc[0]).split("、")[0]
    assert chief in page
    partners = partner_table(project, unit=COUNTY, as_of=AS_OF)
    assert str(partners["partner_name"].iloc[0]) in page


def test_maps_are_inline_svg_with_the_catalog_legend(page: str) -> None:
    assert page.count("<svg") >= 2
    for category in layer("coverage").categories:
        assert f"<!-- {category.label_zh} -->" in page


def test_problems_are_mapped_at_their_level(page: str) -> None:
    # 虎丘区's expired terms are township level: a township map joins the county one.
    assert "<figcaption>河长覆盖（县级）</figcaption>" in page
    assert "<figcaption>河长覆盖（乡级）</figcaption>" in page
    township = page[page.index("河长覆盖（乡级）2025") if "河长覆盖（乡级）2025" in page else 0 :]
    assert layer("coverage").color_of("expired").lower() in township.lower()


def test_report_is_self_contained(page: str) -> None:
    assert [s for s in tag_references(page) if not s.startswith(("data:", "#"))] == []
    # Only XML namespace names remain (the inline SVG's xmlns), which are never fetched.
    assert all(u.startswith("http://www.w3.org/") for u in external_references(page))
    assert "@import" not in page and "url(http" not in page


def test_english_report(project: rivernet.Project) -> None:
    english = report_html(project, unit=COUNTY, as_of=AS_OF, lang="en", maps=False)
    assert "Problem list" in english and "Handover sections" in english
    assert "<svg" not in english


def test_write_html_and_errors(project: rivernet.Project, tmp_path: Path) -> None:
    path = rivernet.unit_report(project, unit=COUNTY, as_of=AS_OF, path=tmp_path / "r.html",
                                maps=False)  # fmt: skip
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(NotFoundError, match="999999"):
        report_html(project, unit="999999", as_of=AS_OF)
    with pytest.raises(InputError, match=r"\.html"):
        rivernet.unit_report(project, unit=COUNTY, path=tmp_path / "r.docx")


def test_html_table_formats_values() -> None:
    import pandas as pd

    frame = pd.DataFrame({"level": ["county"], "length_m": [1234.5], "kind": ["gap"],
                          "message": ["a <b>\nc"]})  # fmt: skip
    table = html_table(frame, ["level", "length_m", "kind", "message"])
    assert "<td>县</td>" in table and "1.23" in table and "缺失河长" in table
    assert "a &lt;b&gt;<br>c" in table
    assert re.search(r"<th>长度 \(公里\)</th>", table)


@pytest.mark.browser
def test_pdf_with_headless_chromium(project: rivernet.Project, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    assert find_chromium() is not None
    path = rivernet.unit_report(project, unit=COUNTY, as_of=AS_OF, path=tmp_path / "r.pdf")
    data = path.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 20_000
    # The Chinese text is set in a CJK font (the pip font when the system has none), not boxes.
    import re

    fonts = set(re.findall(rb"/FontName /[A-Z]{6}\+([A-Za-z0-9-]+)", data))
    assert any(b"CJK" in f or b"SC" in f or b"Hei" in f for f in fonts), fonts


def _partner_rows(page: str) -> list[list[str]]:
    """The rows of the partner table (after its heading) as cell texts."""
    part = page[page.index("<h3>上下游联系河长</h3>") :]
    table = part[: part.index("</table>")] if "<table>" in part[:200] else ""
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows]


def test_report_lists_partners_within_the_distance(project: rivernet.Project) -> None:
    """吴中区 (320506) has partners up to ~240 km along the rivers; the report lists those within
    --within-km (default 20) and says how many it left out."""
    unit = "320506"
    everyone = partner_table(project, unit=unit, as_of=AS_OF)
    near = int((everyone["distance_km"] <= 20).sum())
    assert 0 < near < len(everyone)
    page = report_html(project, unit=unit, as_of=AS_OF, policy=POLICY, maps=False)
    rows = _partner_rows(page)
    assert len(rows) == near
    heading = re.findall(r"<th>(.*?)</th>", page[page.index("<h3>上下游联系河长</h3>") :])
    column = heading.index("距离 (公里)")
    assert max(float(r[column]) for r in rows) <= 20
    assert "20 公里以内" in page and f"另有 {len(everyone) - near} 条" in page
    unlimited = report_html(project, unit=unit, as_of=AS_OF, policy=POLICY, maps=False,
                            within_km=None)  # fmt: skip
    assert len(_partner_rows(unlimited)) == len(everyone)
    assert "公里以内" not in unlimited
    with pytest.raises(InputError, match="within_km"):
        report_html(project, unit=unit, as_of=AS_OF, maps=False, within_km=-1)


def test_english_report_states_the_distance(project: rivernet.Project) -> None:
    page = report_html(project, unit="320506", as_of=AS_OF, policy=POLICY, maps=False,
                       lang="en", within_km=5)  # fmt: skip
    assert "within 5 km of 吴中区" in page
