"""The indexer: watchdog events and reconciliation scans turn files into catalog items.

Threads (all joined by `stop()`):

- the watchdog observer, whose handler only classifies events and queues work;
- `index_workers` workers extracting and hashing files. Work goes to two lanes by file
  size: worker 0 takes small files only, so a small news item never waits behind a
  50 GB MXF being hashed; the others take small files first, then large ones;
- a housekeeping thread: the start-up and periodic reconciliation scans, and files
  written in place that have stopped growing;
- a feed thread publishing changes to ``pool/.catalog/`` (catalog.feed).

Completion of an upload is its rename into place (a moved event). Files written in
place are taken when closed after writing or once their size stops changing. The SQLite
connection is shared, and its use serialised by one lock.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import json
import logging
import os
import signal
import sqlite3
import stat as statmod
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from watchdog.observers import Observer

from .clean import clean_text
from .errors import Cancelled, CatalogError
from .extract import extract_file, stat_key
from .feed import FeedPublisher
from .items import item_key, role_by_extension
from .layout import is_catalogued_path
from .manifest import Notary, member_keys_from_db
from .schema import open_catalog
from .settings import SETTINGS
from .signing import PoolSigner
from .store import (
    PreviewChanges,
    put_file,
    rebuild_item,
    remove_files,
    remove_prefix,
    transaction,
)
from .supervise import Supervisor
from .uploaders import accounts_fingerprint, relabel, uploader_label
from .watch import FILE, GONE_DIR, SCAN_DIR, EventHandler, scan_pool

log = logging.getLogger("catalog.indexer")

DEFAULTS: dict[str, Any] = {name: default for name, default, _ in SETTINGS}

UPLOADER_WAIT = 10.0
"""Seconds a just-renamed file's uploader is looked for in the audit after indexing."""


class PreviewSink(Protocol):
    """What the indexer tells the preview queue (catalog.previews.PreviewService)."""

    def changed(self, changes: PreviewChanges) -> None: ...


def settings_with_defaults(settings: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS, **(settings or {})}


