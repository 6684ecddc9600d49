"""Follow the store's data version: every worker serves the roster as it is now, never a restart.

A project opened from a store (a GeoPackage or a PostgreSQL URL: ``project.store``) is followed
by a :class:`LiveFollower`: at most every ``interval`` seconds (0.15 by default,
``RIVERNET_LIVE_INTERVAL``) a request, or the follower's own background task, asks the store for
its ``data_version()`` (one cheap query). When it changed, the roster is read from the store in
a worker thread and swapped into the project with :meth:`AppState.replace_project` (one
assignment): coverage, problems, tiles, ETags and every cached result follow at once, because
the data version is part of every cache key and ETag. Derived results that do not depend on the
roster (the network's pieces, units, lakes) are kept, so a swap costs a roster read, not a
reload.

Before a new version is served, the worker computes for it the derived results it used lately
(the coverage tile pyramids and audits asked for in the last seconds: see
:class:`~rivernet.server.state.Warmers`), for at most :data:`WARM_BUDGET` seconds, so that the
first answers from the new version come at once. Requests arriving while the new version is
prepared wait for it (at most :data:`PREPARE_WAIT` seconds) and are answered from it: the
worker's share of the CPU then goes to the new version first instead of being split with
answers from a version about to go. Measured with ``python -m bench edits`` (8 writers, 32
readers, 4 workers on 2 cores): readers see a write p99 0.9 s after its commit instead of
1.7 s, for fewer reads answered meanwhile (p99 read latency unchanged). A request never waits
for the version check itself. The worker that made an edit prepares the new version before
answering it.

The worker that answers an edit calls :func:`after_edit` before answering, so its very next
request shows the change; the other workers (``rivernet serve --workers N`` or separate
processes on one database) see it within ``interval`` plus the time to read the roster. Every
worker labels the data with the store's version, so all of them give the same ETags for the
same data. A worker still computing answers for the version it serves when the next one arrives
finishes them first (for at most :data:`MAX_DEFER` seconds): under a stream of edits it adopts
versions as fast as it can answer them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    import pandas as pd
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from rivernet.project import Project
    from rivernet.roster import Roster
    from rivernet.server.state import AppState
    from rivernet.store import Store

logger = logging.getLogger(__name__)
T = TypeVar("T")
STORE_THREADS = 4
"""Threads (and so at most this many database connections) per worker for store calls."""

DEFAULT_INTERVAL = 0.15
"""Seconds between two data-version checks of one worker."""

WARM_BUDGET = 5.0
"""Seconds a worker may spend computing, for a new version, the results it used lately
(:class:`~rivernet.server.state.Warmers`) before it serves that version."""

MAX_DEFER = 0.5
"""Seconds a worker still computing answers for the version it serves may put off the next
version (see :meth:`LiveFollower.ensure_fresh`)."""


PREPARE_WAIT = 1.0
"""Seconds a request waits for the new version its worker is preparing (see
:meth:`LiveFollower.settled`) before it is answered from the version served."""


def live_interval() -> float:
    """``RIVERNET_LIVE_INTERVAL`` (seconds; 0 turns following off), else 0.15."""
    text = os.environ.get("RIVERNET_LIVE_INTERVAL", "")
    try:
        return max(0.0, float(text)) if text else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


class StoreThreads:
    """A few threads of one worker that make every call to a store (reads, edits, checks).

    A PostgreSQL store keeps one connection per thread: running its calls on these threads
    bounds a worker's connections to :data:`STORE_THREADS`, and :meth:`close` closes each of
    them when the app stops.

    Parameters
    ----------
    store
        The store.
    size
        The number of threads.
    """

    def __init__(self, store: Store, *, size: int = STORE_THREADS) -> None:
        self.store = store
        self.size = size
        self.pool = concurrent.futures.ThreadPoolExecutor(size, thread_name_prefix="rivernet-store")

    async def run(self, function: Callable[[], T]) -> T:
        """Call ``function`` on one of the threads and return what it returns."""
        return await asyncio.wrap_future(self.pool.submit(function))

    def close(self) -> None:
        """Close the store's connection in every thread, then stop the threads."""
        barrier = threading.Barrier(self.size)

        def close_here() -> None:
            # hold each thread until all have a close job: one job per thread
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            self.store.close()

        for _ in range(self.size):
            self.pool.submit(close_here)
        self.pool.shutdown(wait=True)


def store_threads(app: Any, store: Store) -> StoreThreads:
    """The app's threads for ``store`` (made on first use; closed by :func:`close_stores`)."""
    known: dict[int, StoreThreads] = app.state.__dict__.setdefault("_store_threads", {})
    found = known.get(id(store))
    if found is None or found.store is not store:
        found = known[id(store)] = StoreThreads(store)
    return found


