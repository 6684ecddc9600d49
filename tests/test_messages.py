"""The message catalogue: complete in both languages, same placeholders, checked language."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rivernet import messages
from rivernet.errors import InputError, NotFoundError
from rivernet.problems import PROBLEM_KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_every_key_has_both_languages_and_the_same_placeholders() -> None:
    assert messages.check_catalogue() == []


def test_the_check_finds_a_missing_language_and_a_placeholder_mismatch() -> None:
    broken = {
        "a.one": {"zh": "河段 {reach}", "en": "reach {id}"},
        "a.two": {"zh": "只有中文"},
        "a.three": {"zh": "好", "en": "good"},
    }
    problems = messages.check_catalogue(broken)
    assert len(problems) == 2
    assert problems[0].startswith("a.one: placeholders differ")
    assert problems[1] == "a.two: no en text"


def test_text_fills_named_placeholders() -> None:
    assert messages.text("report.title", name="虎丘区") == "虎丘区河湖长制工作报告"
    assert messages.text("report.title", lang="en", name="虎丘区") == "River chief report: 虎丘区"


def test_lang_is_checked() -> None:
    with pytest.raises(InputError, match=r"'zh'.*'en'.*'fr'"):
        messages.text("report.title", lang="fr", name="x")
    with pytest.raises(InputError, match="lang"):
        messages.level("county", lang="EN")


def test_missing_value_and_unknown_key_are_clear_errors() -> None:
    with pytest.raises(InputError, match="'name'"):
        messages.text("report.title")
    with pytest.raises(NotFoundError, match=r"no message 'report\.nothing'"):
        messages.text("report.nothing")


def test_helpers_translate_codes() -> None:
    assert messages.level("township") == "乡"
    assert messages.level_of("county") == "县级"
    assert messages.level_of("county", "en") == "county level"
    assert messages.boolean(False) == "否"
    assert messages.boolean(True, "en") == "yes"
    assert messages.rule("split_by_bank") == "按岸分管"
    assert messages.kind("expired", "en") == "expired term"
    assert messages.status("covered") == "已覆盖"
    assert messages.relation("main_stem") == "干流"
    assert messages.column("chiefs_village") == "村级河长"
    assert messages.column("coverage_pct", "en") == "Coverage (%)"
    assert messages.column("no_such_column") == "no_such_column"


def test_every_problem_kind_and_level_has_a_text() -> None:
    from rivernet.admin import LEVELS
    from rivernet.boundary import RULES

    for code in (*PROBLEM_KINDS, "gap"):
        assert messages.kind(code) != code
    for code in LEVELS:
        assert messages.level(code) != code
    for code in RULES:
        assert messages.rule(code) != code


def test_problem_messages_follow_lang(project) -> None:  # type: ignore[no-untyped-def]
    from rivernet.problems import coverage_problems

    zh = coverage_problems(project, as_of="2025-06-30")
    en = coverage_problems(project, as_of="2025-06-30", lang="en")
    assert list(zh["kind"]) == list(en["kind"])  # codes stay codes
    expired_zh = zh.loc[zh["kind"] == "expired", "message"].iloc[0]
    expired_en = en.loc[en["kind"] == "expired", "message"].iloc[0]
    assert "任期已于" in expired_zh and "expired" not in expired_zh
    assert expired_en.startswith("the term of")
    with pytest.raises(InputError):
        coverage_problems(project, as_of="2025-06-30", lang="de")


@pytest.mark.slow
def test_the_catalogue_is_in_the_wheel(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
         str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {done.stderr[-300:]}")
    wheel = next(tmp_path.glob("rivernet-*.whl"))
    assert "rivernet/locale/messages.toml" in zipfile.ZipFile(wheel).namelist()
