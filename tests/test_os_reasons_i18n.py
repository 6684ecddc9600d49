"""Operating-system and PostgreSQL failures inside messages read in the message's language.

The common causes (permission denied, no such file, a directory where a file should be, no
server on the port, no such database) come from the catalogue; others keep the system's words.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from rivernet import messages
from rivernet.cli import main
from rivernet.errors import ProjectFileError
from tests.conftest import SAMPLE
from tests.test_untranslated import english_words


def test_common_os_errors_have_words_in_both_languages() -> None:
    reason = messages.os_reason(PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    assert messages.render(reason, "zh") == "没有权限"
    assert messages.render(reason, "en") == os.strerror(errno.EACCES)
    for name, english in messages.section("os_error", "en").items():
        assert english == os.strerror(getattr(errno, name))  # the system's own wording


def test_an_uncommon_os_error_keeps_the_systems_words() -> None:
    error = OSError(errno.ENOLINK, os.strerror(errno.ENOLINK))
    assert messages.os_reason(error) == os.strerror(errno.ENOLINK)


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (["-o", "{folder}"], "是一个文件夹，这里要的是文件", "is a folder, not a file"),
        (["--unit"], "--unit 后面要写一个值", "--unit needs a value"),
        (["--json=3"], "--json 不带值", "--json takes no value"),
    ],
)
def test_bad_paths_and_option_values_are_chinese_errors(
    tmp_path: Path, args: list[str], zh: str, en: str
) -> None:
    folder = tmp_path / "out.csv"
    folder.mkdir()
    args = [a.replace("{folder}", str(folder)) for a in args]
    result = CliRunner().invoke(main, ["coverage", str(SAMPLE), *args])
    assert result.exit_code == 2 and "错误：" in result.output and zh in result.output
    assert english_words(result.output.replace(str(folder), "")) == []
    english = CliRunner().invoke(main, ["--lang", "en", "coverage", str(SAMPLE), *args])
    assert en in english.output, english.output


def test_a_missing_project_names_the_argument_in_chinese(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gpkg"
    result = CliRunner().invoke(main, ["coverage", str(missing)])
    assert result.exit_code == 2
    assert f"`<项目>` 的值无效：{missing} 不存在" in result.output


@pytest.mark.parametrize(
    ("url", "zh", "en"),
    [
        ("postgresql://postgres@127.0.0.1:1/rivernet", "连接被拒绝", "connection refused"),
    ],
)
def test_a_failed_connection_says_why_in_chinese(url: str, zh: str, en: str) -> None:
    pytest.importorskip("psycopg", reason="psycopg (rivernet[postgis]) not installed")
    from rivernet.postgis import connect

    with pytest.raises(ProjectFileError) as caught:
        connect(url)
    assert zh in caught.value.text("zh") and en in str(caught.value)
    assert english_words(caught.value.text("zh").replace(url, "")) == []


def test_libpq_causes_are_recognised() -> None:
    from rivernet.postgis import connect_reason

    missing = connect_reason(Exception('connection failed: FATAL:  database "nope" does not exist'))
    assert messages.render(missing, "zh") == "数据库“nope”不存在（先用 createdb 创建）"
    password = connect_reason(Exception('FATAL:  password authentication failed for user "a"'))
    assert messages.render(password, "zh").startswith("密码验证失败")
    assert connect_reason(Exception("something else")) == "something else"
