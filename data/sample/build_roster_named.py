"""Write data/sample/roster_named.xlsx: a fictional roster of the sample's named rivers.

Usage::

    python data/sample/build_roster_named.py [--project data/sample/taihu.gpkg]

The file has the form of a public 河长公示 list, keyed by river name and unit, not by reach id:
河流名称, 行政区, 层级, 姓名, 职务, 起点, 终点, 长度 (km), and 虚构 (every person is invented,
like the sample's roster tables). It names the fictional rivers of the sample (示例一河 ...
示例八河, the ``river_names`` layer of ``build_sample.py``) and resolves onto the sample with
:func:`rivernet.named_roster.read_named_roster`:

- one city-level row for each city a river crosses (no 起点/终点: the whole river in the city);
- one county-level row for each county a river crosses, with 起点 and 终点 written as offices
  write them: 源头, 河口, or the neighbouring county's boundary (``溧阳市界``) where the river
  enters and leaves the county once;
- where a named tributary joins a river (示例七河 -> 示例三河, 示例五河 -> 示例四河) the
  river's county is split between two county chiefs at the confluence (``示例七河交汇处``).

长度 is the resolved length, rounded to 0.1 km. The script checks that every row resolves and
that the county rows of each river add up to the river's whole length in the county.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import rivernet
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import rivernet
from rivernet._files import replacing
from rivernet.named_roster import resolve_named_roster
from rivernet.pieces import piece_table

LOGGER = logging.getLogger("build_roster_named")

HERE = Path(__file__).resolve().parent
DEFAULT_PROJECT = HERE / "taihu.gpkg"
DEFAULT_OUTPUT = HERE / "roster_named.xlsx"
HEADER = ["河流名称", "行政区", "层级", "姓名", "职务", "起点", "终点", "长度", "虚构"]
SEED = 20250701
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌宇浩凯鹏辉玲欣怡晨曦俊峰"


def build(project_path: Path, output: Path) -> Path:
    """Write the named roster of the project's named rivers to ``output`` (atomically)."""
    project = rivernet.open_project(project_path)
    frame = roster_rows(project)
    with replacing(output, suffix=".xlsx") as temp:
        temp.write_bytes(_xlsx_bytes(frame))
    LOGGER.info("wrote %s (%d rows)", output, len(frame))
    return output


def roster_rows(project: rivernet.Project) -> pd.DataFrame:
    """The rows of the named roster, with 长度 filled from their resolution."""
    rng = np.random.default_rng(SEED)
    units = project.admin_units.set_index("code")["name"].to_dict()
    rows: list[dict[str, Any]] = []
    for river in rivernet.rivers(project).itertuples():
        for city in str(river.city_names).split("、"):
            rows.append(_row(rng, river.name, city, "市级", "副市长", "", ""))
        for county, runs in _county_runs(project, str(river.name)).items():
            rows += _county_rows(rng, project, str(river.name), units[county], runs)
    frame = pd.DataFrame(rows, columns=HEADER)
    roster = resolve_named_roster(project, frame, source="roster_named.xlsx")
    table = roster.assignments
    lengths = (table["to_m"] - table["from_m"]).groupby(table["line"]).sum() / 1000.0
    frame["长度"] = [round(float(lengths[line]), 1) for line in range(2, len(frame) + 2)]
    _check_county_totals(project, frame, table)
    return frame


def _row(
    rng: np.random.Generator, river: str, unit: str, level: str, post: str, start: str, end: str
) -> dict[str, Any]:
    surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
    given = "".join(GIVEN[int(i)] for i in rng.integers(len(GIVEN), size=1 + int(rng.integers(2))))
    values = [river, unit, level, surname + given, post, start, end, None, "是"]
    return dict(zip(HEADER, values, strict=True))


