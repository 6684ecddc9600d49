"""Add a fictional chief roster with planted defects to the sample project (data/sample/taihu.gpkg).

Usage::

    python data/sample/build_roster.py [--project data/sample/taihu.gpkg] [--seed 20250630]

Everybody in this roster is invented (``is_fictional`` is true for every person; names are
drawn at random from common surnames and given-name characters). The roster is shaped like a
real one as of :data:`AS_OF` under ``data/sample/policy.toml``: provincial and city chiefs on the
large rivers and Lake Taihu, county chiefs on every reach, township and village chiefs on
stretches, terms that started and ended (with successors), and sign boards. It also carries the
defects real rosters have, listed in the ``roster_defects`` table: one row per finding that
:func:`rivernet.coverage_gaps` / :func:`rivernet.coverage_problems` must report as of
:data:`AS_OF` (and nothing else):

1. a reach nobody covers at any level, and a stretch in the middle of a reach without a village
   chief;
2. a county with no county chief on one river (township chiefs remain: broken chains);
3. overlapping assignments (two county chiefs on one reach, two village chiefs on a stretch);
4. a township chief in 虎丘区 whose term expired with no successor (village chiefs remain);
5. a village chief on a reach without any township chief;
6. assignments pointing at reach ids that no longer exist;
7. a lake without its county lake chief;
8. a sign board still showing a chief replaced three months ago.

Run alone, the tables are written in one atomic step (:func:`rivernet.roster.write_roster`);
``build_sample.py`` calls :func:`add_roster_tables` on the temporary file it builds the whole
sample in, before renaming that file into place once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio

try:
    import rivernet  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rivernet.admin import LEVELS
from rivernet.pieces import piece_table
from rivernet.policy import load_policy, requirements
from rivernet.project import open_project
from rivernet.roster import Roster, write_roster, write_roster_tables

LOGGER = logging.getLogger("build_roster")

HERE = Path(__file__).resolve().parent
DEFAULT_PROJECT = HERE / "taihu.gpkg"
POLICY = HERE / "policy.toml"
AS_OF = dt.date(2025, 6, 30)
SEED = 20250630
FIXED_TIMESTAMP = "2026-01-01T00:00:00.000Z"
TERM_1 = (dt.date(2018, 3, 1), dt.date(2021, 9, 30))
TERM_2_START = dt.date(2021, 10, 1)
ORPHAN_REACH_IDS = (40600001, 40600002)  # reaches "redrawn" away: not in the network
EXPIRED_COUNTY = "320505"  # 虎丘区: defect 4 (the map, report and notebook examples show it)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌宇浩凯鹏辉玲欣怡晨曦俊峰雪梅海燕志红春林波宁健莉萍雯琳雨佳蕾"  # noqa: E501
TOWNSHIP_NAMES = ("清溪镇", "白沙镇", "柳塘镇")
VILLAGE_NAMES = ("东村", "西村")


class _Builder:
    """Accumulates people, assignments and the expected findings."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.people: list[dict[str, Any]] = []
        self.assignments: list[dict[str, Any]] = []
        self.defects: list[dict[str, Any]] = []
        self.boards: list[dict[str, Any]] = []

    def name(self) -> str:
        surname = SURNAMES[int(self.rng.integers(len(SURNAMES)))]
        size = 1 + int(self.rng.integers(2))
        return surname + "".join(GIVEN[int(i)] for i in self.rng.integers(len(GIVEN), size=size))

    def person(self, level: str, unit: str, unit_name: str, post: str) -> str:
        person_id = f"P{len(self.people) + 1:05d}"
        self.people.append(
            {
                "person_id": person_id,
                "name": self.name(),
                "post": post,
                "organisation": f"{unit_name}人民政府"
                if level != "village"
                else f"{unit_name}村委会",
                "level": level,
                "unit_code": unit,
                "contact": f"0000-{len(self.people):07d} (虚构)",
                "is_fictional": True,
            }
        )
        return person_id

    def assign(self, person: str, level: str, unit: str, role: str, **target: Any) -> str:
        assignment_id = f"A{len(self.assignments) + 1:06d}"
        row = {
            "assignment_id": assignment_id,
            "person_id": person,
            "level": level,
            "unit_code": unit,
            "role": role,
            "reach_id": None,
            "from_m": np.nan,
            "to_m": np.nan,
            "river_id": None,
            "lake_id": None,
            "valid_from": TERM_2_START,
            "valid_to": None,
            "source_document": _document(target.pop("year", 2021), len(self.assignments)),
        }
        row.update(target)
        self.assignments.append(row)
        return assignment_id

    def expect(self, defect: int, kind: str, level: str | None = None, **key: Any) -> None:
        self.defects.append({"defect": defect, "kind": kind, "level": level, **key})


