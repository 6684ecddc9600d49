"""Files written whole or not at all, one writer at a time, and cells safe to open in Excel.

- :func:`replacing`: a temporary file beside the target, renamed into place when the block ends.
  The temporary file's name carries the writer's process id (``.NAME-PID-RANDOM.SUFFIX``), so
  the next writer of the same target removes what killed writers left behind (only when no live
  process has that id).
- :func:`project_lock`: an exclusive lock on ``PROJECT.gpkg.lock`` beside a project file, held
  by a writer for its whole read-check-write; a second writer waits a bounded time, then fails
  with a message naming the lock and the process holding it.
- :func:`safe_cell` / :func:`unsafe_cell`: neutralise spreadsheet cells that Excel would run as
  formulas (the OWASP CSV-injection rule) and undo exactly that on reading.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rivernet.errors import ProjectFileError
from rivernet.messages import Message

__all__ = [
    "LOCK_TIMEOUT",
    "lock_path",
    "project_lock",
    "remove_stale_temporaries",
    "replacing",
    "safe_cell",
    "unsafe_cell",
]

LOCK_TIMEOUT = 30.0
"""Seconds a writer waits for another writer's project lock before giving up."""

_ESCAPED = re.compile(r"^'*[=+\-@\t\r]")
_JOURNALS = ("", "-journal", "-wal", "-shm")


def _temporary_pattern(target: Path, suffix: str) -> re.Pattern[str]:
    return re.compile(
        rf"^\.{re.escape(target.stem)}-(\d+)-[0-9a-f]{{8}}{re.escape(suffix)}"
        rf"(?:{'|'.join(re.escape(j) for j in _JOURNALS if j)})?$"
    )


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's live process
        return True
    return True


def remove_stale_temporaries(target: Path, *, suffix: str) -> list[Path]:
    """Remove temporary files that killed writers of ``target`` left beside it.

    A temporary file of :func:`replacing` is named ``.STEM-PID-RANDOM.SUFFIX`` (SQLite may add
    ``-journal``, ``-wal`` or ``-shm``); it is stale when no live process has that PID.

    Parameters
    ----------
    target
        The file whose writers' leftovers to remove.
    suffix
        The suffix the writers used.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    pattern = _temporary_pattern(target, suffix)
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for path in target.parent.iterdir():
        match = pattern.match(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def replacing(target: Path, *, suffix: str) -> Iterator[Path]:
    """A temporary file beside ``target`` that replaces it when the block ends without error.

    The folder is created if needed, and temporary files left by killed writers of the same
    target are removed first (:func:`remove_stale_temporaries`). The new file keeps the
    permissions of the file it replaces, or gets the usual ones (``0o666`` less the umask),
    never the private ones of a temporary file; on error the temporary file is removed and
    ``target`` is left as it was.

    Parameters
    ----------
    target
        The file to write.
    suffix
        Suffix of the temporary file (drivers may choose the format by it).

    Yields
    ------
    pathlib.Path
        The temporary file (it exists, empty), named ``.STEM-PID-RANDOM.SUFFIX``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target, suffix=suffix)
    temp = target.parent / f".{target.stem}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield temp
        if target.exists():
            shutil.copymode(target, temp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    finally:
        for journal in _JOURNALS:
            Path(f"{temp}{journal}").unlink(missing_ok=True)


# --- one writer at a time ----------------------------------------------------------------------

_HELD: dict[tuple[str, int], list[int]] = {}  # (lock file, thread) -> [fd, depth]
_HELD_GUARD = threading.Lock()


def lock_path(target: Path) -> Path:
    """The lock file of a project file: ``PROJECT.gpkg.lock`` beside it."""
    return target.with_name(target.name + ".lock")


@contextmanager
def project_lock(target: str | Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[Path]:
    """Hold the exclusive writer's lock of a project file for the block.

    The lock is an ``fcntl.flock`` on ``PROJECT.gpkg.lock`` beside the project; the file holds
    the process id, command and start time of the holder, for other writers' messages. The
    operating system releases the lock when the holder dies, so a killed writer never leaves
    the project locked; the lock file is removed when the lock is released. A thread that
    already holds the lock may take it again (nested writers).

    Parameters
    ----------
    target
        The project file.
    timeout
        Seconds to wait for another writer (0: fail at once).

    Yields
    ------
    pathlib.Path
        The lock file.

    Raises
    ------
    ProjectFileError
        If another writer holds the lock for longer than ``timeout``; the message names the lock
        file and the holder.
    """
    path = lock_path(Path(target)).absolute()
    key = (str(path), threading.get_ident())
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
    if held is not None:
        try:
            yield path
        finally:
            with _HELD_GUARD:
                held[1] -= 1
        return
    fd = _acquire(path, timeout)
    with _HELD_GUARD:
        _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        path.unlink(missing_ok=True)  # while still locked: the next writer makes a new one
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    pause = 0.02
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            if time.monotonic() >= deadline:
                raise _locked_error(path, timeout) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder removed the file we locked: lock the new one
            os.close(fd)
            continue
        command = " ".join(sys.argv) or sys.executable
        holder = (
            f"pid {os.getpid()}: {command} (since {dt.datetime.now().isoformat(' ', 'seconds')})"
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode("utf-8", "replace"), 0)
        return fd


def _locked_error(path: Path, timeout: float) -> ProjectFileError:
    return ProjectFileError.from_key(
        "err_store.locked", name=path.name[: -len(".lock")], path=path, holder=_holder(path),
        timeout=f"{timeout:g}",
    )  # fmt: skip


_HOLDER = re.compile(r"pid (\d+): (.*) \(since (.+)\)", re.S)


def _holder(path: Path) -> str:
    """Who holds the lock, as its file says (written by :func:`_acquire`)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    if not text:
        return Message("err_store.unknown_holder")
    found = _HOLDER.fullmatch(text)
    if found is None:
        return text
    return Message("err_store.holder", pid=found[1], command=found[2], since=found[3])


# --- cells safe to open in a spreadsheet --------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """Neutralise a text cell that a spreadsheet would run as a formula (CSV/formula injection).

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    single quote (OWASP's rule), and so does text that already starts with quotes before one of
    those characters, so that :func:`unsafe_cell` restores every value exactly. Other values are
    returned unchanged.

    Parameters
    ----------
    value
        A cell value.

    Returns
    -------
    object
        The value to write.
    """
    if isinstance(value, str) and _ESCAPED.match(value):
        return "'" + value
    return value


def unsafe_cell(value: Any) -> Any:
    """Undo :func:`safe_cell`: remove exactly the one protective quote it added.

    Parameters
    ----------
    value
        A cell value as read.

    Returns
    -------
    object
        The original value.
    """
    if isinstance(value, str) and value.startswith("'") and _ESCAPED.match(value[1:]):
        return value[1:]
    return value
