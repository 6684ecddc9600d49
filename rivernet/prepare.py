"""The prepared sidecar of a project: its tile pyramids as memory-mapped arrays on disk.

``rivernet prepare PROJECT`` (:func:`prepare`) builds the tile pyramids
(:mod:`rivernet.layers.pyramid`) of the layers whose drawn features depend on the project file
alone (reaches, admin units, lakes, and crossings at each level with unit polygons) and writes
them next to it, in the folder ``PROJECT.prepared/``: one
``.npy`` file per array and ``meta.json`` naming the file version (the SHA-256 prefix of the
project's bytes, as :func:`rivernet.project.file_version` has it) they were built from.

:func:`open_prepared` opens the sidecar in milliseconds: the arrays are memory-mapped
(``numpy.load(mmap_mode="r")``), so nothing is read until a tile needs it, the operating system
pages them in and out as needed (they count as file cache, not as the server's own memory),
and every worker process of ``rivernet serve --workers N`` shares the same pages. A sidecar is
used only for the file it was written for: its size and modification time must match, or
else its SHA-256 (a copied file); a replaced project (``rivernet roster import``, an edit)
makes the server build what it needs from the new project until ``rivernet prepare`` is run
again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rivernet import messages
from rivernet.errors import ProjectFileError

if TYPE_CHECKING:
    from collections.abc import Callable

    from rivernet.layers.pyramid import LayerPyramid
    from rivernet.project import Project

__all__ = [
    "FORMAT",
    "PREPARED_LAYERS",
    "PrepareSummary",
    "Prepared",
    "is_fresh",
    "open_prepared",
    "prepare",
    "sidecar_path",
]

logger = logging.getLogger(__name__)

FORMAT = 1
"""Version of the sidecar's layout; a sidecar of another format is ignored (prepare again)."""
PREPARED_LAYERS = ("reaches", "admin_units", "lakes", "crossings")
"""The catalog layers a sidecar holds: those whose drawn features depend on the project file
alone (crossings at each admin level with unit polygons: ``crossings@county``...)."""
_META = "meta.json"
_DEPENDS = {
    "reaches": ("network",),
    "admin_units": ("admin_units",),
    "lakes": ("lakes",),
    "crossings": ("network", "admin_units", "lakes"),
}


def sidecar_path(project_path: str | Path) -> Path:
    """The sidecar folder of a project file: ``<file>.prepared`` next to it."""
    path = Path(project_path)
    return path.with_name(path.name + ".prepared")


@dataclass(frozen=True)
class PrepareSummary:
    """What :func:`prepare` wrote.

    Attributes
    ----------
    path
        The sidecar folder.
    file_version
        The project file version it belongs to.
    layers
        Feature count of each layer written.
    bytes
        Total size of the folder.
    seconds
        Time taken (0 when the sidecar was already fresh).
    written
        False when an up-to-date sidecar was kept.
    """

    path: Path
    file_version: str
    layers: dict[str, int]
    bytes: int
    seconds: float
    written: bool = True


