"""On-disk layout rules of a pool, shared by the server and the indexer.

One place for the names that both sides must agree on: where the published feed lives
and how in-flight (partial) uploads are named, so the indexer can ignore them.
"""

from __future__ import annotations

from pathlib import PurePosixPath

FEED_DIR = ".catalog"
"""Top-level folder of the published feed, read-only for everybody but the indexer."""

PARTIAL_PREFIX = ".ortak-part-"
"""Hidden name prefix of an upload in flight; renamed into place when it completes."""

INTERNAL_PREFIX = ".ortak-"
"""Names starting with this are the pool's own bookkeeping: never listed, never catalogued."""


def is_internal_name(name: str) -> bool:
    """True for names the pool keeps for itself (partials, temporary feed files)."""
    return name.startswith(INTERNAL_PREFIX)


def is_partial_name(name: str) -> bool:
    return name.startswith(PARTIAL_PREFIX)


def is_catalogued_path(relpath: str) -> bool:
    """True if a pool-relative POSIX path is content the indexer should catalogue.

    Excludes the feed folder, internal names at any depth and files placed at the root
    (the root holds only members' areas).
    """
    parts = PurePosixPath(relpath.strip("/")).parts
    if len(parts) < 2 or parts[0] == FEED_DIR:
        return False
    return not any(is_internal_name(p) for p in parts)
