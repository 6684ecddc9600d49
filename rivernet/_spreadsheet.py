"""Reading roster spreadsheets as they really are: CSV in GBK or UTF-8, Excel with merged headers.

The reader returns the raw cells of every non-blank row with its line number in the file (the
Excel row, or the CSV line), and the header mapped to rivernet's column names. Cleaning values
(codes, dates, numbers) is :mod:`rivernet.roster`'s job.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rivernet.errors import RosterError

__all__ = ["COLUMN_ALIASES", "RawTable", "canonical_column", "read_table"]

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
    """

    def __init__(
        self, columns: list[str | None], headers: list[str], rows: list[tuple[int, list[Any]]]
    ) -> None:
        self.columns = columns
        self.headers = headers
        self.rows = rows


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


def read_table(path: Path, *, sheet: str | None = None) -> RawTable:
    """Read a roster CSV or Excel file into raw rows with line numbers.

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
        If the file cannot be read or has no recognisable header.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        grid = _csv_grid(path)
    elif suffix in (".xlsx", ".xlsm"):
        grid = _xlsx_grid(path, sheet=sheet)
    else:
        raise RosterError(
            f"cannot read a roster from {path.name}: use .csv, .xlsx or a project .gpkg "
            "(save .xls files as .xlsx first)"
        )
    return _table_from_grid(grid, path)


def _csv_grid(path: Path) -> list[list[Any]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    raise RosterError(
        f"{path.name} is neither UTF-8 nor GBK text; save it from Excel as 'CSV UTF-8' and retry"
    )


def _xlsx_grid(path: Path, *, sheet: str | None) -> list[list[Any]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise RosterError(f"cannot open {path.name} as an Excel workbook: {error}") from error
    if sheet is not None and sheet not in book.sheetnames:
        raise RosterError(
            f"{path.name} has no sheet {sheet!r}; its sheets: {', '.join(book.sheetnames)}"
        )
    ws = book[sheet] if sheet is not None else book.worksheets[0]
    grid = [list(row) for row in ws.iter_rows(values_only=True)]
    for merged in ws.merged_cells.ranges:  # a merged cell's value fills its whole range
        value = ws.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                if r - 1 < len(grid) and c - 1 < len(grid[r - 1]):
                    grid[r - 1][c - 1] = value
    book.close()
    return grid


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _table_from_grid(grid: list[list[Any]], path: Path) -> RawTable:
    header_row = next((i for i, row in enumerate(grid) if not all(map(_blank, row))), None)
    if header_row is None:
        raise RosterError(f"{path.name} is empty; expected a header row and one row per chief")
    one = _map_header(grid[header_row], None)
    two = _map_header(grid[header_row + 1], grid[header_row]) if header_row + 1 < len(grid) else []
    use_two = sum(c is not None for c in two) > sum(c is not None for c in one)
    columns = two if use_two else one
    top = grid[header_row]
    headers = [
        _join_header(top[i] if use_two else None, cell)
        for i, cell in enumerate(grid[header_row + 1] if use_two else top)
    ]
    first = header_row + (2 if use_two else 1)
    if not any(c in ("name", "person_id") for c in columns):
        raise RosterError(
            f"{path.name}: no recognisable header in row {header_row + 1} (found: "
            f"{', '.join(str(h) for h in headers if h)}); name the columns as in "
            "rivernet.roster (e.g. 姓名/name, 职务/post, 层级/level, 行政区划代码/unit_code, "
            "河段编码/reach_id, 任期开始/valid_from)",
            [(header_row + 1, "no recognisable header")],
        )
    rows = [
        (number + 1, list(grid[number]) + [None] * (len(columns) - len(grid[number])))
        for number in range(first, len(grid))
        if not all(map(_blank, grid[number]))
    ]
    return RawTable(columns, headers, rows)


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
