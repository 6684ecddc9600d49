"""The collection registry: one OGC API feature collection per layer of the catalog.

A :class:`Collection` wraps a catalog layer (:mod:`rivernet.layers.catalog`), which declares
everything about it: titles, description, id column, the source function and whether the
features depend on a date, a level or the chief roster. Features come from
:func:`rivernet.layers.sources.layer_frame`, as the tiles and maps get theirs, and each
collection is prepared once per data version (and date and level) and cached. Whether a
collection is offered depends only on the project's data (a roster), never on the installed
library: every source function is imported when the server starts.

What is published of a table is an allow-list, not a filter of suspicious names
(:func:`published`): a column that comes from the chief roster is published only when it is
one of :data:`ROSTER_PUBLIC_COLUMNS` (ids, names, posts, organisations, levels, units, roles,
dates, source documents, the fictional flag), so a contact column is withheld whatever it is
called (``contact``, ``座机``, ``notes``...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from rivernet.errors import NotFoundError
from rivernet.layers.catalog import Layer
from rivernet.layers.sources import layer_frame, public_columns
from rivernet.roster import PUBLIC_COLUMNS
from rivernet.server.encoding import FeatureTable

if TYPE_CHECKING:
    from rivernet.project import Project
    from rivernet.server.state import AppState

__all__ = ["ROSTER_PUBLIC_COLUMNS", "Collection", "collection", "offered", "published"]

FrameT = TypeVar("FrameT", bound=pd.DataFrame)
ROSTER_PUBLIC_COLUMNS = PUBLIC_COLUMNS
"""The roster columns the API publishes (:data:`rivernet.roster.PUBLIC_COLUMNS`)."""


def published(frame: FrameT, project: Project) -> FrameT:
    """The columns of a table the API may publish.

    A column that any roster table of the project holds is kept only when it is one of
    :data:`ROSTER_PUBLIC_COLUMNS`; columns the analysis computed (unit names, distances,
    statuses) and the network's own attributes are kept; contact-like names are dropped in
    any case.

    Parameters
    ----------
    frame
        A collection's features or an analysis result.
    project
        The project whose roster says which columns are roster columns.

    Returns
    -------
    pandas.DataFrame
        The table without private columns (the same object when nothing is dropped).
    """
    frame = public_columns(frame)
    roster = project.roster
    if roster is None:
        return frame
    roster_columns = {
        str(c)
        for table in (roster.people, roster.assignments, roster.units, roster.boards)
        for c in table.columns
    }
    private = [c for c in frame.columns
               if str(c) in roster_columns and str(c) not in ROSTER_PUBLIC_COLUMNS]  # fmt: skip
    return frame.drop(columns=private) if private else frame


@dataclass(frozen=True)
class Collection:
    """One feature collection the API offers: a catalog layer with every published column.

    Attributes
    ----------
    layer
        The catalog layer.
    """

    layer: Layer

    @property
    def id(self) -> str:
        """URL id (the layer id)."""
        return self.layer.id

    @property
    def title_zh(self) -> str:
        """Chinese title."""
        return self.layer.title_zh

    @property
    def title_en(self) -> str:
        """English title."""
        return self.layer.title_en

    @property
    def description(self) -> str:
        """What the features are."""
        return self.layer.description

    @property
    def id_column(self) -> str | None:
        """Column of feature ids (None numbers them)."""
        return self.layer.id_column

    @property
    def temporal(self) -> bool:
        """Whether the features (or the extra columns published with them) depend on the date."""
        return self.layer.temporal or self.layer.extra_columns is not None

    @property
    def by_level(self) -> bool:
        """Whether the features depend on the admin level (``level`` parameter)."""
        return self.layer.by_level

    def available(self, project: Project) -> bool:
        """Whether the project has the data this collection needs (a roster, for some)."""
        return project.has_roster or not self.layer.needs_roster

    def table(self, state: AppState, *, as_of: dt.date, level: str | None) -> FeatureTable:
        """The prepared (cached) features for a date and level.

        Parameters
        ----------
        state
            The server state.
        as_of
            The as-of date (ignored unless the collection is temporal).
        level
            The admin level of level-dependent collections (None: the layer's default).

        Returns
        -------
        FeatureTable
            The features in EPSG:4326 with every published column.
        """
        return state.cached(*self._build(state, as_of=as_of, level=level))

    async def prepared(self, state: AppState, *, as_of: dt.date, level: str | None) -> FeatureTable:
        """:meth:`table` from the event loop: built in the compute pool when not cached."""
        return await state.computed(*self._build(state, as_of=as_of, level=level))

    def _build(
        self, state: AppState, *, as_of: dt.date, level: str | None
    ) -> tuple[tuple[object, ...], Callable[[], FeatureTable]]:
        """The cache key of the table and the function building it."""
        day = as_of if self.temporal else None
        at = level if self.by_level else None
        project = state.project

        def build() -> FeatureTable:
            frame = layer_frame(project, self.layer, as_of=day, level=at, all_properties=True)
            return FeatureTable(published(frame, project), id_column=self.id_column)

        return ("collection", self.id, day, at), build


def offered(state: AppState) -> list[Collection]:
    """The collections this server offers for its project."""
    return [entry for entry in state.collections if entry.available(state.project)]


def collection(state: AppState, collection_id: str) -> Collection:
    """The collection with this id.

    Raises
    ------
    NotFoundError
        If there is none (the message lists those offered), or it needs a chief roster and
        the project has none (the message says so).
    """
    for entry in state.collections:
        if entry.id == collection_id:
            if entry.layer.needs_roster:
                state.project.require_roster()
            return entry
    ids = ", ".join(entry.id for entry in offered(state))
    raise NotFoundError.from_key("error.no_collection", collection=repr(collection_id), ids=ids)
