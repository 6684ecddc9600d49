"""Findings, row problems and errors made from the message catalogue read in either language.

A :class:`rivernet.messages.Message` is a ``str`` holding the English text (so ``str(error)``
and logs are as before) that renders in Chinese with ``.text("zh")``; lists, codes and nested
messages inside it follow the language of the message that holds them.
"""

from __future__ import annotations

import pickle

import pytest

from rivernet import messages
from rivernet.admin import LEVEL_WORDS, LEVELS, level_from_word
from rivernet.errors import InputError, NotFoundError, RivernetError, RosterError
from rivernet.validation import Finding, validate_reaches
from tests.conftest import tiny_frame


def test_a_message_is_its_english_text_and_renders_in_chinese() -> None:
    found = messages.Message("error.unknown_chief", chief="'P9'")
    assert found == "no chief 'P9' in the roster (give a person_id or a name)"
    assert found.text("zh") == "名录中没有河长 'P9'（请给出 person_id 或姓名）"
    assert pickle.loads(pickle.dumps(found)).text("zh") == found.text("zh")


def test_values_inside_a_message_follow_its_language() -> None:
    listed = messages.items(range(1, 13))
    assert listed.text("zh") == "1、2、3、4、5、6、7、8、9、10 等，另有 2 个"
    assert str(listed) == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more"
    level = messages.Code("level", "county")
    nested = messages.Message("roster_problem.bad_level", level="'x'", levels=messages.choices(
        messages.Code("level", code) for code in LEVELS))  # fmt: skip
    assert nested.text("zh") == "层级 'x' 不是 省、市、县、乡 或 村 之一"
    assert nested.endswith("township or village")
    assert (level.text("zh"), str(level)) == ("县", "county")


def test_errors_from_the_catalogue_keep_their_builtin_bases() -> None:
    error = NotFoundError.from_key("error.reach_not_in_network", reach="1")
    assert isinstance(error, KeyError) and isinstance(error, RivernetError)
    assert str(error) == "reach 1 is not in the network; give a reach id of the reaches layer"
    assert error.text("zh") == "河段 1 不在河网中；请给出河段图层中的河段编码"
    with pytest.raises(ValueError, match="not a date"):
        raise InputError.from_key("roster_problem.not_a_date", value="'x'")
    plain = InputError("made without the catalogue")
    assert plain.text("zh") == plain.text("en") == "made without the catalogue"


def test_roster_errors_list_their_rows_in_either_language() -> None:
    from rivernet.roster import _roster_error

    problem = messages.Message("roster_problem.duplicate_row", first=2)
    error = _roster_error("名录.csv", [(3, problem)])
    assert isinstance(error, RosterError) and error.problems == [(3, problem)]
    assert "- line 3: duplicate of line 2: delete one of them" in str(error)
    assert "- 第 3 行：与第 2 行重复：请删除其中一行" in error.text("zh")


def test_findings_render_in_the_language_asked() -> None:
    frame = tiny_frame()
    frame.loc[frame.rid == 5, "down"] = 7  # a cycle
    report = validate_reaches(frame, id_column="rid", downstream_column="down")
    cycle = next(f for f in report.findings if f.code == "cycle")
    assert "form a cycle" in cycle.message and "构成环路" in cycle.text("zh")
    assert cycle.to_dict(lang="zh")["message"] == cycle.text("zh")
    assert cycle.to_dict()["message"] == str(cycle.message)
    made = Finding.from_key("missing_crs", "finding.missing_crs")
    assert (made.severity, made.layer, made.reach_ids) == ("error", "reaches", ())
    assert "EPSG:4490" in made.text("zh") and "坐标参考系" in made.text("zh")


def test_the_catalogue_is_complete() -> None:
    assert messages.check_catalogue() == []


@pytest.mark.parametrize(
    ("rivers", "sections", "lakes", "english"),
    [
        (1, 1, 0, "A -> B: 1 river, 1 handover section"),
        (2, 3, 1, "A -> B: 2 rivers, 3 handover sections (1 in lakes)"),
    ],
)
def test_pair_summaries_agree_in_number(
    rivers: int, sections: int, lakes: int, english: str
) -> None:
    from rivernet.joint_control import _pair_summary

    assert _pair_summary("A", "B", rivers, sections, lakes, lang="en") == english
    chinese = _pair_summary("A", "B", rivers, sections, lakes, lang="zh")
    assert chinese.startswith(f"A → B：{rivers} 条河流，{sections} 个交接断面")


@pytest.mark.parametrize(
    ("word", "level"),
    [("县级", "county"), ("乡镇级", "township"), ("地级市", "city"), ("街道", "township"),
     ("Ｃｏｕｎｔｙ", "county"), (" village ", "village"), ("大队", None)],
)  # fmt: skip
def test_one_table_of_level_words_for_units_and_rosters(word: str, level: str | None) -> None:
    from rivernet import build, roster

    assert level_from_word(word) == level
    assert set(LEVEL_WORDS.values()) == set(LEVELS)
    assert not hasattr(roster, "_LEVEL_WORDS") and not hasattr(build, "LEVEL_WORDS")


def test_a_network_that_cannot_be_built_says_why_in_chinese() -> None:
    from rivernet.errors import TopologyError
    from rivernet.network import RiverNetwork

    frame = tiny_frame()
    frame.loc[frame.rid == 5, "down"] = 7  # a cycle
    network = RiverNetwork.from_downstream_ids(frame, id_column="rid", downstream_column="down")
    with pytest.raises(TopologyError) as caught:
        network.core  # noqa: B018 (built on first use)
    assert "cycle" in str(caught.value) and "环路" in caught.value.text("zh")
    report = validate_reaches(frame, id_column="rid", downstream_column="down")
    with pytest.raises(TopologyError) as listed:
        report.raise_for_errors()
    assert "[cycle]" in str(listed.value)
    assert listed.value.text("zh").startswith("河段表有 1 个错误：\n- 河段")


def test_a_long_cycle_is_listed_in_chinese_with_how_many_more() -> None:
    import geopandas as gpd
    from shapely import LineString

    from rivernet.errors import TopologyError
    from rivernet.network import RiverNetwork
    from tests.test_untranslated import english_words

    ids = list(range(1, 13))
    lines = [LineString([(i, 0), (i + 1, 0)]) for i in ids]
    frame = gpd.GeoDataFrame({"rid": ids, "down": [*ids[1:], 1]}, geometry=lines, crs=32651)
    network = RiverNetwork.from_downstream_ids(frame, id_column="rid", downstream_column="down")
    with pytest.raises(TopologyError) as caught:
        network.core  # noqa: B018 (built on first use)
    chinese = caught.value.text("zh")
    assert "[1、2、3、4、5、6、7、8、9、10 等，另有 2 个]" in chinese
    assert english_words(chinese) == []
    assert "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more]" in str(caught.value)
