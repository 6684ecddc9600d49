"""Fast GeoJSON and CSV encoding of feature tables, with the OGC API CRS options.

A :class:`FeatureTable` is built once per collection (and data version, date and level) and
kept in the server cache. Each feature's GeoJSON is made once, vectorised (``shapely.to_geojson``
for geometry, ``orjson`` for properties), and stored as bytes; a page of items is then a join of
byte strings, with no per-request serialisation at all. Tables are read-only once built.

CSV is written for spreadsheets, so text cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a leading single quote, OWASP's
CSV-injection rule (:func:`rivernet.roster.safe_cell`); numbers stay numbers.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from rivernet.errors import CRSError, InputError, NotFoundError
from rivernet.messages import items
from rivernet.roster import safe_cell

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
WGS84 = CRS.from_epsg(4326)
_CHUNK = 2000  # features per streamed chunk
_BLOCK = 4096  # features whose GeoJSON is made at once, when first asked for


@dataclass(frozen=True)
class OutputCRS:
    """A CRS the API can write coordinates in.

    Attributes
    ----------
    uri
        The OGC URI naming it.
    epsg
        Its EPSG code (4326 for CRS84).
    lat_lon
        Whether coordinates are written latitude first (EPSG:4326 and EPSG:4490 axis order).
    """

    uri: str
    epsg: int
    lat_lon: bool

    @property
    def key(self) -> str:
        """A short cache key."""
        return "CRS84" if self.uri == CRS84 else f"EPSG:{self.epsg}"

    def from_wgs84(self) -> Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]] | None:
        """A coordinate function from lon/lat to this CRS (None for CRS84 itself)."""
        if self.epsg == 3857:
            transformer = Transformer.from_crs(WGS84, CRS.from_epsg(3857), always_xy=True)

            def to_mercator(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
                lon = xy[:, 0]
                lat = np.clip(xy[:, 1], -85.06, 85.06)
                return np.column_stack(transformer.transform(lon, lat))

            return to_mercator
        if self.lat_lon:
            return lambda xy: xy[:, ::-1]
        return None

    def to_wgs84_box(self, box: Sequence[float]) -> tuple[float, float, float, float]:
        """A ``minx, miny, maxx, maxy`` box in this CRS as a lon/lat box."""
        x0, y0, x1, y1 = box
        if self.lat_lon:
            x0, y0, x1, y1 = y0, x0, y1, x1
        if self.epsg == 3857:
            transformer = Transformer.from_crs(CRS.from_epsg(3857), WGS84, always_xy=True)
            return transformer.transform_bounds(x0, y0, x1, y1)
        return x0, y0, x1, y1


SUPPORTED_CRS: tuple[OutputCRS, ...] = (
    OutputCRS(CRS84, 4326, lat_lon=False),
    OutputCRS(EPSG_URI.format(code=4326), 4326, lat_lon=True),
    OutputCRS(EPSG_URI.format(code=4490), 4490, lat_lon=True),
    OutputCRS(EPSG_URI.format(code=3857), 3857, lat_lon=False),
)
_CRS_ALIASES = {
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "[ogc:crs84]": CRS84,
    "epsg:4326": EPSG_URI.format(code=4326),
    "epsg:4490": EPSG_URI.format(code=4490),
    "epsg:3857": EPSG_URI.format(code=3857),
}


def output_crs(text: str | None) -> OutputCRS:
    """The supported CRS named by an OGC URI (or ``EPSG:nnnn``/``CRS84``); CRS84 for None.

    Raises
    ------
    CRSError
        If the CRS is not one the API offers (the message lists them).
    """
    if text is None or not text.strip():
        return SUPPORTED_CRS[0]
    key = text.strip().strip("<>")
    uri = _CRS_ALIASES.get(key.lower().strip("[]"), key).replace("https://", "http://")
    for candidate in SUPPORTED_CRS:
        if candidate.uri == uri:
            return candidate
    offered = ", ".join(c.uri for c in SUPPORTED_CRS)
    raise CRSError.from_key("api_error.crs_not_offered", crs=repr(text), offered=offered)


class FeatureTable:
    """The features of one collection, ready to serve.

    Parameters
    ----------
    frame
        The features in EPSG:4326 (a GeoDataFrame), or a plain DataFrame for tables without
        geometry.
    id_column
        The column holding feature ids; None numbers the features 1..n.
    """

    def __init__(self, frame: pd.DataFrame, *, id_column: str | None = None) -> None:
        if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
            geometry = frame.geometry.to_numpy()
            properties = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        else:
            geometry = np.full(len(frame), None, dtype=object)
            properties = pd.DataFrame(frame)
        self.properties = properties.reset_index(drop=True)
        self.geometry: npt.NDArray[Any] = np.asarray(geometry, dtype=object)
        if id_column is not None and id_column in self.properties.columns:
            self.ids: list[Any] = plain_values(self.properties[id_column])
        else:
            self.ids = list(range(1, len(self.properties) + 1))
        self.id_column = id_column
        self._lock = threading.Lock()
        self._fragments: dict[str, dict[int, list[bytes]]] = {}
        self._text_columns: dict[str, npt.NDArray[Any]] = {}
        self._tree: shapely.STRtree | None = None
        self._id_positions: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.properties)

    @property
    def nbytes(self) -> int:
        """An estimate of the memory the table holds, with its GeoJSON of one CRS.

        The properties count ``memory_usage(deep=False)``, geometries 16 bytes per coordinate;
        the GeoJSON fragments count their length once built, an estimate before.
        """
        properties = int(self.properties.memory_usage(index=True, deep=False).sum())
        coordinates = int(np.sum(shapely.get_num_coordinates(self.geometry))) if len(self) else 0
        built = sum(len(fragment) for blocks in self._fragments.values()
                    for made in blocks.values() for fragment in made)  # fmt: skip
        expected = coordinates * 40 + len(self) * (64 + 24 * len(self.properties.columns))
        return properties + 16 * coordinates + max(built, expected)

    def ready(self, crs: OutputCRS, *, spatial: bool = False, filters: Sequence[str] = ()) -> bool:
        """Whether a page in ``crs`` (with a bbox, with these filters) needs no preparation."""
        return (
            0 in self._fragments.get(crs.key, {})
            and (not spatial or self._tree is not None)
            and all(name in self._text_columns or not self._is_text(name) for name in filters)
        )

    def prepare(
        self, crs: OutputCRS, *, spatial: bool = False, filters: Sequence[str] = ()
    ) -> None:
        """Build what pages in ``crs`` need: fragments, the spatial index, text columns.

        Run in a worker thread, so that requests then only join prepared bytes. The GeoJSON of
        the features is made in blocks of 4,096 when first asked for (a national layer's first
        page does not wait for a million features); this makes the first block.
        """
        if len(self):
            self._block(crs, 0)
        if spatial:
            self._spatial_index()
        for name in filters:
            if self._is_text(name):
                self._text(name)

    @property
    def has_geometry(self) -> bool:
        """Whether any feature has a geometry."""
        return bool(len(self) and np.any(shapely.is_geometry(self.geometry)))

    def bounds(self) -> tuple[float, float, float, float] | None:
        """The lon/lat extent of all features, or None without geometry."""
        if not self.has_geometry:
            return None
        minx, miny, maxx, maxy = shapely.total_bounds(self.geometry)
        return float(minx), float(miny), float(maxx), float(maxy)

    def position(self, feature_id: str) -> int:
        """The row of the feature whose id prints as ``feature_id``.

        Raises
        ------
        NotFoundError
            If no feature has that id.
        """
        with self._lock:
            if self._id_positions is None:
                self._id_positions = {str(i): n for n, i in enumerate(self.ids)}
        found = self._id_positions.get(feature_id)
        if found is None:
            raise NotFoundError.from_key("error.no_feature", feature=repr(feature_id))
        return found

    def select(
        self,
        *,
        boxes: Sequence[tuple[float, float, float, float]] = (),
        filters: Mapping[str, str] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Rows (in table order) whose geometry meets any box and whose properties match.

        Parameters
        ----------
        boxes
            Lon/lat boxes; a feature matches when it intersects one. Empty: no spatial filter.
        filters
            Property name -> value; numbers compare numerically, everything else as text.

        Returns
        -------
        numpy.ndarray
            Matching row positions, ascending.

        Raises
        ------
        InputError
            If a filter names an unknown property or gives a non-number for a numeric one.
        """
        if not boxes and not filters:
            return np.arange(len(self), dtype=np.int64)
        mask = np.ones(len(self), dtype=bool)
        if boxes:
            hits = [self._spatial_index().query(shapely.box(*box), predicate="intersects")
                    for box in boxes]  # fmt: skip
            spatial = np.zeros(len(self), dtype=bool)
            spatial[np.concatenate(hits)] = True
            mask &= spatial
        for name, value in (filters or {}).items():
            mask &= self._matches(name, value)
        return np.flatnonzero(mask)

    def fragments(self, crs: OutputCRS) -> Sequence[bytes]:
        """Every feature as GeoJSON bytes in ``crs`` (made by blocks on first use, then reused)."""
        return _Fragments(self, crs)

    def _block(self, crs: OutputCRS, block: int) -> list[bytes]:
        """The GeoJSON of the features of one block (made once per CRS)."""
        blocks = self._fragments.get(crs.key)
        made = blocks.get(block) if blocks is not None else None
        if made is not None:
            return made
        with self._lock:
            blocks = self._fragments.setdefault(crs.key, {})
            if block not in blocks:
                blocks[block] = self._make_fragments(crs, block * _BLOCK, (block + 1) * _BLOCK)
            return blocks[block]

    def geojson_chunks(
        self, positions: npt.NDArray[np.int64], crs: OutputCRS, *, members: Mapping[str, Any]
    ) -> Iterator[bytes]:
        """A FeatureCollection of the given rows, in chunks of bytes.

        Parameters
        ----------
        positions
            The rows, in output order.
        crs
            Output CRS.
        members
            Extra top-level members (``numberMatched``, ``links``...), written after the
            features.

        Yields
        ------
        bytes
            Pieces of the document; joined they are valid GeoJSON.
        """
        fragments = self.fragments(crs)
        yield b'{"type":"FeatureCollection","features":['
        for start in range(0, len(positions), _CHUNK):
            chunk = b",".join([fragments[p] for p in positions[start : start + _CHUNK].tolist()])
            yield chunk if start == 0 else b"," + chunk
        tail = orjson.dumps(dict(members), default=json_default)
        yield b"]" + (b"," + tail[1:] if len(tail) > 2 else b"}")

    def feature(self, position: int, crs: OutputCRS, *, links: list[dict[str, str]]) -> bytes:
        """One feature as a GeoJSON document with links."""
        fragment = self.fragments(crs)[position]
        return fragment[:-1] + b',"links":' + orjson.dumps(links) + b"}"

    def csv_chunks(self, positions: npt.NDArray[np.int64], crs: OutputCRS) -> Iterator[bytes]:
        """The given rows as CSV (UTF-8 with BOM, geometry as WKT), in chunks.

        Parameters
        ----------
        positions
            The rows, in output order.
        crs
            CRS of the WKT geometry column.

        Yields
        ------
        bytes
            CSV text; the first chunk holds the header.
        """
        transform = crs.from_wgs84()
        yield "\ufeff".encode()
        for start in range(0, max(len(positions), 1), _CHUNK * 5):
            rows = positions[start : start + _CHUNK * 5]
            page = spreadsheet_safe(self.properties.iloc[rows])
            if self.has_geometry:
                geoms = self.geometry[rows]
                if transform is not None:
                    geoms = _transform(geoms, transform)
                page["geometry"] = shapely.to_wkt(geoms, rounding_precision=-1)
            buffer = io.StringIO()
            page.to_csv(buffer, index=False, header=start == 0, lineterminator="\n")
            yield buffer.getvalue().encode()

    def _is_text(self, name: str) -> bool:
        if name not in self.properties.columns:
            return False
        column = self.properties[name]
        return not (pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column))

    def _spatial_index(self) -> shapely.STRtree:
        with self._lock:
            if self._tree is None:
                self._tree = shapely.STRtree(self.geometry)
            return self._tree

    def _matches(self, name: str, value: str) -> npt.NDArray[np.bool_]:
        if name not in self.properties.columns:
            known = items(self.properties.columns, limit=30)
            raise InputError.from_key("api_error.unknown_parameter", name=repr(name), known=known)
        column = self.properties[name]
        if pd.api.types.is_bool_dtype(column):
            wanted = value.strip().lower()
            if wanted not in ("true", "false", "1", "0"):
                raise InputError.from_key(
                    "err_server.not_boolean", name=repr(name), value=repr(value)
                )
            return np.asarray(column.to_numpy(dtype=bool) == (wanted in ("true", "1")))
        if pd.api.types.is_numeric_dtype(column):
            try:
                number = float(value)
            except ValueError:
                raise InputError.from_key(
                    "err_server.not_numeric", name=repr(name), value=repr(value)
                ) from None
            return np.asarray(column.to_numpy(dtype=float, na_value=np.nan) == number)
        return np.asarray(self._text(name) == value)

    def _text(self, name: str) -> npt.NDArray[Any]:
        with self._lock:
            if name not in self._text_columns:
                column = self.properties[name]
                self._text_columns[name] = np.array(
                    ["" if v is None else str(v) for v in plain_values(column)], dtype=object
                )
            return self._text_columns[name]

    def _make_fragments(self, crs: OutputCRS, start: int, stop: int) -> list[bytes]:
        transform = crs.from_wgs84()
        geometry = self.geometry[start:stop]
        geoms = geometry if transform is None else _transform(geometry, transform)
        properties = self.properties.iloc[start:stop]
        names = [str(c) for c in self.properties.columns]
        template = (
            b'{"type":"Feature","id":%b,"geometry":%b,"properties":{'
            + b",".join(orjson.dumps(name).replace(b"%", b"%%") + b":%b" for name in names)
            + b"}}"
        )
        parts = [
            values_json(self.ids[start:stop]),
            geometry_json(geoms),
            *(column_json(properties[c]) for c in properties.columns),
        ]
        return [template % values for values in zip(*parts, strict=True)]


