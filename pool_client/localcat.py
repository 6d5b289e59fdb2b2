"""The local copy of the pool's catalog, kept up to date from the published feed.

One folder per pool in the cache dir: ``catalog.sqlite`` (the catalog schema, searched
with `catalog.search`) and ``feed-state.json`` (which journal file, up to which byte
offset, has been applied). An update reads ``/.catalog/index.json``; when the copy is
current that is all it reads. Otherwise it reads the journal from the byte offset it
already has, and takes a snapshot only when it has fallen behind the oldest journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import FeedError, NotFound, ProvenanceError
from .feedpath import FEED, INDEX
from .remote import Remote
from .transfer import fetch

if TYPE_CHECKING:
    import sqlite_utils

# The catalog package (and sqlite-utils under it) is imported only when the local copy
# has to change or be searched: a no-op `pool sync` never pays for it.

DB_NAME = "catalog.sqlite"
STATE_NAME = "feed-state.json"


@dataclass
class UpdateResult:
    seq: int
    previous_seq: int
    added: int = 0
    changed: int = 0
    removed: int = 0
    snapshot: bool = False
    """A snapshot was downloaded."""
    records: int = 0
    """Journal records applied."""
    journal_bytes: int = 0
    """Journal bytes read (from the offset already held)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LocalCatalog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db_path = folder / DB_NAME
        self.state_path = folder / STATE_NAME

    # -- reading -----------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.db_path.exists()

    @contextlib.contextmanager
    def open(self) -> Iterator[sqlite_utils.Database]:
        from catalog.errors import CatalogError
        from catalog.schema import open_catalog

        if not self.exists:
            raise NotFound("no local catalog yet: run `pool update` first")
        try:
            db = open_catalog(self.db_path)
        except CatalogError as exc:
            raise FeedError(f"{self.db_path}: {exc}; remove it and run `pool update`") from exc
        try:
            yield db
        finally:
            db.conn.close()

    def seq(self) -> int:
        """The sequence number the copy covers; -1 when there is no copy."""
        if not self.exists:
            return -1
        try:
            conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
            try:
                row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'seq'").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return -1
        return int(row[0]) if row else 0

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state), "utf-8")
        os.replace(tmp, self.state_path)

    # -- updating ----------------------------------------------------------------------

    @property
    def trust_folder(self) -> Path:
        return self.folder

    def update(self, remote: Remote) -> UpdateResult:
        """Bring the copy up to the feed (see the module). A feed whose chain does not
        verify is refused (ProvenanceError) and the copy stays as it was."""
        self.folder.mkdir(parents=True, exist_ok=True)
        t = remote.transport()
        try:
            raw = remote.retrying(lambda: t.read_bytes(INDEX))
        except NotFound:
            raise NotFound(
                f"the pool publishes no catalog yet ({INDEX} is missing): "
                "ask its operator whether the indexer runs"
            ) from None
        before = self.seq()
        result = UpdateResult(seq=before, previous_seq=before)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            if before >= 0 and before >= int(json.loads(raw)["seq"]):
                return result  # current: nothing else is read, nothing imported
        from catalog import feed_reader
        from catalog.errors import CatalogError

        try:
            index = feed_reader.read_index(raw)
        except CatalogError as exc:
            raise FeedError(f"{INDEX}: {exc}") from exc

        head = self._trusted_head(remote, index)
        try:
            try:
                self._catch_up(remote, index, head, result, force_snapshot=before < 0)
            except feed_reader.ChainError:
                raise
            except CatalogError:  # a gap or a torn journal: the snapshot heals it
                if result.snapshot:
                    raise
                self._catch_up(remote, index, head, result, force_snapshot=True)
        except feed_reader.ChainError as exc:
            raise ProvenanceError(
                f"the pool's catalog feed failed its integrity check: {exc}; the local "
                f"catalog is kept as it was (seq {before})"
            ) from exc
        except CatalogError as exc:
            raise FeedError(f"the catalog feed cannot be applied: {exc}") from exc
        return result

    def _trusted_head(self, remote: Remote, index: dict[str, Any]) -> dict[str, Any] | None:
        """The index's signed head, verified with the pool's pinned key (or its announced
        successor); None for an unsigned feed of a pool this client never pinned."""
        from catalog import feed_reader

        from .poolkeys import KEYS_PATH, trust_for

        trust = trust_for(remote, self.trust_folder)
        head = index.get("head")
        signed = isinstance(head, dict) and isinstance(head.get("signature"), str)
        if not signed:
            if trust.pinned() is not None:
                raise ProvenanceError(
                    "the pool's catalog feed is not signed although its signing key was "
                    "pinned: refusing it"
                )
            return None
        assert isinstance(head, dict)
        t = remote.transport()
        keys = trust.keys_for(
            str(head.get("key")), lambda: remote.retrying(lambda: t.read_bytes(KEYS_PATH))
        )
        try:
            return feed_reader.verify_head(index, keys)
        except feed_reader.ChainError as exc:
            raise ProvenanceError(f"{INDEX}: {exc}") from exc

    def _read_journals(
        self,
        remote: Remote,
        index: dict[str, Any],
        names: list[str],
        seq: int,
        use_offsets: bool,
        result: UpdateResult,
    ) -> tuple[list[Any], tuple[str, int] | None]:
        """The records of journal files from where the copy is (resuming by offset)."""
        from catalog import feed_reader

        t = remote.transport()
        state = self._state() if use_offsets else {}
        records: list[Any] = []
        last: tuple[str, int] | None = None
        for name in names:
            offset = 0
            if state.get("file") == name and state.get("seq") == seq:
                offset = int(state.get("offset", 0))
            announced = feed_reader.journal_size(index, name)
            if announced is not None and offset >= announced:
                continue
            data: bytes = remote.retrying(
                lambda n=name, o=offset: t.read_bytes(f"{FEED}/{n}", o)  # type: ignore[misc]
            )
            complete = feed_reader.announced_part(data, offset, announced)
            result.journal_bytes += (
                len(data) if announced is None else min(len(data), max(0, announced - offset))
            )
            recs = feed_reader.parse_records(complete)
            records += recs
            if recs:
                seq = max(seq, recs[-1][1]["seq"])
            last = (name, offset + len(complete))
        return records, last

    def _catch_up(
        self,
        remote: Remote,
        index: dict[str, Any],
        head: dict[str, Any] | None,
        result: UpdateResult,
        force_snapshot: bool,
    ) -> None:
        """Fetch and check everything first; change the copy only once it all verifies."""
        from catalog import feed_reader

        seq = -1 if force_snapshot else self.seq()
        start_head: str | None = None
        if seq >= 0:
            with self.open() as db:
                start_head = feed_reader.local_head(db)
            if head is not None and start_head is None:
                seq = -1  # a copy from before the chain: take the signed snapshot
        plan = feed_reader.plan_update(index, seq)
        download: Path | None = None
        if plan.snapshot or seq < 0:
            download, seq, start_head = self._fetch_snapshot(remote, index, head)
            plan = feed_reader.plan_update(index, seq)
        try:
            records, last = self._read_journals(
                remote, index, plan.journals, seq, download is None, result
            )
            new_seq, new_head = feed_reader.check_chain(
                records, seq, start_head, strict=head is not None
            )
            if head is not None and (new_seq, new_head) != (head["seq"], head["hash"]):
                raise feed_reader.ChainError(
                    f"the journal ends at seq {new_seq} but the signed head is at seq {head['seq']}"
                    if new_seq != head["seq"]
                    else f"the journal up to seq {new_seq} is not the history the pool signed"
                )
            if download is not None:
                self._install_snapshot(download, result)
            with self.open() as db:
                self._count(db, records, feed_reader.local_seq(db), result)
                result.seq = feed_reader.apply_records(db, records, new_head)
        finally:
            if download is not None:
                download.unlink(missing_ok=True)
        if last is not None:
            self._save_state({"file": last[0], "offset": last[1], "seq": result.seq})

    def _count(
        self, db: sqlite_utils.Database, records: list[Any], seq: int, result: UpdateResult
    ) -> None:
        present: dict[str, bool] = {}
        for _, rec in records:
            if int(rec.get("seq", 0)) <= seq:
                continue
            item_id = rec.get("id")
            if item_id not in present:
                present[item_id] = (
                    db.execute("SELECT 1 FROM items WHERE id = ?", [item_id]).fetchone() is not None
                )
            result.records += 1
            if rec.get("op") == "delete":
                result.removed += present[item_id]
                present[item_id] = False
            else:
                if present[item_id]:
                    result.changed += 1
                else:
                    result.added += 1
                present[item_id] = True

    def _fetch_snapshot(
        self, remote: Remote, index: dict[str, Any], head: dict[str, Any] | None
    ) -> tuple[Path, int, str | None]:
        """Download the snapshot and check it: (file, its seq, the chain head it holds)."""
        from catalog import feed_reader

        snap = index["snapshot"]
        download = self.folder / f"snapshot-{snap['seq']}.sqlite"
        fetch(
            remote,
            remote.transport(),
            f"{FEED}/{snap['file']}",
            download,
            sha256=snap.get("sha256"),
            size=snap.get("size"),
        )
        try:
            conn = sqlite3.connect(f"file:{download}?mode=ro", uri=True)
            try:
                meta = dict(conn.execute("SELECT key, value FROM catalog_meta").fetchall())
            finally:
                conn.close()
        except sqlite3.Error as exc:
            download.unlink(missing_ok=True)
            raise FeedError(f"the catalog snapshot {snap['file']}: {exc}") from exc
        seq = int(meta.get("seq", snap["seq"]))
        snap_head = meta.get("head")
        if head is not None and (seq != snap["seq"] or snap_head != snap.get("head")):
            download.unlink(missing_ok=True)
            raise feed_reader.ChainError(
                f"the snapshot {snap['file']} is not the one the pool signed"
            )
        return download, seq, snap_head

    def _install_snapshot(self, download: Path, result: UpdateResult) -> None:
        from catalog import feed_reader
        from catalog.errors import CatalogError

        before: dict[str, int] = {}
        if self.exists:
            with contextlib.suppress(sqlite3.Error, FeedError), self.open() as db:
                before = dict(db.execute("SELECT id, rid FROM items").fetchall())
        try:
            db = feed_reader.install_snapshot(download, self.db_path)
        except CatalogError as exc:
            raise FeedError(f"the catalog snapshot {download.name}: {exc}") from exc
        try:
            after = dict(db.execute("SELECT id, rid FROM items").fetchall())
        finally:
            db.conn.close()
        result.snapshot = True
        result.added += len(after.keys() - before.keys())
        result.removed += len(before.keys() - after.keys())
        result.changed += sum(1 for k in after.keys() & before.keys() if after[k] != before[k])
        self.state_path.unlink(missing_ok=True)


