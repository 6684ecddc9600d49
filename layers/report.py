"""Printable unit reports: coverage, the problem list, cross-boundary rivers and maps in one file.

:func:`unit_report` writes one self-contained HTML document for an admin unit (a county, a city
or a province): the coverage summary by level (全覆盖), the problem list (问题清单: gaps,
overlaps, expired terms, broken chains, ...), the cross-boundary rivers with their handover
sections (交接断面) and the partner chiefs upstream and downstream, and maps drawn by
:mod:`~rivernet.layers.static` inlined as SVG: the coverage map at the unit's level and one at
every level that has problems, each captioned with its level; the footer credits the project's
data sources. Styles are inline and no resource is loaded from
anywhere,
so the file opens offline and prints on A4. :func:`html_to_pdf` prints it to PDF with headless
Chromium when that is installed.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rivernet import messages
from rivernet.admin import POLYGON_LEVELS
from rivernet.errors import InputError, NotFoundError, RivernetError
from rivernet.layers._labels import display_value
from rivernet.layers.static import pip_font_files
from rivernet.names import reach_names

if TYPE_CHECKING:
    import geopandas as gpd

    from rivernet.project import Project

__all__ = [
    "Section",
    "find_chromium",
    "html_to_pdf",
    "report_html",
    "unit_report",
    "write_report",
]

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"
MAX_ROWS = 300
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pdf-header-footer",
)

WITHIN_KM = 20.0
"""Default distance limit of the handover-section and partner rows of a report (km)."""

SUMMARY_COLUMNS = ("unit_name", "level", "required_m", "covered_m", "coverage_pct", "gaps",
                   "overlaps", "expired")  # fmt: skip
PROBLEM_COLUMNS = ("kind", "level", "unit_name", "reach_id", "from_m", "to_m", "length_m",
                   "message")  # fmt: skip
CROSSING_COLUMNS = ("reach_id", "river_id", "river_name", "upstream_name", "downstream_name",
                    "responsible_name", "measure_m", "upstream_length_km", "upstream_chiefs",
                    "downstream_chiefs")  # fmt: skip


@dataclass
class Section:
    """One titled table (or a message) of the report."""

    title: str
    table: str = ""
    note: str = ""
    rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def unit_report(
    project: Project,
    *,
    unit: str,
    as_of: dt.date | str | None = None,
    lang: str = "zh",
    path: str | Path = "report.html",
    policy: Any = None,
    maps: bool = True,
    within_km: float | None = WITHIN_KM,
) -> Path:
    """Write the report of one admin unit as HTML, or as PDF for a ``.pdf`` path.

    Parameters
    ----------
    project
        The project (with a roster for the coverage and chief sections).
    unit
        The unit's code (GB/T 2260, e.g. ``"320583"``).
    as_of
        The day (``datetime.date`` or ISO text); default today.
    lang
        ``"zh"`` (default) or ``"en"``.
    path
        Output file, ``.html`` or ``.pdf`` (PDF needs headless Chromium).
    policy
        Coverage policy (object or TOML path); default the library's.
    maps
        Include the maps.
    within_km
        List only handover sections and partner units within this distance of the unit
        (default 20 km; None for all); the report states the limit and how many rows it left
        out.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    NotFoundError
        If the unit is not in the project.
    InputError
        For an unknown suffix or language.
    RivernetError
        For a PDF when no Chromium is installed.
    """
    return write_report(
        lambda: report_html(project, unit=unit, as_of=as_of, lang=lang, policy=policy,
                            maps=maps, within_km=within_km),
        path,
    )  # fmt: skip


def write_report(document: Callable[[], str], path: str | Path) -> Path:
    """Write a report document to a ``.html`` file, or print it to ``.pdf`` with Chromium.

    Parameters
    ----------
    document
        Builds the HTML document (called once the path has been checked).
    path
        Output file, ``.html`` or ``.pdf``.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        For an unknown suffix.
    RivernetError
        For a PDF when no Chromium is installed.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InputError.from_key("err_report.suffix", name=repr(target.name))
    chromium = find_chromium() if suffix == ".pdf" else None
    if suffix == ".pdf" and chromium is None:
        raise RivernetError.from_key("err_report.no_chromium")
    text = document()
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix != ".pdf":
        target.write_text(text, encoding="utf-8")
        return target
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(text, encoding="utf-8")
        return html_to_pdf(page, target, chromium=chromium)


