"""Ortak catalog: schema, metadata extraction, folding, search, indexer and published feed.

Importing the package imports nothing else: `pool` starts fast and loads only the
modules it uses (`catalog.units` for its option parsing, say). The names below are
loaded on first use; functions are in their modules (`catalog.search.search`...).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "CatalogError": ".errors",
    "fold": ".folding",
    "SCHEMA_VERSION": ".schema",
    "open_catalog": ".schema",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
