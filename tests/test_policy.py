"""Coverage policy files: validation of every key, and which levels each piece requires."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import box

from rivernet import PolicyError, RiverNetwork
from rivernet.admin import LEVELS
from rivernet.policy import CoveragePolicy, load_policy, policy_from_dict, requirements

SAMPLE_POLICY = Path(__file__).resolve().parents[1] / "data" / "sample" / "policy.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_policy_loads() -> None:
    policy = load_policy(SAMPLE_POLICY)
    assert policy.default_levels == ("county", "township", "village")
    assert [rule.match.min_strahler for rule in policy.rules] == [5, 4]
    assert policy.exemptions[0].match.in_lakes == (504,)
    assert policy.exemptions[0].levels == LEVELS
    assert policy.lakes[0].lake_ids == (504,)
    assert policy.covering_roles == ("河长", "湖长")
    assert policy.source == SAMPLE_POLICY


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
default_levels = ["county", "street"]
board_update_dayz = 30
covering_roles = ["河长", "组长"]

[[rule]]
name = "big rivers"
levels = ["province"]
min_strahlr = 5

[[lake]]
lake_ids = [1]
""",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "unknown key 'board_update_dayz'" in message
    assert "[[rule]] #1 unknown key 'min_strahlr'" in message
    assert "unknown level(s) street" in message
    assert "unknown role(s) 组长" in message
    assert str(path) in message
    assert isinstance(caught.value, ValueError)


def test_rule_checks(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(
            {
                "rule": [{"name": "r", "min_strahler": 3}, {"levels": ["city"]}],
                "exemption": [{"column": "ORD_CLAS"}],
                "lake": [{"levels": ["county"]}],
            }
        )
    message = str(caught.value)
    assert "[[rule]] #1: missing 'levels'" in message
    assert "[[rule]] #2: has no test" in message
    assert "'column' and 'values' go together" in message
    assert "[[lake]] #1: missing 'lake_ids'" in message


def test_wrong_types_and_syntax(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="'board_update_days' has the wrong type"):
        policy_from_dict({"board_update_days": "thirty"})
    with pytest.raises(PolicyError, match="'board_update_days' has the wrong type"):
        policy_from_dict({"board_update_days": True})
    with pytest.raises(PolicyError, match="not valid UTF-8 TOML"):
        load_policy(_write(tmp_path, "default_levels = [county"))
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "missing.toml")


def test_defaults() -> None:
    policy = CoveragePolicy()
    assert policy.default_levels == ("county", "township", "village")
    assert policy_from_dict({}).default_levels == policy.default_levels


def _pieces(net: RiverNetwork) -> pd.DataFrame:
    ids = net.ids
    return pd.DataFrame(
        {
            "reach_id": ids,
            "position": np.arange(len(ids)),
            "from_m": 0.0,
            "to_m": net.reaches["length_m"].to_numpy(),
        }
    )


def _levels(required: np.ndarray, net: RiverNetwork) -> dict[int, tuple[str, ...]]:
    return {
        int(rid): tuple(level for level, on in zip(LEVELS, row, strict=True) if on)
        for rid, row in zip(net.ids, required, strict=True)
    }


def test_requirements_on_the_tiny_network(tiny: RiverNetwork) -> None:
    # Strahler: 7, 1, 2, 4, 8, 9 are order 1; 3 and 5 are order 2. River 5 (7-1-3-5) is 4 km.
    policy = policy_from_dict(
        {
            "default_levels": ["village"],
            "rule": [
                {"name": "order 2", "levels": ["county"], "min_strahler": 2},
                {"name": "long river", "levels": ["city"], "min_river_length_km": 3.5},
                {"name": "listed", "levels": ["province"], "reach_ids": [8]},
            ],
            "exemption": [{"name": "pond", "reach_ids": [9], "reason": "a pond"}],
        }
    )
    lakes = gpd.GeoDataFrame({"lake_id": []}, geometry=[], crs=tiny.crs)
    required, exempt = requirements(policy, tiny, _pieces(tiny), lakes)
    levels = _levels(required, tiny)
    assert levels[3] == ("city", "county", "village")  # order 2, on the 4 km river 7-1-3-5
    assert levels[5] == ("city", "county", "village")
    assert levels[7] == ("city", "village")
    assert levels[2] == ("village",)
    assert levels[8] == ("province", "village")
    assert levels[9] == ()
    assert exempt[list(tiny.ids).index(9), LEVELS.index("village")]


