"""pool.db: one SQLite file in WAL mode, one connection per thread, the server's tables.

The catalog keeps its own tables in the same file (`catalog` owns their schema).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import Table

from catalog.manifest import MEMBER_KEYS_TABLE

SCHEMA_VERSION = 1


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class PoolDatabase(sqlite_utils.Database):
    """sqlite-utils' Database whose `db[name]` is typed as what it is here: the
    server's names in pool.db are tables, never views."""

    def __getitem__(self, table_name: str) -> Table:
        item = super().__getitem__(table_name)
        if not isinstance(item, Table):
            raise TypeError(f"{table_name} is a view, not a table")
        return item


class Store:
    """Hands each thread its own connection to pool.db (sqlite3 objects are per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @property
    def db(self) -> PoolDatabase:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = connect(self.path)
            with self._lock:
                self._all.append(conn)
            db = self._local.db = PoolDatabase(conn)
        return db

    def release(self) -> None:
        """Close the calling thread's connection, if it has one: short-lived threads (an
        SFTP connection's) call this as they end, so connections do not pile up."""
        db = getattr(self._local, "db", None)
        if db is None:
            return
        self._local.db = None
        with self._lock:
            if db.conn in self._all:
                self._all.remove(db.conn)
        db.conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass
            self._all.clear()
        self._local = threading.local()

    def backup(self, dest: Path) -> None:
        """A consistent copy of pool.db taken while the server runs (SQLite's online
        backup API), written to a temporary name and renamed into place."""
        tmp = dest.with_name(dest.name + ".partial")
        tmp.unlink(missing_ok=True)
        target = sqlite3.connect(tmp)
        try:
            self.db.conn.backup(target, pages=4096)
            ok = target.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            target.close()
        if ok != "ok":
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"backup failed its integrity check: {ok}")
        tmp.replace(dest)

    def create_schema(self) -> None:
        """Create the server's tables if missing (idempotent; never drops anything)."""
        db = self.db
        db["members"].create(
            {"code": str, "name": str, "country": str, "quota_bytes": int, "created": str},
            pk="code",
            if_not_exists=True,
            not_null={"name", "quota_bytes"},
            defaults={"quota_bytes": 0},
        )
        db["users"].create(
            {
                "name": str,
                "role": str,
                "member": str,
                "pw_hash": str,
                "disabled": int,
                "created": str,
                "last_login": str,
                "display_name": str,
            },
            pk="name",
            if_not_exists=True,
            not_null={"role", "pw_hash"},
            defaults={"disabled": 0},
            foreign_keys=[("member", "members", "code")],
        )
        if "display_name" not in db["users"].columns_dict:  # pool.db made before it
            db["users"].add_column("display_name", str)
        db["user_keys"].create(
            {
                "user": str,
                "fingerprint": str,
                "key_type": str,
                "key_data": str,
                "comment": str,
                "added": str,
            },
            pk=("user", "fingerprint"),
            if_not_exists=True,
            foreign_keys=[("user", "users", "name")],
        )
        db[MEMBER_KEYS_TABLE].create(  # read by the indexer (catalog.manifest)
            {
                "fingerprint": str,
                "member": str,
                "public_key": str,
                "comment": str,
                "added": str,
                "revoked": str,
            },
            pk="fingerprint",
            if_not_exists=True,
            not_null={"member", "public_key"},
            foreign_keys=[("member", "members", "code")],
        )
        db["bans"].create(
            {"ip": str, "until": float, "offences": int, "reason": str, "created": str},
            pk="ip",
            if_not_exists=True,
        )
        db["account_bans"].create(
            {"name": str, "until": float, "offences": int, "reason": str, "created": str},
            pk="name",
            if_not_exists=True,
        )
        db["audit"].create(
            {
                "id": int,
                "time": str,
                "user": str,
                "member": str,
                "ip": str,
                "protocol": str,
                "action": str,
                "path": str,
                "bytes": int,
                "status": str,
                "detail": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db["audit"].create_index(["time"], if_not_exists=True)
        db["audit"].create_index(["action", "status"], if_not_exists=True)
        db["server_meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        db["server_meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
