"""Reading the catalog by its shape rather than by words: counts per member, category
and series (the browse pages and the search facets), one item by id, and an item's
history from the journal."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import sqlite_utils

from .items import decode_row


def _conn(db: sqlite_utils.Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, sqlite_utils.Database) else db


def counts(
    db: sqlite_utils.Database | sqlite3.Connection,
    member: str | None = None,
    category: str | None = None,
) -> list[tuple[str, int]]:
    """(name, item count) one level down: members; a member's categories; a category's
    series ('' for items in no series)."""
    conn = _conn(db)
    if member is None:
        sql, args = "SELECT member, count(*) FROM items GROUP BY member ORDER BY member", []
    elif category is None:
        sql = (
            "SELECT coalesce(category, ''), count(*) FROM items WHERE member = ?"
            " GROUP BY 1 ORDER BY 1"
        )
        args = [member]
    else:
        sql = (
            "SELECT coalesce(series, ''), count(*) FROM items WHERE member = ? AND category = ?"
            " GROUP BY 1 ORDER BY 1"
        )
        args = [member, category]
    return [(str(r[0]), int(r[1])) for r in conn.execute(sql, args).fetchall()]


_MEMBERS = """
    WITH RECURSIVE m(name) AS (
        SELECT min(member) FROM items
        UNION ALL
        SELECT (SELECT min(member) FROM items WHERE member > m.name) FROM m
        WHERE m.name IS NOT NULL)
"""
"""Every member, each found by one step down the (member, category) index (a "skip
scan": a few index seeks per member instead of a read of every item)."""


def members(db: sqlite_utils.Database | sqlite3.Connection) -> list[str]:
    """The members with items, by name."""
    rows = _conn(db).execute(f"{_MEMBERS} SELECT name FROM m WHERE name IS NOT NULL")
    return [str(r[0]) for r in rows.fetchall()]


def categories(db: sqlite_utils.Database | sqlite3.Connection) -> list[str]:
    """Every category in use, by name (a skip scan of the (member, category) index)."""
    rows = _conn(db).execute(
        f"""{_MEMBERS}, c(member, name) AS (
            SELECT name, (SELECT min(category) FROM items WHERE member = m.name)
            FROM m WHERE name IS NOT NULL
            UNION ALL
            SELECT member,
                   (SELECT min(category) FROM items WHERE member = c.member AND category > c.name)
            FROM c WHERE name IS NOT NULL)
        SELECT DISTINCT name FROM c WHERE name IS NOT NULL ORDER BY 1"""
    )
    return [str(r[0]) for r in rows.fetchall()]


def languages(db: sqlite_utils.Database | sqlite3.Connection) -> list[str]:
    rows = _conn(db).execute(
        "SELECT DISTINCT j.value FROM items, json_each(items.languages) AS j ORDER BY 1"
    )
    return [str(r[0]) for r in rows.fetchall()]


def series_items(
    db: sqlite_utils.Database | sqlite3.Connection,
    member: str,
    category: str,
    series: str,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Items of one series (or of none, for series ''), by episode then title."""
    cond = "series = ?" if series else "series IS NULL"
    args: list[Any] = [member, category] + ([series] if series else [])
    cur = _conn(db).execute(
        f"SELECT * FROM items WHERE member = ? AND category = ? AND {cond}"
        " ORDER BY episode, title LIMIT ?",
        [*args, limit],
    )
    names = [d[0] for d in cur.description]
    return [decode_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def get_item(db: sqlite_utils.Database | sqlite3.Connection, item_id: str) -> dict[str, Any] | None:
    cur = _conn(db).execute("SELECT * FROM items WHERE id = ?", [item_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return decode_row(dict(zip(names, row, strict=True))) if row else None


def history(
    db: sqlite_utils.Database | sqlite3.Connection, item_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The journal's changes to an item, newest first: seq, time, op and, for upserts,
    the size and sha256 the item had then."""
    cur = _conn(db).execute(
        "SELECT seq, time, op, record FROM journal WHERE item_id = ? ORDER BY seq DESC LIMIT ?",
        [item_id, limit],
    )
    out = []
    for seq, time, op, record in cur.fetchall():
        entry: dict[str, Any] = {"seq": seq, "time": time, "op": op}
        if record:
            try:
                rec = json.loads(record)
            except ValueError:
                rec = {}
            entry.update({k: rec.get(k) for k in ("size", "sha256", "title", "uploader")})
        out.append(entry)
    return out