def prepare(
    project_path: str | Path,
    *,
    force: bool = False,
    project: Project | None = None,
    progress: Callable[[str], None] | None = None,
) -> PrepareSummary:
    """Build the tile pyramids of a project and write them next to it (see the module).

    Parameters
    ----------
    project_path
        The project GeoPackage.
    force
        Rewrite the sidecar even when it is up to date.
    project
        The project, when already opened from ``project_path``.
    progress
        Called with each layer's id before it is built.

    Returns
    -------
    PrepareSummary
        What was written.

    Raises
    ------
    ProjectFileError
        If the project cannot be opened or the folder cannot be written.
    """
    from rivernet.admin import LEVELS
    from rivernet.layers.pyramid import build_pyramid, pyramid_key
    from rivernet.project import file_version, open_project

    path = Path(project_path)
    target = sidecar_path(path)
    if not force and is_fresh(path):
        meta = _read_meta(target)
        return PrepareSummary(target, str(meta["file_version"]), dict(meta["counts"]),
                              _folder_bytes(target), 0.0, written=False)  # fmt: skip
    started = time.perf_counter()
    stat = path.stat()
    version = file_version(path)
    opened = project if project is not None else open_project(path)
    if opened.file_version != version:
        raise ProjectFileError.from_key("err_prepare.changed", path=str(path))
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(temp, ignore_errors=True)
    layers: dict[str, Any] = {}
    counts: dict[str, int] = {}
    try:
        temp.mkdir(parents=True)
        units = opened.admin_units
        present = set(units["level"].astype(str)) if "level" in units.columns else set()
        polygon_levels = [level for level in LEVELS if level in present]
        for layer_id in PREPARED_LAYERS:
            for level in polygon_levels if layer_id == "crossings" else [None]:
                key = pyramid_key(layer_id, level)
                if progress is not None:
                    progress(key)
                pyramid = build_pyramid(opened, layer_id, level=level)
                if len(pyramid) == 0:
                    continue
                (temp / key).mkdir()
                for name, array in pyramid.arrays():
                    np.save(temp / key / f"{name}.npy", np.ascontiguousarray(array))
                layers[key] = pyramid.meta()
                counts[key] = len(pyramid)
        meta = {
            "format": FORMAT,
            "file_version": version,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "layers": layers,
            "counts": counts,
        }
        (temp / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        _swap(temp, target)
    except OSError as error:
        shutil.rmtree(temp, ignore_errors=True)
        raise ProjectFileError.from_key(
            "err_prepare.cannot_write", target=str(target), reason=messages.os_reason(error)
        ) from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    took = time.perf_counter() - started
    return PrepareSummary(target, version, counts, _folder_bytes(target), took)


def _swap(temp: Path, target: Path) -> None:
    """Put the folder ``temp`` in place of ``target`` (readers see the old or the new one)."""
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(temp, target)
    shutil.rmtree(old, ignore_errors=True)


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _read_meta(folder: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((folder / _META).read_text(encoding="utf-8"))
    return meta


def is_fresh(project_path: str | Path) -> bool:
    """Whether the project file has a sidecar written for its current bytes (stat check)."""
    path = Path(project_path)
    try:
        meta = _read_meta(sidecar_path(path))
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return (
        meta.get("format") == FORMAT
        and meta.get("size") == stat.st_size
        and meta.get("mtime_ns") == stat.st_mtime_ns
    )


@dataclass(eq=False)
class Prepared:
    """An opened sidecar: its layers' pyramids, memory-mapped on first use.

    Attributes
    ----------
    folder
        The sidecar folder.
    file_version
        The project file version it was written for.
    layers
        Ids of the layers it holds.
    counts
        Feature count of each layer.
    """

    folder: Path
    file_version: str
    layers: frozenset[str]
    counts: dict[str, int]
    meta: dict[str, Any] = field(repr=False)
    _pyramids: dict[str, LayerPyramid] = field(default_factory=dict, repr=False)
    _seen: weakref.WeakKeyDictionary[Any, dict[str, int]] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )

    def pyramid(self, layer_id: str) -> LayerPyramid:
        """The pyramid of a layer it holds (its arrays memory-mapped, opened once)."""
        from rivernet.layers.pyramid import LayerPyramid

        found = self._pyramids.get(layer_id)
        if found is None:
            meta = self.meta["layers"][layer_id]
            folder = self.folder / layer_id
            arrays = {f.name[:-4]: np.load(f, mmap_mode="r") for f in folder.glob("*.npy")}
            found = self._pyramids.setdefault(layer_id, LayerPyramid.from_arrays(meta, arrays))
        return found

    def serves(self, project: Project, layer_id: str) -> bool:
        """Whether this sidecar holds ``layer_id`` as ``project`` has it.

        The project must have been read from the file the sidecar was written for, and the
        input the layer comes from (its network, admin units or lakes) must not have been
        replaced since (a replaced roster does not matter).
        """
        if layer_id not in self.layers or project.file_version != self.file_version:
            return False
        versions = dict(getattr(project, "_versions", {}))
        if getattr(project, "_generation", 0) == 0:
            self._seen.setdefault(project, versions)
        first = self._seen.get(project)
        names = _DEPENDS[layer_id.split("@")[0]]
        return first is not None and all(first.get(n) == versions.get(n) for n in names)


def open_prepared(project_path: str | Path) -> Prepared | None:
    """Open the sidecar of a project file, or None when it has none for its current bytes.

    Parameters
    ----------
    project_path
        The project GeoPackage.

    Returns
    -------
    Prepared or None
        The sidecar (nothing read yet but its ``meta.json``), or None when there is none, it
        is of another format, or it was written for other bytes.
    """
    from rivernet.project import file_version

    path = Path(project_path)
    folder = sidecar_path(path)
    try:
        meta = _read_meta(folder)
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT:
        logger.warning("%s is of another format; run rivernet prepare %s again", folder, path)
        return None
    if not is_fresh(path):  # same bytes under another stamp (a copy)? compare the digest
        try:
            same = file_version(path) == meta.get("file_version")
        except OSError:
            return None
        if not same:
            logger.info("%s was written for other bytes of %s; not used", folder, path)
            return None
    layers = dict(meta.get("layers", {}))
    return Prepared(folder, str(meta["file_version"]), frozenset(layers),
                    dict(meta.get("counts", {})), meta)  # fmt: skip
