"""How every command writes its result: ``-o FILE`` (format from the suffix) and ``--json``.

- ``-o/--output FILE``: ``.csv`` (UTF-8 with a byte-order mark, so that Excel shows Chinese
  text; geometry as WKT), ``.xlsx`` (geometry as WKT), ``.geojson`` (features only) or
  ``.gpkg`` (a spatial layer, or an attribute table for a plain table). Files are written
  whole or not at all (:func:`rivernet._files.replacing`); spreadsheet cells that Excel would
  run as formulas get a protective quote (:func:`rivernet._files.safe_cell`). The file's
  folder must exist and be writable: no command creates folders, and a bad path is a one-line
  error before any work is done.
- ``--json``: the result on standard output, as JSON records, or GeoJSON (WGS84) for features.

After writing, one line on standard error says what was written, so that standard output
holds only the result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import numpy as np
import pandas as pd

from rivernet import messages
from rivernet._files import replacing, safe_cell
from rivernet.cli._options import CommandError, current_lang
from rivernet.messages import Code, Localized, Message, choices

TABLE_SUFFIXES = (".csv", ".xlsx", ".geojson", ".gpkg")
"""The formats a table or a set of features can be written to, chosen by the file's suffix."""


def output_option(
    *, suffixes: Iterable[str] = TABLE_SUFFIXES, **extra: Any
) -> Callable[[Any], Any]:
    """The ``-o/--output FILE`` option, checked as soon as it is parsed.

    Its help is ``output`` of the command's section of ``cli_help.toml`` (else the common one,
    which names the formats of :data:`TABLE_SUFFIXES`).

    Parameters
    ----------
    suffixes
        The suffixes this command writes.
    **extra
        More arguments of :func:`click.option` (``default``, ``required``...).

    Returns
    -------
    callable
        The decorator.
    """
    allowed = tuple(suffixes)

    def check(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is not None:
            check_output_path(value, suffixes=allowed)
        return value

    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        callback=check,
        metavar="FILE",
        **extra,
    )


json_option = click.option("--json", "as_json", is_flag=True)
"""The ``--json`` flag: print the result as JSON instead of the text table."""


def check_output_path(path: Path, *, suffixes: Iterable[str] = TABLE_SUFFIXES) -> None:
    """Refuse an output path that cannot be written, in one line naming the path.

    Parameters
    ----------
    path
        The file to write.
    suffixes
        The suffixes accepted.

    Raises
    ------
    CommandError
        If the suffix is not accepted, the folder does not exist (it is never created), or
        the folder or the file is not writable.
    """
    allowed = tuple(suffixes)
    if path.suffix.lower() not in allowed:
        suffix = path.suffix or Message("cli_error.no_suffix")
        formats = Message("cli_error.formats", formats=choices(allowed))
        raise CommandError.from_key(
            "cli_error.bad_suffix", path=path, suffix=suffix, formats=formats
        )
    folder = path.absolute().parent
    if path.is_dir():
        raise CommandError.from_key("cli_error.output_is_folder", path=path)
    if not folder.is_dir():
        raise CommandError.from_key("cli_error.no_folder", path=path, folder=folder)
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError.from_key("cli_error.not_writable", path=path)


def write_table(frame: pd.DataFrame, path: Path, *, what: str = "rows") -> str:
    """Write one table or set of features to ``path`` in the format of its suffix.

    Parameters
    ----------
    frame
        The table; a GeoDataFrame for features.
    path
        The file, already checked by :func:`check_output_path`.
    what
        What a row is, for the message (``"reaches"``, ``"handover sections"``).

    Returns
    -------
    str
        The line that says what was written.
    """
    suffix = path.suffix.lower()
    if suffix == ".geojson" and not isinstance(frame, gpd.GeoDataFrame):
        raise CommandError.from_key("cli_error.no_geometries", path=path, what=Code("rows", what))
    _guarded(path, lambda: _write(frame, path, suffix))
    return messages.text("cli_wrote.rows", current_lang(), n=len(frame),
                         what=Code("rows", what), path=path)  # fmt: skip


