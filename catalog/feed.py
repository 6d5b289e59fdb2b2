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

from .errors import FeedError
from .layout import FEED_DIR, INTERNAL_PREFIX
from .schema import SCHEMA_VERSION, open_catalog, set_meta

FEED_FORMAT = "ortak-catalog-feed"
FEED_VERSION = 1
INDEX_NAME = "index.json"
BATCH = 5000
FTS_SHADOW_TABLES = ("items_fts_data", "items_fts_idx", "items_fts_content", "items_fts_docsize")
"""FTS5's own tables behind items_fts; the snapshot copies them as they are."""


def _now() -> datetime:
    return datetime.now(UTC)


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


def journal_line(seq: int, time_: str, op: str, item_id: str, record: str | None) -> bytes:
    """One journal record as a line: {"seq","time","op","id"[,"item"]} + newline."""
    rec: dict[str, Any] = {"seq": seq, "time": time_, "op": op, "id": item_id}
    if op == "upsert" and record is not None:
        # A record stored before numbers were checked may hold NaN/Infinity, which JSON
        # has no words for: such a value is published as null, never as invalid JSON.
        rec["item"] = json.loads(record, parse_constant=lambda _: None)
    text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


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
    ) -> None:
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
            return dict(index)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if (self.dir / INDEX_NAME).exists():
                import logging

                logging.getLogger("catalog.feed").warning("feed restarted: %s", exc)
            for old in [*self.dir.glob("journal-*.jsonl"), *self.dir.glob("snapshot-*.sqlite")]:
                old.unlink(missing_ok=True)
            return {}

    # -- publishing --------------------------------------------------------------------

    def _append(self, index: dict[str, Any]) -> int:
        """Append unpublished journal rows to the last segment. Returns how many."""
        total = 0
        while True:
            with self.lock:
                rows = self.db.execute(
                    "SELECT seq, time, op, item_id, record FROM journal WHERE seq > ?"
                    " ORDER BY seq LIMIT ?",
                    [index["seq"], BATCH],
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
            data = b"".join(journal_line(*r) for r in rows)
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
            total += len(rows)

    def _snapshot(self, index: dict[str, Any]) -> None:
        tmp = self.dir / f"{INTERNAL_PREFIX}snapshot.{os.getpid()}.tmp"
        seq = make_snapshot(self.db_path, tmp)
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

    def publish(self) -> bool:
        """Bring the feed up to the catalog. Returns True if anything was written."""
        with self._publish_lock:
            try:
                return self._publish()
            except (OSError, sqlite3.Error, ValueError) as exc:
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
            self._snapshot(index)
            index["seq"] = index["snapshot"]["seq"]
            changed = True
        if self._append(index):
            changed = True
        pending = index["seq"] - index["snapshot"]["seq"]
        age = _now() - datetime.fromisoformat(index["snapshot"]["created"])
        if pending >= self.every_changes or (pending > 0 and age >= self.every):
            self._snapshot(index)
            self._append(index)
            changed = True
        if changed:
            self._prune(index)
            index["updated"] = _now().isoformat()
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
