"""Search the catalog: FTS5 over folded text, bm25 with the title weighted, filters.

Works on pool.db and, unchanged, on the feed's snapshot or a client's local copy: it
reads only ``items`` and ``items_fts``.

Query syntax: words are ANDed; ``word*`` matches a prefix; ``"two words"`` is a phrase;
``-word`` excludes. Every word goes through `fold()`, like the indexed text.

Broad queries are bounded. bm25 ranks the matches when there are at most `BROAD_CAP` of
them and no query term is in more than `COMMON_DF` items. Otherwise only the newest
`BROAD_CAP` matches (highest rowid = latest change) are looked at, and ranked in two
tiers: all words in the title first, then the rest, newest first within each; so a word
found in half the pool costs about the same as a rare one.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from .errors import QueryError
from .folding import fold
from .items import decode_row, facet_token, normalize_language

BROAD_CAP = 1000
"""More matches than this and only the newest BROAD_CAP are ranked."""

COMMON_DF = 50_000
"""A term in more items than this makes bm25 too costly: bm25 reads the whole posting
list of every term to weigh it (while giving such a common term almost no weight)."""

TITLE_WEIGHT, BODY_WEIGHT = 8.0, 1.0

_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


def _term(word: str) -> str | None:
    prefix = word.endswith("*")
    folded = fold(word.rstrip("*")).replace("*", "")
    if not folded:
        return None
    words = folded.split()
    if len(words) > 1:
        return '"' + " ".join(words) + '"' + (" *" if prefix else "")
    return f'"{folded}"' + (" *" if prefix else "")


def build_match(query: str) -> tuple[list[str], list[str]]:
    """(required terms, excluded terms) in FTS5 syntax from a user's query."""
    required: list[str] = []
    excluded: list[str] = []
    for m in _TOKEN.finditer(query or ""):
        negate, phrase, word = m.group(1), m.group(2), m.group(3)
        if phrase is not None:
            folded = fold(phrase).replace("*", "")
            term = f'"{folded}"' if folded else None
        else:
            negate = "-" if word.startswith("-") and len(word) > 1 else ""
            term = _term(word[1:] if negate else word)
        if term:
            (excluded if negate else required).append(term)
    return required, excluded


def _facet_terms(
    member: str | None, category: str | None, language: str | None, has_subtitles: bool | None
) -> list[str]:
    facets = []
    if member:
        facets.append(facet_token("m", member))
    if category:
        facets.append(facet_token("c", category))
    if language:
        lang = normalize_language(language)
        if not lang:
            raise QueryError(f"--lang {language!r}: not a language code such as tr or kk")
        facets.append(facet_token("l", lang))
    if has_subtitles:
        facets.append("hassubs")
    return facets


def _iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def search(
    db: sqlite_utils.Database | sqlite3.Connection,
    query: str = "",
    *,
    member: str | None = None,
    category: str | None = None,
    language: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
    has_subtitles: bool | None = None,
    limit: int = 50,
    broad_cap: int = BROAD_CAP,
) -> list[dict[str, Any]]:
    """Items matching `query` and the filters, best first, at most `limit`.

    `since`/`until` bound the upload time (ISO 8601, UTC); durations are in seconds;
    `has_subtitles=False` keeps items without subtitles. Each result is the item's
    fields (JSON columns decoded) plus ``score`` (lower is better). Past `broad_cap`
    matches, only the newest `broad_cap` are ranked (see the module's docstring).
    """
    if limit <= 0:
        return []
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    required, match, extra, args = _compile(
        query,
        member,
        category,
        language,
        since,
        until,
        min_duration,
        max_duration,
        has_subtitles,
    )

    with _query_errors(query):
        bound = conn.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rowid DESC"
            " LIMIT 1 OFFSET ?",
            [match, broad_cap],
        ).fetchone()
        if bound is None and required and not any(_is_common(conn, t) for t in required):
            names, rows = _ranked(conn, match, extra, args, limit)
        else:
            names, rows = _bounded(
                conn, match, required, bound[0] if bound else -1, extra, args, limit, broad_cap
            )
    return [decode_row(dict(zip(names, r, strict=True))) for r in rows]


