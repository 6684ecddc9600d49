"""rivernet's map server: OGC API Features, analysis endpoints, tiles and the planners' web map.

The server imports the library, never the other way round. Build the app with
:func:`create_app` (settings come from ``RIVERNET_*`` environment variables) or run it with
``rivernet serve``.
"""

from __future__ import annotations

from rivernet.server.app import create_app

__all__ = ["create_app"]
