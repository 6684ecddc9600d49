"""Reading roster spreadsheets as they really are: CSV in GBK or UTF-8, Excel with merged headers.

The reader returns the raw cells of every non-blank row with its line number in the file (the
Excel row, or the CSV line), and the header mapped to rivernet's column names. Defects of the
file itself are found here and listed with their lines (:attr:`RawTable.problems`): a CSV quote
that is never closed (which would swallow the rest of the file into one cell), ragged rows (more
or fewer cells than the header), and Excel formulas saved without their values (evaluated when
they are plain dates, ``=DATE(2024,12,31)``, refused otherwise; never read as blank). Cells that
:func:`rivernet._files.safe_cell` protected on export get their protective quote removed.

Besides the main table, a roster file may carry companion tables (:data:`COMPANIONS`): the sheets
``people``, ``boards`` and ``units`` of a workbook, or the files ``NAME.people.csv``,
``NAME.boards.csv`` and ``NAME.units.csv`` beside ``NAME.csv`` (:func:`read_tables`).
Cleaning values (codes, dates, numbers) is :mod:`rivernet.roster`'s job.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rivernet._files import unsafe_cell
from rivernet.errors import RosterError
from rivernet.messages import Message, items

__all__ = [
    "COLUMN_ALIASES",
    "COMPANIONS",
    "RawTable",
    "canonical_column",
    "companion_path",
    "read_table",
    "read_tables",
]

# Canonical column -> names seen in offices' spreadsheets (compared after normalising).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "assignment_id": ("assignment_id", "编号", "任命编号", "记录编号"),
    "person_id": ("person_id", "人员编号", "河长编号"),
    "name": ("name", "姓名", "河长姓名", "湖长姓名"),
    "post": ("post", "职务", "职位"),
    "organisation": ("organisation", "organization", "单位", "工作单位", "所在单位"),
    "contact": ("contact", "phone", "联系电话", "电话", "联系方式", "手机"),
    "level": ("level", "层级", "级别", "河长级别", "湖长级别"),
    "unit_code": ("unit_code", "admin_code", "code", "行政区划代码", "行政区代码", "区划代码"),
    "unit_name": ("unit_name", "行政区", "行政区名称", "行政区划名称"),
    "role": ("role", "角色", "河长类型", "类别", "身份"),
    "reach_id": ("reach_id", "河段编码", "河段编号", "河段id", "河段"),
    "from_m": ("from_m", "起点", "起点里程", "河段起点", "起点m", "里程起点"),
    "to_m": ("to_m", "终点", "终点里程", "河段终点", "终点m", "里程终点"),
    "river_id": ("river_id", "河流编码", "河流编号", "河流id"),
    "lake_id": ("lake_id", "湖泊编码", "湖泊编号", "湖泊id", "湖泊"),
    "valid_from": ("valid_from", "任期开始", "任期起", "任职日期", "开始日期", "任期开始日期"),
    "valid_to": ("valid_to", "任期结束", "任期止", "离任日期", "结束日期", "任期结束日期"),
    "source_document": ("source_document", "任命文件", "文件", "依据文件", "文号", "来源文件"),
    "is_fictional": ("is_fictional", "虚构"),
}
_LOOKUP = {
    re.sub(r"\s+", "", unicodedata.normalize("NFKC", alias)).lower(): canonical
    for canonical, aliases in COLUMN_ALIASES.items()
    for alias in aliases
}
_IGNORED = {"序号", "备注", "no", "no.", "note", "notes", "remarks"}

COMPANIONS: dict[str, tuple[str, ...]] = {
    "people": ("person_id", "name", "post", "organisation", "level", "unit_code", "contact",
               "is_fictional"),
    "boards": ("board_id", "reach_id", "measure_m", "level", "person_id", "updated_on"),
    "units": ("code", "name", "level", "parent_code"),
}  # fmt: skip
"""Companion tables of a roster file and their columns (sheet names / CSV name parts)."""

MAX_CELL_LINES = 2
"""A quoted CSV cell spanning more lines than this is taken for a quote that was never closed."""

_BOM = b"\xef\xbb\xbf"
_DATE_FORMULA = re.compile(
    r"^=\s*DATE\s*\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)\s*$", re.I
)
_DATEVALUE_FORMULA = re.compile(r'^=\s*DATEVALUE\s*\(\s*"([^"]*)"\s*\)\s*$', re.I)
_TEXT_FORMULA = re.compile(r'^=\s*"([^"]*)"\s*$')
_NUMBER_FORMULA = re.compile(r"^=\s*(-?\d+(?:\.\d+)?)\s*$")


class RawTable:
    """Raw rows of a roster file.

    Attributes
    ----------
    columns
        Canonical column name for each column (None for unknown or ignored columns).
    headers
        The header text as found, for messages.
    rows
        ``(line, cells)`` for every non-blank data row.
    problems
        ``(line, message)`` for defects of the file itself (ragged rows, formulas without
        values); the rows stay in ``rows``.
    name
        The file (and sheet) the table was read from, for messages.
    header_line
        The line of the (last) header row.
    """

    def __init__(
        self,
        columns: list[str | None],
        headers: list[str],
        rows: list[tuple[int, list[Any]]],
        *,
        problems: list[tuple[int, str]] | None = None,
        name: str = "",
        header_line: int = 1,
    ) -> None:
        self.columns = columns
        self.headers = headers
        self.rows = rows
        self.problems = problems if problems is not None else []
        self.name = name
        self.header_line = header_line


def canonical_column(header: object) -> str | None:
    """The canonical column a header names, or None.

    Parameters
    ----------
    header
        Header text (Chinese or English; full-width characters, spaces and a unit in brackets
        such as ``起点(m)`` are allowed).

    Returns
    -------
    str or None
        The canonical name.
    """
    text = unicodedata.normalize("NFKC", str(header or ""))
    text = re.sub(r"\s+", "", text).lower()
    text = re.sub(r"\((m|米|km|公里)\)$", r"\1", text)
    return _LOOKUP.get(text) or _LOOKUP.get(re.sub(r"\(.*?\)", "", text))


def companion_path(path: Path, table: str) -> Path:
    """The CSV file holding a companion table of ``path``: ``roster.csv`` -> ``roster.boards.csv``.

    Parameters
    ----------
    path
        The main roster CSV.
    table
        ``people``, ``boards`` or ``units``.

    Returns
    -------
    pathlib.Path
        The companion file (it may not exist).
    """
    return path.with_name(f"{path.stem}.{table}{path.suffix}")


def read_table(path: Path, *, sheet: str | None = None) -> RawTable:
    """Read the main table of a roster CSV or Excel file into raw rows with line numbers.

    Parameters
    ----------
    path
        A ``.csv`` (UTF-8, UTF-8 with BOM, or GBK/GB18030) or ``.xlsx`` file.
    sheet
        The worksheet to read (default: the first).

    Returns
    -------
    RawTable
        The header mapping and the non-blank rows.

    Raises
    ------
    RosterError
        If the file cannot be read, has no recognisable header, or a CSV quote is never closed.
    """
    return read_tables(path, sheet=sheet)[0]


def read_tables(path: Path, *, sheet: str | None = None) -> tuple[RawTable, dict[str, RawTable]]:
    """Read a roster file's main table and the companion tables it carries.

    Parameters
    ----------
    path
        A ``.csv`` or ``.xlsx`` file. Companions are the sheets named as in :data:`COMPANIONS`
        (``people``, ``boards``, ``units``) of a workbook, or ``NAME.boards.csv`` etc. beside
        ``NAME.csv``.
    sheet
        The worksheet holding the main table (default: the first that is not a companion).

    Returns
    -------
    main, companions
        The main table and the companion tables found (by table name).

    Raises
    ------
    RosterError
        As :func:`read_table`.
    """
    suffix = path.suffix.lower()
    companions: dict[str, RawTable] = {}
    if suffix == ".csv":
        main = _table_from_grid(*_csv_grid(path), name=path.name)
        for table in COMPANIONS:
            other = companion_path(path, table)
            if other.exists():
                grid, problems = _csv_grid(other)
                companions[table] = _table_from_grid(grid, problems, name=other.name, table=table)
        return main, companions
    if suffix not in (".xlsx", ".xlsm"):
        raise RosterError.from_key("spreadsheet.bad_suffix", file=path.name)
    sheets = _xlsx_grids(path)
    names = list(sheets)
    if sheet is not None and sheet not in sheets:
        raise RosterError.from_key(
            "spreadsheet.no_sheet", file=path.name, sheet=repr(sheet), sheets=", ".join(names)
        )
    chosen = sheet or next((n for n in names if n not in COMPANIONS), names[0])
    main = _table_from_grid(*sheets[chosen], name=f"{path.name}, sheet {chosen}")
    for table in COMPANIONS:
        if table in sheets and table != chosen:
            grid, problems = sheets[table]
            companions[table] = _table_from_grid(
                grid, problems, name=f"{path.name}, sheet {table}", table=table
            )
    return main, companions


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if data.startswith(_BOM):
            try:
                data[len(_BOM) :].decode("utf-8")
            except UnicodeDecodeError as error:
                line = data[len(_BOM) : len(_BOM) + error.start].count(b"\n") + 1
                message = Message("err_spreadsheet.bom", file=path.name, line=line)
                raise RosterError(message, [(line, Message("err_spreadsheet.bom_row"))]) from None
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise RosterError.from_key("spreadsheet.encoding", file=path.name) from None


def _csv_grid(path: Path) -> tuple[list[list[Any]], list[tuple[int, str]]]:
    """The rows of a CSV file, padded so that row ``i`` is line ``i + 1`` of the file."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""), strict=True)
    grid: list[list[Any]] = []
    problems: list[tuple[int, str]] = []
    end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if end - start + 1 > MAX_CELL_LINES:
                long_cell = Message("spreadsheet.long_cell", lines=end - start + 1, end=end)
                problems.append((start, long_cell))
            grid.extend([] for _ in range(start, end))  # keep row index = line - 1
            grid.append(list(row))
    except csv.Error as error:
        start = end + 1
        message = Message("spreadsheet.open_quote", file=path.name, line=start, error=error,
                          last=max(reader.line_num, start))  # fmt: skip
        problem = Message("spreadsheet.open_quote_row", error=error)
        raise RosterError(message, [(start, problem)]) from None
    return grid, problems