@contextmanager
def _query_errors(query: str) -> Iterator[None]:
    """FTS5's syntax errors as QueryError: the one place they are translated."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc) or "syntax" in str(exc):
            raise QueryError(f"cannot search for {query!r}: {exc}") from exc
        raise


def _compile(
    query: str,
    member: str | None,
    category: str | None,
    language: str | None,
    since: datetime | str | None,
    until: datetime | str | None,
    min_duration: float | None,
    max_duration: float | None,
    has_subtitles: bool | None,
) -> tuple[list[str], str, str, list[Any]]:
    """(required terms, FTS5 match, extra SQL conditions on items `i`, their arguments):
    the one translation of a query and its filters, for ranked and unranked search."""
    required, excluded = build_match(query)
    facets = _facet_terms(member, category, language, has_subtitles)
    parts = [f"{{title body}} : ({' AND '.join(required)})"] if required else []
    parts += [f"{{facets}} : {f}" for f in facets]
    match = " AND ".join(parts or ["{facets} : all"])
    if excluded:
        match = f"({match}) NOT {{title body}} : ({' OR '.join(excluded)})"
    where: list[str] = []
    args: list[Any] = []
    if since is not None:
        where.append("i.uploaded >= ?")
        args.append(_iso(since))
    if until is not None:
        where.append("i.uploaded < ?")
        args.append(_iso(until))
    if min_duration is not None:
        where.append("i.duration >= ?")
        args.append(float(min_duration))
    if max_duration is not None:
        where.append("i.duration <= ?")
        args.append(float(max_duration))
    if has_subtitles is False:
        where.append("i.has_subtitles = 0")
    return required, match, "".join(f" AND {w}" for w in where), args


@dataclass(frozen=True)
class CompiledMatch:
    """A query and its filters translated once: the FTS5 match, the extra SQL conditions
    on items `i` and their arguments (what `matching` runs; saved searches keep it)."""

    match: str
    extra: str
    args: tuple[Any, ...]


def compile_matching(
    query: str = "",
    *,
    member: str | None = None,
    category: str | None = None,
    language: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
    has_subtitles: bool | None = None,
) -> CompiledMatch:
    """Translate a query and filters for `run_matching` (QueryError for a bad filter)."""
    _, match, extra, args = _compile(
        query,
        member,
        category,
        language,
        since,
        until,
        min_duration,
        max_duration,
        has_subtitles,
    )
    return CompiledMatch(match, extra, tuple(args))


def run_matching(
    db: sqlite_utils.Database | sqlite3.Connection,
    compiled: CompiledMatch,
    columns: tuple[str, ...] = ("id", "path", "size", "sha256", "title"),
    query: str = "",
) -> list[dict[str, Any]]:
    """Every item a compiled query matches, oldest change first (see `matching`)."""
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    cols = ", ".join(f"i.{c}" for c in columns)
    with _query_errors(query):
        cur = conn.execute(
            f"SELECT {cols} FROM items_fts JOIN items i ON i.rid = items_fts.rowid"
            f" WHERE items_fts MATCH ?{compiled.extra} ORDER BY i.rid",
            [compiled.match, *compiled.args],
        )
    names = [d[0] for d in cur.description]
    return [decode_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def matching(
    db: sqlite_utils.Database | sqlite3.Connection,
    query: str = "",
    *,
    columns: tuple[str, ...] = ("id", "path", "size", "sha256", "title"),
    member: str | None = None,
    category: str | None = None,
    language: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
    has_subtitles: bool | None = None,
) -> list[dict[str, Any]]:
    """Every item matching `query` and the filters, unranked and uncapped, oldest change
    first (what a client's sync needs), with the given columns."""
    compiled = compile_matching(
        query,
        member=member,
        category=category,
        language=language,
        since=since,
        until=until,
        min_duration=min_duration,
        max_duration=max_duration,
        has_subtitles=has_subtitles,
    )
    return run_matching(db, compiled, columns, query)


def _is_common(conn: sqlite3.Connection, term: str) -> bool:
    """True if more than COMMON_DF items contain `term` (found without counting them all)."""
    return (
        conn.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? LIMIT 1 OFFSET ?",
            [f"{{title body}} : {term}", COMMON_DF],
        ).fetchone()
        is not None
    )


def _ranked(
    conn: sqlite3.Connection, match: str, extra: str, args: list[Any], limit: int
) -> tuple[list[str], list[Any]]:
    """bm25 over every match (at most `broad_cap` of them, no very common term)."""
    cur = conn.execute(
        _top("bm25(items_fts, ?, ?, 0.0)", f"items_fts MATCH ?{extra}", bool(extra)),
        [TITLE_WEIGHT, BODY_WEIGHT, match, *args, limit],
    )
    return [d[0] for d in cur.description], cur.fetchall()


def _top(score: str, where: str, join_items: bool) -> str:
    """The `limit` best matches by (score, newest first), then their items' rows.

    Matches are ranked on (rowid, score) alone and only the chosen few are joined to
    their (wide) item rows: sorting a thousand whole rows to keep 25 cost more than the
    search. `join_items` when `where` reads the items' columns (`i.`) too.
    """
    source = "items_fts JOIN items i ON i.rid = items_fts.rowid" if join_items else "items_fts"
    return (
        f"SELECT i.*, top.score FROM (SELECT items_fts.rowid AS rid, {score} AS score"
        f" FROM {source} WHERE {where} ORDER BY score, rid DESC LIMIT ?) AS top"
        " JOIN items i ON i.rid = top.rid ORDER BY top.score, i.rid DESC"
    )


def _bounded(
    conn: sqlite3.Connection,
    match: str,
    required: list[str],
    window: int,
    extra: str,
    args: list[Any],
    limit: int,
    broad_cap: int,
) -> tuple[list[str], list[Any]]:
    """Rank without bm25 over a broad match: title hits first, then newest first.

    Only rows above `window` (the rowid of the BROAD_CAP-th newest match) are looked at;
    when SQL filters (dates, durations) leave fewer than `limit` of them, the window is
    widened step by step, down to the whole match.
    """
    title_match = f"{{title}} : ({' AND '.join(required)})" if required else None
    rank = (
        "CASE WHEN items_fts.rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?"
        " AND rowid > ?) THEN 0 ELSE 1 END"
        if title_match
        else "1"
    )
    sql = _top(rank, f"items_fts MATCH ? AND items_fts.rowid > ?{extra}", bool(extra))
    step = broad_cap * 8
    while True:
        params: list[Any] = [title_match, window] if title_match else []
        cur = conn.execute(sql, [*params, match, window, *args, limit])
        names, rows = [d[0] for d in cur.description], cur.fetchall()
        if window < 0 or not extra or len(rows) >= limit:
            return names, rows
        older = conn.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? AND rowid <= ?"
            " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [match, window, step],
        ).fetchone()
        window = older[0] if older else -1
        step *= 4