async def in_store(app: Any, store: Store, function: Callable[[], T]) -> T:
    """Run ``function`` (a store call) on the app's store threads."""
    return await store_threads(app, store).run(function)


def close_stores(app: Any) -> None:
    """Close every store connection the app's store threads hold (at shutdown)."""
    known: dict[int, StoreThreads] = app.state.__dict__.get("_store_threads", {})
    for threads in known.values():
        threads.close()
    known.clear()


def warm_store(project: Project) -> None:
    """Read what the project's store checks edits against (its reference project), now rather
    than at the first edit; nothing for a project without a store."""
    store = getattr(project, "store", None)
    reference = getattr(store, "reference_project", None)
    if reference is not None:
        try:
            # this thread's connection first: PostgisStore.reference_project holds its guard
            # while it reads, and a thread's first connection takes that guard too
            store.data_version()  # type: ignore[union-attr]
            reference()
        except Exception as error:  # the first edit will say what is wrong
            logger.warning("store %s: cannot read its reference project: %s", store, error)


def with_roster(project: Project, roster: Roster | None, *, version: int, base: str) -> Project:
    """``project`` with ``roster`` swapped in, labelled with the store's data version.

    The new project shares the old one's store of derived results (those that do not depend on
    the roster stay valid: results are keyed by the versions of their inputs), so the network's
    pieces are not rebuilt. Its :attr:`~rivernet.project.Project.data_version` is
    ``BASE+vVERSION`` in every worker.

    Parameters
    ----------
    project
        The project served now (left unchanged: requests under way keep it).
    roster
        The roster read from the store (None: the store has none).
    version
        The store's data version it was read at.
    base
        The data version of the project as first opened.

    Returns
    -------
    Project
        The new project.
    """
    new = copy.copy(project)
    new._inputs = dict(project._inputs)
    new._versions = dict(project._versions)
    new.roster = roster
    new.file_version = f"{base}+v{version}"
    new._generation = 0
    new.store_version = version
    return new


