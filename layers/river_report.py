"""The 一河一档 page of one named river: its file, chiefs, problems and crossings in one document.

:func:`river_report` writes a self-contained HTML page (or a PDF with headless Chromium) for a
river found by name or code (:func:`rivernet.dossier.river_reaches`): the river's basic facts
(length, reaches, source and mouth, the units it crosses with the length in each county), its
chiefs in office on a day by level, its coverage gaps and other problems, its handover sections
at county level, and a coverage map of the river's extent. It uses the unit report's template and
table rendering (:mod:`rivernet.layers.report`), so both print alike.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rivernet import messages
from rivernet.admin import LEVELS, POLYGON_LEVELS
from rivernet.errors import RivernetError
from rivernet.layers.report import MAX_ROWS, TEMPLATE, Section, html_table, write_report

if TYPE_CHECKING:
    from rivernet.project import Project

__all__ = ["river_report", "river_report_html"]

UNIT_COLUMNS = ("level", "unit_code", "unit_name", "length_m")
CHIEF_COLUMNS = ("level", "role", "name", "post", "unit_name", "length_m", "valid_from",
                 "valid_to")  # fmt: skip
GAP_COLUMNS = ("level", "unit_name", "reach_id", "from_m", "to_m", "length_m")
PROBLEM_COLUMNS = ("kind", "level", "unit_name", "reach_id", "message")
CROSSING_COLUMNS = ("reach_id", "upstream_name", "downstream_name", "measure_m",
                    "upstream_chiefs", "downstream_chiefs")  # fmt: skip
MAP_MARGIN_DEG = 0.02


def river_report(
    project: Project,
    *,
    river: str,
    as_of: dt.date | str | None = None,
    lang: str = "zh",
    path: str | Path = "river.html",
    maps: bool = True,
) -> Path:
    """Write the 一河一档 page of a named river as HTML, or PDF for a ``.pdf`` path.

    Parameters
    ----------
    project
        A project whose reaches carry names (see :func:`rivernet.attach_names`).
    river
        The river's name (variants match) or code.
    as_of
        The day for chiefs and problems; default today.
    lang
        ``"zh"`` (default) or ``"en"``.
    path
        Output file, ``.html`` or ``.pdf`` (PDF needs headless Chromium).
    maps
        Include the coverage map.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    NotFoundError
        If no river, or several unconnected rivers, have that name.
    InputError
        For an unknown suffix or language, or reaches without names.
    RivernetError
        For a PDF when no Chromium is installed.
    """
    return write_report(
        lambda: river_report_html(project, river=river, as_of=as_of, lang=lang, maps=maps), path
    )


def river_report_html(
    project: Project,
    *,
    river: str,
    as_of: dt.date | str | None = None,
    lang: str = "zh",
    maps: bool = True,
) -> str:
    """The 一河一档 page of a named river as an HTML document (see :func:`river_report`)."""
    import jinja2

    from rivernet.dossier import river_reaches
    from rivernet.layers.catalog import data_credits
    from rivernet.roster import as_date

    messages.check_lang(lang)
    day = as_date(as_of)
    row, reach_ids = river_reaches(project, river, as_of=day)
    page = _Page(project, reach_ids, day, lang)
    sections = {
        "river_report.basics": [page.section("river_report.units", page.units, UNIT_COLUMNS)],
        "river_report.chiefs": [page.section("river_report.chief_list", page.chiefs,
                                             CHIEF_COLUMNS)],
        "river_report.problems": [
            page.section("report.gaps", page.gaps, GAP_COLUMNS),
            page.section("report.other_problems", page.problems, PROBLEM_COLUMNS),
        ],
        "river_report.cross": [page.section("report.crossings", page.crossings,
                                            CROSSING_COLUMNS)],
    }  # fmt: skip
    figures = [page.figure()] if maps else []
    credits = data_credits(project, lang=lang)
    text = page.text
    meta = [
        (text("river_report.name"), str(row["name"])),
        (text("river_report.code"), str(row["river_code"] or "—")),
        (text("river_report.length"), f"{float(row['length_km']):.1f}"),
        (text("river_report.reaches"), str(row["n_reaches"])),
        (text("river_report.source_mouth"), f"{row['source']} → {row['mouth']}"),
        (text("report.as_of"), day.isoformat()),
        (text("report.data"), getattr(project, "data_version", "")),
        (text("report.made"), dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
    ]
    template = jinja2.Template(TEMPLATE.read_text(encoding="utf-8"), autoescape=False)
    return template.render(
        lang=lang,
        title=text("river_report.title", name=row["name"]),
        meta=meta,
        headings={**{key: text(key) for key in sections}, "maps": text("river_report.maps")},
        sections=sections,
        figures=figures,
        footer=text("report.footer"),
        credits=text("report.credits", credits=credits) if credits else "",
        escape=html.escape,
    )


class _Page:
    """The river's reaches and the day, and the tables of its page."""

    def __init__(self, project: Project, reach_ids: pd.Index, day: dt.date, lang: str) -> None:
        self.project = project
        self.reach_ids = reach_ids
        self.day = day
        self.lang = lang

    def text(self, key: str, **values: Any) -> str:
        return messages.text(key, self.lang, **values)

    def section(
        self, key: str, build: Callable[[], pd.DataFrame], columns: Sequence[str]
    ) -> Section:
        """A titled table; analysis errors (no roster, say) become a note."""
        title = self.text(key)
        try:
            frame = build()
        except RivernetError as error:
            return Section(title, note=self.text("report.unavailable", error=error))
        if len(frame) == 0:
            return Section(title, note=self.text("report.none"))
        note = self.text("report.more", n=len(frame) - MAX_ROWS) if len(frame) > MAX_ROWS else ""
        return Section(title, table=html_table(frame.head(MAX_ROWS), columns, lang=self.lang),
                       note=note, rows=len(frame))  # fmt: skip

    def mine(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a table on the river's reaches."""
        ids = pd.to_numeric(frame["reach_id"], errors="coerce") if len(frame) else frame["reach_id"]
        return frame[np.isin(ids, self.reach_ids.to_numpy())]

    def units(self) -> pd.DataFrame:
        from rivernet.coverage import unit_names
        from rivernet.pieces import piece_table

        pieces = self.mine(piece_table(self.project))
        names = unit_names(self.project)
        rows = []
        for level in POLYGON_LEVELS:
            lengths = (pieces["to_m"] - pieces["from_m"]).groupby(pieces[f"{level}_code"]).sum()
            for code, metres in lengths.items():
                name = names.get(str(code), "")
                rows.append(
                    {"level": level, "unit_code": str(code), "unit_name": name, "length_m": metres}
                )
        return pd.DataFrame(rows, columns=list(UNIT_COLUMNS))

    def chiefs(self) -> pd.DataFrame:
        """One row per chief in office on the river: the length they answer for on it."""
        from rivernet.coverage import unit_names

        roster = self.project.require_roster()
        active = self.mine(roster.active(self.day)).copy()
        reaches = self.project.network.reaches
        ids = pd.to_numeric(active["reach_id"], errors="coerce")
        whole = reaches["length_m"].reindex(ids.to_numpy()).to_numpy(dtype=float)
        end = active["to_m"].astype(float).fillna(pd.Series(whole, index=active.index))
        active["length_m"] = end - active["from_m"].astype(float).fillna(0.0)
        keys = ["person_id", "level", "role", "unit_code", "valid_from", "valid_to"]
        table = active.groupby(keys, dropna=False, sort=False)["length_m"].sum().reset_index()
        people = roster.people.drop_duplicates("person_id").set_index("person_id")
        table = table.join(people[["name", "post"]], on="person_id")
        table["unit_name"] = table["unit_code"].astype(str).map(unit_names(self.project))
        for column in ("valid_from", "valid_to"):
            table[column] = pd.to_datetime(table[column]).dt.strftime("%Y-%m-%d")
        order = table["level"].astype(str).map(LEVELS.index)
        return table.assign(_order=order).sort_values(["_order", "unit_code", "name"])

    def gaps(self) -> pd.DataFrame:
        from rivernet.coverage import coverage_gaps

        return self.mine(coverage_gaps(self.project, as_of=self.day))

    def problems(self) -> pd.DataFrame:
        from rivernet.problems import coverage_problems

        found = self.mine(coverage_problems(self.project, as_of=self.day))
        return found[found["kind"] != "gap"] if "kind" in found.columns else found

    def crossings(self) -> pd.DataFrame:
        from rivernet.boundary import crossings

        return self.mine(crossings(self.project, level="county", as_of=self.day))

    def figure(self) -> tuple[str, str]:
        """The coverage map (county level) of the river's extent."""
        from rivernet.layers.catalog import layer
        from rivernet.layers.sources import to_wgs84
        from rivernet.layers.static import map_figure, svg_text

        caption = self.text(
            "report.caption",
            layer=layer("coverage").title(self.lang),
            level=messages.level("county", self.lang),
        )
        lines = self.project.network.reaches.loc[self.reach_ids, ["geometry"]]
        west, south, east, north = to_wgs84(lines).total_bounds
        extent = (west - MAP_MARGIN_DEG, south - MAP_MARGIN_DEG, east + MAP_MARGIN_DEG,
                  north + MAP_MARGIN_DEG)  # fmt: skip
        try:
            figure = map_figure(
                self.project, layer="coverage", extent=extent, as_of=self.day, level="county",
                lang=self.lang, size_in=(7.0, 7.0),
            )  # fmt: skip
        except RivernetError as error:
            note = self.text("report.unavailable", error=error)
            return caption, f"<p>{html.escape(note)}</p>"
        return caption, svg_text(figure)
