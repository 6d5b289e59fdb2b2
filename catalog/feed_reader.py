"""Applying the published feed to a local catalog copy (the client's side of FEED.md).

    index = read_index(fetch("index.json"))
    plan = plan_update(index, local_seq(db))
    if plan.snapshot:                      # behind the oldest journal kept
        db = install_snapshot(fetch(plan.snapshot), local_path)
    for name in plan.journals:             # oldest first; resume by byte offset if you can
        apply_journal(db, fetch(name))

The local copy has the catalog schema (`open_catalog`) and can be searched with
`catalog.search.search` exactly like the server's database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import FeedError
from .feed import (
    FEED_FORMAT,
    FEED_VERSION,
    head_body,
    record_hash,
    set_snapshot_seq,
    snapshot_seq,
)
from .layout import INTERNAL_PREFIX
from .schema import get_meta, open_catalog, set_meta
from .store import delete_item_row, put_item_row, transaction


class ChainError(FeedError):
    """A journal record was changed, dropped, reordered or cut off: the feed's history
    does not match its signed head. Never healed by taking the snapshot."""


@dataclass
class UpdatePlan:
    snapshot: str | None = None
    """File name of the snapshot to install first, or None."""
    journals: list[str] = field(default_factory=list)
    """Journal files to apply in this order (records at or below the local seq are skipped)."""


def read_index(data: bytes | str) -> dict[str, Any]:
    """The parsed index.json; FeedError if it is not a feed this version can read."""
    try:
        index = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise FeedError(f"index.json is not valid JSON: {exc}") from exc
    if not isinstance(index, dict) or index.get("format") != FEED_FORMAT:
        raise FeedError("index.json is not an Ortak catalog feed")
    if index.get("version") != FEED_VERSION:
        raise FeedError(
            f"feed version {index.get('version')} is not supported "
            f"(this program reads version {FEED_VERSION})"
        )
    return index


def local_seq(db: sqlite_utils.Database) -> int:
    return snapshot_seq(db)


def plan_update(index: dict[str, Any], seq: int) -> UpdatePlan:
    """What a copy at `seq` must fetch to catch up with `index`."""
    if seq >= index["seq"]:
        return UpdatePlan()
    journals = [j for j in index["journals"] if j["last_seq"] > seq]
    snap = index["snapshot"]
    covered = seq >= snap["seq"] or (journals and journals[0]["first_seq"] <= seq + 1)
    plan = UpdatePlan(snapshot=None if covered else snap["file"])
    start = seq if covered else snap["seq"]
    plan.journals = [j["file"] for j in index["journals"] if j["last_seq"] > start]
    return plan


def install_snapshot(snapshot: Path, local_path: Path) -> sqlite_utils.Database:
    """Replace the local copy by a downloaded snapshot (atomically) and open it."""
    try:
        check = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
        try:
            ok = check.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            check.close()
    except sqlite3.DatabaseError as exc:
        raise FeedError(f"{snapshot.name} is not a catalog snapshot: {exc}") from exc
    if ok != "ok":
        raise FeedError(f"{snapshot.name} is damaged: {ok}")
    tmp = local_path.with_name(f"{INTERNAL_PREFIX}{local_path.name}.tmp")
    shutil.copyfile(snapshot, tmp)
    for suffix in ("-wal", "-shm"):
        Path(f"{local_path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, local_path)
    return open_catalog(local_path)


def journal_size(index: dict[str, Any], name: str) -> int | None:
    """The `size` index.json announces for journal `name`; None if it names no such file."""
    for seg in index.get("journals") or []:
        if isinstance(seg, dict) and seg.get("file") == name:
            size = seg.get("size")
            return size if type(size) is int and size >= 0 else None
    return None


def announced_part(data: bytes, offset: int, size: int | None) -> bytes:
    """Of a journal's bytes read from `offset`, the complete records the index announces.

    FEED.md reading rule 3: a reader reads up to the announced `size`, never past it (the
    indexer may be appending records the index does not name yet, or may have been killed
    half-way through a line), and a line not ending in a newline is not a record yet.
    """
    if size is not None:
        data = data[: max(0, size - offset)]
    return data[: data.rfind(b"\n") + 1]


Record = tuple[bytes, dict[str, Any]]
"""A journal record: its line as published (without the newline) and its parsed JSON."""


def parse_records(data: bytes | str | Iterable[bytes | str]) -> list[Record]:
    """The complete records of journal bytes (or of an iterable of lines)."""
    if isinstance(data, (bytes, str)):
        raw = data.encode() if isinstance(data, str) else data
        if not raw.endswith(b"\n"):  # a torn last line is not a record yet
            raw = raw[: raw.rfind(b"\n") + 1]
        lines: Iterable[bytes | str] = raw.split(b"\n")
    else:
        lines = data
    out: list[Record] = []
    for line in lines:
        bline = line.encode() if isinstance(line, str) else line
        bline = bline.rstrip(b"\n")
        if not bline.strip():
            continue
        try:
            rec = json.loads(bline)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise FeedError(f"journal record is not valid JSON: {exc}") from exc
        _record_seq(rec)
        out.append((bline, rec))
    return out


def check_chain(
    records: list[Record], seq: int, head: str | None, *, strict: bool = False
) -> tuple[int, str | None]:
    """Follow the hash chain over `records` from a copy at (`seq`, `head`).

    Records at or below `seq` are skipped. A gap in the sequence raises FeedError (take
    the snapshot); a record whose ``prev`` is not the hash of the one before raises
    ChainError. With `head` None (a copy from before the chain) nothing is checked but
    the sequence. `strict` (a feed with a signed head): a gap is a ChainError too.
    Returns the (seq, head) after the last record.
    """
    for line, rec in records:
        n = rec["seq"]
        if n <= seq:
            continue
        if n != seq + 1:
            if strict:
                raise ChainError(f"journal jumps from seq {seq} to {n}: a record was dropped")
            raise FeedError(f"journal jumps from seq {seq} to {n}: fetch the snapshot")
        if head is not None:
            if rec.get("prev") != head:
                raise ChainError(
                    f"journal record {n} does not follow record {seq} "
                    "(changed, dropped or reordered since the pool published it)"
                )
            head = record_hash(line)
        seq = n
    return seq, head


def verify_head(index: dict[str, Any], keys: list[Any]) -> dict[str, Any]:
    """The signed head of an index, once its signature verifies with one of `keys` (a
    verified key list, catalog.signing) valid at the head's time. ChainError otherwise."""
    from .signing import SignatureError, key_for, verify

    head = index.get("head")
    if not isinstance(head, dict) or not isinstance(head.get("signature"), str):
        raise ChainError("the feed's index.json carries no signed head")
    try:
        key = key_for(keys, str(head.get("key")), str(head.get("time")))
        body = head_body(index, head)
    except (SignatureError, KeyError, TypeError) as exc:
        raise ChainError(f"the feed's signed head: {exc}") from exc
    if not verify(key.public, body, head["signature"]):
        raise ChainError("the signature of the feed's head does not verify: refusing the feed")
    return head