def report_html(
    project: Project,
    *,
    unit: str,
    as_of: dt.date | str | None = None,
    lang: str = "zh",
    policy: Any = None,
    maps: bool = True,
    within_km: float | None = WITHIN_KM,
) -> str:
    """The report of one unit as an HTML document (see :func:`unit_report`)."""
    import jinja2

    from rivernet.layers.catalog import data_credits
    from rivernet.roster import as_date

    messages.check_lang(lang)
    if within_km is not None and not within_km >= 0:
        raise InputError.from_key("err_report.within_km", value=repr(within_km))
    day = as_date(as_of)
    info = _unit_info(project, unit)
    context = _Context(project, info, day, lang, policy, within_km)
    sections = {
        "summary": context.summary_sections(),
        "problems": context.problem_sections(),
        "cross": context.cross_sections(),
    }
    figures = context.maps() if maps else []
    credits = data_credits(project, lang=lang)
    template = jinja2.Template(TEMPLATE.read_text(encoding="utf-8"), autoescape=False)
    return template.render(
        lang=lang,
        title=_text("title", lang, name=info["name"]),
        meta=[
            (
                _text("unit", lang),
                _text(
                    "unit_value",
                    lang,
                    name=info["name"],
                    code=info["code"],
                    level=messages.level(info["level"], lang),
                ),
            ),
            (_text("as_of", lang), day.isoformat()),
            (_text("data", lang), getattr(project, "data_version", "")),
            (_text("made", lang), dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ],
        headings={key: _text(key, lang) for key in ("summary", "problems", "cross", "maps")},
        sections=sections,
        figures=figures,
        footer=_text("footer", lang),
        credits=_text("credits", lang, credits=credits) if credits else "",
        escape=html.escape,
    )


def _text(key: str, lang: str, **values: Any) -> str:
    return messages.text(f"report.{key}", lang, **values)


def _unit_info(project: Project, unit: str) -> dict[str, str]:
    """Code, name and level of a unit of the project."""
    from rivernet.admin import normalise_code

    try:
        code = normalise_code(unit)
    except RivernetError as error:
        raise NotFoundError.from_key(
            "err_report.not_a_code", unit=repr(unit), error=error
        ) from None
    units = project.admin_units
    found = units[units["code"].astype(str) == code]
    if found.empty:
        counties = messages.items(units.loc[units["level"] == "county", "code"].astype(str).head(5))
        file = Path(str(project.path)).name
        raise NotFoundError.from_key(
            "err_report.unknown_unit", code=repr(code), file=file, counties=counties
        )
    row = found.iloc[0]
    return {"code": code, "name": str(row["name"]), "level": str(row["level"])}


class _Context:
    """Everything the sections share: the project, the unit, the day, the language."""

    def __init__(
        self,
        project: Project,
        unit: dict[str, str],
        day: dt.date,
        lang: str,
        policy: Any,
        within_km: float | None = WITHIN_KM,
    ) -> None:
        self.within_km = within_km
        self.left_out = 0
        self.project = project
        self.unit = unit
        self.day = day
        self.lang = lang
        self.policy = policy
        self.level = unit["level"] if unit["level"] in POLYGON_LEVELS else "county"

    def text(self, key: str, **values: Any) -> str:
        return _text(key, self.lang, **values)

    def section(
        self, key: str, build: Callable[[], pd.DataFrame], columns: Sequence[str]
    ) -> Section:
        """A section from a table builder; analysis errors become a note, not a failure."""
        title = self.text(key) if f"report.{key}" in messages.catalogue() else key
        try:
            frame = build()
        except RivernetError as error:
            logger.info("report section %s unavailable: %s", key, error)
            return Section(title, note=self.text("unavailable", error=error))
        if frame is None or len(frame) == 0:
            return Section(title, note=self.text("none"))
        note = self.text("more", n=len(frame) - MAX_ROWS) if len(frame) > MAX_ROWS else ""
        table = html_table(frame.head(MAX_ROWS), columns, lang=self.lang)
        return Section(title, table=table, note=note, rows=len(frame))

    # -- coverage -------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        from rivernet.coverage import coverage_summary

        return coverage_summary(
            self.project, as_of=self.day, policy=self.policy, unit=self.unit["code"]
        )

    def summary_sections(self) -> list[Section]:
        by_level = self.section("by_level", lambda: _by_level(self.summary()), SUMMARY_COLUMNS[1:])
        by_unit = self.section("by_unit", self.summary, SUMMARY_COLUMNS)
        return [by_level, by_unit]

    # -- problems -------------------------------------------------------------------------
    def problem_sections(self) -> list[Section]:
        from rivernet.coverage import coverage_gaps
        from rivernet.problems import coverage_problems

        def gaps() -> pd.DataFrame:
            frame = coverage_gaps(self.project, as_of=self.day, policy=self.policy)
            frame = self.inside(frame, "unit_code")
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name, errors="ignore"))
            frame["kind"] = "gap"
            causes = frame.get("cause", pd.Series("none", index=frame.index))
            frame["message"] = [messages.label("cause", c, self.lang) for c in causes]
            return frame

        def problems() -> pd.DataFrame:
            frame = coverage_problems(
                self.project, as_of=self.day, policy=self.policy, lang=self.lang
            )
            frame = self.inside(frame, "unit_code")
            return pd.DataFrame(frame.drop(columns=frame.geometry.name, errors="ignore"))

        return [
            self.section("gaps", gaps, PROBLEM_COLUMNS),
            self.section("other_problems", problems, PROBLEM_COLUMNS),
        ]

    # -- cross-boundary -------------------------------------------------------------------
    def cross_sections(self) -> list[Section]:
        from rivernet.boundary import boundary_rivers, crossings
        from rivernet.joint_control import partners

        code = self.unit["code"]

        def crossing_rows() -> pd.DataFrame:
            frame = crossings(self.project, level=self.level, as_of=self.day)
            mask = (frame["upstream_code"].astype(str) == code) | (
                frame["downstream_code"].astype(str) == code
            )
            rows = pd.DataFrame(self.near(frame[mask]).drop(columns=frame.geometry.name))
            rows["river_name"] = reach_names(self.project.network, rows["reach_id"])
            return _named_only(rows)

        def boundary() -> pd.DataFrame:
            frame = boundary_rivers(self.project, level=self.level)
            codes = [c for c in frame.columns if c.endswith("_code")]
            mask = pd.Series(False, index=frame.index)
            for column in codes:
                mask |= frame[column].astype(str) == code
            return pd.DataFrame(frame[mask].drop(columns=frame.geometry.name))

        def partner_rows() -> pd.DataFrame:
            frame = _named_only(pd.DataFrame(partners(self.project, unit=code, as_of=self.day)))
            if self.within_km is None or "distance_km" not in frame.columns:
                return frame
            near = frame["distance_km"].fillna(0.0) <= self.within_km
            self.left_out += int((~near).sum())
            return frame[near]

        sections = [
            self.section("crossings", crossing_rows, CROSSING_COLUMNS),
            self.section("boundary_rivers", boundary, _BOUNDARY_COLUMNS),
            self.section("partners", partner_rows, _PARTNER_COLUMNS),
        ]
        if self.within_km is not None:
            key = "within" if self.left_out else "within_all"
            note = self.text(key, unit=self.unit["name"], km=f"{self.within_km:g}", n=self.left_out)
            sections[0].note = f"{note} {sections[0].note}".strip()
        return sections

    def near(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Rows whose geometry lies within ``within_km`` of the unit's polygon."""
        if self.within_km is None or frame.empty:
            return frame
        units = self.project.admin_units
        own = units[units["code"].astype(str) == self.unit["code"]]
        if own.empty or frame.crs is None:
            return frame
        crs = frame.estimate_utm_crs()
        shape = own.to_crs(crs).geometry.union_all()
        near = frame.to_crs(crs).distance(shape).to_numpy() <= self.within_km * 1000.0
        self.left_out += int((~near).sum())
        return frame[near]

    def inside(self, frame: pd.DataFrame, column: str) -> pd.DataFrame:
        """Rows whose unit code lies in the report's unit."""
        from rivernet.admin import normalise_code

        prefix = _code_prefix(normalise_code(self.unit["code"]), self.unit["level"])
        if column not in frame.columns:
            return frame
        return frame[frame[column].astype(str).str.startswith(prefix)]

    # -- maps -----------------------------------------------------------------------------
    def map_levels(self) -> list[str]:
        """The report's own level, then every level with gaps, overlaps or expired terms.

        A county whose problems are all at township level gets its county map and a township
        map, so the problems the tables list are also on a map.
        """
        from rivernet.admin import LEVELS

        try:
            totals = _by_level(self.summary())
        except RivernetError as error:
            logger.info("report problem levels unavailable: %s", error)
            return [self.level]
        if totals.empty:
            return [self.level]
        counts = totals.set_index("level")[["gaps", "overlaps", "expired"]].sum(axis=1)
        troubled = {str(level) for level, n in counts.items() if n > 0}
        return [self.level] + [lv for lv in LEVELS if lv in troubled and lv != self.level]

    def maps(self) -> list[tuple[str, str]]:
        """(caption, inline SVG) of the coverage maps (one per level with problems) and the
        handover-section map; each caption names its level."""
        jobs = [("coverage", level) for level in self.map_levels()] + [("crossings", self.level)]
        return [self.figure(layer_id, level) for layer_id, level in jobs]

    def figure(self, layer_id: str, level: str) -> tuple[str, str]:
        """One map of the unit: its caption and SVG (or a note why it is missing)."""
        from rivernet.layers.catalog import layer
        from rivernet.layers.static import map_figure, svg_text

        entry = layer(layer_id)
        caption = self.text(
            "caption", layer=entry.title(self.lang), level=messages.level(level, self.lang)
        )
        try:
            figure = map_figure(
                self.project, layer=layer_id, extent=self.unit["code"], as_of=self.day,
                level=level, lang=self.lang, size_in=(7.0, 7.0), policy=self.policy,
            )  # fmt: skip
        except RivernetError as error:
            return caption, f"<p>{html.escape(self.text('unavailable', error=error))}</p>"
        return caption, svg_text(figure)


_BOUNDARY_COLUMNS = ("reach_id", "left_name", "right_name", "length_m", "rule")
_PARTNER_COLUMNS = ("relation", "partner_name", "partner_code", "river_id", "river_name",
                    "crossing_id", "distance_km", "partner_chiefs")  # fmt: skip


def _named_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without its ``river_name`` column when no row has a river name."""
    if "river_name" in frame.columns and frame["river_name"].isna().all():
        return frame.drop(columns="river_name")
    return frame


def _code_prefix(code: str, level: str) -> str:
    """The code prefix shared by a unit and everything inside it."""
    return code[: {"province": 2, "city": 4}.get(level, len(code))]


def _by_level(summary: pd.DataFrame) -> pd.DataFrame:
    """Coverage totals per level."""
    if summary.empty:
        return summary
    totals = summary.groupby("level", sort=False)[["required_m", "covered_m", "gaps", "overlaps",
                                                   "expired"]].sum()  # fmt: skip
    totals["coverage_pct"] = (100 * totals["covered_m"] / totals["required_m"]).round(1)
    return totals.reset_index()


def html_table(frame: pd.DataFrame, columns: Sequence[str], *, lang: str = "zh") -> str:
    """A plain HTML table of the given columns (those present), with display names.

    Lengths in metres are shown in kilometres; levels and problem kinds in words.
    """
    shown = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{html.escape(_header(c, lang))}</th>" for c in shown)
    body = []
    for row in frame[shown].itertuples(index=False):
        cells = "".join(
            f"<td{_align(value)}>{_cell(name, value, lang)}</td>"
            for name, value in zip(shown, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _header(column: str, lang: str) -> str:
    """The heading of a column; lengths and measures in metres are shown in kilometres."""
    if column.endswith("_m") and column != "coverage_pct":
        return messages.column(column[:-2] + "_km", lang)
    return messages.column(column, lang)


def _cell(column: str, value: Any, lang: str) -> str:
    if _blank(value):
        return ""
    if column.endswith("_m") and not isinstance(value, bool):
        return f"{float(value) / 1000:,.2f}"
    shown = display_value(column, value, lang)
    if isinstance(shown, float):
        return f"{shown:,.1f}"
    if isinstance(shown, list | tuple):
        shown = "、".join(str(v) for v in shown)
    return html.escape(str(shown)).replace("\n", "<br>")


def _align(value: Any) -> str:
    return " class='num'" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list | tuple):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _font_environment(folder: Path) -> dict[str, str]:
    """The environment for Chromium, with the pip CJK font added to fontconfig's fonts.

    Without a system CJK font Chromium would print Chinese text as empty boxes; the fontconfig
    file written into ``folder`` keeps the system configuration and adds the folder of the
    Noto Sans SC font that ``rivernet[maps]`` installs.
    """
    env = dict(os.environ)
    fonts = [str(Path(file).parent) for file in pip_font_files()]
    if not fonts:
        return env
    config = folder / "fonts.conf"
    dirs = "".join(f"<dir>{html.escape(d)}</dir>" for d in dict.fromkeys(fonts))
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"{dirs}<cachedir>{html.escape(str(folder / 'fontcache'))}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    env["FONTCONFIG_FILE"] = str(config)
    return env


def html_to_pdf(
    html_path: str | Path,
    pdf_path: str | Path,
    *,
    chromium: str | None = None,
    timeout_s: float = 120,
) -> Path:
    """Print an HTML file to PDF with headless Chromium, with networking switched off.

    Parameters
    ----------
    html_path
        The HTML file.
    pdf_path
        The PDF to write.
    chromium
        The browser executable; default: found on ``PATH``.
    timeout_s
        Give up after this many seconds.

    Returns
    -------
    pathlib.Path
        The PDF file.

    Raises
    ------
    RivernetError
        If Chromium is missing or fails.
    """
    browser = chromium or find_chromium()
    if browser is None:
        raise RivernetError.from_key("err_report.pdf_needs_chromium")
    target = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={target}",
            Path(html_path).resolve().as_uri(),
        ]  # fmt: skip
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env=_font_environment(Path(profile)),
        )
    if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        raise RivernetError.from_key(
            "err_report.pdf_failed",
            page=str(html_path),
            code=done.returncode,
            stderr=done.stderr.strip()[-500:],
        )
    return target
