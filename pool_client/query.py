"""Queries over the local catalog: `search` (ranked, bounded: the catalog's own) and
`all_matching` (every item a saved query matches, for sync) with the same folding and
query syntax."""

from __future__ import annotations

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


def search(db: sqlite_utils.Database, q: Query, limit: int = 50) -> list[dict[str, Any]]:
    """Ranked results through `catalog.search.search`."""
    from catalog.errors import CatalogError
    from catalog.search import search as catalog_search

    try:
        return catalog_search(
            db,
            q.text,
            member=q.member,
            category=q.category,
            language=q.language,
            since=q.since,
            until=q.until,
            min_duration=q.min_duration,
            max_duration=q.max_duration,
            limit=limit,
        )
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc


SYNC_COLUMNS = ("id", "path", "size", "sha256", "title")


def all_matching(
    db: sqlite_utils.Database, q: Query, columns: tuple[str, ...] = SYNC_COLUMNS
) -> list[dict[str, Any]]:
    """Every item matching `q` (the given columns, oldest change first), unranked: sync
    needs all of them, not the best N."""
    from catalog.items import facet_token, normalize_language
    from catalog.search import build_match

    required, excluded = build_match(q.text)
    facets = []
    if q.member:
        facets.append(facet_token("m", q.member))
    if q.category:
        facets.append(facet_token("c", q.category))
    if q.language:
        lang = normalize_language(q.language)
        if not lang:
            raise UsageError(f"--lang {q.language!r}: not a language code such as tr or kk")
        facets.append(facet_token("l", lang))
    text = " AND ".join(required)
    if excluded:
        text = f"({text or '{facets}: all'}) NOT ({' OR '.join(excluded)})"
    parts = [f"{{title body}} : ({text})"] if text else []
    parts += [f"{{facets}} : {f}" for f in facets]
    where, args = [], []
    if parts:
        where.append("i.rid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        args.append(" AND ".join(parts))
    for column, op, value in (
        ("uploaded", ">=", q.since),
        ("uploaded", "<", q.until),
        ("duration", ">=", q.min_duration),
        ("duration", "<=", q.max_duration),
    ):
        if value is not None:
            where.append(f"i.{column} {op} ?")
            args.append(value)
    cols = ", ".join(f"i.{c}" for c in columns)
    sql = f"SELECT {cols} FROM items i" + (" WHERE " + " AND ".join(where) if where else "")
    try:
        cur = db.execute(sql + " ORDER BY i.rid", args)
    except Exception as exc:
        raise UsageError(f"cannot search for {q.text!r}: {exc}") from exc
    from catalog.items import decode_row

    names = [d[0] for d in cur.description]
    return [decode_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
