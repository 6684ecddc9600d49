"""Server settings, read from ``RIVERNET_*`` environment variables (one class, no globals).

Examples
--------
``RIVERNET_PROJECT=/data/jiangsu.gpkg RIVERNET_PUBLIC_URL=https://maps.example.cn/rivers
RIVERNET_CORS_ORIGINS=https://a.example.cn,https://b.example.cn rivernet serve``
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROJECT = ROOT / "data" / "sample" / "taihu.gpkg"


class Settings(BaseSettings):
    """Everything the server can be told from outside.

    Attributes
    ----------
    project
        The project GeoPackage to serve (default: the shipped Taihu sample).
    public_url
        The URL clients reach the server at, behind a proxy (``https://host/prefix``); every
        link the server writes starts with it. Default: taken from each request.
    root_path
        The path prefix a proxy strips before forwarding (ASGI ``root_path``).
    cors_origins
        Origins allowed to call the API from a browser (comma-separated in the environment;
        ``*`` for any). Empty disables CORS headers.
    tile_cache_size
        How many rendered tiles to keep in memory.
    response_cache_size
        How many prepared collections and analysis results to keep in memory.
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

    project: Path = DEFAULT_PROJECT
    public_url: str | None = None
    root_path: str = ""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    tile_cache_size: int = Field(default=4096, ge=0)
    response_cache_size: int = Field(default=64, ge=1)
    policy: Path | None = None
    basemap_url: str | None = None
    cache_max_age: int = Field(default=60, ge=0)
    items_limit: int = Field(default=10, ge=1)
    items_max_limit: int = Field(default=100_000, ge=1)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """Accept ``"a,b"`` as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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
