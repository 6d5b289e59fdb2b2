"""Who uploaded an item, as the published feed says it: never a login name.

The server's audit (in the same pool.db) records the login that uploaded each file; login
names may be e-mail addresses and stay in pool.db. The feed carries a label instead: the
display name the operator gave the account (`pool-server user set NAME --display-name`),
else the full name of the member whose area holds the file, else "<MEMBER> contributor".
The login is kept in the file's private row (``item_files.info.uploader_login``) so a
label can be recomputed when the operator changes it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import TYPE_CHECKING

import sqlite_utils

from .store import rebuild_item

if TYPE_CHECKING:
    from .manifest import Notary


def _one(db: sqlite_utils.Database, sql: str, params: list[str]) -> str | None:
    try:
        row = db.execute(sql, params).fetchone()
    except sqlite3.OperationalError:  # a catalog on its own: no accounts tables
        return None
    return str(row[0]) if row and row[0] else None


def uploader_label(db: sqlite_utils.Database, login: str, member: str) -> str:
    """The name published for an upload by `login` into `member`'s area."""
    return (
        _one(db, "SELECT display_name FROM users WHERE name = ?", [login])
        or _one(db, "SELECT name FROM members WHERE code = ?", [member])
        or f"{member} contributor"
    )


def accounts_fingerprint(db: sqlite_utils.Database) -> str:
    """Changes whenever a display name or a member's name changes."""
    digest = hashlib.sha256()
    for sql in (
        "SELECT name, display_name FROM users ORDER BY name",
        "SELECT code, name FROM members ORDER BY code",
    ):
        try:
            rows = db.execute(sql).fetchall()
        except sqlite3.OperationalError:
            rows = []
        digest.update(json.dumps(rows).encode())
    return digest.hexdigest()


def relabel(db: sqlite_utils.Database, notary: Notary | None = None) -> int:
    """Bring every file's published uploader up to its label; returns the items changed.

    Rows written before labels existed hold the login in ``uploader``: it moves to
    ``uploader_login``. Runs inside the caller's transaction.
    """
    keys: set[str] = set()
    rows = db.execute(
        "SELECT path, key, info FROM item_files WHERE json_extract(info, '$.uploader') IS NOT NULL"
    ).fetchall()
    for path, key, text in rows:
        info = json.loads(text)
        login = info.get("uploader_login") or info["uploader"]
        member = path.strip("/").split("/")[0]
        label = uploader_label(db, login, member)
        if info.get("uploader_login") == login and info["uploader"] == label:
            continue
        info["uploader_login"], info["uploader"] = login, label
        db.execute(
            "UPDATE item_files SET info = ? WHERE path = ?",
            [json.dumps(info, ensure_ascii=False, allow_nan=False), path],
        )
        keys.add(key)
    for key in keys:
        rebuild_item(db, key, notary=notary)
    return len(keys)
