"""Writing the catalog: file rows, item rows with their FTS document, and the journal.

Every public function here runs inside the caller's transaction (`transaction(db)`), so
a file's row, its item and the journal record commit together or not at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from .items import build_item, decode_row, encode_row, fts_document, next_preview
from .schema import ITEM_COLUMNS

if TYPE_CHECKING:
    from .manifest import Notary

_ITEM_COLS = list(ITEM_COLUMNS)
_INSERT_ITEM = (
    f"INSERT INTO items ({', '.join(_ITEM_COLS)}) VALUES ({', '.join('?' for _ in _ITEM_COLS)})"
)
_COMPARE_IGNORE = frozenset({"rid", "indexed"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def current_seq(db: sqlite_utils.Database) -> int:
    row = db.execute("SELECT max(seq) FROM journal").fetchone()
    return int(row[0] or 0)


def get_item_row(
    db: sqlite_utils.Database, *, key: str | None = None, item_id: str | None = None
) -> dict[str, Any] | None:
    column, value = ("key", key) if key is not None else ("id", item_id)
    cur = db.execute(f"SELECT * FROM items WHERE {column} = ?", [value])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return decode_row(dict(zip(names, row, strict=True))) if row else None


def put_item_row(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Insert or replace an item (by id and key) at rowid row['rid'], with its FTS row."""
    for old in db.execute(
        "SELECT rid FROM items WHERE id = ? OR key = ?", [row["id"], row["key"]]
    ).fetchall():
        db.execute("DELETE FROM items_fts WHERE rowid = ?", [old[0]])
        db.execute("DELETE FROM items WHERE rid = ?", [old[0]])
    stored = encode_row(row)
    db.execute(_INSERT_ITEM, [stored.get(c) for c in _ITEM_COLS])
    title, body, facets = fts_document(row)
    db.execute(
        "INSERT INTO items_fts (rowid, title, body, facets) VALUES (?, ?, ?, ?)",
        [row["rid"], title, body, facets],
    )
    manifest = row.get("manifest")
    if isinstance(manifest, dict):
        put_manifest(db, manifest, row.get("manifest_signature"), stored)


def put_manifest(
    db: sqlite_utils.Database,
    manifest: dict[str, Any],
    signature: Any,
    stored: dict[str, Any] | None = None,
) -> None:
    """Keep a published manifest (and its files by sha256) in the history tables."""
    item_id, version = manifest["id"], manifest["version"]
    text = stored["manifest"] if stored else json.dumps(manifest, ensure_ascii=False)
    sig = stored["manifest_signature"] if stored else json.dumps(signature)
    db.execute(
        "INSERT OR REPLACE INTO manifests (item_id, version, manifest, signature)"
        " VALUES (?, ?, ?, ?)",
        [item_id, version, text, sig],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO manifest_files (sha256, item_id, version, path, size)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (f["sha256"], item_id, version, f["path"], f.get("size"))
            for f in manifest.get("files") or []
            if f.get("sha256")
        ],
    )


def delete_item_row(db: sqlite_utils.Database, item_id: str) -> bool:
    old = db.execute("SELECT rid FROM items WHERE id = ?", [item_id]).fetchone()
    if old is None:
        return False
    db.execute("DELETE FROM items_fts WHERE rowid = ?", [old[0]])
    db.execute("DELETE FROM items WHERE rid = ?", [old[0]])
    return True


def _journal(db: sqlite_utils.Database, op: str, item_id: str) -> int:
    cur = db.execute(
        "INSERT INTO journal (time, op, item_id) VALUES (?, ?, ?)", [now_iso(), op, item_id]
    )
    return int(cur.lastrowid or 0)


def journal_record(
    seq: int, time: str, op: str, item_id: str, row: dict[str, Any] | None
) -> dict[str, Any]:
    """One change as published: {"seq", "time", "op": "upsert"|"delete", "id", "item"}."""
    rec: dict[str, Any] = {"seq": seq, "time": time, "op": op, "id": item_id}
    if row is not None:
        rec["item"] = row
    return rec


