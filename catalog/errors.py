"""The catalog's exceptions: one base class, so callers translate them in one place."""

from __future__ import annotations


class CatalogError(Exception):
    """Base class of every error the catalog raises on purpose."""


class SchemaError(CatalogError):
    """The database holds a catalog schema this version cannot use (e.g. newer)."""


class SidecarError(CatalogError):
    """A descriptive sidecar could not be read: malformed, too large or hostile."""


class MediaError(CatalogError):
    """An essence file could not be read or analysed."""


class QueryError(CatalogError):
    """A search query or filter is not valid."""


class FeedError(CatalogError):
    """The published feed is missing, inconsistent, or cannot be applied."""


class Cancelled(CatalogError):
    """Work stopped half-way because the indexer is stopping; nothing was written."""


class PreviewError(CatalogError):
    """A preview could not be made from this file (the item's preview ends `failed`)."""


class PreviewInterrupted(CatalogError):
    """A preview job was cut short from outside (its ffmpeg killed, the service stopping):
    the job runs again."""
