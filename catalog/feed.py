"""The published feed in ``pool/.catalog/`` (format: catalog/FEED.md).

`FeedPublisher.publish()` appends the journal rows not yet published to the current
JSON-lines segment, refreshes the SQLite snapshot after `snapshot_every_changes` changes
or `snapshot_every_minutes` minutes, drops segments older than `journal_keep_days` that
no client needs any more, and rewrites ``index.json``. Every file is either appended to
(journals) or written under a temporary ``.ortak-`` name and renamed into place; the
index is written last, so it only ever names bytes that are complete on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import CatalogError, FeedError
from .layout import FEED_DIR, INTERNAL_PREFIX
from .schema import SCHEMA_VERSION, open_catalog, set_meta

FEED_FORMAT = "ortak-catalog-feed"
FEED_VERSION = 1
INDEX_NAME = "index.json"
HEAD_FORMAT = "ortak-feed-head"
FEED_HEAD_META = "feed_head"
"""catalog_meta key in pool.db: "<seq> <hash>" of the last record published."""
BATCH = 5000
FTS_SHADOW_TABLES = ("items_fts_data", "items_fts_idx", "items_fts_content", "items_fts_docsize")
"""FTS5's own tables behind items_fts; the snapshot copies them as they are."""


def _now() -> datetime:
    return datetime.now(UTC)


def _now_s() -> str:
    return _now().isoformat(timespec="milliseconds")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a `.ortak-` temporary file and a rename."""
    tmp = path.with_name(f"{INTERNAL_PREFIX}{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def journal_line(
    seq: int, time_: str, op: str, item_id: str, record: str | None, prev: str | None = None
) -> bytes:
    """One journal record as a line: {"seq","time","op","id"[,"item"],"prev"} + newline.

    `prev` is the hash of the record before it (`record_hash`): the chain."""
    rec: dict[str, Any] = {"seq": seq, "time": time_, "op": op, "id": item_id}
    if op == "upsert" and record is not None:
        # A record stored before numbers were checked may hold NaN/Infinity, which JSON
        # has no words for: such a value is published as null, never as invalid JSON.
        rec["item"] = json.loads(record, parse_constant=lambda _: None)
    if prev is not None:
        rec["prev"] = prev
    text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


def record_hash(line: bytes) -> str:
    """The hash a record is chained by: sha256 of its line without the newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def restart_head(seq: int, previous: str | None) -> str:
    """The chain's head for a feed started afresh at `seq` (no record of it published)."""
    return hashlib.sha256(f"ortak-feed-restart:{seq}:{previous or ''}".encode()).hexdigest()