def local_head(db: sqlite_utils.Database) -> str | None:
    """The hash of the last record the copy applied; None for a copy without the chain."""
    return get_meta(db, "head")


def apply_records(db: sqlite_utils.Database, records: list[Record], head: str | None) -> int:
    """Apply checked records (`check_chain`) to a copy in one transaction; `head` is the
    chain's head after them. Returns the new seq."""
    seq = local_seq(db)
    with transaction(db):
        for _, rec in records:
            n = rec["seq"]
            if n <= seq:
                continue
            _apply_record(db, rec, n)
            seq = n
        set_snapshot_seq(db, seq)
        if head is not None:
            set_meta(db, "head", head)
    return seq


def apply_journal(db: sqlite_utils.Database, data: bytes | str | Iterable[bytes | str]) -> int:
    """Apply journal lines (a file's bytes, or an iterable of lines) to a local copy.

    Records at or below the copy's seq are skipped, so a journal may be applied twice.
    A gap in the sequence raises FeedError (take the snapshot); a broken hash chain
    ChainError. Returns the new seq.
    """
    records = parse_records(data)
    _, head = check_chain(records, local_seq(db), local_head(db))
    return apply_records(db, records, head)


def _apply_record(db: sqlite_utils.Database, rec: dict[str, Any], n: int) -> None:
    try:
        if rec.get("op") == "upsert" and isinstance(rec.get("item"), dict):
            put_item_row(db, rec["item"])
        elif rec.get("op") == "delete" and isinstance(rec.get("id"), str):
            delete_item_row(db, rec["id"])
        else:
            raise FeedError(f"journal record at seq {n} is not an upsert or delete")
    except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
        raise FeedError(f"journal record at seq {n} is malformed: {exc}") from exc


def _record_seq(rec: Any) -> int:
    if not isinstance(rec, dict) or type(rec.get("seq")) is not int:
        raise FeedError(f"journal record without a sequence number: {str(rec)[:80]}")
    return rec["seq"]


def sync_from_folder(feed_dir: Path, local_path: Path) -> int:
    """Bring a local copy up to a feed folder on this machine (tests, local mirrors)."""
    index = read_index((feed_dir / "index.json").read_bytes())
    db = open_catalog(local_path) if local_path.exists() else None
    seq = local_seq(db) if db is not None else -1
    plan = plan_update(index, seq)
    if plan.snapshot or db is None:
        if db is not None:
            db.conn.close()
        db = install_snapshot(feed_dir / index["snapshot"]["file"], local_path)
        plan = plan_update(index, local_seq(db))
    for name in plan.journals:
        size = journal_size(index, name)
        with open(feed_dir / name, "rb") as f:
            data = f.read() if size is None else f.read(size)
        apply_journal(db, announced_part(data, 0, size))
    seq = local_seq(db)
    db.conn.close()
    return seq