def test_requirements_by_column_and_lake(tiny: RiverNetwork) -> None:
    tiny.reaches["class"] = ["A" if rid in (7, 1) else "B" for rid in tiny.ids]
    lakes = gpd.GeoDataFrame({"lake_id": [11]}, geometry=[box(-100, 3200, 100, 3800)], crs=tiny.crs)
    policy = policy_from_dict(
        {
            "default_levels": [],
            "rule": [{"name": "class A", "levels": ["city"], "column": "class", "values": ["A"]}],
            "exemption": [{"name": "lake", "in_lakes": [11], "levels": ["city"]}],
        }
    )
    required, exempt = requirements(policy, tiny, _pieces(tiny), lakes)
    levels = _levels(required, tiny)
    assert levels[1] == ("city",)
    assert levels[7] == ()  # its midpoint (0, 3500) lies in the lake
    assert exempt[list(tiny.ids).index(7), LEVELS.index("city")]
    bad = policy_from_dict({"rule": [{"levels": ["city"], "column": "nope", "values": [1]}]})
    with pytest.raises(PolicyError, match="column 'nope'"):
        requirements(bad, tiny, _pieces(tiny), lakes)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("board_update_days = -5\n", ("board_update_days", "-5", "from 1")),
        ("board_update_days = 0\n", ("board_update_days",)),
        (
            '[[rule]]\nlevels = ["city"]\nmin_strahler = 0\n',
            ("[[rule]] #1", "min_strahler", "start at 1"),
        ),
        (
            '[[rule]]\nlevels = ["city"]\nmin_strahler = 5\nmax_strahler = 2\n',
            ("[[rule]] #1", "min_strahler 5", "swap"),
        ),
        (
            "[[exemption]]\nmin_river_length_km = -1.0\n",
            ("[[exemption]] #1", "min_river_length_km", "0 km or more"),
        ),
        ('[[rule]]\nlevels = ["city"]\nreach_ids = []\n', ("reach_ids", "empty list")),
    ],
)
def test_numbers_out_of_range_are_refused(
    tmp_path: Path, text: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(_write(tmp_path, text))
    message = str(raised.value)
    assert "policy.toml" in message
    for word in words:
        assert word in message


def test_every_range_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = 'board_update_days = -5\n[[rule]]\nlevels = ["city"]\nmin_strahler = 0\n'
    with pytest.raises(PolicyError, match=r"2 problem\(s\)"):
        load_policy(_write(tmp_path, text))


def test_reference_problems_name_rule_key_and_ids() -> None:
    from rivernet.policy import reference_problems

    policy = policy_from_dict(
        {
            "rule": [{"levels": ["city"], "reach_ids": [1, 2], "column": "class", "values": ["A"]}],
            "exemption": [{"in_lakes": [504, 99999]}],
            "lake": [{"lake_ids": [7], "levels": ["county"]}],
        }
    )
    problems = reference_problems(policy, reach_ids=[1], lake_ids=[504], columns=("length_m",))
    text = "\n".join(problems)
    assert "[[rule]] #1" in text and "reach_ids" in text and "reach id(s) 2 " in text
    assert "'class'" in text
    assert "[[exemption]] #1" in text and "99999" in text and "504" not in text.split("99999")[0]
    assert "[[lake]] #1" in text and "lake id(s) 7 " in text
    no_layer = reference_problems(policy, reach_ids=[1, 2], lake_ids=None)
    assert sum("no lakes layer" in problem for problem in no_layer) == 2
    assert (
        reference_problems(load_policy(SAMPLE_POLICY), reach_ids=[], lake_ids=[504, 656, 657, 721])
        == []
    )


def test_a_policy_given_to_an_analysis_is_checked_against_the_project(tmp_path: Path) -> None:
    import rivernet
    from tests.conftest import SAMPLE

    sample_policy = Path(__file__).resolve().parents[1] / "data" / "sample" / "policy.toml"
    text = sample_policy.read_text(encoding="utf-8").replace(
        "in_lakes = [504]", "in_lakes = [99999]"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    project = rivernet.open_project(SAMPLE)
    with pytest.raises(PolicyError, match="99999"):
        rivernet.coverage_summary(project, as_of="2025-06-30", policy=bad)
    assert len(rivernet.coverage_summary(project, as_of="2025-06-30", policy=sample_policy)) > 0
