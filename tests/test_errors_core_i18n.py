"""Errors of the core modules (admin-unit cutting, joint control, policies) come from the
catalogue: Chinese by default, with no English words but identifiers, and the English text as it
always was."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import box

from rivernet import boundary
from rivernet.errors import AdminUnitsError, CRSError, InputError, PolicyError
from rivernet.joint_control import partners
from rivernet.network import RiverNetwork
from rivernet.policy import policy_from_dict, requirements
from tests.boundary_cases import make_project, unit_table
from tests.test_untranslated import assert_localized


def test_admin_units_in_another_crs() -> None:
    units = unit_table().set_crs("EPSG:32650", allow_override=True)
    with pytest.raises(CRSError) as caught:
        boundary.responsibility_pieces(make_project(units))
    chinese = assert_localized(
        caught.value,
        "admin units are in WGS 84 / UTM zone 50N but the network is in WGS 84 / UTM zone 51N; "
        "convert them first: units.to_crs(network.crs) (GCJ-02 data with rivernet.crs.to_wgs84)",
    )
    assert chinese.startswith("行政区的坐标参考系是 `WGS 84 / UTM zone 50N`")


def test_units_overlapping_where_rivers_flow() -> None:
    units = unit_table()
    units.loc[units["code"] == "320102", "geometry"] = box(-10000, -10000, 0, 1500)
    with pytest.raises(AdminUnitsError) as caught:
        boundary.responsibility_pieces(make_project(units))
    chinese = assert_localized(
        caught.value,
        "admin units of one level overlap where rivers flow: 320102 and 320104 (1 piece(s) of "
        "river). A river there would belong to two units at once; fix the shared boundary "
        "(rivernet.admin.validate_admin_units lists every overlap)",
    )
    assert "320102 与 320104（1 段河流）" in chinese


def test_partners_of_two_subjects() -> None:
    with pytest.raises(InputError) as caught:
        partners(make_project(), unit="320102", reach=10)
    chinese = assert_localized(
        caught.value,
        "partners() takes exactly one of unit=, chief= or reach= (got unit, reach)",
    )
    assert chinese.endswith("（现在给出了 `unit=`、`reach=`）")


def test_a_policy_rule_on_a_missing_column(tiny: RiverNetwork) -> None:
    pieces = pd.DataFrame(
        {
            "reach_id": tiny.ids,
            "position": np.arange(len(tiny.ids)),
            "from_m": 0.0,
            "to_m": tiny.reaches["length_m"].to_numpy(),
        }
    )
    lakes = gpd.GeoDataFrame({"lake_id": []}, geometry=[], crs=tiny.crs)
    policy = policy_from_dict(
        {"rule": [{"name": "big", "levels": ["city"], "column": "nope", "values": [1]}]}
    )
    with pytest.raises(PolicyError) as caught:
        requirements(policy, tiny, pieces, lakes)
    columns = ", ".join(map(str, tiny.reaches.columns))
    assert_localized(
        caught.value,
        f"policy rule 'big' tests column 'nope', which the reaches do not have (they have: "
        f"{columns}); fix the policy file",
    )