def head_body(index: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """What the signed head of an index.json covers (FEED.md "The signed head")."""
    snap = index["snapshot"]
    return {
        "format": HEAD_FORMAT,
        "seq": head["seq"],
        "hash": head["hash"],
        "time": head["time"],
        "snapshot": {
            "file": snap["file"],
            "seq": snap["seq"],
            "sha256": snap["sha256"],
            "head": snap.get("head"),
        },
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_snapshot(db_path: Path, tmp: Path) -> int:
    """Copy the catalog tables of `db_path` into a new single-file SQLite at `tmp`.

    One read transaction on the source: the copy is exactly the catalog as of the
    returned sequence number. No account or audit table is copied. The caller renames
    `tmp` into place.
    """
    tmp.unlink(missing_ok=True)
    snap = open_catalog(tmp, wal=False)
    snap.conn.close()
    src = sqlite3.connect(str(db_path), timeout=30, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        src.execute("ATTACH DATABASE ? AS snap", [str(tmp)])
        src.execute("BEGIN")
        seq = int(src.execute("SELECT coalesce(max(seq), 0) FROM main.journal").fetchone()[0])
        src.execute("INSERT INTO snap.items SELECT * FROM main.items")
        for shadow in FTS_SHADOW_TABLES:  # the index as built, not tokenized again
            src.execute(f"DELETE FROM snap.{shadow}")
            src.execute(f"INSERT INTO snap.{shadow} SELECT * FROM main.{shadow}")
        for history in ("manifests", "manifest_files"):
            src.execute(f"INSERT INTO snap.{history} SELECT * FROM main.{history}")
        src.execute(
            "INSERT OR REPLACE INTO snap.catalog_meta (key, value) VALUES ('seq', ?)", [seq]
        )
        src.execute("COMMIT")
        src.execute("DETACH DATABASE snap")
    finally:
        src.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    return seq


class FeedPublisher:
    """Publishes the catalog journal of `db` into `<pool_root>/.catalog/`."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        lock: threading.Lock,
        pool_root: Path,
        db_path: Path,
        settings: dict[str, Any],
        signer: Any = None,
    ) -> None:
        self.signer = signer
        """A `signing.PoolSigner` that signs each index's head (None: unsigned feed)."""
        self.head: tuple[int, str] = (0, "")
        self._keys_published: bytes | None = None
        self.db = db
        self.lock = lock
        self.dir = Path(pool_root) / FEED_DIR
        self.db_path = Path(db_path)
        self.every_changes = int(settings["snapshot_every_changes"])
        self.every = timedelta(minutes=float(settings["snapshot_every_minutes"]))
        self.keep = timedelta(days=float(settings["journal_keep_days"]))
        self.index: dict[str, Any] | None = None
        self._publish_lock = threading.Lock()

    # -- state -------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        """The published index, with journal files cut back to the sizes it names."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(f"{INTERNAL_PREFIX}*"):
            stale.unlink(missing_ok=True)
        try:
            index = json.loads((self.dir / INDEX_NAME).read_text("utf-8"))
            if index.get("format") != FEED_FORMAT or index.get("version") != FEED_VERSION:
                raise ValueError("unknown feed format")
            for seg in index["journals"]:
                path = self.dir / seg["file"]
                if path.stat().st_size > seg["size"]:  # appended, never announced
                    os.truncate(path, seg["size"])
            with self.lock:
                latest = int(
                    self.db.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
                )
            if latest < index["seq"]:
                raise ValueError("the catalog is older than its feed")
            head = index.get("head") or {}
            if head.get("seq") != index["seq"] or not isinstance(head.get("hash"), str):
                raise ValueError("the feed has no chain head (written by an older version)")
            self.head = (index["seq"], head["hash"])
            return dict(index)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if (self.dir / INDEX_NAME).exists():
                import logging

                logging.getLogger("catalog.feed").warning("feed restarted: %s", exc)
            for old in [*self.dir.glob("journal-*.jsonl"), *self.dir.glob("snapshot-*.sqlite")]:
                old.unlink(missing_ok=True)
            return {}

    # -- publishing --------------------------------------------------------------------

    def _append(self, index: dict[str, Any], upto: int | None = None) -> int:
        """Append unpublished journal rows (up to seq `upto`) to the last segment, each
        chained to the one before. Returns how many."""
        total = 0
        while True:
            with self.lock:
                rows = self.db.execute(
                    "SELECT seq, time, op, item_id, record FROM journal WHERE seq > ?"
                    " AND seq <= ? ORDER BY seq LIMIT ?",
                    [index["seq"], upto if upto is not None else 2**62, BATCH],
                ).fetchall()
            if not rows:
                return total
            segs = index["journals"]
            if not segs or segs[-1].get("closed"):
                segs.append(
                    {
                        "file": f"journal-{rows[0][0]:012d}.jsonl",
                        "first_seq": rows[0][0],
                        "last_seq": rows[0][0] - 1,
                        "size": 0,
                        "first_time": rows[0][1],
                    }
                )
            seg = segs[-1]
            lines = []
            prev = self.head[1]
            for seq, time_, op, item_id, record in rows:
                line = journal_line(seq, time_, op, item_id, record, prev=prev)
                prev = record_hash(line)
                lines.append(line)
            data = b"".join(lines)
            path = self.dir / seg["file"]
            with open(path, "ab") as f:
                f.truncate(seg["size"])
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            seg["size"] += len(data)
            seg["last_seq"] = rows[-1][0]
            seg["last_time"] = rows[-1][1]
            index["seq"] = rows[-1][0]
            self.head = (index["seq"], prev)
            with self.lock:
                set_meta(self.db, FEED_HEAD_META, f"{index['seq']} {prev}")
            total += len(rows)

    def _restart_head(self, seq: int) -> str:
        with self.lock:
            row = self.db.execute(
                "SELECT value FROM catalog_meta WHERE key = ?", [FEED_HEAD_META]
            ).fetchone()
        last_seq, _, last_hash = (row[0] if row else "").partition(" ")
        if last_seq == str(seq) and last_hash:
            return last_hash  # the chain clients already hold goes on
        return restart_head(seq, last_hash or None)

    def _snapshot(self, index: dict[str, Any], fresh: bool = False) -> None:
        tmp = self.dir / f"{INTERNAL_PREFIX}snapshot.{os.getpid()}.tmp"
        seq = make_snapshot(self.db_path, tmp)
        if fresh:  # a new chain starts at the snapshot
            index["seq"] = seq
            self.head = (seq, self._restart_head(seq))
            with self.lock:
                set_meta(self.db, FEED_HEAD_META, f"{seq} {self.head[1]}")
        else:  # the records up to the snapshot close the current segment
            self._append(index, upto=seq)
        if self.head[0] != seq:
            raise FeedError(f"the journal up to the snapshot's seq {seq} is not published")
        stamp = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            stamp.execute(
                "INSERT OR REPLACE INTO catalog_meta (key, value) VALUES ('head', ?)",
                [self.head[1]],
            )
        finally:
            stamp.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        target = self.dir / f"snapshot-{seq:012d}.sqlite"
        os.replace(tmp, target)
        _fsync_dir(self.dir)
        previous = index.get("snapshot")
        index["snapshot"] = {
            "file": target.name,
            "seq": seq,
            "size": target.stat().st_size,
            "sha256": _sha256(target),
            "created": _now().isoformat(),
            "head": self.head[1],
        }
        keep_previous = previous and previous.get("file") and previous["file"] != target.name
        index["previous_snapshot"] = previous if keep_previous else None
        if index["journals"]:
            index["journals"][-1]["closed"] = True  # later changes go to a new segment

    def _prune(self, index: dict[str, Any]) -> None:
        cutoff = (_now() - self.keep).isoformat()
        snap_seq = index["snapshot"]["seq"]
        keep = []
        for seg in index["journals"]:
            old = seg.get("last_time", seg.get("first_time", "")) < cutoff
            if old and seg["last_seq"] <= snap_seq:
                continue
            keep.append(seg)
        index["journals"] = keep
        named = {seg["file"] for seg in keep} | {index["snapshot"]["file"]}
        if index.get("previous_snapshot"):
            named.add(index["previous_snapshot"]["file"])
        for path in [*self.dir.glob("journal-*.jsonl"), *self.dir.glob("snapshot-*.sqlite")]:
            if path.name not in named:
                path.unlink(missing_ok=True)
        first = min((seg["first_seq"] for seg in keep), default=snap_seq + 1)
        with self.lock:
            self.db.execute(
                "DELETE FROM journal WHERE seq < ? AND seq <= ? AND time < ?",
                [first, snap_seq, cutoff],
            )

    def _signed_head(self, index: dict[str, Any]) -> dict[str, Any]:
        head: dict[str, Any] = {"seq": self.head[0], "hash": self.head[1], "time": _now_s()}
        if self.signer is not None:
            head.update(self.signer.sign(head_body(index, head)))
        return head

    def _publish_keys(self) -> bool:
        """Publish the pool's key list (``keys.json``) when it changed (a rotation)."""
        if self.signer is None:
            return False
        from .signing import KEYS_NAME

        self.signer.load()
        data = self.signer.published()
        if data == self._keys_published:
            return False  # unchanged since this publisher wrote it
        self._keys_published = data
        target = self.dir / KEYS_NAME
        with contextlib.suppress(OSError):
            if target.read_bytes() == data:
                return False
        write_atomic(target, data)
        return True

    def publish(self) -> bool:
        """Bring the feed up to the catalog. Returns True if anything was written."""
        with self._publish_lock:
            try:
                return self._publish()
            except (OSError, sqlite3.Error, ValueError, CatalogError) as exc:
                self.index = None  # reload from disk next time
                raise FeedError(f"publishing the feed in {self.dir}: {exc}") from exc

    def _publish(self) -> bool:
        if self.index is None:
            self.index = self._load()
        index = self.index
        changed = False
        if not index:
            index.update(
                {
                    "format": FEED_FORMAT,
                    "version": FEED_VERSION,
                    "schema_version": SCHEMA_VERSION,
                    "seq": 0,
                    "journals": [],
                }
            )
            index["snapshot"] = {"seq": -1, "file": ""}
            self._snapshot(index, fresh=True)
            changed = True
        if self._append(index):
            changed = True
        pending = index["seq"] - index["snapshot"]["seq"]
        age = _now() - datetime.fromisoformat(index["snapshot"]["created"])
        if pending >= self.every_changes or (pending > 0 and age >= self.every):
            self._snapshot(index)
            self._append(index)
            changed = True
        if self._publish_keys():
            changed = True
        if changed:
            self._prune(index)
            index["updated"] = _now().isoformat()
            index["head"] = self._signed_head(index)
            write_atomic(
                self.dir / INDEX_NAME,
                json.dumps(index, indent=1, ensure_ascii=False, allow_nan=False).encode(),
            )
        return changed


def snapshot_seq(db: sqlite_utils.Database) -> int:
    """The sequence number a snapshot (or a client's copy) covers; 0 if none."""
    with contextlib.suppress(sqlite3.Error):
        row = db.execute("SELECT value FROM catalog_meta WHERE key = 'seq'").fetchone()
        if row:
            return int(row[0])
    return 0


def set_snapshot_seq(db: sqlite_utils.Database, seq: int) -> None:
    set_meta(db, "seq", seq)
