"""`pool sync`: keep a folder holding exactly the items a saved query matches.

State in ``DIR/.pool-sync.db``: which item is in which file with which sha256. A run
updates the local catalog (one read of the feed index when nothing changed), matches the
query locally, and fetches only what is new or changed: no listing of the pool, ever.
Changed items are fetched to ``NAME.part`` and renamed over the old file (atomic);
withdrawn ones are reported and removed only when asked.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import ClientError, ProvenanceError
from .localcat import LocalCatalog, UpdateResult
from .progress import Display
from .query import Query, all_matching
from .remote import Remote
from .transfer import RateLimiter

if TYPE_CHECKING:
    from .downloads import Job, Outcome
    from .provenance import Checker

STATE_NAME = ".pool-sync.db"
BATCH = 200


class SyncState:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # written from the download workers' callbacks: one connection behind a lock
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(
            str(folder / STATE_NAME), isolation_level=None, check_same_thread=False
        )
        # the rollback journal stays (emptied) between writes, so writing the state does
        # not change the folder's mtime, which tells a no-op run that DIR is untouched
        self.conn.execute("PRAGMA journal_mode = PERSIST")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS files (item_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
            " remote_path TEXT, sha256 TEXT, size INTEGER, fetched TEXT)"
        )
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._pending: list[tuple[Any, ...]] = []

    def files(self) -> dict[str, dict[str, Any]]:
        cur = self.conn.execute("SELECT item_id, name, remote_path, sha256, size FROM files")
        return {
            r[0]: {"name": r[1], "remote_path": r[2], "sha256": r[3], "size": r[4]}
            for r in cur.fetchall()
        }

    def put(
        self, item_id: str, name: str, remote_path: str, sha256: str | None, size: int | None
    ) -> None:
        """Record a fetched file; written in batches (one transaction, one fsync, per
        BATCH files): a file fetched but not yet recorded is found complete on disk
        (same sha256) by the next run and not fetched again."""
        with self.lock:
            self._pending.append((item_id, name, remote_path, sha256, size))
            if len(self._pending) >= BATCH:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            with self.conn:
                self.conn.execute("BEGIN")
                self.conn.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, datetime('now'))",
                    self._pending,
                )
            self._pending = []

    def remove(self, item_id: str) -> None:
        with self.lock:
            self._flush()
            self.conn.execute("DELETE FROM files WHERE item_id = ?", [item_id])

    def set_meta(self, key: str, value: Any) -> None:
        with self.lock:
            self._flush()
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)])

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def close(self) -> None:
        with self.lock:
            self._flush()
        self.conn.close()


@dataclass
class SyncResult:
    update: UpdateResult
    matched: int = 0
    fetched: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ClientError] = field(default_factory=list)
    dry_run: bool = False
    interrupted: bool = False
    """Ctrl-C stopped the round: the lists say what it finished before."""

    @property
    def nothing_to_do(self) -> bool:
        return not (self.fetched or self.replaced or self.withdrawn or self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.update.seq,
            "catalog": self.update.as_dict(),
            "matched": self.matched,
            "fetched": self.fetched,
            "replaced": self.replaced,
            "withdrawn": self.withdrawn,
            "deleted": self.deleted,
            "failed": self.failed,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
        }


class SyncInterrupted(KeyboardInterrupt):
    """Ctrl-C during a round's downloads; `result` says what the round finished first
    (files already in DEST must still be reported, or a script reading the report would
    never learn of them: the next round finds them in sync)."""

    def __init__(self, result: SyncResult) -> None:
        super().__init__()
        self.result = result


def _names(wanted: dict[str, dict[str, Any]], have: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A file name per wanted item: its pool name, or `<id>-<name>` when two items
    would share one. Items already held keep their name."""
    names: dict[str, str] = {}
    taken: dict[str, str] = {
        row["name"]: item_id for item_id, row in have.items() if item_id in wanted
    }
    for item_id in sorted(wanted):
        if item_id in have and taken.get(have[item_id]["name"]) == item_id:
            base = PurePosixPath(wanted[item_id]["path"]).name
            if base == have[item_id]["name"] or have[item_id]["name"].endswith("-" + base):
                names[item_id] = have[item_id]["name"]
                continue
    for item_id in sorted(wanted):
        if item_id in names:
            continue
        base = PurePosixPath(wanted[item_id]["path"]).name
        name = base if taken.get(base, item_id) == item_id else f"{item_id}-{base}"
        taken[name] = item_id
        names[item_id] = name
    return names


