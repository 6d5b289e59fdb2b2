"""Queries over the local catalog: `search` (ranked, bounded: the catalog's own) and
`all_matching` (every item a saved query matches, for sync) with the same folding and
query syntax."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    import sqlite_utils


@dataclass(frozen=True)
class Query:
    text: str = ""
    member: str | None = None
    category: str | None = None
    language: str | None = None
    since: str | None = None
    until: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_date(text: str | None, option: str) -> str | None:
    """'2026-11-01', '2026-11-01T10:00', '2026-11-01T10:00+03:00' → ISO 8601 in UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: give a date such as 2026-11-01 or 2026-11-01T14:30"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _filters(q: Query) -> dict[str, Any]:
    """The query's filters as the catalog's search functions take them."""
    return {
        "member": q.member,
        "category": q.category,
        "language": q.language,
        "since": q.since,
        "until": q.until,
        "min_duration": q.min_duration,
        "max_duration": q.max_duration,
    }


@contextmanager
def _usage_errors() -> Iterator[None]:
    """A query the catalog cannot run is the user's to fix: a usage error (exit 2)."""
    from catalog.errors import CatalogError

    try:
        yield
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc


def search(db: sqlite_utils.Database, q: Query, limit: int = 50) -> list[dict[str, Any]]:
    """Ranked results through `catalog.search.search`."""
    from catalog.search import search as catalog_search

    with _usage_errors():
        return catalog_search(db, q.text, limit=limit, **_filters(q))


SYNC_COLUMNS = ("id", "path", "size", "sha256", "title")


def all_matching(
    db: sqlite_utils.Database, q: Query, columns: tuple[str, ...] = SYNC_COLUMNS
) -> list[dict[str, Any]]:
    """Every item matching `q` (the given columns, oldest change first), unranked: sync
    needs all of them, not the best N."""
    from catalog.search import matching

    with _usage_errors():
        return matching(db, q.text, columns=columns, **_filters(q))
