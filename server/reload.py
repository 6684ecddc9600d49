"""Follow the project file: a replaced file is reopened in the background and swapped in.

``rivernet roster import`` (and every other writer of a project) writes a temporary file and
renames it over the project, so a running server would keep answering from the old data, with
the old ETags. :class:`ProjectReloader` checks the file's identity (inode, size, modification
time: one ``stat``) every ``RIVERNET_RELOAD_INTERVAL`` seconds from a task of the app's lifespan.
When it changed, the new file is opened in a worker thread while the old project keeps
answering; once it has opened, :meth:`AppState.replace_project` swaps it in with one assignment
(new data version, so new ETags and cache keys). A file that fails to open (half written,
invalid) is logged and the old project stays; the next change of the file is tried again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    from rivernet.project import Project
    from rivernet.server.state import AppState

logger = logging.getLogger(__name__)

Stamp = tuple[int, int, int]


def file_stamp(path: Path | str) -> Stamp | None:
    """The file's inode, size and modification time in ns, or None when it cannot be read
    (or names no file: a PostgreSQL URL)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class ProjectReloader:
    """Reopen the served project when its file is replaced.

    Parameters
    ----------
    state
        The app's state; its project is replaced.
    opener
        Opens the project file (with the server's policy); called in a worker thread.
    interval
        Seconds between checks.
    replaced_only
        Reload only when the file is replaced (a new inode, as ``rivernet roster import`` and
        every writer of a whole project make), not when it is written in place: the store's
        own edits, which :mod:`rivernet.server.live` follows by the data version.
    """

    def __init__(
        self,
        state: AppState,
        opener: Callable[[Path], Project],
        *,
        interval: float,
        replaced_only: bool = False,
    ) -> None:
        self.state = state
        self.opener = opener
        self.interval = interval
        self.replaced_only = replaced_only
        self.path = state.project.path
        self.seen = file_stamp(self.path)

    @property
    def watching(self) -> bool:
        """Whether there is a file to follow (not for projects built in memory)."""
        return self.interval > 0 and self.seen is not None

    async def run(self) -> None:
        """Check the file every :attr:`interval` seconds, until cancelled."""
        while True:
            await anyio.sleep(self.interval)
            await self.check()

    async def check(self) -> bool:
        """Reload the project if its file changed since the last check.

        Returns
        -------
        bool
            Whether a new project is now served.
        """
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self.seen:
            return False
        if self.replaced_only and self.seen is not None and stamp[0] == self.seen[0]:
            self.seen = stamp  # written in place by the store: the live follower's business
            return False
        self.seen = stamp
        try:
            project = await anyio.to_thread.run_sync(self.opener, self.path)
        except Exception as error:  # any failure to open: keep serving the old project
            logger.error(
                "project file %s changed but does not open (%s: %s); still serving data "
                "version %s. Fix or restore the file; it is retried when it changes again.",
                self.path, type(error).__name__, error, self.state.data_version,
            )  # fmt: skip
            return False
        if project.file_version == self.state.project.file_version:
            return False  # same bytes (touched, or copied back): nothing to do
        old = self.state.data_version
        self.state.replace_project(project)
        logger.warning(
            "project file %s was replaced: now serving data version %s (was %s)",
            self.path, self.state.data_version, old,
        )  # fmt: skip
        return True
