"""Files written whole or not at all: a temporary file beside the target, renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: Path, *, suffix: str) -> Iterator[Path]:
    """A temporary file beside ``target`` that replaces it when the block ends without error.

    The folder is created if needed. The new file keeps the permissions of the file it replaces,
    or gets the usual ones (``0o666`` less the umask), never the private ones of a temporary
    file; on error the temporary file is removed and ``target`` is left as it was.

    Parameters
    ----------
    target
        The file to write.
    suffix
        Suffix of the temporary file (drivers may choose the format by it).

    Yields
    ------
    pathlib.Path
        The temporary file (it exists, empty).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=suffix, dir=target.parent)
    os.close(handle)
    temp = Path(name)
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
        temp.unlink(missing_ok=True)
