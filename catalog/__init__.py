"""Ortak catalog: schema, metadata extraction, folding, search, indexer and published feed."""

from .errors import CatalogError
from .folding import fold
from .schema import SCHEMA_VERSION, open_catalog
from .search import search

__all__ = ["SCHEMA_VERSION", "CatalogError", "fold", "open_catalog", "search"]