def _has_formulas(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    data = archive.read(info)
                    if b"<f>" in data or b"<f " in data:
                        return True
    except (zipfile.BadZipFile, OSError):
        return False
    return False


def _xlsx_grids(path: Path) -> dict[str, tuple[list[list[Any]], list[tuple[int, str]]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, data_only=True)
        formulas = openpyxl.load_workbook(path, data_only=False) if _has_formulas(path) else None
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise RosterError.from_key("err_spreadsheet.not_workbook", file=path.name,
                                   error=error) from error  # fmt: skip
    sheets = {}
    for ws in book.worksheets:
        grid = [list(row) for row in ws.iter_rows(values_only=True)]
        problems: list[tuple[int, str]] = []
        if formulas is not None:
            problems = _evaluate_formulas(grid, formulas[ws.title])
        for merged in ws.merged_cells.ranges:  # a merged cell's value fills its whole range
            value = ws.cell(merged.min_row, merged.min_col).value
            for r in range(merged.min_row, merged.max_row + 1):
                for c in range(merged.min_col, merged.max_col + 1):
                    if r - 1 < len(grid) and c - 1 < len(grid[r - 1]):
                        grid[r - 1][c - 1] = value
        sheets[ws.title] = (grid, problems)
    book.close()
    if formulas is not None:
        formulas.close()
    return sheets


def _evaluate_formulas(grid: list[list[Any]], ws: Any) -> list[tuple[int, str]]:
    """Fill formula cells that have no saved value: plain dates and literals; list the rest."""
    problems = []
    for r, row in enumerate(ws.iter_rows()):
        for c, cell in enumerate(row):
            formula = cell.value
            text = getattr(formula, "text", formula)
            if not (isinstance(text, str) and text.startswith("=")):
                continue
            if r < len(grid) and c < len(grid[r]) and grid[r][c] is not None:
                continue  # Excel saved the value: use it
            value = _formula_value(text)
            if value is None:
                problems.append(
                    (
                        r + 1,
                        f"cell {cell.coordinate} holds the formula {text} without a saved value; "
                        "open the file in Excel or LibreOffice and save it (so the values are "
                        "stored), or type the value itself",
                    )
                )
                value = text
            while len(grid) <= r:
                grid.append([])
            grid[r].extend([None] * (c + 1 - len(grid[r])))
            grid[r][c] = value
    return problems


def _formula_value(text: str) -> Any:
    """The value of a simple formula (a date or a literal), or None."""
    match = _DATE_FORMULA.match(text)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            return None
    for pattern in (_DATEVALUE_FORMULA, _TEXT_FORMULA):
        match = pattern.match(text)
        if match:
            return match.group(1)
    match = _NUMBER_FORMULA.match(text)
    if match:
        number = float(match.group(1))
        return int(number) if number.is_integer() else number
    return None


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _table_from_grid(
    grid: list[list[Any]],
    problems: list[tuple[int, str]],
    *,
    name: str,
    table: str | None = None,
) -> RawTable:
    header_row = next((i for i, row in enumerate(grid) if not all(map(_blank, row))), None)
    if header_row is None:
        raise RosterError.from_key("spreadsheet.empty", name=name)
    if table is not None:
        columns = [_companion_column(cell, table) for cell in grid[header_row]]
        headers = ["" if _blank(c) else str(c).strip() for c in grid[header_row]]
        first = header_row + 1
        key = COMPANIONS[table][0]
        if key not in columns:
            message = Message("err_spreadsheet.no_key_column", name=name, key=key,
                              row=header_row + 1, table=table,
                              columns=", ".join(COMPANIONS[table]))  # fmt: skip
            problem = Message("err_spreadsheet.no_key_column_row", key=key)
            raise RosterError(message, [(header_row + 1, problem)])
    else:
        columns, headers, first = _main_header(grid, header_row, name)
    width = len(columns)
    needed = max(
        (i + 1 for row in grid[header_row:first] for i, cell in enumerate(row) if not _blank(cell)),
        default=0,
    )
    rows = []
    for number in range(first, len(grid)):
        cells = grid[number]
        if all(map(_blank, cells)):
            continue
        if len(cells) > width and not all(map(_blank, cells[width:])):
            extra = Message("spreadsheet.extra_cells", cells=len(cells), width=width)
            problems.append((number + 1, extra))
        elif len(cells) < needed:
            short = Message("spreadsheet.short_row", cells=len(cells), needed=needed)
            problems.append((number + 1, short))
        padded = [unsafe_cell(cell) for cell in cells] + [None] * (width - len(cells))
        rows.append((number + 1, padded))
    return RawTable(columns, headers, rows, problems=sorted(problems), name=name, header_line=first)


def _companion_column(header: Any, table: str) -> str | None:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(header or ""))).lower()
    if text in COMPANIONS[table]:
        return text
    canonical = canonical_column(header)
    return canonical if canonical in COMPANIONS[table] else None


