"""The map layer catalog and its renderers: one declaration per layer, every output agrees."""

from __future__ import annotations

from rivernet.layers.catalog import CATALOG, MAP_LAYERS, Category, Layer, layer

__all__ = ["CATALOG", "MAP_LAYERS", "Category", "Layer", "layer"]
