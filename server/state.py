"""The server's shared state: the project, the settings, the collections, caches, worker pools.

Routers receive it through the :func:`get_state` dependency, which pins the project for the
whole request: a project reloaded while a request runs (:mod:`rivernet.server.reload` swaps
:attr:`AppState.project` in one assignment) never mixes old and new data in one answer.

Derived results (prepared collections, analysis tables, tiles) are cached in LRU caches bounded
by memory (bytes, estimated per value by :func:`estimate_bytes`), and the project's data version
is part of every cache key and ETag, so an answer cached from old data is never served for new
data. Expensive work runs in bounded worker pools (:meth:`AppState.computed`,
:meth:`AppState.run`: ``anyio`` capacity limiters sized by ``RIVERNET_COMPUTE_THREADS``), so the
event loop, and with it cheap routes and cached tiles, never waits behind it.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import numpy as np
import pandas as pd
import shapely
from fastapi import Request

from rivernet.layers.catalog import CATALOG
from rivernet.server.collections import Collection
from rivernet.server.settings import Settings

if TYPE_CHECKING:
    from rivernet.project import Project

T = TypeVar("T")

POOLS = ("compute", "render")
"""Worker pools: ``compute`` for analysis and collection or tile-layer builds, ``render`` for
tile encoding and large bodies; each runs at most ``compute_threads`` jobs at once."""
_SCOPE_KEY = "rivernet.state"
_SAMPLE = 64  # items of a long list whose sizes are measured; the rest are extrapolated


def estimate_bytes(value: Any, *, depth: int = 0) -> int:
    """An estimate of the memory a cached value holds, in bytes.

    Byte strings count their length; objects with an ``nbytes`` (numpy arrays, prepared tables
    and tiles) report it; tables count ``DataFrame.memory_usage(deep=False)`` plus 16 bytes per
    coordinate of their geometries; containers and plain objects sum their parts (long lists by
    a sample).

    Parameters
    ----------
    value
        The value.
    depth
        Nesting depth reached (deeper parts count a flat 64 bytes).

    Returns
    -------
    int
        Bytes.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value) + 33
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass")) + 49
    if isinstance(value, pd.DataFrame | pd.Series):
        return frame_bytes(value)
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int | np.integer):
        return int(nbytes) + 64
    if value is None or isinstance(value, int | float | bool | np.generic):
        return 32
    if depth > 4:
        return 64
    if isinstance(value, dict):
        return 64 + _sum_sizes([*value.keys(), *value.values()], depth)
    if isinstance(value, list | tuple | set | frozenset):
        return 56 + _sum_sizes(list(value), depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [getattr(value, f.name, None) for f in dataclasses.fields(value)]
        return 64 + _sum_sizes(parts, depth)
    if hasattr(value, "__dict__"):
        return 64 + _sum_sizes(list(vars(value).values()), depth)
    return sys.getsizeof(value)


def _sum_sizes(items: list[Any], depth: int) -> int:
    if len(items) <= _SAMPLE:
        return sum(estimate_bytes(item, depth=depth + 1) for item in items)
    step = len(items) / _SAMPLE
    sample = [items[int(i * step)] for i in range(_SAMPLE)]
    return int(sum(estimate_bytes(item, depth=depth + 1) for item in sample) * step)


def frame_bytes(frame: pd.DataFrame | pd.Series) -> int:
    """``memory_usage(deep=False)`` of a table plus 16 bytes per geometry coordinate."""
    usage = frame.memory_usage(index=True, deep=False)
    total = int(usage.sum()) if isinstance(usage, pd.Series) else int(usage)
    columns = [frame] if isinstance(frame, pd.Series) else [frame[c] for c in frame.columns]
    for column in columns:
        if isinstance(column, pd.Series) and column.dtype == object and len(column):
            values = column.to_numpy()
            if isinstance(values[0], shapely.Geometry) or str(column.dtype) == "geometry":
                total += 16 * int(np.sum(shapely.get_num_coordinates(values)))
        elif str(getattr(column, "dtype", "")) == "geometry":
            total += 16 * int(np.sum(shapely.get_num_coordinates(np.asarray(column))))
    return total


class LRUCache:
    """A thread-safe LRU cache bounded by memory, whose values are computed once per key.

    Parameters
    ----------
    max_bytes
        The most memory the values may hold (as :func:`estimate_bytes` counts it); the least
        recently used values are dropped beyond it, and a value larger than the whole bound is
        returned but not kept. 0 disables caching.
    sizeof
        The size estimate of a value.
    """

    def __init__(self, max_bytes: int, *, sizeof: Callable[[Any], int] = estimate_bytes) -> None:
        self.max_bytes = max_bytes
        self.sizeof = sizeof
        self.bytes = 0
        self._values: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._values)

    @property
    def computing(self) -> bool:
        """Whether a value is being computed now."""
        return bool(self._key_locks)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computing it (once, even under concurrency) when missing."""
        found, value = self.lookup(key)
        if found:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                found, value = self.lookup(key)
                if not found:
                    value = compute()
                    self.store(key, value)
        finally:
            with self._lock:
                self._key_locks.pop(key, None)
        return value

    def peek(self, key: Hashable) -> Any:
        """The cached value for ``key``, or None (never computes)."""
        return self.lookup(key)[1]

    def lookup(self, key: Hashable) -> tuple[bool, Any]:
        """Whether ``key`` is cached, and its value (None when not); marks it recently used."""
        with self._lock:
            entry = self._values.get(key)
            if entry is None:
                return False, None
            self._values.move_to_end(key)
            return True, entry[0]

    def store(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (unless it alone exceeds the bound), evicting LRU ones."""
        if self.max_bytes <= 0:
            return
        size = self.sizeof(value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._values[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._values:
                _, (_, dropped) = self._values.popitem(last=False)
                self.bytes -= dropped

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()
            self.bytes = 0


class Warmers:
    """What a worker computed lately, to compute again for a new data version before serving it.

    Routes note the derived results they use (a layer's tile pyramid, the audit of a day) with
    a function that computes them for a given project. When the live follower
    (:mod:`rivernet.server.live`) has read a new roster, it runs the functions noted in the
    last ``window`` seconds on the new project first, and only then serves it: the
    requests that follow find the results ready instead of all waiting for them (requests
    arriving meanwhile wait for the new version: see ``LiveFollower.settled``).

    Parameters
    ----------
    window
        Seconds a noted result stays worth computing again.
    limit
        At most this many results (the most recently used).
    """

    def __init__(self, *, window: float = 10.0, limit: int = 16) -> None:
        self.window = window
        self.limit = limit
        self._items: OrderedDict[Hashable, tuple[float, Callable[[Project], object]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def note(self, key: Hashable, warm: Callable[[Project], object]) -> None:
        """Remember that the result ``key`` was used; ``warm(project)`` computes it."""
        with self._lock:
            self._items[key] = (time.monotonic(), warm)
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def run(self, project: Project, *, budget: float) -> int:
        """Compute the results used in the last :attr:`window` seconds for ``project``, the
        most recent first, for at most ``budget`` seconds.

        Returns
        -------
        int
            How many were computed. A result that fails is skipped (the request asking for
            it will say why).
        """
        started = time.monotonic()
        with self._lock:
            recent = [warm for used, warm in reversed(self._items.values())
                      if started - used <= self.window]  # fmt: skip
        done = 0
        for warm in recent:
            if time.monotonic() - started > budget:
                break
            try:
                warm(project)
            except Exception:  # the request that needs it will report the error
                continue
            done += 1
        return done


@dataclass(eq=False)
class AppState:
    """What every request may read.

    Attributes
    ----------
    project
        The project, loaded in the app's lifespan with the server's coverage policy (its
        ``policy`` is the one every analysis applies) and replaced in one assignment when its
        file is (see :mod:`rivernet.server.reload`); shared read-only.
    settings
        The server settings.
    collections
        The feature collections, built from the layer catalog at start-up.
    caches
        Named LRU caches bounded in bytes: ``"responses"`` (prepared collections, analysis
        results) and ``"tiles"``.
    limiters
        The worker pools of :data:`POOLS` (capacity limiters of ``compute_threads`` each).
    prepared
        The project's prepared sidecar (:class:`rivernet.prepare.Prepared`, written by
        ``rivernet prepare``) when there is one for this file version: tile pyramids memory
        mapped from disk, answering tiles before the project has loaded.
    loading
        Set once the project has loaded (a server started with ``lazy=True`` listens at once
        and opens the project in the background; :class:`rivernet.server.app.WaitForProject`
        holds the requests that need it until then). None when the project was given loaded.
    load_error
        Why the project could not be opened (the server then answers 503), else None.
    warmers
        The derived results used lately, computed for a new data version before it is
        served (:class:`Warmers`).
    """

    project: Project
    settings: Settings
    collections: tuple[Collection, ...] = ()
    caches: dict[str, LRUCache] = field(default_factory=dict)
    limiters: dict[str, anyio.CapacityLimiter] = field(default_factory=dict)
    pending: dict[Hashable, anyio.Event] = field(default_factory=dict)
    prepared: Any = None
    loading: anyio.Event | None = None
    load_error: BaseException | None = None
    warmers: Warmers = field(default_factory=Warmers)

    @property
    def ready(self) -> bool:
        """Whether every route answers: the project has loaded and been warmed up (always,
        unless the server opens it lazily)."""
        return self.project is not None and (self.loading is None or self.loading.is_set())

    async def wait_ready(self) -> None:
        """Wait until the project has loaded (or failed to: :attr:`load_error`)."""
        if self.loading is not None and not self.loading.is_set():
            await self.loading.wait()

    def loaded(self, project: Project) -> None:
        """The lazily opened project has loaded: serve it (see :meth:`open_all`)."""
        self.project = project

    def open_all(self) -> None:
        """Release the requests that waited for the project (it has loaded and warmed up)."""
        if self.loading is not None:
            self.loading.set()

    def failed(self, error: BaseException) -> None:
        """The lazily opened project did not load: answer 503 with ``error``."""
        self.load_error = error
        if self.loading is not None:
            self.loading.set()

    def __post_init__(self) -> None:
        for name in ("responses", "tiles"):
            self.caches.setdefault(name, LRUCache(self.settings.cache_bytes(name)))
        for pool in POOLS:
            if pool not in self.limiters:
                self.limiters[pool] = anyio.CapacityLimiter(self.settings.compute_threads)
        if not self.collections:
            self.collections = tuple(Collection(entry) for entry in CATALOG)

    @property
    def data_version(self) -> str:
        """The project's data version, part of every ETag and cache key.

        Read from the project on every use, so that a replaced input (a new roster) gives new
        ETags and never returns an answer cached from the old one. Before a lazily opened
        project has loaded, the file version its prepared sidecar was written for (the one
        the project will have: the sidecar is used only for that file).
        """
        if self.project is None:
            return str(getattr(self.prepared, "file_version", "loading"))
        return self.project.data_version

    def pinned(self) -> AppState:
        """A view of this state whose project stays the current one (for one request)."""
        return dataclasses.replace(self)

    def cache(self, name: str) -> LRUCache:
        """The named cache (created on first use with the responses bound)."""
        store = self.caches.get(name)
        if store is None:
            store = self.caches.setdefault(name, LRUCache(self.settings.cache_bytes(name)))
        return store

    def cached(self, key: Hashable, compute: Callable[[], T], *, cache: str = "responses") -> T:
        """The value cached under ``key`` in the named cache, computed here on first use.

        Parameters
        ----------
        key
            A hashable key; the data version is added to it.
        compute
            Called without arguments when the key is missing.
        cache
            ``"responses"`` or ``"tiles"`` (or another name, created on first use with the
            responses bound).

        Returns
        -------
        object
            The cached or freshly computed value.
        """
        return self.cache(cache).get_or_compute((self.data_version, key), compute)

    async def computed(
        self,
        key: Hashable,
        compute: Callable[[], T],
        *,
        cache: str = "responses",
        pool: str = "compute",
    ) -> T:
        """Like :meth:`cached`, from the event loop: a hit is answered at once, a miss is
        computed in a worker of ``pool`` (once, however many requests wait for it).

        Parameters
        ----------
        key
            A hashable key; the data version is added to it.
        compute
            Called without arguments, in a worker thread, when the key is missing.
        cache
            The cache's name.
        pool
            The worker pool (:data:`POOLS`).

        Returns
        -------
        object
            The value.
        """
        store = self.cache(cache)
        full = (cache, self.data_version, key)
        while True:
            found, value = store.lookup(full[1:])
            if found:
                return value
            waiting = self.pending.get(full)
            if waiting is None:
                break
            await waiting.wait()
        done = self.pending[full] = anyio.Event()
        try:
            return await self.run(lambda: store.get_or_compute(full[1:], compute), pool=pool)
        finally:
            del self.pending[full]
            done.set()

    async def run(self, function: Callable[[], T], *, pool: str = "compute") -> T:
        """Call ``function`` in a worker thread of ``pool`` and return what it returns."""
        return await anyio.to_thread.run_sync(function, limiter=self.limiters[pool])

    def computing(self) -> bool:
        """Whether any cache of this state is computing a value now."""
        return any(cache.computing for cache in list(self.caches.values()))

    def replace_project(self, project: Project) -> None:
        """Serve ``project`` from now on (one assignment) and drop what was cached for the old."""
        self.project = project
        for store in self.caches.values():
            store.clear()


def get_state(request: Request) -> AppState:
    """The app's :class:`AppState`, with the project pinned for this request."""
    pinned = request.scope.get(_SCOPE_KEY)
    if pinned is None:
        live = request.app.state.rivernet
        pinned = live.pinned() if isinstance(live, AppState) else live
        request.scope[_SCOPE_KEY] = pinned
    return pinned


async def app_state(request: Request) -> AppState:
    """FastAPI dependency: :func:`get_state`, on the event loop (no worker-thread hop)."""
    return get_state(request)