def sync_once(
    remote: Remote,
    catalog: LocalCatalog,
    dest: Path,
    query: Query,
    *,
    dry_run: bool = False,
    delete: bool = False,
    parallel: int = 1,
    limiter: RateLimiter | None = None,
    display: Display,
    on_retry: Callable[[Exception, float], None] | None = None,
    checker: Callable[[], Checker] | None = None,
) -> SyncResult:
    """One round. With a `checker` (made only when there is work: a no-op round stays one
    read), each item's manifest signature is verified and files are checked against the
    manifest's sha256 before they take their names."""
    update = catalog.update(remote)
    result = SyncResult(update, dry_run=dry_run)
    with contextlib.closing(SyncState(dest)) as state:
        last = state.meta()
        if (
            update.seq == update.previous_seq
            and last.get("seq") == update.seq
            and last.get("query") == query.as_dict()
            and not query.moving()  # '--since 30d' matches other items as time passes
            and last.get("dest_mtime_ns") == dest.stat().st_mtime_ns
            and not last.get("failed")
            and not (delete and last.get("withdrawn"))
        ):
            # same catalog, same query, DIR untouched since the last complete run
            result.matched = int(last.get("matched", 0))
            return result
        # Only now: a run with nothing to do never pays for the download machinery.
        from .downloads import Job, run_downloads

        with catalog.open() as db:
            wanted = {row["id"]: row for row in all_matching(db, query)}
        result.matched = len(wanted)
        have = state.files()
        names = _names(wanted, have)
        jobs: list[Job] = []
        manifests = {}
        check = checker() if checker is not None else None
        if check is not None:
            from .provenance import read_manifests

            manifests = read_manifests(catalog.db_path, list(wanted))
        for item_id, item in wanted.items():
            name = names[item_id]
            old = have.get(item_id)
            if check is not None:
                manifest, signature = manifests.get(item_id, (None, None))
                try:
                    expected = check.expected_files(item, manifest, signature)
                    if item["path"] not in expected:
                        raise ProvenanceError(f"{item_id}: {item['path']} is not in its manifest")
                except ProvenanceError as exc:  # this item is refused; the others go on
                    result.failed.append({"id": item_id, "name": name, "error": str(exc)})
                    result.errors.append(exc)
                    continue
                item = {**item, "size": expected[item["path"]][0]}
                item["sha256"] = expected[item["path"]][1]
            info = {"id": item_id, "name": name, "path": item["path"], "size": item["size"]}
            if old is None:
                kind = "fetched"
            elif old["sha256"] != item["sha256"] or old["name"] != name:
                kind = "replaced"
            elif not (dest / name).is_file():
                kind = "fetched"
            else:
                continue
            jobs.append(
                Job(
                    item["path"],
                    dest / name,
                    item["sha256"],
                    item["size"],
                    name,
                    tag=(kind, info, old),
                )
            )
        for item_id, old in have.items():
            if item_id not in wanted:
                result.withdrawn.append(
                    {"id": item_id, "name": old["name"], "path": old["remote_path"]}
                )
        if dry_run:
            for job in jobs:
                kind, info, _ = job.tag
                getattr(result, kind).append(info)
            return result

        def done(out: Outcome) -> None:
            kind, info, old = out.job.tag
            if out.error is not None:
                result.failed.append({**info, "error": str(out.error)})
                result.errors.append(out.error)
                return
            assert out.result is not None
            if old is not None and old["name"] != info["name"]:
                (dest / old["name"]).unlink(missing_ok=True)
            state.put(info["id"], info["name"], info["path"], out.result.sha256, out.result.size)
            getattr(result, kind).append({**info, "transferred": out.result.transferred})

        try:
            run_downloads(
                remote,
                jobs,
                parallel=parallel,
                limiter=limiter or RateLimiter(None),
                display=display,
                on_retry=on_retry,
                on_done=done,
            )
        except KeyboardInterrupt as exc:
            result.interrupted = True
            raise SyncInterrupted(result) from exc
        if delete:
            for gone in result.withdrawn:
                (dest / gone["name"]).unlink(missing_ok=True)
                state.remove(gone["id"])
                result.deleted.append(gone)
        for key, value in (
            ("query", query.as_dict()),
            ("seq", update.seq),
            ("matched", result.matched),
            ("failed", len(result.failed)),
            ("withdrawn", len(result.withdrawn) - len(result.deleted)),
        ):
            state.set_meta(key, value)
        state.set_meta("dest_mtime_ns", dest.stat().st_mtime_ns)  # last: see PERSIST
    return result


def watch(
    run: Callable[[], SyncResult | None],
    interval: float,
    on_result: Callable[[SyncResult | None], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run and report every `interval` seconds until interrupted (Ctrl-C); a round that
    Ctrl-C stops is reported with what it finished."""
    while True:
        try:
            result = run()
        except SyncInterrupted as stop:
            on_result(stop.result)
            raise
        on_result(result)
        sleep(interval)