class LiveFollower:
    """Keep an :class:`AppState`'s project at the store's data version.

    Parameters
    ----------
    state
        The app's state; its project (opened from ``store``) is replaced on change.
    store
        The store the project came from.
    interval
        Seconds between two checks (at most one check per interval, whoever asks).
    """

    def __init__(self, state: AppState, store: Store, *, interval: float, app: Any = None) -> None:
        self.app = app
        self.state = state
        self.store = store
        self.interval = interval
        self.current = state.project
        self.base = state.project.data_version
        self.version: int | None = getattr(state.project, "store_version", None)
        self.checked = time.monotonic()
        self.swapped = self.checked
        """When the version served was adopted."""
        self.swaps = 0
        self.full_reads = 0
        self.audit_mark: tuple[int, dt.datetime] | None = None
        """The newest audit row the roster served includes (id, time); None: unknown."""
        self._lock: anyio.Lock | None = None
        self.preparing: anyio.Event | None = None
        """Set while a new version is read and its results computed (None otherwise)."""

    @property
    def lock(self) -> anyio.Lock:
        """One check or reload at a time (created on the event loop)."""
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def run(self) -> None:
        """Note where the served roster stands in the audit (:meth:`first_mark`), then check
        every :attr:`interval` seconds, until cancelled (the lifespan's task)."""
        try:
            async with self.lock:
                await self._call(self.first_mark)
        except Exception as error:  # the first new version is then read whole
            logger.warning("cannot read the audit of %s: %s", self.store, error)
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.ensure_fresh()
            except Exception as error:  # a database away for a moment: keep serving, retry
                logger.warning("cannot follow the store %s: %s", self.store, error)

    async def ensure_fresh(self, *, force: bool = False) -> bool:
        """Check the data version (unless checked less than :attr:`interval` ago, or the
        worker is still computing answers for the version it serves: see :meth:`_busy`) and swap
        in the new roster when it changed.

        Parameters
        ----------
        force
            Check now, however recent the last check (after an edit).

        Returns
        -------
        bool
            Whether a new roster is now served.
        """
        if not force and time.monotonic() - self.checked < self.interval:
            return False
        if not force and (self._busy() or self.lock.locked()):
            return False  # a check under way: answer from the version served until it ends
        async with self.lock:
            if not force and time.monotonic() - self.checked < self.interval:
                return False
            self._adopt(self.state.project)
            started = time.monotonic()
            version = await self._call(self.store.data_version)
            if version == self.version:
                self.checked = started
                return False
            read = time.monotonic()
            self.preparing = preparing = anyio.Event()
            try:
                roster, how = await self._call(self._new_roster)
                swapped = time.monotonic()
                project = with_roster(self.state.project, roster, version=version, base=self.base)
                warmed = await self.state.run(
                    lambda: self.state.warmers.run(project, budget=WARM_BUDGET), pool="compute"
                )
                ready = time.monotonic()
            finally:
                self.preparing = None
                preparing.set()
            old = self.version
            self.state.replace_project(project)
            self.current = project
            self.version = version
            self.checked = started
            self.swapped = time.monotonic()
            self.swaps += 1
            logger.info(
                "store %s: data version %s -> %s (check %.0f ms, roster %s %.0f ms, "
                "%d results ready in %.0f ms)", self.store, old, version,
                (read - started) * 1000, how, (swapped - read) * 1000, warmed,
                (ready - swapped) * 1000,
            )  # fmt: skip
            return True

    def first_mark(self) -> None:
        """Note the newest audit row the served roster includes, when the store has not
        changed since the roster was read (its data version is still the one served): the
        first new version is then read as the few rows audited since, not whole (a whole read
        of the sample takes 0.6 s on a busy server). Edits are serialised by the store, so audit
        ids follow commit order."""
        from rivernet import edits

        if self.audit_mark is not None or self.version is None:
            return
        newest = edits.audit(self.store, limit=1)  # before the version: a commit between shows
        if self.store.data_version() == self.version:
            self.audit_mark = _mark(newest[0]) if newest else (0, _EPOCH)

    async def settled(self) -> None:
        """Wait until the new version being prepared (if any) is served, for at most
        :data:`PREPARE_WAIT` seconds."""
        preparing = self.preparing
        if preparing is not None:
            with anyio.move_on_after(PREPARE_WAIT):
                await preparing.wait()

    def _busy(self) -> bool:
        """Whether to put the check off: the worker is still computing answers (coverage,
        tiles) for the version it serves, which it adopted less than :data:`MAX_DEFER` ago.

        Under a stream of edits a worker then adopts versions as fast as it can answer them,
        instead of starting on the next while the last is half computed (on a busy machine
        every worker would otherwise spend its time on versions nobody reads any more).
        """
        if time.monotonic() - self.swapped >= MAX_DEFER:
            return False
        return self.state.computing()

    def _new_roster(self) -> tuple[Roster | None, str]:
        """The store's roster now: the changes audited since the last read applied to the
        roster served (a few rows), else read whole; and which of the two was done."""
        from rivernet import edits

        current = self.state.project.roster
        if self.audit_mark is not None and current is not None:
            last_id, _ = self.audit_mark
            entries = edits.audit(self.store, after=last_id, limit=1_000_000)
            new = sorted(entries, key=lambda e: int(e["audit_id"]))
            changed = apply_audit(current, new) if new else current
            if changed is not None:
                if new:
                    self.audit_mark = _mark(new[-1])
                return changed, f"+{len(new)} audited rows"
        newest = edits.audit(self.store, limit=1)  # before the read: later rows reapply
        roster = self.store.read_roster()
        self.full_reads += 1
        self.audit_mark = _mark(newest[0]) if newest else (0, _EPOCH)
        return roster, "read"

    async def _call(self, function: Callable[[], T]) -> T:
        if self.app is None:
            return await anyio.to_thread.run_sync(function)
        return await in_store(self.app, self.store, function)

    def _adopt(self, project: Project) -> None:
        """Follow a project swapped in by someone else (the file reloader): its store too."""
        if project is self.current:
            return
        self.current = project
        self.audit_mark = None
        self.store = getattr(project, "store", None) or self.store
        self.base = project.data_version
        self.version = getattr(project, "store_version", None)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
AUDIT_TABLES = {
    "roster_assignments": ("assignments", "assignment_id"),
    "roster_people": ("people", "person_id"),
    "roster_boards": ("boards", "board_id"),
    "roster_units": ("units", "code"),
}
"""Audited table -> the roster's table and its key."""


