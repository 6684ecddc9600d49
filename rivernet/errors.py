"""The one exception hierarchy of rivernet, and its warning classes.

Every error a user can cause derives from :class:`RivernetError` and also from the matching
built-in (``ValueError``, ``KeyError``, ...), so generic handlers keep working. Messages say what
was wrong, where (ids, rows, file) and how to fix it. The web layer maps these classes to HTTP
status codes in one table.

An error made with :meth:`RivernetError.from_key` carries a catalogue message
(:class:`rivernet.messages.Message`): ``str(error)`` is its English text and
``error.text("zh")`` its Chinese one, which the command line and the server show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Self


class RivernetError(Exception):
    """Base class of every error raised on purpose by rivernet."""

    @classmethod
    def from_key(cls, key: str, /, **values: Any) -> Self:
        """The error with the catalogue message ``key`` (see :mod:`rivernet.messages`)."""
        from rivernet.messages import Message

        return cls(Message(key, **values))

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang`` (as it is when it was not made from the catalogue)."""
        from rivernet.messages import render

        head = render(self.args[0], lang) if self.args else ""
        return " ".join([head, *getattr(self, "__notes__", [])])


class InputError(RivernetError, ValueError):
    """Input data is malformed: wrong CRS, bad geometry, bad encoding, bad values."""


class CRSError(InputError):
    """A coordinate reference system is missing, wrong or unsupported."""


class TopologyError(InputError):
    """The river graph cannot be built: duplicate ids, cycles, self-loops."""


class ProjectFileError(InputError):
    """A project file (GeoPackage) is missing layers or columns, or cannot be read or written."""


class RosterError(InputError):
    """A chief roster has invalid rows; ``problems`` lists ``(line, message)`` pairs."""

    def __init__(self, message: str, problems: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class PolicyError(InputError):
    """A coverage policy file is invalid."""


class AdminUnitsError(InputError):
    """Administrative units are invalid: bad codes, missing levels, invalid polygons."""


class NotFoundError(RivernetError, KeyError):
    """An id, code or name that does not exist was asked for."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class OutOfRangeError(RivernetError, ValueError):
    """A request lies outside what the data or the tile matrix covers."""


class RivernetWarning(UserWarning):
    """Base class of rivernet warnings."""


class DataQualityWarning(RivernetWarning):
    """The data has a defect that rivernet works around (and reports)."""


class CoordinateOffsetWarning(DataQualityWarning):
    """A layer labelled WGS84 fits the other layers better once treated as GCJ-02."""


class SnapWarning(RivernetWarning):
    """Some points could not be snapped to a reach within the distance limit."""


def format_ids(ids: Iterable[object], *, limit: int = 10) -> str:
    """Format ids for a message: the first ``limit`` of them and how many more.

    Parameters
    ----------
    ids
        The ids to show.
    limit
        How many to show before summarising the rest.

    Returns
    -------
    str
        For example ``"12, 15, 19 and 4 more"``.
    """
    items = [str(i) for i in ids]
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


# --- the shared store's edits (each error carries the HTTP status the server answers) ----------


class AuthError(RivernetError):
    """A token is missing, unknown or revoked (HTTP 401)."""

    status = 401


class ScopeError(RivernetError):
    """The token's role or unit does not allow this edit (HTTP 403)."""

    status = 403


class StaleError(RivernetError):
    """The row changed since it was read: the If-Match ETag differs (HTTP 412)."""

    status = 412

    def __init__(self, message: str, current_etag: str = "") -> None:
        super().__init__(message)
        self.current_etag = current_etag


class EditError(InputError):
    """An edit breaks a roster rule (HTTP 422); ``field`` names the offending field."""

    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
