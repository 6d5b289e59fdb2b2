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

from .errors import FeedError, NotFound
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

    def update(self, remote: Remote) -> UpdateResult:
        """Bring the copy up to the feed (see the module)."""
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
        try:
            self._catch_up(remote, index, result, force_snapshot=before < 0)
        except CatalogError as exc:  # a gap or a torn journal: the snapshot heals it
            if result.snapshot:
                raise FeedError(f"the catalog feed cannot be applied: {exc}") from exc
            self._catch_up(remote, index, result, force_snapshot=True)
        return result

    def _catch_up(
        self, remote: Remote, index: dict[str, Any], result: UpdateResult, force_snapshot: bool
    ) -> None:
        from catalog import feed_reader

        t = remote.transport()
        plan = feed_reader.plan_update(index, -1 if force_snapshot else self.seq())
        if plan.snapshot or force_snapshot:
            self._install_snapshot(remote, index, result)
            plan = feed_reader.plan_update(index, self.seq())
        state = self._state()
        with self.open() as db:
            for name in plan.journals:
                seq = feed_reader.local_seq(db)
                offset = 0
                if state.get("file") == name and state.get("seq") == seq:
                    offset = int(state.get("offset", 0))
                announced = feed_reader.journal_size(index, name)
                if announced is not None and offset >= announced:
                    continue
                data = remote.retrying(lambda n=name, o=offset: t.read_bytes(f"{FEED}/{n}", o))
                complete = feed_reader.announced_part(data, offset, announced)
                result.journal_bytes += (
                    len(data) if announced is None else min(len(data), max(0, announced - offset))
                )
                self._count(db, complete, seq, result)
                new_seq = feed_reader.apply_journal(db, complete)
                state = {"file": name, "offset": offset + len(complete), "seq": new_seq}
                self._save_state(state)
            result.seq = feed_reader.local_seq(db)

    def _count(
        self, db: sqlite_utils.Database, data: bytes, seq: int, result: UpdateResult
    ) -> None:
        present: dict[str, bool] = {}
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                return  # apply_journal says what is wrong
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

    def _install_snapshot(
        self, remote: Remote, index: dict[str, Any], result: UpdateResult
    ) -> None:
        from catalog import feed_reader
        from catalog.errors import CatalogError

        snap = index["snapshot"]
        before: dict[str, int] = {}
        if self.exists:
            with contextlib.suppress(sqlite3.Error, FeedError), self.open() as db:
                before = dict(db.execute("SELECT id, rid FROM items").fetchall())
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
            db = feed_reader.install_snapshot(download, self.db_path)
        except CatalogError as exc:
            raise FeedError(f"the catalog snapshot {snap['file']}: {exc}") from exc
        finally:
            download.unlink(missing_ok=True)
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
