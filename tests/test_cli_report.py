"""``rivernet report``: HTML (and PDF) reports from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rivernet.cli import main
from tests._maps_sample import AS_OF, COUNTY, POLICY, sample_with_roster
from tests.conftest import CHROMIUM, NO_CHROMIUM


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


def test_report_to_html(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, output = run("report", str(sample_with_roster()), "--unit", COUNTY, "--as-of", AS_OF,
                       "--policy", str(POLICY), "-o", str(out))  # fmt: skip
    assert code == 0, output
    page = out.read_text(encoding="utf-8")
    assert "问题清单" in page and "<svg" in page


def test_english_without_maps(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, output = run("report", str(sample_with_roster()), "--unit", COUNTY, "--as-of", AS_OF,
                       "--lang", "en", "--no-maps", "-o", str(out))  # fmt: skip
    assert code == 0, output
    page = out.read_text(encoding="utf-8")
    assert "Problem list" in page and "<svg" not in page


def test_unknown_unit_is_a_clean_error(tmp_path: Path) -> None:
    code, output = run("report", str(sample_with_roster()), "--unit", "999999",
                       "-o", str(tmp_path / "r.html"))  # fmt: skip
    assert code != 0
    assert "999999" in output and "Traceback" not in output


@pytest.mark.browser
def test_report_to_pdf(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    out = tmp_path / "report.pdf"
    code, output = run("report", str(sample_with_roster()), "--unit", COUNTY, "--as-of", AS_OF,
                       "--no-maps", "-o", str(out))  # fmt: skip
    assert code == 0, output
    assert out.read_bytes()[:5] == b"%PDF-"