class Indexer:
    """Keeps the catalog in `db_path` equal to the files under `pool_root`."""

    def __init__(
        self,
        pool_root: Path,
        db_path: Path,
        settings: dict[str, Any] | None = None,
        *,
        publish_feed: bool = True,
        previews: PreviewSink | None = None,
        signing_dir: Path | None = None,
    ) -> None:
        self.pool_root = Path(pool_root).absolute()
        self.db_path = Path(db_path)
        self.settings = settings_with_defaults(settings)
        signer = None
        if signing_dir is not None:
            signer = PoolSigner(signing_dir)
            signer.load()
        self.db = open_catalog(self.db_path)
        self.lock = threading.Lock()
        self.notary = Notary(signer, member_keys_from_db(self.db))
        self._manifests_checked = False
        self.feed = (
            FeedPublisher(self.db, self.lock, self.pool_root, self.db_path, self.settings, signer)
            if publish_feed
            else None
        )
        self._cond = threading.Condition()
        self._small: collections.deque[tuple[str, str]] = collections.deque()
        self._large: collections.deque[tuple[str, str]] = collections.deque()
        self._queued: set[tuple[str, str]] = set()
        self._running: set[tuple[str, str]] = set()
        """Jobs a worker is doing now: the same job is never done by two at once."""
        self._again: set[tuple[str, str]] = set()
        """Jobs submitted while running: queued again once the running one ends."""
        self._active = 0
        self._reconciling = 0
        self._settling: dict[str, tuple[int, float]] = {}
        self._rescans: dict[str, float] = {}
        self._awaiting_uploader: dict[str, float] = {}
        self._labels_fingerprint: str | None = None
        self._stop = threading.Event()
        self._observer: Any = None
        self.errors = 0
        self.processed = 0
        self.previews = previews
        self._preview_changes: PreviewChanges = []
        """Filled by rebuild_item under `lock`; handed to `previews` once committed."""
        self._supervisor = Supervisor(self._stop)

    # -- queueing ----------------------------------------------------------------------

    def submit(self, kind: str, rel: str, size: int | None = None) -> None:
        """Queue work; small files (and folder jobs) in the fast lane."""
        job = (kind, rel)
        large = self._is_large(kind, rel, size)
        with self._cond:
            self._settling.pop(rel, None)
            if job in self._running:
                # The file may have changed after the running job looked at it: do the
                # job again once that one ends, never beside it (two workers on one file
                # hash it twice and may commit the older result last).
                self._again.add(job)
                return
            self._enqueue(job, large)

    def _is_large(self, kind: str, rel: str, size: int | None = None) -> bool:
        """Whether a job goes to the large-file lane (a file of `large_file_bytes` or more)."""
        if kind != FILE:
            return False
        if size is None:
            try:
                size = os.stat(self.pool_root / rel.lstrip("/")).st_size
            except OSError:
                size = 0
        return size >= int(self.settings["large_file_bytes"])

    def _enqueue(self, job: tuple[str, str], large: bool) -> None:
        """Queue `job` unless it is queued already; under `_cond`."""
        if job in self._queued:
            return
        self._queued.add(job)
        (self._large if large else self._small).append(job)
        self._cond.notify_all()

    def settle(self, rel: str) -> None:
        """A file being written in place: take it once its size stops changing."""
        with self._cond:
            if rel not in self._settling:
                self._settling[rel] = (-1, time.monotonic())

    def rescan_later(self, rel: str) -> None:
        """Scan a new folder again once `settle_seconds` have passed."""
        with self._cond:
            self._rescans[rel] = time.monotonic() + float(self.settings["settle_seconds"])

    def _next_job(self, fast_lane_only: bool) -> tuple[str, str] | None:
        with self._cond:
            while not self._stop.is_set():
                lane = self._small or (None if fast_lane_only else self._large)
                if lane:
                    job = lane.popleft()
                    self._queued.discard(job)
                    self._running.add(job)
                    self._active += 1
                    return job
                self._cond.wait(0.5)
        return None

    def _flush_previews(self) -> None:
        """Hand committed preview work to the preview queue (outside any transaction, so
        a job never runs before the change it is for is visible)."""
        with self.lock:
            changes, self._preview_changes[:] = list(self._preview_changes), []
        if changes and self.previews is not None:
            try:
                self.previews.changed(changes)
            except Exception as exc:  # the queue's trouble must not stop indexing
                self.errors += 1
                log.error("queueing previews failed: %s", exc)

    def _done(self, job: tuple[str, str]) -> None:
        self._flush_previews()
        with self._cond:
            again = job in self._again
        large = again and self._is_large(*job)
        with self._cond:
            self._running.discard(job)
            if job in self._again:  # queued before the job counts as done: never idle between
                self._again.discard(job)
                self._enqueue(job, large)
            self._active -= 1
            self._cond.notify_all()

    def _busy(self) -> bool:
        return bool(
            self._small
            or self._large
            or self._active
            or self._settling
            or self._rescans
            or self._reconciling
        )

    def backlog(self) -> dict[str, int]:
        """Jobs waiting in the lanes, being done, and to be done again once done."""
        with self._cond:
            return {
                "queued": len(self._small) + len(self._large),
                "running": self._active,
                "again": len(self._again),
            }

    def is_idle(self) -> bool:
        with self._cond:
            return not self._busy()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no work is queued, running, settling or due; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    # -- work --------------------------------------------------------------------------

    def _known_stat(self, rel: str) -> tuple[int, int, int] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT size, mtime_ns, inode FROM item_files WHERE path = ?", [rel]
            ).fetchone()
        return tuple(row) if row else None  # type: ignore[return-value]

    def _uploader(self, rel: str) -> tuple[str, str] | None:
        """(user, time) of the last complete upload of this path in pool_server's audit;
        None if there is none (yet), or no audit table (a catalog on its own)."""
        try:
            row = self.db.execute(
                "SELECT user, time FROM audit WHERE path = ? AND action = 'upload'"
                " AND status IN ('complete', 'ok') ORDER BY id DESC LIMIT 1",
                [rel],
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        return (row[0], row[1]) if row else None

    def _set_uploader(self, info: dict[str, Any], rel: str, found: tuple[str, str]) -> None:
        """Record an upload in a file's row: the login privately, a label for the feed."""
        login, info["uploaded"] = found
        info["uploader_login"] = login
        info["uploader"] = uploader_label(self.db, login, rel.strip("/").split("/")[0])

    def _check_labels(self) -> None:
        """Relabel uploads when the operator changed a display name or a member's name."""
        with self.lock:
            fingerprint = accounts_fingerprint(self.db)
            if fingerprint == self._labels_fingerprint:
                return
            with transaction(self.db):
                changed = relabel(self.db, self.notary)
            self._labels_fingerprint = fingerprint
        if changed:
            log.info("uploader names updated on %d item(s)", changed)

    def _check_manifests(self) -> None:
        """Once per start: give items catalogued before manifests existed (or while the
        pool had no signing key) their signed manifest, a batch per transaction."""
        if self._manifests_checked:
            return
        done: set[str] = set()
        while not self._stop.is_set():
            with self.lock:
                keys = [
                    r[0]
                    for r in self.db.execute(
                        "SELECT key FROM items WHERE coalesce(manifest, 'null') = 'null'"
                        + (
                            " OR coalesce(manifest_signature, 'null') = 'null'"
                            if self.notary.signer
                            else ""
                        )
                        + " LIMIT 500"
                    ).fetchall()
                ]
                if keys:
                    with transaction(self.db):
                        for key in keys:
                            rebuild_item(self.db, key, self._preview_changes, self.notary)
            if len(keys) < 500 or done.issuperset(keys):
                break
            done.update(keys)
            if keys:
                log.info("manifests made for %d earlier item(s)", len(keys))
        self._manifests_checked = True

    def _has_audit(self) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'"
        ).fetchone()
        return row is not None

    def _check_uploaders(self) -> None:
        """Fill in uploaders recorded in the audit after the file was indexed.

        The server records a complete upload just after renaming it into place, and the
        indexer may be quicker than that: such files are looked up again for a while.
        """
        now = time.monotonic()
        with self._cond:
            waiting = list(self._awaiting_uploader.items())
        for rel, deadline in waiting:
            with self.lock:
                found = self._uploader(rel)
                row = self.db.execute(
                    "SELECT key, info FROM item_files WHERE path = ?", [rel]
                ).fetchone()
                if found and row:
                    info = json.loads(row[1])
                    self._set_uploader(info, rel, found)
                    with transaction(self.db):
                        self.db.execute(
                            "UPDATE item_files SET info = ? WHERE path = ?",
                            [json.dumps(info, ensure_ascii=False, allow_nan=False), rel],
                        )
                        rebuild_item(self.db, row[0], self._preview_changes, self.notary)
            if found or row is None or now > deadline:
                with self._cond:
                    self._awaiting_uploader.pop(rel, None)

    def _process_file(self, rel: str) -> None:
        path = self.pool_root / rel.lstrip("/")
        try:
            st = os.stat(path, follow_symlinks=False)
            if not statmod.S_ISREG(st.st_mode):
                raise FileNotFoundError(rel)
        except FileNotFoundError:
            self._remove([rel])
            return
        if self._known_stat(rel) == stat_key(st):
            return
        try:
            row = extract_file(
                self.pool_root, rel, int(self.settings["max_sidecar_bytes"]), cancel=self._stop
            )
        except FileNotFoundError:
            self._remove([rel])
            return
        try:
            after = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            self._remove([rel])
            return
        if stat_key(after) != (row["size"], row["mtime_ns"], row["inode"]):
            self.settle(rel)  # still being written: look again once it is quiet
            return
        with self.lock:
            uploader = self._uploader(rel)
            if uploader:
                self._set_uploader(row["info"], rel, uploader)
            elif time.time() - after.st_ctime < UPLOADER_WAIT and self._has_audit():
                with self._cond:
                    self._awaiting_uploader[rel] = time.monotonic() + UPLOADER_WAIT
            with transaction(self.db):
                put_file(self.db, row)
                rebuild_item(self.db, row["key"], self._preview_changes, self.notary)
            self.processed += 1

    def _remove(self, rels: list[str]) -> None:
        with self.lock, transaction(self.db):
            for key in remove_files(self.db, rels):
                rebuild_item(self.db, key, self._preview_changes, self.notary)

    def _remove_dir(self, rel: str) -> None:
        with self.lock, transaction(self.db):
            for key in remove_prefix(self.db, rel):
                rebuild_item(self.db, key, self._preview_changes, self.notary)
        if (self.pool_root / rel.lstrip("/")).is_dir():
            self.submit(SCAN_DIR, rel)  # a folder came back under the same name

    def _scan_dir(self, rel: str) -> None:
        folder = self.pool_root / rel.lstrip("/")
        for sub, key in scan_pool(folder, top_files=True).items():
            if is_catalogued_path(rel + sub):
                self.submit(FILE, rel + sub, key[0])

    def _worker(self, fast_lane_only: bool) -> None:
        while (job := self._next_job(fast_lane_only)) is not None:
            kind, rel = job
            try:
                if kind == FILE:
                    self._process_file(rel)
                elif kind == GONE_DIR:
                    self._remove_dir(rel)
                else:
                    self._scan_dir(rel)
            except Cancelled:
                pass  # stopping: the next start's reconciliation takes the file again
            except (CatalogError, OSError, sqlite3.Error) as exc:
                self.errors += 1
                log.error("indexing %s failed: %s", rel, exc)
            except Exception as exc:  # whatever a file does, the worker goes on
                self.errors += 1
                log.exception("indexing %s failed unexpectedly", rel)
                if kind == FILE:
                    self._record_failure(rel, exc)
            finally:
                self._done(job)

    def _record_failure(self, rel: str, exc: Exception) -> None:
        """Catalogue a file that could not be indexed, with the error on its item (so it
        is not taken again and again, and people see why it has no metadata)."""
        try:
            st = os.stat(self.pool_root / rel.lstrip("/"), follow_symlinks=False)
            row: dict[str, Any] = {
                "path": rel,
                "key": item_key(rel),
                "role": role_by_extension(rel),
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "inode": st.st_ino,
                "sha256": None,
                "info": {"error": clean_text(f"cannot index: {type(exc).__name__}: {exc}")},
            }
            with self.lock, transaction(self.db):
                put_file(self.db, row)
                rebuild_item(self.db, row["key"], self._preview_changes, self.notary)
        except Exception:  # e.g. a name that is not valid UTF-8 cannot be stored at all
            log.exception("%s cannot be catalogued, even with its error", rel)

    # -- reconciliation ----------------------------------------------------------------

    def reconcile(self) -> dict[str, int]:
        """One scan: queue new and changed files, drop files gone from disk.

        Returns counts: files on disk, queued, removed. Queued work is done by the
        workers (or by `run_once`).
        """
        with self._cond:
            self._reconciling += 1
        try:
            disk = scan_pool(self.pool_root)
            with self.lock:
                known = {
                    r[0]: (r[1], r[2], r[3])
                    for r in self.db.execute(
                        "SELECT path, size, mtime_ns, inode FROM item_files"
                    ).fetchall()
                }
            queued = 0
            for rel, key in disk.items():
                if known.get(rel) != key:
                    self.submit(FILE, rel, key[0])
                    queued += 1
            gone = [
                rel
                for rel in known
                if rel not in disk and not (self.pool_root / rel.lstrip("/")).exists()
            ]
            if gone:
                self._remove(gone)
            return {"files": len(disk), "queued": queued, "removed": len(gone)}
        finally:
            with self._cond:
                self._reconciling -= 1
                self._cond.notify_all()

    # -- housekeeping ------------------------------------------------------------------

    def _check_rescans(self) -> None:
        now = time.monotonic()
        with self._cond:
            due = [rel for rel, when in self._rescans.items() if when <= now]
            for rel in due:
                del self._rescans[rel]
        for rel in due:
            self.submit(SCAN_DIR, rel)

    def _check_settling(self) -> None:
        now = time.monotonic()
        settle = float(self.settings["settle_seconds"])
        ready = []
        with self._cond:
            items = list(self._settling.items())
        for rel, (size, since) in items:
            try:
                current = os.stat(self.pool_root / rel.lstrip("/")).st_size
            except OSError:
                current = -2
            with self._cond:
                if rel not in self._settling:
                    continue
                if current != size:
                    self._settling[rel] = (current, now)
                elif now - since >= settle:
                    ready.append((rel, current))
        for rel, size in ready:
            self.submit(FILE, rel, max(size, 0))

    def _housekeeping(self, initial_reconcile: bool) -> None:
        every = float(self.settings["reconcile_minutes"]) * 60
        next_scan = time.monotonic() if initial_reconcile else time.monotonic() + every
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_scan:
                    self.reconcile()
                    next_scan = time.monotonic() + every
                self._check_settling()
                self._check_rescans()
                self._check_uploaders()
                self._check_labels()
                self._check_manifests()
                self._supervisor.check()
                self._flush_previews()
            except (CatalogError, OSError, sqlite3.Error) as exc:
                self.errors += 1
                log.error("indexer housekeeping: %s", exc)
            except Exception:  # housekeeping (and so the workers' supervision) goes on
                self.errors += 1
                log.exception("indexer housekeeping failed unexpectedly")
            self._stop.wait(0.25)

    def _publishing(self) -> None:
        """Publish the feed a moment after changes (its own thread: snapshots take time)."""
        assert self.feed is not None
        while not self._stop.wait(0.25):
            self._supervisor.check()  # housekeeping supervises too: each watches the other
            try:
                self.feed.publish()
            except CatalogError as exc:
                self.errors += 1
                log.error("feed: %s", exc)
            except Exception:  # the next round tries again
                self.errors += 1
                log.exception("feed: publishing failed unexpectedly")

    # -- life cycle --------------------------------------------------------------------

    def _start_workers(self) -> None:
        for i in range(max(2, int(self.settings["index_workers"]))):
            fast_lane_only = i == 0
            self._supervisor.start(
                f"catalog-worker-{i}", functools.partial(self._worker, fast_lane_only)
            )

    def _start_housekeeping(self, initial_reconcile: bool) -> None:
        self._supervisor.start(
            "catalog-housekeeping", lambda: self._housekeeping(initial_reconcile)
        )

    def start(self, *, initial_reconcile: bool = True) -> None:
        """Watch the pool and index in the background; returns at once."""
        self.pool_root.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(EventHandler(self), str(self.pool_root), recursive=True)
        observer.start()
        self._observer = observer
        self._start_workers()
        self._start_housekeeping(initial_reconcile)
        if self.feed is not None:
            self._supervisor.start("catalog-feed", self._publishing)

    def stop(self) -> None:
        """Stop the observer and every thread, wait for them, close the database."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        self._supervisor.join()
        with self.lock:
            self.db.conn.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def threads_restarted(self) -> int:
        """Threads found dead and started again (see catalog.supervise)."""
        return self._supervisor.restarts

    def run_once(self, timeout: float | None = None) -> dict[str, int]:
        """One reconciliation pass, done to the end, the feed published; then stop."""
        try:
            self._start_workers()
            self._start_housekeeping(initial_reconcile=False)  # files still being written
            stats = self.reconcile()
            self.wait_idle(timeout if timeout is not None else 10**9)
            self._flush_previews()
            self._check_labels()
            self._check_manifests()
            if self.feed is not None:
                self.feed.publish()
            stats["processed"] = self.processed
            stats["errors"] = self.errors
            return stats
        finally:
            self.stop()

    def run_forever(self) -> None:
        """Index until SIGINT/SIGTERM (main thread only), then stop cleanly."""
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: self._stop.set())
        try:
            self.start()
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m catalog.indexer", description="Index a pool into its catalog."
    )
    parser.add_argument("pool_root", type=Path)
    parser.add_argument("db_path", type=Path)
    parser.add_argument("--once", action="store_true", help="one reconciliation pass, then exit")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--signing-keys",
        type=Path,
        default=None,
        help="the pool's signing key folder (<data>/keys/signing); without it nothing is signed",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = {"index_workers": args.workers} if args.workers else {}
    try:
        indexer = Indexer(args.pool_root, args.db_path, settings, signing_dir=args.signing_keys)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.once:
        print(indexer.run_once())
    else:
        with contextlib.suppress(KeyboardInterrupt):
            indexer.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
