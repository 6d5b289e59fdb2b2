"""Saved-search matching: which saved searches a batch of just-changed items matches.

The items of a batch are put in a small in-memory catalog (the same tables, the same
FTS document as pool.db's) and every saved search runs against it through
`catalog.search.matching`, the query compiler `pool search` and the web search use. So a
saved search matches exactly the items a search with the same text and filters would
find, and a thousand saved searches cost a thousand queries over a handful of rows, not
over the whole catalog.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import QueryError
from .schema import open_catalog
from .search import CompiledMatch, compile_matching, run_matching
from .store import put_item_row

FILTERS = (
    "member",
    "category",
    "language",
    "since",
    "until",
    "min_duration",
    "max_duration",
    "has_subtitles",
)
"""The filters a saved search may carry: `catalog.search.search`'s keyword arguments."""


@dataclass(frozen=True)
class SavedSearch:
    id: int
    query: str = ""
    filters: Mapping[str, Any] = field(default_factory=dict)


def check_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Only known filters, with None values dropped; raises QueryError otherwise."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise QueryError(f"unknown search filter(s): {', '.join(unknown)}")
    return {k: v for k, v in filters.items() if v is not None}


def validate(query: str, filters: Mapping[str, Any]) -> None:
    """Raise QueryError if the catalog could not run this search (bad syntax or filter)."""
    with BatchMatcher([]) as m:
        m.match([SavedSearch(0, query, filters)])


CHUNK = 400
"""Saved searches run per SQL statement (UNION ALL; SQLite allows 500 compound terms)."""


class Compiled:
    """Saved searches compiled once (`catalog.search.compile_matching`), kept by whoever
    matches batch after batch; a search whose text or filters change is compiled again."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[tuple[str, str], CompiledMatch]] = {}

    def get(self, s: SavedSearch) -> CompiledMatch:
        key = (s.query, repr(sorted(s.filters.items())))
        found = self._cache.get(s.id)
        if found is None or found[0] != key:
            found = (key, compile_matching(s.query, **check_filters(s.filters)))
            self._cache[s.id] = found
        return found[1]


class BatchMatcher:
    """An in-memory catalog of a batch of item rows, to run saved searches against."""

    def __init__(self, rows: Iterable[dict[str, Any]], compiled: Compiled | None = None) -> None:
        self.db = open_catalog(":memory:", wal=False)
        self.compiled = compiled or Compiled()
        self.ids: list[str] = []
        for row in rows:
            put_item_row(self.db, row)
            self.ids.append(row["id"])

    def match(self, searches: Iterable[SavedSearch]) -> dict[int, list[str]]:
        """{saved search id: [item ids it matches]}; searches matching nothing are left
        out. A search the catalog cannot run raises QueryError."""
        found, errors = self.match_each(searches)
        if errors:
            raise QueryError(next(iter(errors.values())))
        return found

    def match_each(
        self, searches: Iterable[SavedSearch]
    ) -> tuple[dict[int, list[str]], dict[int, str]]:
        """Like `match`, but a search that cannot run is reported, not raised: (matches,
        {search id: error})."""
        found: dict[int, list[str]] = {}
        errors: dict[int, str] = {}
        ready: list[tuple[SavedSearch, CompiledMatch]] = []
        for s in searches:
            try:
                ready.append((s, self.compiled.get(s)))
            except QueryError as exc:
                errors[s.id] = str(exc)
        for i in range(0, len(ready), CHUNK):
            chunk = ready[i : i + CHUNK]
            try:
                rows = self._run_chunk(chunk)
            except sqlite3.OperationalError:  # one bad search: find it, keep the others
                rows = []
                for s, c in chunk:
                    try:
                        rows += [
                            (s.id, r["id"]) for r in run_matching(self.db, c, ("id",), s.query)
                        ]
                    except QueryError as exc:
                        errors[s.id] = str(exc)
            for search_id, item_id in rows:
                found.setdefault(search_id, []).append(item_id)
        return found, errors

    def _run_chunk(self, chunk: list[tuple[SavedSearch, CompiledMatch]]) -> list[tuple[int, str]]:
        parts, args = [], []
        for s, c in chunk:
            parts.append(
                f"SELECT {int(s.id)}, i.id FROM items_fts JOIN items i"
                f" ON i.rid = items_fts.rowid WHERE items_fts MATCH ?{c.extra}"
            )
            args += [c.match, *c.args]
        return [(int(r[0]), str(r[1])) for r in self.db.execute(" UNION ALL ".join(parts), args)]

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> BatchMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