def file_rows(db: sqlite_utils.Database, key: str) -> list[dict[str, Any]]:
    cur = db.execute("SELECT * FROM item_files WHERE key = ? ORDER BY path", [key])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        r["info"] = json.loads(r["info"] or "{}")
    return rows


PreviewChanges = list[tuple[str, str]]
"""("build" | "drop", item id): preview work a catalog change calls for, done after commit."""


def rebuild_item(
    db: sqlite_utils.Database,
    key: str,
    previews: PreviewChanges | None = None,
    notary: Notary | None = None,
) -> int | None:
    """Make the item of `key` match its file rows; journal the change. Returns the new seq
    or None when nothing changed. Preview work the change calls for (a new essence to
    preview, an item gone) is appended to `previews`. With a `notary`, the item gets its
    signed manifest."""
    files = file_rows(db, key)
    new = build_item(key, files)
    old = get_item_row(db, key=key)
    if new is not None and notary is not None:
        notary.seal(new, old, files)
    if new is None:
        if old is None:
            return None
        seq = _journal(db, "delete", old["id"])
        delete_item_row(db, old["id"])
        if previews is not None:
            previews.append(("drop", old["id"]))
        return seq
    new["preview"], wanted = next_preview(old, new)
    if wanted and previews is not None:
        previews.append(("build", new["id"]))
    if old is not None and all(
        old.get(k) == new.get(k) for k in ITEM_COLUMNS if k not in _COMPARE_IGNORE
    ):
        return None
    return _upsert(db, new)


def _upsert(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    seq = _journal(db, "upsert", row["id"])
    row["rid"] = seq
    put_item_row(db, row)
    db.execute(
        "UPDATE journal SET record = ? WHERE seq = ?",
        [json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False), seq],
    )
    return seq


def set_preview(
    db: sqlite_utils.Database, item_id: str, preview: dict[str, Any], *, source_sha256: str | None
) -> int | None:
    """Record an item's new preview state and journal it, if the item is still the
    version the preview was made from (`source_sha256`). Returns the seq, or None when
    the item is gone or has changed since (the result is stale and dropped)."""
    row = get_item_row(db, item_id=item_id)
    if row is None or (row.get("preview") or {}).get("source_sha256") != source_sha256:
        return None
    if row.get("preview") == preview:
        return None
    row["preview"] = preview
    return _upsert(db, row)


def put_file(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Insert or replace one file's row (path, key, role, size, mtime_ns, inode, sha256, info)."""
    stored = dict(row)
    stored["info"] = json.dumps(row.get("info") or {}, ensure_ascii=False, allow_nan=False)
    stored.setdefault("indexed", now_iso())
    cols = ["path", "key", "role", "size", "mtime_ns", "inode", "sha256", "info", "indexed"]
    db.execute(
        f"INSERT OR REPLACE INTO item_files ({', '.join(cols)})"
        f" VALUES ({', '.join('?' for _ in cols)})",
        [stored.get(c) for c in cols],
    )


def remove_files(db: sqlite_utils.Database, paths: list[str]) -> set[str]:
    """Delete file rows; returns the keys whose items need a rebuild."""
    keys: set[str] = set()
    for path in paths:
        row = db.execute("SELECT key FROM item_files WHERE path = ?", [path]).fetchone()
        if row:
            keys.add(row[0])
            db.execute("DELETE FROM item_files WHERE path = ?", [path])
    return keys


def remove_prefix(db: sqlite_utils.Database, folder: str) -> set[str]:
    """Delete the rows of every file under a pool folder (a deleted or moved directory)."""
    prefix = folder.rstrip("/") + "/"
    rows = db.execute(
        "SELECT path FROM item_files WHERE substr(path, 1, ?) = ?", [len(prefix), prefix]
    ).fetchall()
    return remove_files(db, [r[0] for r in rows])