def write_tables(tables: Mapping[str, pd.DataFrame], path: Path) -> list[Path]:
    """Write several named tables to one file: GeoPackage layers or workbook sheets.

    A ``.csv`` file holds one table: the first goes to ``NAME.csv`` and each other one to
    ``NAME.TABLE.csv`` beside it (as ``rivernet roster export`` does). A GeoJSON file holds
    one layer, so it is refused.

    Parameters
    ----------
    tables
        Frames by layer (sheet) name, the main one first.
    path
        The file, already checked by :func:`check_output_path`.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    suffix = path.suffix.lower()
    if suffix == ".geojson":
        raise CommandError.from_key(
            "cli_error.geojson_one_layer", path=path, n=len(tables), tables=", ".join(tables)
        )
    if suffix == ".csv":
        files = [path] + [path.with_name(f"{path.stem}.{name}.csv") for name in list(tables)[1:]]
        for file, frame in zip(files, tables.values(), strict=True):
            _guarded(file, partial(_write, frame, file, ".csv"))
        return files
    if suffix == ".xlsx":
        _guarded(path, lambda: _write_workbook(tables, path))
        return [path]

    def geopackage() -> None:
        import pyogrio

        with replacing(path, suffix=".gpkg") as temp:
            temp.unlink()  # a new GeoPackage, not layers added to an empty file
            for layer, frame in tables.items():
                pyogrio.write_dataframe(_plain(frame), temp, layer=layer, driver="GPKG")

    _guarded(path, geopackage)
    return [path]


def echo_json(frame: pd.DataFrame) -> None:
    """Print a table as JSON records, or features as a GeoJSON FeatureCollection (WGS84)."""
    click.echo(json.dumps(json_value(frame), ensure_ascii=False, indent=1))


def json_value(frame: pd.DataFrame) -> Any:
    """A table as a list of JSON records, or features as a GeoJSON FeatureCollection (WGS84).

    Parameters
    ----------
    frame
        The table or features.

    Returns
    -------
    list or dict
        JSON-ready values (dates as ISO text, blanks as null).
    """
    plain = _plain(frame)
    for column in plain.columns:
        values = plain[column]
        if (
            pd.api.types.is_datetime64_any_dtype(values)
            and (values.dropna().dt.normalize() == values.dropna()).all()
        ):
            plain[column] = (
                values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), None)
            )
    if isinstance(plain, gpd.GeoDataFrame):
        if plain.crs is not None:
            plain = plain.to_crs("EPSG:4326")
        return json.loads(plain.to_json(na="null", drop_id=True))
    return json.loads(plain.to_json(orient="records", date_format="iso", force_ascii=False))


def note(line: str) -> None:
    """Say what was written, on standard error (standard output holds the result)."""
    click.echo(line, err=True)


def _write(frame: pd.DataFrame, path: Path, suffix: str) -> None:
    if suffix in (".geojson", ".gpkg"):
        from rivernet.io import write_vector

        write_vector(_plain(frame), path)
        return
    sheet = _spreadsheet(frame)
    with replacing(path, suffix=suffix) as temp:
        if suffix == ".csv":
            sheet.to_csv(temp, index=False, encoding="utf-8-sig")
        else:
            with pd.ExcelWriter(temp) as writer:
                sheet.to_excel(writer, index=False, sheet_name=path.stem[:31] or "table")


def _write_workbook(tables: Mapping[str, pd.DataFrame], path: Path) -> None:
    with replacing(path, suffix=".xlsx") as temp, pd.ExcelWriter(temp) as writer:
        for name, frame in tables.items():
            _spreadsheet(frame).to_excel(writer, index=False, sheet_name=name[:31])


def _guarded(path: Path, write: Callable[[], Any]) -> None:
    """Run a writer; an operating-system error becomes one line naming the file."""
    try:
        write()
    except OSError as error:
        reason = messages.render(messages.os_reason(error), current_lang())
        raise CommandError.from_key("cli_error.cannot_write", path=path, reason=reason) from None


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns every writer takes: categories as text, lists and odd objects as text."""
    out = frame.copy()
    if any(name is not None for name in out.index.names):
        out = out.reset_index()  # a named index (reach_id, code) is a column
    else:
        out = out.reset_index(drop=True)
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for column in out.columns:
        values = out[column]
        if column == geometry:
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[column] = values.astype(object).where(values.notna(), None)
        elif values.dtype == object:
            out[column] = _plain_objects(values)
    return out


def _plain_objects(values: pd.Series) -> pd.Series:
    """An object column as one type: integers, floats or text (lists as JSON text)."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if present and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in present
    ):
        return values.astype("Int64")
    if present and all(isinstance(v, float | int | np.number) for v in present):
        return values.astype(float)

    def text(value: Any) -> Any:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
            return None
        if isinstance(value, list | tuple | dict | set):
            return json.dumps(list(value) if isinstance(value, set) else value, default=str)
        return value if isinstance(value, str | bool) else str(value)

    return values.map(text).astype(object)


def _spreadsheet(frame: pd.DataFrame) -> pd.DataFrame:
    """A table for CSV or Excel: geometry as WKT, no time zones, formula-like text quoted."""
    out = _plain(frame)
    if isinstance(out, gpd.GeoDataFrame):
        name = out.geometry.name
        wkt = out.geometry.to_wkt()
        out = pd.DataFrame(out.drop(columns=name))
        out[name] = wkt
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.dt.tz_localize(None)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            out[column] = values.astype(object).map(safe_cell)
    return pd.DataFrame(out)


def text_table(
    frame: pd.DataFrame, columns: Iterable[str], lang: str = "zh", *, limit: int | None = 40
) -> str:
    """A readable plain-text table of some columns, in the chosen language.

    Headings come from the message catalogue (:func:`rivernet.messages.column`), coded values
    (levels, relations, rules, problem kinds) and booleans are shown in words, floats rounded to
    0.1; more than ``limit`` rows end with a line saying how many were left out.
    """
    from rivernet import messages
    from rivernet.layers._labels import display_frame

    shown = frame[[c for c in columns if c in frame.columns]]
    if limit is not None:
        shown = shown.head(limit)
    shown = display_frame(pd.DataFrame(shown), lang)
    for column in shown.columns:
        if shown[column].dtype.kind == "f":
            shown[column] = shown[column].round(1)
        # messages in the table's language; a missing value is a blank cell, not None or NaN
        shown[column] = [
            "" if _missing(value) else messages.render(value, lang) if isinstance(value, Localized)
            else value
            for value in shown[column]
        ]  # fmt: skip
    shown.columns = [messages.column(c, lang) for c in shown.columns]
    text = shown.to_string(index=False) if len(shown) else messages.text("cli.none", lang)
    if limit is not None and len(frame) > limit:
        text += "\n" + messages.text("cli.more_rows", lang, n=len(frame) - limit)
    return text


def _missing(value: Any) -> bool:
    """None, NaN or NaT (a scalar that pandas counts as missing)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers
        return False