class _Fragments(Sequence[bytes]):
    """The GeoJSON of a table's features in one CRS, made block by block when indexed."""

    def __init__(self, table: FeatureTable, crs: OutputCRS) -> None:
        self.table = table
        self.crs = crs

    def __len__(self) -> int:
        return len(self.table)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.table._block(self.crs, index // _BLOCK)[index % _BLOCK]


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table whose text cells and column names cannot run as spreadsheet formulas.

    Text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
    single quote (:func:`rivernet.roster.safe_cell`); numeric, boolean and date columns are
    left as they are, so ``-3.5`` stays a number.

    Parameters
    ----------
    frame
        The rows to write.

    Returns
    -------
    pandas.DataFrame
        The safe copy.
    """
    columns: list[pd.Series] = []
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position].reset_index(drop=True)
        plain = (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
            or pd.api.types.is_datetime64_any_dtype(values)
        ) and not isinstance(values.dtype, pd.CategoricalDtype)
        if not plain:
            values = pd.Series([safe_cell(v) for v in values.astype(object)], dtype=object)
        columns.append(values)
    page = pd.concat(columns, axis=1, ignore_index=True) if columns else frame.copy()
    page.columns = [safe_cell(str(name)) for name in frame.columns]
    return page


def values_json(values: Sequence[Any]) -> list[bytes]:
    """Each value as JSON bytes."""
    if values and all(type(v) is int for v in values):
        return orjson.dumps(list(values))[1:-1].split(b",")
    dumps = orjson.dumps
    return [dumps(v, default=json_default) for v in values]


def column_json(column: pd.Series) -> list[bytes]:
    """Each value of a column as JSON bytes (numbers in one vectorised call)."""
    if len(column) and column.dtype.kind in "iufb" and isinstance(column.dtype, np.dtype):
        text = orjson.dumps(column.to_numpy(), option=orjson.OPT_SERIALIZE_NUMPY)
        return text[1:-1].split(b",")
    return values_json(plain_values(column))


def geometry_json(geoms: npt.NDArray[Any]) -> list[bytes]:
    """Each geometry as GeoJSON bytes (``null`` for missing ones).

    Points and line strings, the bulk of river data, are written from one vectorised dump of
    their coordinates sliced per geometry; other types go through ``shapely.to_geojson``.
    """
    out: list[bytes] = [b"null"] * len(geoms)
    if not len(geoms):
        return out
    kinds = np.asarray(shapely.get_type_id(geoms))
    simple = np.isin(kinds, (0, 1)) & ~np.asarray(shapely.is_empty(geoms)) & ~np.asarray(
        shapely.has_z(geoms)
    )  # fmt: skip
    rows = np.flatnonzero(simple)
    if rows.size:
        for row, text in zip(rows.tolist(), _simple_geometry_json(geoms[rows], kinds[rows]),
                             strict=True):  # fmt: skip
            out[row] = text
    other = np.flatnonzero(~simple & (kinds >= 0))
    if other.size:
        for row, text in zip(other.tolist(), shapely.to_geojson(geoms[other]).tolist(),
                             strict=True):  # fmt: skip
            out[row] = text.encode()
    return out


def _simple_geometry_json(geoms: npt.NDArray[Any], kinds: npt.NDArray[Any]) -> list[bytes]:
    """GeoJSON of non-empty 2-D points and line strings, from one dump of all coordinates."""
    coordinates = shapely.get_coordinates(geoms)
    text = orjson.dumps(coordinates, option=orjson.OPT_SERIALIZE_NUMPY)
    # Every "[" after the first opens one [x,y] pair: numbers hold no brackets.
    starts = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("["))[1:]
    ends = np.append(starts[1:] - 1, len(text) - 1)  # drop the comma (or the final bracket)
    counts = np.asarray(shapely.get_num_coordinates(geoms))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    begin, finish = starts[first].tolist(), ends[first + counts - 1].tolist()
    heads = {0: b'{"type":"Point","coordinates":', 1: b'{"type":"LineString","coordinates":['}
    tails = {0: b"}", 1: b"]}"}
    return [
        heads[kind] + text[b:e] + tails[kind]
        for kind, b, e in zip(kinds.tolist(), begin, finish, strict=True)
    ]


def json_default(value: Any) -> Any:
    """orjson fallback for pandas, numpy and shapely values."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, shapely.Geometry):
        return orjson.Fragment(shapely.to_geojson(value))
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def plain_values(column: pd.Series) -> list[Any]:
    """A column as a list of plain Python values (None for missing, ISO text for times)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return [None if pd.isna(v) else v.isoformat() for v in column]
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
        column.dtype, pd.CategoricalDtype
    ):
        values = column.astype(object)
        return [None if v is pd.NA or v is None else v for v in values.tolist()]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [None if pd.isna(v) else v for v in column.astype(object).tolist()]
    return column.tolist()


def _transform(
    geoms: npt.NDArray[Any], function: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
) -> npt.NDArray[Any]:
    return np.asarray(shapely.transform(geoms, function), dtype=object)