def _county_runs(project: rivernet.Project, river: str) -> dict[str, list[tuple[str, str]]]:
    """For each county, its runs along the river: (county upstream, county downstream) names
    (``""`` at the river's source or mouth)."""
    network = project.network
    pieces = piece_table(project)
    positions = pieces["position"].to_numpy(dtype=np.int64)
    named = network.reaches["name"].to_numpy(dtype=object)[positions] == river
    pieces = pieces[named]
    at = pieces["position"].to_numpy(dtype=np.int64)
    top = network.core.distance_to_outlet_m()[at] + network.reaches["length_m"].to_numpy()[at]
    order = np.argsort(-(top - pieces["from_m"].to_numpy()), kind="stable")
    counties = [str(c) for c in pieces["county_code"].to_numpy(dtype=object)[order] if c]
    runs: list[str] = [c for i, c in enumerate(counties) if i == 0 or counties[i - 1] != c]
    found: dict[str, list[tuple[str, str]]] = {}
    for i, county in enumerate(runs):
        above = runs[i - 1] if i else ""
        below = runs[i + 1] if i + 1 < len(runs) else ""
        found.setdefault(county, []).append((above, below))
    return found


def _county_rows(
    rng: np.random.Generator,
    project: rivernet.Project,
    river: str,
    county: str,
    runs: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    units = project.admin_units.set_index("code")["name"].to_dict()
    post = {"区": "区委书记", "县": "县委书记"}.get(county[-1], "市委书记")
    deputy = {"区": "副区长", "县": "副县长"}.get(county[-1], "副市长")
    if len(runs) > 1 or runs[0][0] == runs[0][1] != "":  # re-enters: the whole river in it
        return [_row(rng, river, county, "县级", post, "", "")]
    above, below = runs[0]
    start = f"{units[above]}界" if above else "源头"
    end = f"{units[below]}界" if below else "河口"
    tributary = _tributary_in(project, river, county)
    if tributary is None:
        return [_row(rng, river, county, "县级", post, start, end)]
    junction = f"{tributary}交汇处"
    return [
        _row(rng, river, county, "县级", post, start, junction),
        _row(rng, river, county, "县级", deputy, junction, end),
    ]


def _tributary_in(project: rivernet.Project, river: str, county: str) -> str | None:
    """The named river joining ``river`` inside ``county``, if any."""
    network = project.network
    names = network.reaches["name"].to_numpy(dtype=object)
    down = network.core.downstream
    pieces = piece_table(project).set_index("position")
    for p in np.flatnonzero(down >= 0):
        q = down[p]
        if names[q] == river and isinstance(names[p], str) and names[p] != river:
            first = pieces.loc[[q]].sort_values("from_m").iloc[0]
            if units_name(project, str(first["county_code"])) == county:
                return str(names[p])
    return None


def units_name(project: rivernet.Project, code: str) -> str:
    """The name of an admin unit."""
    return str(project.admin_units.set_index("code").at[code, "name"])


def _check_county_totals(project: rivernet.Project, frame: pd.DataFrame, table: Any) -> None:
    """Every river's county rows add up to its whole length in the county (no part lost)."""
    pieces = piece_table(project)
    names = project.network.reaches["name"].to_numpy(dtype=object)
    pieces = pieces.assign(river=names[pieces["position"].to_numpy(dtype=np.int64)])
    whole = (pieces["to_m"] - pieces["from_m"]).groupby([pieces["river"], pieces["county_code"]])
    totals = whole.sum()
    county = frame[frame["层级"] == "县级"]
    lines = set(county.index + 2)
    resolved = table[table["line"].isin(lines)]
    got = (resolved["to_m"] - resolved["from_m"]).groupby(
        [frame.loc[resolved["line"] - 2, "河流名称"].to_numpy(), resolved["unit_code"].to_numpy()]
    )
    for (river, code), metres in got.sum().items():
        expected = float(totals[(river, code)])
        if abs(metres - expected) > 1.0:
            raise AssertionError(
                f"{river} in {code}: county rows cover {metres:.0f} m of {expected:.0f} m"
            )
    assert len(got.sum()) == sum(1 for key in totals.index if key[0] in set(county["河流名称"]))


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    """The workbook as bytes, with pinned timestamps so that a rebuild gives the same file."""
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "河长公示"
    sheet.append(HEADER)
    for values in frame.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in values])
    book.properties.creator = "rivernet data/sample/build_roster_named.py"
    book.properties.created = book.properties.modified = dt.datetime(2026, 1, 1)
    raw = io.BytesIO()
    book.save(raw)
    pinned = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(pinned, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" on save
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data
                )
            target.writestr(entry, data)
    return pinned.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=DEFAULT_PROJECT, help="the sample")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="xlsx to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.project, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