def _main_header(
    grid: list[list[Any]], header_row: int, name: str
) -> tuple[list[str | None], list[str], int]:
    one = _map_header(grid[header_row], None)
    two = _map_header(grid[header_row + 1], grid[header_row]) if header_row + 1 < len(grid) else []
    use_two = sum(c is not None for c in two) > sum(c is not None for c in one)
    columns = two if use_two else one
    top = grid[header_row]
    headers = [
        _join_header(top[i] if use_two and i < len(top) else None, cell)
        for i, cell in enumerate(grid[header_row + 1] if use_two else top)
    ]
    if not any(c in ("name", "person_id") for c in columns):
        named = [str(h) for h in headers if h]
        found = items(named, limit=len(named))
        message = Message("err_spreadsheet.no_header", name=name, row=header_row + 1, found=found)
        raise RosterError(message, [(header_row + 1, Message("err_spreadsheet.no_header_row"))])
    return columns, headers, header_row + (2 if use_two else 1)


def _join_header(top: Any, cell: Any) -> str:
    top_text = "" if _blank(top) else str(top).strip()
    cell_text = "" if _blank(cell) else str(cell).strip()
    if top_text and cell_text and top_text != cell_text:
        return top_text + cell_text
    return top_text or cell_text


def _map_header(row: Sequence[Any], top: Sequence[Any] | None) -> list[str | None]:
    mapped: list[str | None] = []
    for i, cell in enumerate(row):
        above = top[i] if top is not None and i < len(top) else None
        canonical = canonical_column(_join_header(above, cell))
        if canonical is None and top is not None:
            canonical = canonical_column(cell)
        mapped.append(canonical)
    return mapped
