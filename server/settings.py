"""Server settings, read from ``RIVERNET_*`` environment variables (one class, no globals).

Examples
--------
``RIVERNET_PROJECT=/data/jiangsu.gpkg RIVERNET_PUBLIC_URL=https://maps.example.cn/rivers
RIVERNET_CORS_ORIGINS=https://a.example.cn,https://b.example.cn rivernet serve``

Links and hosts
---------------
Every link the API writes (``links``, TileJSON tile URLs, the style's sources) starts with
``RIVERNET_PUBLIC_URL`` when it is set. When it is not, links are built from each request's
``Host`` header (and scheme and root path), so a client that sends a forged ``Host`` would get
links to a host of its choosing; the server therefore answers only the host names in
``RIVERNET_ALLOWED_HOSTS`` (Starlette's ``TrustedHostMiddleware``; other hosts get a 400
problem). Set ``RIVERNET_PUBLIC_URL`` behind a proxy, and ``RIVERNET_ALLOWED_HOSTS`` to the
names clients use (``*`` answers any host).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROJECT = ROOT / "data" / "sample" / "taihu.gpkg"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")
"""Hosts always answered when ``RIVERNET_ALLOWED_HOSTS`` is unset: the loopback names, and
``testserver``, the ``Host`` of Starlette's and schemathesis's in-process test clients (no DNS
name resolves to it, so it cannot point a link anywhere)."""
MIB = 1 << 20


def _cpu_count() -> int:
    return os.cpu_count() or 2


class Settings(BaseSettings):
    """Everything the server can be told from outside.

    Attributes
    ----------
    project
        The project GeoPackage to serve (default: the shipped Taihu sample).
    public_url
        The URL clients reach the server at, behind a proxy (``https://host/prefix``); every
        link the server writes starts with it. Default: taken from each request's ``Host``
        header, which is why only :attr:`allowed_hosts` are answered.
    root_path
        The path prefix a proxy strips before forwarding (ASGI ``root_path``).
    allowed_hosts
        Host names the server answers (comma-separated in the environment; ``*.example.cn``
        patterns and ``*`` for any). Default: localhost, 127.0.0.1, [::1] and the host of
        :attr:`public_url`. A request for another host gets a 400 problem.
    cors_origins
        Origins allowed to call the API from a browser (comma-separated in the environment;
        ``*`` for any). Default: none, so browsers allow same-origin calls only.
    reload_interval
        Seconds between checks of the project file (inode, size, modification time); a
        replaced file is reopened in the background and swapped in when it opens. 0 disables.
    compute_threads
        Worker threads for expensive work (analysis, collection builds, tile layers); cheap
        routes never wait for them. Default: the CPU count.
    tile_cache_mb
        Memory for rendered tiles, in MiB (summed body sizes); 0 disables the cache.
    response_cache_mb
        Memory for prepared collections and analysis results, in MiB (estimated sizes).
    policy
        The coverage policy TOML; default: ``policy.toml`` beside the project file if it
        exists, else the library's defaults (as ``rivernet coverage`` does).
    basemap_url
        An optional raster tile URL template (e.g. Tianditu) for the web map; none by default,
        so the map works offline.
    cache_max_age
        ``Cache-Control: max-age`` in seconds for API responses (ETags revalidate after).
    items_limit
        Default page size of ``/collections/{id}/items``.
    items_max_limit
        The largest page a client may ask for (larger limits are capped, as OGC API asks).
    """

    model_config = SettingsConfigDict(env_prefix="RIVERNET_", extra="ignore")

    project: Path | str = DEFAULT_PROJECT
    public_url: str | None = None
    root_path: str = ""
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    reload_interval: float = Field(default=2.0, ge=0)
    compute_threads: int = Field(default_factory=_cpu_count, ge=1)
    tile_cache_mb: float = Field(default=128, ge=0)
    response_cache_mb: float = Field(default=512, ge=0)
    policy: Path | None = None
    basemap_url: str | None = None
    cache_max_age: int = Field(default=60, ge=0)
    items_limit: int = Field(default=10, ge=1)
    items_max_limit: int = Field(default=100_000, ge=1)

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Accept ``"a,b"`` as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("project", mode="before")
    @classmethod
    def _project_target(cls, value: Any) -> Any:
        """A ``postgresql://`` URL stays text (a shared store); anything else is a path."""
        if isinstance(value, str) and value.startswith(("postgresql://", "postgres://")):
            return value
        return Path(value) if isinstance(value, str) else value

    @field_validator("public_url", mode="before")
    @classmethod
    def _strip_slash(cls, value: Any) -> Any:
        """``https://host/prefix/`` -> ``https://host/prefix``; empty means unset."""
        if isinstance(value, str):
            return value.rstrip("/") or None
        return value

    @field_validator("root_path", mode="before")
    @classmethod
    def _normalise_root(cls, value: Any) -> Any:
        """``prefix/`` -> ``/prefix``."""
        if isinstance(value, str):
            value = value.strip().strip("/")
            return f"/{value}" if value else ""
        return value

    def trusted_hosts(self) -> list[str]:
        """The host patterns the server answers (``["*"]`` for any).

        Returns
        -------
        list of str
            :attr:`allowed_hosts` when set, else the loopback names and the public URL's host.
        """
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        hosts = list(LOCAL_HOSTS)
        if self.public_url:
            name = urlsplit(self.public_url).hostname
            if name:
                hosts.append(f"[{name}]" if ":" in name else name)
        return hosts

    def cache_bytes(self, cache: str) -> int:
        """The memory bound of the ``"tiles"`` or ``"responses"`` cache, in bytes."""
        size = self.tile_cache_mb if cache == "tiles" else self.response_cache_mb
        return int(size * MIB)
