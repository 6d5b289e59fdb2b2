"""The tables of alerts, webhooks and their outbox in pool.db, with forward migrations.

- ``alerts``: saved searches (user, name, query, filters, e-mail/webhook, digest mode).
- ``alert_hits``: one row per (alert, item, item version) that matched: the alert fires
  once per version (the unique key says so) and the rows are the user's notification
  list; digest alerts collect them until their digest is sent.
- ``embargo_waits``: matched candidates waiting for their embargo to lift.
- ``item_versions``: the version last seen of every item (published vs updated).
- ``endpoints``: event webhooks registered by admins and members.
- ``outbox``: every e-mail and webhook to deliver, with its tries and its lease.
- ``quota_warnings``: members already warned (once per crossing).
- ``notify_meta``: schema version and the positions read in the journal and the audit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..errors import PoolError

SCHEMA_VERSION = 1


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` inside the caller's transaction (executescript would
    commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_1(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user TEXT NOT NULL,
            name TEXT NOT NULL,
            query TEXT NOT NULL DEFAULT '',
            filters TEXT NOT NULL DEFAULT '{}',
            email TEXT,
            webhook_url TEXT,
            webhook_secret TEXT,
            mode TEXT NOT NULL DEFAULT 'immediate',
            created TEXT NOT NULL,
            next_digest REAL,
            error TEXT,
            UNIQUE (user, name)
        );
        CREATE TABLE alert_hits (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id INTEGER NOT NULL,
            item_id TEXT NOT NULL,
            version TEXT NOT NULL,
            time TEXT NOT NULL,
            title TEXT,
            digest INTEGER,
            seen INTEGER NOT NULL DEFAULT 0,
            UNIQUE (alert_id, item_id, version)
        );
        CREATE INDEX alert_hits_pending ON alert_hits (alert_id, digest);
        CREATE TABLE embargo_waits (
            item_id TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            lift REAL NOT NULL
        );
        CREATE INDEX embargo_waits_lift ON embargo_waits (lift);
        CREATE TABLE item_versions (
            item_id TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            member TEXT,
            seq INTEGER NOT NULL,
            preview TEXT
        );
        CREATE TABLE endpoints (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            events TEXT NOT NULL,
            member TEXT,
            allow_private INTEGER NOT NULL DEFAULT 0,
            description TEXT,
            created_by TEXT NOT NULL,
            created TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            msg_id TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL,
            target TEXT NOT NULL,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            endpoint_id INTEGER,
            alert_id INTEGER,
            user TEXT,
            member TEXT,
            created REAL NOT NULL,
            next_attempt REAL NOT NULL,
            give_up REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending',
            lease_owner TEXT,
            lease_until REAL,
            last_attempt REAL,
            last_error TEXT,
            delivered REAL
        );
        CREATE INDEX outbox_due ON outbox (state, next_attempt);
        CREATE INDEX outbox_endpoint ON outbox (endpoint_id, id);
        CREATE INDEX outbox_alert ON outbox (alert_id, id);
        CREATE TABLE quota_warnings (
            member TEXT PRIMARY KEY,
            percent INTEGER NOT NULL,
            time TEXT NOT NULL
        );
        """,
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_1,)
"""MIGRATIONS[n] takes the tables from schema version n to n + 1."""
assert len(MIGRATIONS) == SCHEMA_VERSION


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM notify_meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
    conn.execute(
        "INSERT INTO notify_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )


def schema_version(conn: sqlite3.Connection) -> int:
    return int(get_meta(conn, "schema_version") or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the tables to SCHEMA_VERSION, one transaction per step (autocommit conn)."""
    conn.execute("CREATE TABLE IF NOT EXISTS notify_meta (key TEXT PRIMARY KEY, value TEXT)")
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise PoolError(
            f"alert tables are at schema version {current}, newer than this program's "
            f"{SCHEMA_VERSION}; upgrade Ortak"
        )
    while current < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) == current:  # another process may have migrated
                MIGRATIONS[current](conn)
                set_meta(conn, "schema_version", current + 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = schema_version(conn)
    return current