def _document(year: int, number: int) -> str:
    return f"虚构示例〔{year}〕{number % 97 + 1}号"


def build_roster(project_path: str | Path = DEFAULT_PROJECT, *, seed: int = SEED) -> Path:
    """Generate the fictional roster and write it into the project file (atomically).

    Parameters
    ----------
    project_path
        The sample GeoPackage (its base layers must exist).
    seed
        Seed of the random generator (names; the structure is deterministic).

    Returns
    -------
    pathlib.Path
        The project path.
    """
    roster, defects = make_roster(project_path, seed=seed)
    with gdal_config(OGR_CURRENT_DATE=FIXED_TIMESTAMP):
        write_roster(roster, project_path, extra_tables={"roster_defects": defects})
    return Path(project_path)


def add_roster_tables(project_path: str | Path, *, seed: int = SEED) -> None:
    """Generate the roster and write it into a project file still private to the caller.

    ``build_sample.py`` builds the whole sample in one temporary file and calls this before
    renaming it into place (no lock, no second temporary file).

    Parameters
    ----------
    project_path
        The GeoPackage being built (its base layers must exist).
    seed
        Seed of the random generator.
    """
    roster, defects = make_roster(project_path, seed=seed)
    with gdal_config(OGR_CURRENT_DATE=FIXED_TIMESTAMP):
        write_roster_tables(roster, project_path, extra_tables={"roster_defects": defects})