def _mark(entry: dict[str, Any]) -> tuple[int, dt.datetime]:
    at = dt.datetime.fromisoformat(str(entry["at"]).replace("Z", "+00:00"))
    return int(entry["audit_id"]), at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def apply_audit(roster: Roster, entries: list[dict[str, Any]]) -> Roster | None:
    """``roster`` with the rows of audited edits (oldest first) put in, as the store has them.

    Each entry's ``after`` row replaces the row of the same key (a new row is added; an entry
    with only ``before`` removes it); only the changed tables are rebuilt, with the roster's
    own parsing (:func:`rivernet.roster.parse_table`), so the result equals a roster
    read whole from the store.

    Returns
    -------
    Roster or None
        None when an entry cannot be applied this way (an import, an unknown table): read the
        roster whole.
    """
    import pandas as pd

    from rivernet.roster import Roster

    tables = {"people": roster.people, "assignments": roster.assignments,
              "units": roster.units, "boards": roster.boards}  # fmt: skip
    changes: dict[str, dict[str, dict[str, Any] | None]] = {}
    for entry in entries:
        found = AUDIT_TABLES.get(str(entry.get("table")))
        after, before = entry.get("after"), entry.get("before")
        if found is None or entry.get("action") == "import" or (after or before) is None:
            return None
        name, key = found
        changed: dict[str, Any] = after or before or {}
        changes.setdefault(name, {})[str(changed[key])] = None if after is None else dict(after)
    for name, rows in changes.items():
        key = AUDIT_TABLES[TABLES_BY_NAME[name]][1]
        tables[name] = _upsert(tables[name], key, rows, source=roster.source)
    assignments = tables["assignments"]
    if "line" in assignments:
        assignments = assignments.assign(line=pd.RangeIndex(2, len(assignments) + 2))
    return Roster(tables["people"], assignments, tables["units"], tables["boards"],
                  source=roster.source, missing=roster.missing)  # fmt: skip


TABLES_BY_NAME = {name: table for table, (name, _) in AUDIT_TABLES.items()}


def _upsert(
    frame: pd.DataFrame, key: str, rows: dict[str, dict[str, Any] | None], *, source: str
) -> pd.DataFrame:
    """``frame`` without the rows of ``rows``' keys, then the non-None rows parsed the way a
    roster read from the store is (only those few rows are parsed)."""
    import pandas as pd

    from rivernet.roster import parse_table

    name = next(n for t, (n, k) in AUDIT_TABLES.items() if k == key)
    kept = frame[~frame[key].isin(_key_values(rows))]
    added = [row for row in rows.values() if row is not None]
    if not added:
        return kept.reset_index(drop=True)
    new = parse_table(name, pd.DataFrame(added)).reindex(columns=frame.columns)
    widened = {}
    for column in frame.columns:  # the old column's type, so nothing is re-inferred
        old = kept[column]
        if isinstance(old.dtype, pd.CategoricalDtype):  # stays a category
            values = new[column].astype(object)
            extra = pd.Index(values.dropna().unique()).difference(old.cat.categories)
            if len(extra):
                widened[column] = old = old.cat.add_categories(extra)
            new[column] = values.astype(old.dtype)
        elif old.dtype != new[column].dtype:
            new[column] = new[column].astype(old.dtype)
    if widened:
        kept = kept.assign(**widened)
    return pd.concat([kept, new], ignore_index=True)


def _key_values(rows: dict[str, Any]) -> list[Any]:
    """The keys of ``rows`` as text and, when they are whole numbers, as numbers too (those whose
    text is the key): a key column may hold either (a spreadsheet's unit codes), and ``isin``
    on them is far cheaper than turning the whole column into text."""
    values: list[Any] = list(rows)
    values += [int(key) for key in rows if key.isascii() and key.isdigit() and str(int(key)) == key]
    return values


def follower(app: Any) -> LiveFollower | None:
    """The app's follower, None when the served project has no store (or before start-up)."""
    found = getattr(getattr(app, "state", None), "live", None)
    return found if isinstance(found, LiveFollower) else None


async def after_edit(app: FastAPI) -> None:
    """Read the store's new version now: the next request to this worker shows the edit."""
    found = follower(app)
    if found is not None:
        await found.ensure_fresh(force=True)


VERSION_HEADER = b"rivernet-store-version"
"""Response header: the store's data version the answer was made from (after an edit: the
version the worker has read since, which includes the edit)."""


class LiveMiddleware:
    """Before each HTTP request, wait for the new version the app's follower is preparing (see
    :meth:`LiveFollower.settled`), then let it check the data version (at most once per
    interval; a request never waits for the check itself); each response says which version it
    was made from (:data:`VERSION_HEADER`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check, then pass the request on."""
        found = follower(scope.get("app")) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        await found.settled()
        try:
            await found.ensure_fresh()
        except Exception as error:  # answer from the data we have; the task retries
            logger.warning("cannot follow the store %s: %s", found.store, error)
        reading = scope.get("method") in ("GET", "HEAD")

        async def send_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                pinned = scope.get("rivernet.state")
                version = getattr(getattr(pinned, "project", None), "store_version", None)
                if not reading or version is None:
                    version = found.version
                if version is not None:
                    headers = [*message.get("headers", []), (VERSION_HEADER, b"%d" % version)]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_version)