# -- looking items up ------------------------------------------------------------------


def _row(cur: sqlite3.Cursor) -> dict[str, Any] | None:
    from catalog.items import decode_row

    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return decode_row(dict(zip(names, row, strict=True))) if row else None


def find_item(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    """An item by its id, or by a pool path (of its essence, of any attachment, or its
    key); None if the catalog has no such item."""
    item = _row(db.execute("SELECT * FROM items WHERE id = ?", [ref]))
    if item is not None:
        return item
    if ref.startswith("/") or "/" in ref:
        path = "/" + ref.strip("/")
        for column in ("path", "key"):
            item = _row(db.execute(f"SELECT * FROM items WHERE {column} = ?", [path]))
            if item is not None:
                return item
        from catalog.items import item_key

        item = _row(db.execute("SELECT * FROM items WHERE key = ?", [item_key(path)]))
        if item is not None:
            return item
    return None


def find_item_quick(db_path: Path, ref: str) -> dict[str, Any] | None:
    """The fields `get` and `preview` need (id, path, size, sha256, attachments,
    preview) of an item named by its id or main file's path, with sqlite3 alone (no
    catalog import: a `pool get` of a known id starts at once); None when that is not
    enough to find it (or the copy predates the `preview` column)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        column = "path" if ref.startswith("/") else "id"
        row = conn.execute(
            f"SELECT id, path, size, sha256, attachments, preview FROM items WHERE {column} = ?",
            [ref],
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return {
        "id": row[0],
        "path": row[1],
        "size": row[2],
        "sha256": row[3],
        "attachments": json.loads(row[4] or "[]"),
        "preview": json.loads(row[5]) if row[5] else None,
    }


def file_of(item: dict[str, Any], ref: str) -> tuple[str, int | None, str | None]:
    """(pool path, size, sha256) of what `ref` names in `item`: an attachment when ref is
    an attachment's path, else the item's main file."""
    path = "/" + ref.strip("/") if "/" in ref else None
    for att in item.get("attachments") or []:
        if path and att.get("path") == path:
            return att["path"], att.get("size"), att.get("sha256")
    return item["path"], item.get("size"), item.get("sha256")


def local_name(remote_path: str) -> str:
    return PurePosixPath(remote_path).name