@contextmanager
def gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL config options for a block and restore them afterwards."""
    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def make_roster(
    project_path: str | Path = DEFAULT_PROJECT, *, seed: int = SEED
) -> tuple[Roster, pd.DataFrame]:
    """Generate the fictional roster and the table of its planted defects.

    Parameters
    ----------
    project_path
        The sample GeoPackage (its base layers must exist).
    seed
        Seed of the random generator (names; the structure is deterministic).

    Returns
    -------
    roster, defects
        The roster and the ``roster_defects`` table.
    """
    project = open_project(project_path)
    network = project.network
    pieces = piece_table(project).copy()  # the pieces the coverage audit uses
    required, _ = requirements(load_policy(POLICY), network, pieces, project.lakes)
    builder = _Builder(seed)
    names = dict(zip(project.admin_units["code"], project.admin_units["name"], strict=True))
    units = _sub_county_units(project.admin_units)
    names.update(zip(units["code"], units["name"], strict=True))
    plan = _Plan(network, pieces, required, names)
    plan.pick_defects()
    _upper_levels(builder, plan)
    _county_level(builder, plan)
    _township_and_village(builder, plan)
    _lakes(builder, project)
    _orphans(builder, plan)
    people = pd.DataFrame(builder.people)
    assignments = _assignment_frame(builder.assignments)
    boards = pd.DataFrame(
        builder.boards,
        columns=["board_id", "reach_id", "measure_m", "level", "person_id", "updated_on"],
    )
    boards["updated_on"] = pd.to_datetime(boards["updated_on"])
    roster = Roster(people, assignments, units, boards, source="data/sample/build_roster.py")
    defects = pd.DataFrame(builder.defects).drop_duplicates(ignore_index=True)
    defects["as_of"] = AS_OF.isoformat()
    LOGGER.info(
        "roster: %d people, %d assignments, %d boards, %d expected findings",
        len(people),
        len(assignments),
        len(boards),
        len(defects),
    )
    return roster, defects


def _assignment_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.to_datetime(frame[column])
    frame["line"] = np.arange(2, len(frame) + 2)
    for column in ("reach_id", "river_id", "lake_id"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _sub_county_units(admin_units: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for code, name in zip(admin_units["code"], admin_units["name"], strict=True):
        if len(code) != 6 or code.endswith("00"):
            continue
        for t, township in enumerate(TOWNSHIP_NAMES):
            t_code = f"{code}{100 + t:03d}"
            rows.append(
                {
                    "code": t_code,
                    "name": f"{name}{township}",
                    "level": "township",
                    "parent_code": code,
                }
            )
            for v, village in enumerate(VILLAGE_NAMES):
                rows.append(
                    {
                        "code": f"{t_code}{201 + v:03d}",
                        "name": f"{name}{township}{village}",
                        "level": "village",
                        "parent_code": t_code,
                    }
                )
    return pd.DataFrame(rows, columns=["code", "name", "level", "parent_code"])


class _Plan:
    """Which pieces need which chiefs, and where the defects go."""

    def __init__(
        self, network: Any, pieces: pd.DataFrame, required: np.ndarray, names: dict[str, str]
    ) -> None:
        self.network = network
        self.pieces = pieces
        self.required = required
        self.names = names
        core = network.core
        self.stem = network.ids[core.main_stem()]
        self.strahler = core.strahler_order()
        counts = pieces.groupby("reach_id").size()
        pieces["single"] = pieces["reach_id"].map(counts).to_numpy() == 1
        pieces["township"] = pieces["county_code"] + (
            100 + pieces["position"] % len(TOWNSHIP_NAMES)
        ).map("{:03d}".format)
        pieces["village_index"] = (pieces["position"] // 3) % len(VILLAGE_NAMES)
        pieces["needed"] = required[:, LEVELS.index("county")]
        self.skip: dict[str, set[int]] = {}

    def level_required(self, row: int, level: str) -> bool:
        return bool(self.required[row, LEVELS.index(level)])

    def _candidates(self, used: set[Any]) -> pd.DataFrame:
        p = self.pieces
        simple = p["single"] & p["needed"] & (self.strahler[p["position"]] <= 2)
        simple &= p["length_m"] > 2000
        simple &= self.required[:, :2].sum(axis=1) == 0
        return p[simple & ~p["reach_id"].isin(used) & ~p["county_code"].isin(used)]

    def pick_defects(self) -> None:
        """Choose disjoint reaches and counties for the planted defects."""
        used: set[Any] = set()
        picks: dict[str, Any] = {}
        for name in ("uncovered", "stretch", "overlap_county", "overlap_village", "no_township"):
            row = self._candidates(used).iloc[0]
            picks[name] = int(row["reach_id"])
            used |= {row["reach_id"], row["county_code"]}
        self.picks = picks
        p = self.pieces
        # 2. a county and a river in it: the county's pieces of that river lose their chief.
        by_river = p[p["needed"] & ~p["county_code"].isin(used)].assign(
            river=self.stem[p["position"]][p["needed"] & ~p["county_code"].isin(used)]
        )
        sizes = by_river.groupby(["county_code", "river"]).size()
        county, river = sizes[(sizes >= 3) & (sizes <= 8)].index[0]
        self.no_county = (county, river)
        used.add(county)
        # 4. a township of EXPIRED_COUNTY whose chief's term expired: its smallest township on
        #    two pieces or more (fewest pieces first, then lowest code).
        if EXPIRED_COUNTY in used:
            raise RuntimeError(f"county {EXPIRED_COUNTY} already holds another planted defect")
        mine = p[p["needed"] & (p["county_code"] == EXPIRED_COUNTY)]
        townships = mine.groupby("township").size().reset_index(name="pieces")
        townships = townships[townships["pieces"] >= 2].sort_values(["pieces", "township"])
        self.expired_township = str(townships["township"].iloc[0])
        used.add(EXPIRED_COUNTY)
        # 8. a county whose second chief changed on 2025-04-01 (stale board) and one that changed
        #    on 2025-06-20 (board not yet due).
        spare = sorted(set(p["county_code"].dropna()) - used)
        self.changed = {spare[0]: dt.date(2025, 4, 1), spare[1]: dt.date(2025, 6, 20)}


def _upper_levels(builder: _Builder, plan: _Plan) -> None:
    """Province and city chiefs, assigned whole rivers (main stems) that need them."""
    p = plan.pieces
    for level, column in (("province", "province_code"), ("city", "city_code")):
        need = plan.required[:, LEVELS.index(level)]
        table = pd.DataFrame({"unit": p[column][need], "river": plan.stem[p["position"][need]]})
        for unit, group in table.groupby("unit"):
            post = "副省长" if level == "province" else "副市长"
            total = builder.person(
                level, unit, plan.names[unit], "省委书记" if level == "province" else "市委书记"
            )
            builder.assign(total, level, unit, "总河长", river_id=int(group["river"].iloc[0]))
            chief = builder.person(level, unit, plan.names[unit], post)
            for river in sorted(set(group["river"])):
                builder.assign(chief, level, unit, "河长", river_id=int(river))


def _county_level(builder: _Builder, plan: _Plan) -> None:
    """Two county chiefs per county, rivers split between them; history and boards."""
    p = plan.pieces
    need = p[p["needed"]]
    county_gap, gap_river = plan.no_county
    for county, group in need.groupby("county_code"):
        name = plan.names[county]
        chiefs = [builder.person("county", county, name, "副县(区)长") for _ in range(2)]
        previous = [builder.person("county", county, name, "原副县(区)长") for _ in range(2)]
        reaches = group.drop_duplicates("reach_id")
        for row in reaches.itertuples():
            river = plan.stem[row.position]
            if row.reach_id == plan.picks["uncovered"]:
                continue
            if county == county_gap and river == gap_river:
                builder.expect(2, "gap", "county", reach_id=row.reach_id)
                builder.expect(2, "broken_chain", "township", reach_id=row.reach_id)
                continue
            k = int(river) % 2
            change = plan.changed.get(county) if k == 1 else None
            builder.assign(
                previous[k], "county", county, "河长", reach_id=row.reach_id,
                valid_from=TERM_1[0], valid_to=TERM_1[1], year=2018,
            )  # fmt: skip
            if change is None:
                builder.assign(chiefs[k], "county", county, "河长", reach_id=row.reach_id)
            else:
                old = builder.assign(
                    chiefs[k], "county", county, "河长", reach_id=row.reach_id,
                    valid_to=change - dt.timedelta(days=1),
                )  # fmt: skip
                successor = _successor(builder, county, name)
                builder.assign(
                    successor, "county", county, "河长", reach_id=row.reach_id,
                    valid_from=change, year=2025,
                )  # fmt: skip
                _board(builder, row, chiefs[k], old, change)
            if row.reach_id == plan.picks["overlap_county"]:
                extra = builder.assign(chiefs[1 - k], "county", county, "河长",
                                       reach_id=row.reach_id)  # fmt: skip
                builder.expect(3, "overlap", "county", reach_id=row.reach_id, assignment_id=extra)
            if len(builder.boards) < 12 and row.position % 7 == 0 and change is None:
                builder.boards.append(
                    {
                        "board_id": f"B{len(builder.boards) + 1:03d}",
                        "reach_id": row.reach_id,
                        "measure_m": round((row.from_m + row.to_m) / 2, 1),
                        "level": "county",
                        "person_id": chiefs[k],
                        "updated_on": dt.date(2021, 11, 1),
                    }
                )


def _successor(builder: _Builder, county: str, name: str) -> str:
    key = f"successor:{county}"
    cache = builder.__dict__.setdefault("_successors", {})
    if key not in cache:
        cache[key] = builder.person("county", county, name, "副县(区)长")
    return str(cache[key])


def _board(builder: _Builder, row: Any, shown: str, assignment: str, change: dt.date) -> None:
    boards = [b for b in builder.boards if b.get("_change") == change]
    if boards:
        return
    board_id = f"B{len(builder.boards) + 1:03d}"
    builder.boards.append(
        {
            "board_id": board_id,
            "reach_id": row.reach_id,
            "measure_m": round((row.from_m + row.to_m) / 2, 1),
            "level": "county",
            "person_id": shown,
            "updated_on": dt.date(2022, 5, 1),
            "_change": change,
        }
    )
    if (AS_OF - change).days > 30:
        builder.expect(8, "stale_board", "county", reach_id=row.reach_id, assignment_id=board_id)


def _township_and_village(builder: _Builder, plan: _Plan) -> None:
    """One township chief per township and one village chief per village, on stretches."""
    p = plan.pieces
    need = p[p["needed"]]
    chiefs: dict[str, str] = {}

    def chief(code: str, level: str) -> str:
        if code not in chiefs:
            post = "镇长" if level == "township" else "村党支部书记"
            chiefs[code] = builder.person(level, code, plan.names[code], post)
        return chiefs[code]

    expired_ids: list[str] = []
    for row in need.itertuples():
        target = _piece_target(row)
        township = row.township
        if row.reach_id == plan.picks["uncovered"]:
            for level in ("county", "township", "village"):
                builder.expect(1, "gap", level, reach_id=row.reach_id)
            continue
        if row.reach_id == plan.picks["no_township"]:
            builder.expect(5, "gap", "township", reach_id=row.reach_id)
            builder.expect(5, "broken_chain", "village", reach_id=row.reach_id)
        elif township == plan.expired_township:
            aid = builder.assign(chief(township, "township"), "township", township, "河长",
                                 valid_to=dt.date(2025, 3, 31), **target)  # fmt: skip
            expired_ids.append(aid)
            builder.expect(4, "gap", "township", reach_id=row.reach_id, cause="expired")
            builder.expect(4, "broken_chain", "village", reach_id=row.reach_id)
        else:
            builder.assign(chief(township, "township"), "township", township, "河长", **target)
        village = f"{township}{201 + row.village_index:03d}"
        other = f"{township}{201 + (1 - row.village_index):03d}"
        if row.reach_id == plan.picks["stretch"]:
            half = row.from_m + (row.to_m - row.from_m) / 2
            three = row.from_m + (row.to_m - row.from_m) * 0.75
            builder.assign(chief(village, "village"), "village", village, "河长",
                           reach_id=row.reach_id, from_m=row.from_m, to_m=half)  # fmt: skip
            builder.assign(chief(other, "village"), "village", other, "河长",
                           reach_id=row.reach_id, from_m=three, to_m=row.to_m)  # fmt: skip
            builder.expect(1, "gap", "village", reach_id=row.reach_id, from_m=half, to_m=three)
            continue
        builder.assign(chief(village, "village"), "village", village, "河长", **target)
        if row.reach_id == plan.picks["overlap_village"]:
            half = row.from_m + (row.to_m - row.from_m) / 2
            extra = builder.assign(chief(other, "village"), "village", other, "河长",
                                   reach_id=row.reach_id, from_m=row.from_m, to_m=half)  # fmt: skip
            builder.expect(3, "overlap", "village", reach_id=row.reach_id, assignment_id=extra)
        if row.position % 11 == 0:  # a patroller: not a covering role, never an overlap
            builder.assign(chief(other, "village"), "village", other, "巡河员", **target)
    for aid in expired_ids:
        builder.expect(4, "expired", "township", assignment_id=aid)


def _piece_target(row: Any) -> dict[str, Any]:
    if row.single:
        return {"reach_id": row.reach_id}
    return {"reach_id": row.reach_id, "from_m": row.from_m, "to_m": row.to_m}


def _lakes(builder: _Builder, project: Any) -> None:
    """Lake chiefs: Jiangsu and Zhejiang and four cities on Taihu; county chiefs on two lakes."""
    units = project.admin_units
    lakes = project.lakes.set_index("lake_id")
    for code in ("320000", "330000", "320200", "320400", "320500", "330500"):
        level = "province" if code.endswith("0000") else "city"
        name = str(units.loc[units["code"] == code, "name"].iloc[0])
        person = builder.person(level, code, name, "副省长" if level == "province" else "副市长")
        builder.assign(person, level, code, "湖长", lake_id=504)
    for lake in (656, 657):
        point = lakes.geometry.loc[lake].representative_point()
        county = units[(units["level"] == "county") & units.geometry.contains(point)].iloc[0]
        person = builder.person("county", county["code"], county["name"], "副县(区)长")
        builder.assign(person, "county", county["code"], "湖长", lake_id=lake)
    builder.expect(7, "vacancy", "county", lake_id=721)


def _orphans(builder: _Builder, plan: _Plan) -> None:
    county = plan.no_county[0]
    person = builder.person("county", county, plan.names[county], "副县(区)长")
    for reach in ORPHAN_REACH_IDS:
        aid = builder.assign(person, "county", county, "河长", reach_id=reach)
        builder.expect(6, "orphan", "county", reach_id=reach, assignment_id=aid)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=DEFAULT_PROJECT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    LOGGER.setLevel(logging.INFO)
    build_roster(args.project, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
