"""Errors of the network and analysis modules come from the catalogue: Chinese by default, with
no English words but identifiers, and the English text as it always was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from shapely.geometry import LineString

from rivernet.errors import InputError, NotFoundError
from rivernet.incidents import incident
from rivernet.network import RiverNetwork
from rivernet.project import Project
from rivernet.store import open_store
from rivernet.tokens import create_token, revoke_token
from tests.conftest import SAMPLE
from tests.test_untranslated import assert_localized


def test_navigation_without_a_water_path(tiny: RiverNetwork) -> None:
    with pytest.raises(NotFoundError) as caught:
        tiny.path(2, 7)
    assert_localized(
        caught.value,
        "neither of reaches 2 and 7 drains into the other; their water meets at reach 3: "
        "ask for path(2, 3) and path(7, 3).",
    )
    with pytest.raises(NotFoundError) as caught:
        tiny.path(8, 5)
    assert_localized(
        caught.value,
        "reaches 8 and 5 are in different river systems; no water path joins them.",
    )


def test_snapping_a_line(tiny: RiverNetwork) -> None:
    with pytest.raises(InputError) as caught:
        tiny.snap([LineString([(0, 0), (1, 1)])], max_distance_m=100)
    assert_localized(caught.value, "snap takes points; items 0 are not points.")


def test_incident_with_a_point_and_a_reach(project: Project) -> None:
    reach = project.network.ids[0]
    with pytest.raises(InputError) as caught:
        incident(project, (120.6, 31.3), reach=reach)
    assert_localized(
        caught.value,
        "incident() takes a point or reach= (with measure_m=), exactly one of them (got both)",
    )


def test_tokens(tmp_path: Path) -> None:
    path = tmp_path / SAMPLE.name
    shutil.copyfile(SAMPLE, path)
    store = open_store(path)
    try:
        create_token(store, unit="320505", role="editor")
        with pytest.raises(NotFoundError) as caught:
            revoke_token(store, 999)
        assert_localized(caught.value, "no token 999; list them with `rivernet token list`")
        with pytest.raises(InputError) as caught_input:
            create_token(store, unit="", role="editor")
        assert_localized(
            caught_input.value, "only an admin token may cover every unit; give --unit CODE"
        )
    finally:
        store.close()
