"""Saved-search matching: which saved searches a batch of just-changed items matches.

The items of a batch are put in a small in-memory catalog (the same tables, the same
FTS document as pool.db's) and every saved search runs against it through
`catalog.search.matching`, the query compiler `pool search` and the web search use. So a
saved search matches exactly the items a search with the same text and filters would
find, and a thousand saved searches cost a thousand queries over a handful of rows, not
over the whole catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import QueryError
from .schema import open_catalog
from .search import matching
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


class BatchMatcher:
    """An in-memory catalog of a batch of item rows, to run saved searches against."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.db = open_catalog(":memory:", wal=False)
        self.ids: list[str] = []
        for row in rows:
            put_item_row(self.db, row)
            self.ids.append(row["id"])

    def match(self, searches: Iterable[SavedSearch]) -> dict[int, list[str]]:
        """{saved search id: [item ids it matches]}; searches matching nothing are left
        out. A search the catalog cannot run raises QueryError."""
        found: dict[int, list[str]] = {}
        for s in searches:
            rows = matching(self.db, s.query, columns=("id",), **check_filters(s.filters))
            if rows:
                found[s.id] = [r["id"] for r in rows]
        return found

    def match_each(
        self, searches: Iterable[SavedSearch]
    ) -> tuple[dict[int, list[str]], dict[int, str]]:
        """Like `match`, but a search that cannot run is reported, not raised: (matches,
        {search id: error})."""
        found: dict[int, list[str]] = {}
        errors: dict[int, str] = {}
        for s in searches:
            try:
                found.update(self.match([s]))
            except QueryError as exc:
                errors[s.id] = str(exc)
        return found, errors

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> BatchMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
