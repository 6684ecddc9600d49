"""The server's shared state: the project loaded once, the settings, the collections, LRU caches.

Routers receive it through the :func:`get_state` dependency. Derived results (prepared
collections, analysis tables, tiles) are cached by key in bounded LRU caches, and the project's
current data version is part of every cache key and ETag, so an input replaced in the project
(a new roster) is never answered from the old one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request

from rivernet.layers.catalog import CATALOG
from rivernet.server.collections import Collection
from rivernet.server.settings import Settings

if TYPE_CHECKING:
    from rivernet.project import Project

T = TypeVar("T")


class LRUCache:
    """A thread-safe LRU cache whose values are computed once per key.

    Parameters
    ----------
    size
        How many values to keep; 0 disables caching.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computing it (once, even under concurrency) when missing."""
        found, value = self._lookup(key)
        if found:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                found, value = self._lookup(key)
                if not found:
                    value = compute()
                    self._store(key, value)
        finally:
            with self._lock:
                self._key_locks.pop(key, None)
        return value

    def peek(self, key: Hashable) -> Any:
        """The cached value for ``key``, or None (never computes)."""
        found, value = self._lookup(key)
        return value if found else None

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._values.clear()

    def _lookup(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return True, self._values[key]
        return False, None

    def _store(self, key: Hashable, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)


@dataclass(eq=False)
class AppState:
    """What every request may read.

    Attributes
    ----------
    project
        The project, loaded once in the app's lifespan with the server's coverage policy (its
        ``policy`` is the one every analysis applies); shared read-only.
    settings
        The server settings.
    collections
        The feature collections, built from the layer catalog at start-up.
    caches
        Named LRU caches: ``"responses"`` (prepared collections, analysis results) and
        ``"tiles"``.
    """

    project: Project
    settings: Settings
    collections: tuple[Collection, ...] = ()
    caches: dict[str, LRUCache] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.caches.setdefault("responses", LRUCache(self.settings.response_cache_size))
        self.caches.setdefault("tiles", LRUCache(self.settings.tile_cache_size))
        if not self.collections:
            self.collections = tuple(Collection(entry) for entry in CATALOG)

    @property
    def data_version(self) -> str:
        """The project's data version, part of every ETag and cache key.

        Read from the project on every use, so that a replaced input (a new roster) gives new
        ETags and never returns an answer cached from the old one.
        """
        return self.project.data_version

    def cached(self, key: Hashable, compute: Callable[[], T], *, cache: str = "responses") -> T:
        """The value cached under ``key`` in the named cache, computed on first use.

        Parameters
        ----------
        key
            A hashable key; the data version is added to it.
        compute
            Called without arguments when the key is missing.
        cache
            ``"responses"`` or ``"tiles"`` (or another name, created on first use with the
            responses size).

        Returns
        -------
        object
            The cached or freshly computed value.
        """
        store = self.caches.get(cache)
        if store is None:
            store = self.caches.setdefault(cache, LRUCache(self.settings.response_cache_size))
        return store.get_or_compute((self.data_version, key), compute)


def get_state(request: Request) -> AppState:
    """FastAPI dependency: the app's :class:`AppState`."""
    state: AppState = request.app.state.rivernet
    return state
