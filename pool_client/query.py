"""Queries over the local catalog: `search` (ranked, bounded: the catalog's own) and
`all_matching` (every item a saved query matches, for sync) with the same folding and
query syntax."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UsageError

if TYPE_CHECKING:
    import sqlite_utils

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    text: str = ""
    member: str | None = None
    category: str | None = None
    language: str | None = None
    since: str | None = None
    """As given ('30d', '2026-11-01'), checked; resolved each time the query runs, so a
    `sync --watch` with `--since 30d` keeps a moving window."""
    until: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def moving(self) -> bool:
        """True if a bound is relative to now ('30d'): the same query matches
        different items as time passes."""
        return any(
            value is not None and not _is_absolute(value) for value in (self.since, self.until)
        )


def _is_absolute(text: str) -> bool:
    from catalog.units import parse_when

    try:
        parse_when(text, ago=False)
    except Exception:
        return False
    return True


def parsed(parse: Callable[[str], T], text: str | None, option: str) -> T | None:
    """`text` read by one of `catalog.units`' parsers (the same as `pool-server`'s), or
    None; a bad value is a usage error (exit 2) naming the option."""
    from catalog.errors import QueryError

    if text is None:
        return None
    try:
        return parse(text)
    except QueryError as err:
        raise UsageError(f"{option} {err}") from None


def checked_when(text: str | None, option: str) -> str | None:
    """A --since/--until value checked now (30d, 12h, 2026-11-01...), kept as given."""
    from catalog.units import parse_when

    parsed(parse_when, text, option)
    return text.strip() if text is not None else None


def parse_date(text: str | None, option: str) -> str | None:
    """An absolute date ('2026-11-01', '2026-11-01T10:00+03:00'; --embargo) as ISO 8601
    in UTC."""
    from catalog.units import iso_utc, parse_when

    when = parsed(lambda t: parse_when(t, ago=False), text, option)
    return iso_utc(when) if when is not None else None


def _resolve(text: str | None, *, until: bool = False) -> str | None:
    from catalog.units import iso_utc, parse_when

    return iso_utc(parse_when(text, end_of_day=until)) if text is not None else None


def _filters(q: Query) -> dict[str, Any]:
    """The query's filters as the catalog's search functions take them."""
    return {
        "member": q.member,
        "category": q.category,
        "language": q.language,
        "since": _resolve(q.since),
        "until": _resolve(q.until, until=True),
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
