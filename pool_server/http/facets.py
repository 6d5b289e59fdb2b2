"""The search page's facets: the members, categories and languages it offers.

They are read from the catalog only when it has changed (its journal sequence moved),
by one request at a time: while one request reads them, the others use the values
they replace rather than all reading at once (20 users arriving together used to read
them 20 times over, each a scan of every item). A request that finds nothing yet
waits for the first reading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlite_utils

from catalog import browse
from catalog.store import current_seq

Values = dict[str, list[str]]


def read_facets(db: sqlite_utils.Database) -> Values:
    return {
        "members": browse.members(db),
        "categories": browse.categories(db),
        "languages": browse.languages(db),
    }


class Facets:
    """The facet values, kept by catalog sequence; one per door."""

    def __init__(self, read: Callable[[sqlite_utils.Database], Values] = read_facets) -> None:
        self._read = read
        self._lock = threading.Lock()
        """Held while the values are read (one reader at a time)."""
        self._kept: tuple[int, Values] | None = None
        """(catalog sequence, values read at or after it), replaced as a whole."""

    def get(self, db: sqlite_utils.Database) -> Values:
        seq = current_seq(db)
        kept = self._kept
        if kept is not None and kept[0] == seq:
            return kept[1]
        if kept is not None and not self._lock.acquire(blocking=False):
            return kept[1]  # being read by another request: the values it replaces
        if kept is None:
            self._lock.acquire()
        try:
            kept = self._kept
            if kept is not None and kept[0] >= seq:
                return kept[1]
            values = self._read(db)  # read after `seq`: at least as new as it
            self._kept = (seq, values)
            return values
        finally:
            self._lock.release()
