"""The store of derived results: values computed once and keyed by what they depend on.

A :class:`~rivernet.project.Project` owns one :class:`ResultStore`. Every derived result (the
reach vertices, checked admin units, responsibility pieces, crossings, audits) is stored under
a key made of its name, the versions of the project inputs it depends on (network, admin units,
lakes, roster, policy) and its own parameters (an as-of date, a level, a tolerance). Replacing
an input gives it a new version, so a result computed from the old input can never be returned;
the store also forgets such results at once, so they do not hold memory.

The store is thread-safe: a result is computed once even when several threads (server workers)
ask for it at the same time, and different results are computed concurrently.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

__all__ = ["INPUTS", "ResultStore", "new_version"]

T = TypeVar("T")

INPUTS = ("network", "admin_units", "lakes", "roster", "policy")
"""The inputs of a project whose versions key the derived results."""

_VERSIONS = itertools.count(1)


def new_version() -> int:
    """A version number no input has had before (unique within the process)."""
    return next(_VERSIONS)


class ResultStore:
    """Derived results keyed by name, input versions and parameters.

    Parameters
    ----------
    max_per_name
        How many results of one name (for example audits for different days) to keep; the
        least recently used beyond that are forgotten and recomputed when asked again.
    """

    def __init__(self, *, max_per_name: int = 16) -> None:
        self.max_per_name = max_per_name
        self._values: dict[str, OrderedDict[Hashable, Any]] = {}
        self._depends: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(values) for values in self._values.values())

    def get(
        self,
        name: str,
        versions: tuple[int, ...],
        depends: tuple[str, ...],
        params: Hashable,
        compute: Callable[[], T],
    ) -> T:
        """The result ``name`` for these input versions and parameters, computed on first use.

        Parameters
        ----------
        name
            The kind of result (``"pieces"``, ``"audit"``...).
        versions
            The current versions of the inputs in ``depends``, in that order.
        depends
            The inputs the result depends on (entries of :data:`INPUTS`).
        params
            The result's own parameters (hashable).
        compute
            Called without arguments when the result is missing.

        Returns
        -------
        object
            The stored or freshly computed result.
        """
        key = (versions, params)
        found, value = self._lookup(name, key)
        if found:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault((name, key), threading.Lock())
        try:
            with key_lock:
                found, value = self._lookup(name, key)
                if not found:
                    value = compute()
                    self._store(name, depends, key, value)
        finally:
            with self._lock:
                self._key_locks.pop((name, key), None)
        return value

    def forget(self, inputs: Iterable[str]) -> None:
        """Drop every result that depends on any of ``inputs`` (they were replaced).

        Parameters
        ----------
        inputs
            Names from :data:`INPUTS`.
        """
        changed = set(inputs)
        with self._lock:
            for name, depends in list(self._depends.items()):
                if changed & set(depends):
                    self._values.pop(name, None)

    def clear(self) -> None:
        """Drop every result."""
        with self._lock:
            self._values.clear()

    def _lookup(self, name: str, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            values = self._values.get(name)
            if values is not None and key in values:
                values.move_to_end(key)
                return True, values[key]
        return False, None

    def _store(self, name: str, depends: tuple[str, ...], key: Hashable, value: Any) -> None:
        with self._lock:
            self._depends[name] = depends
            values = self._values.setdefault(name, OrderedDict())
            values[key] = value
            while len(values) > self.max_per_name:
                values.popitem(last=False)
