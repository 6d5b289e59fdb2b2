"""The catalog's tables in SQLite (sqlite-utils), their version and forward migrations.

Tables (all prefixed by nothing else of the server's: `items`, `item_files`, `journal`,
`items_fts`, `catalog_meta`, `preview_jobs`):

- ``items``: one row per item (files sharing a stem). ``rid`` is the journal sequence
  number of the item's last change, so the newest items have the largest rowids.
- ``items_fts``: FTS5 over the folded text (title, body, facets), rowid = ``items.rid``.
- ``item_files``: one row per file on disk with what was extracted from it (indexer state).
- ``journal``: every change, with a monotonically increasing ``seq``.
- ``manifests`` / ``manifest_files``: every signed manifest published (catalog/manifest.py)
  and, by sha256, the files they name.
- ``catalog_meta``: ``schema_version`` and other small key/values.
- ``preview_jobs``: the preview jobs running now (host, pid), so a restart after a crash
  knows what to queue again (catalog.previews).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from .errors import SchemaError

SCHEMA_VERSION = 3

ITEM_COLUMNS: dict[str, type] = {
    "rid": int,
    "id": str,
    "key": str,
    "path": str,
    "member": str,
    "category": str,
    "series": str,
    "episode": str,
    "story_id": str,
    "slug": str,
    "title": str,
    "description": str,
    "shotlist": str,
    "languages": str,
    "location": str,
    "dateline": str,
    "keywords": str,
    "subjects": str,
    "restrictions": str,
    "embargo": str,
    "content_date": str,
    "creator": str,
    "container": str,
    "operational_pattern": str,
    "commercial_name": str,
    "video_codec": str,
    "video_profile": str,
    "width": int,
    "height": int,
    "frame_rate": float,
    "scan_type": str,
    "aspect_ratio": str,
    "bit_rate": int,
    "duration": float,
    "start_timecode": str,
    "audio": str,
    "size": int,
    "sha256": str,
    "uploader": str,
    "uploaded": str,
    "indexed": str,
    "attachments": str,
    "has_subtitles": int,
    "errors": str,
    "preview": str,
    "manifest": str,
    "manifest_signature": str,
}
"""Every column of ``items``, in order. JSON-encoded lists/objects: see JSON_COLUMNS."""

_V1_COLUMNS = tuple(
    name for name in ITEM_COLUMNS if name not in ("preview", "manifest", "manifest_signature")
)
"""The columns schema version 1 created (later versions add theirs by ALTER TABLE, at the
end, so a snapshot copies rows with `SELECT *` in the same order)."""

JSON_COLUMNS = frozenset(
    {
        "languages",
        "keywords",
        "subjects",
        "audio",
        "attachments",
        "errors",
        "preview",
        "manifest",
        "manifest_signature",
    }
)

FTS_COLUMNS = ("title", "body", "facets")
"""Folded text: the title, everything else worth searching, and filter tokens."""


def _connect(db_path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db_path), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def _migrate_1(db: sqlite_utils.Database) -> None:
    items = db.table("items")
    items.create(
        {n: ITEM_COLUMNS[n] for n in _V1_COLUMNS}, pk="rid", not_null={"id", "key", "path"}
    )
    items.create_index(["id"], unique=True)
    items.create_index(["key"], unique=True)
    items.create_index(["member", "category"])
    items.create_index(["uploaded"])
    files = db.table("item_files")
    files.create(
        {
            "path": str,
            "key": str,
            "role": str,
            "size": int,
            "mtime_ns": int,
            "inode": int,
            "sha256": str,
            "info": str,
            "indexed": str,
        },
        pk="path",
    )
    files.create_index(["key"])
    db.execute(
        "CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL,"
        " op TEXT NOT NULL, item_id TEXT NOT NULL, record TEXT)"
    )
    db.execute(
        "CREATE VIRTUAL TABLE items_fts USING fts5(title, body, facets,"
        " tokenize = 'unicode61 remove_diacritics 0')"
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Previews: the item's `preview` record (JSON) and the jobs running now."""
    db.execute("ALTER TABLE items ADD COLUMN preview TEXT")
    db.execute(
        "CREATE TABLE preview_jobs (item_id TEXT PRIMARY KEY, sha256 TEXT, host TEXT,"
        " pid INTEGER, started TEXT)"
    )


def _migrate_3(db: sqlite_utils.Database) -> None:
    """Provenance: each item's signed manifest, and every manifest ever published (so a
    loose file of an older version is still recognised)."""
    db.execute("ALTER TABLE items ADD COLUMN manifest TEXT")
    db.execute("ALTER TABLE items ADD COLUMN manifest_signature TEXT")
    db.execute(
        "CREATE TABLE manifests (item_id TEXT NOT NULL, version INTEGER NOT NULL,"
        " manifest TEXT NOT NULL, signature TEXT, PRIMARY KEY (item_id, version))"
    )
    db.execute(
        "CREATE TABLE manifest_files (sha256 TEXT NOT NULL, item_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER,"
        " PRIMARY KEY (sha256, item_id, version, path)) WITHOUT ROWID"
    )


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _migrate_1,
    _migrate_2,
    _migrate_3,
)
"""MIGRATIONS[n] takes a catalog from schema version n to n + 1."""
assert len(MIGRATIONS) == SCHEMA_VERSION


def schema_version(db: sqlite_utils.Database) -> int:
    if "catalog_meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM catalog_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def get_meta(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM catalog_meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_meta(db: sqlite_utils.Database, key: str, value: object) -> None:
    db.execute(
        "INSERT INTO catalog_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the catalog tables to SCHEMA_VERSION, one transaction per step."""
    db.execute("CREATE TABLE IF NOT EXISTS catalog_meta (key TEXT PRIMARY KEY, value TEXT)")
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"{db.conn.execute('PRAGMA database_list').fetchone()[2]}: catalog schema "
            f"version {current} is newer than this program's {SCHEMA_VERSION}; upgrade Ortak"
        )
    while current < SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(db) == current:  # another process may have migrated meanwhile
                MIGRATIONS[current](db)
                set_meta(db, "schema_version", current + 1)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        current = schema_version(db)
    return current


def open_catalog(db_path: str | Path, *, wal: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the catalog in `db_path`, migrated to the current schema.

    The connection is in autocommit mode (callers use explicit transactions) and may be
    shared between threads as long as they serialise their use of it. `wal=False` is for
    single-file copies such as the feed snapshot.
    """
    try:
        conn = _connect(db_path)
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        db = sqlite_utils.Database(conn)
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{db_path}: cannot open the catalog: {exc}") from exc
    return db
