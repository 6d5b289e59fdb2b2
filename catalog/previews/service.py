"""The preview service: worker threads taking jobs from the queue, and what a job does
to the catalog. Run by `pool-server serve` and `pool-server index` beside the indexer.

Threads: `workers` main-lane threads (express jobs first, then the rest) and one
express thread (express jobs only). While an express job runs, main-lane transcodes
are paused (SIGSTOP), so at most `workers` ffmpegs use the CPU and a 40-second news
item never waits for a 2-hour documentary.

Crash safety: the item's `preview` record in pool.db says what is wanted ("pending"
for a given essence sha256). At start, running-job leases of dead processes are
dropped, hidden work folders are swept and every pending item not already queued is
queued again; so a SIGKILL of the server or of ffmpeg loses nothing and publishes
nothing half-written (files reach their published names only by rename).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

from huey.api import Task
from huey.exceptions import RetryTask

from ..credentials import DELIVERY_EXT, ContentCredentials, CredentialsError, delivery_path
from ..errors import CatalogError, PreviewError, PreviewInterrupted
from ..items import new_preview, role_by_extension
from ..schema import open_catalog
from ..store import PreviewChanges, get_item_row, now_iso, set_preview, transaction
from ..supervise import pid_alive
from . import job, plan, status
from .plan import PROXY_NAME
from .queue import PreviewQueue, lane_of
from .runner import Gate
from .settings import DEFAULTS
from .tools import Tools, find_tools

log = logging.getLogger("catalog.previews")

IDLE_WAIT = 0.5
"""Seconds a worker waits for a job before asking the queue again (jobs queued by
another process, e.g. `pool-server previews retry`, are seen within this)."""


def settings_with_defaults(settings: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS, **(settings or {})}


class PreviewService:
    """Makes and publishes previews for the catalog in `db_path` of the pool at
    `pool_root`; the queue lives in `data_dir` (or the configured broker)."""

    def __init__(
        self,
        pool_root: Path,
        db_path: Path,
        data_dir: Path,
        settings: dict[str, Any] | None = None,
        credentials: ContentCredentials | None = None,
    ) -> None:
        self.pool_root = Path(pool_root).absolute()
        self.credentials = credentials
        """C2PA Content Credentials for proxies and MP4/MOV deliveries, when configured."""
        self.settings = settings_with_defaults(settings)
        self.job_settings = job.JobSettings(
            plan.Options.from_settings(self.settings),
            nice=max(0, min(19, int(self.settings["nice"]))),
            timeout_factor=float(self.settings["timeout_factor"]),
        )
        self.express_max = float(self.settings["express_max_seconds"])
        self.tools: Tools = find_tools(str(self.settings["ffmpeg"]))
        self.db = open_catalog(db_path)
        self.lock = threading.Lock()
        self.queue = PreviewQueue(Path(data_dir), str(self.settings["broker"]), self._task)
        self.gate = Gate(share=float(self.settings["transfer_share"]))
        """Pauses long jobs while express work runs and, in part, while files move:
        `pool-server serve` tells it of its transfers (`gate.transfers`)."""
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.done = 0
        self.failed = 0

    # -- what the indexer tells us -----------------------------------------------------

    def changed(self, changes: PreviewChanges) -> None:
        """Committed catalog changes: queue a job per item to (re)build, remove the
        previews of items gone."""
        for op, item_id in changes:
            if op == "drop":
                if job.remove(self.pool_root, item_id):
                    log.info("previews of %s removed", item_id)
            else:
                self.enqueue(item_id)

    def enqueue(self, item_id: str) -> str | None:
        with self.lock:
            row = get_item_row(self.db, item_id=item_id)
        if row is None:
            return None
        lane = self.queue.enqueue(item_id, row, self.express_max)
        self._wake.set()
        return lane

    # -- start-up recovery -------------------------------------------------------------

    def recover(self) -> int:
        """Drop leases of dead jobs, sweep work folders, queue pending items again (and
        items catalogued before previews existed)."""
        with self.lock:
            status.request(self.db, status.never_made_ids(self.db), force=False)
        with self.lock, transaction(self.db):
            for item_id, host, pid in self.db.execute(
                "SELECT item_id, host, pid FROM preview_jobs"
            ).fetchall():
                if host == self.host and (pid == os.getpid() or not pid_alive(int(pid or 0))):
                    self.db.execute("DELETE FROM preview_jobs WHERE item_id = ?", [item_id])
            running = {r[0] for r in self.db.execute("SELECT item_id FROM preview_jobs")}
            pending = [
                r[0]
                for r in self.db.execute(
                    "SELECT id FROM items WHERE json_extract(preview, '$.state') = 'pending'"
                    " ORDER BY rid"
                ).fetchall()
            ]
        job.sweep_work_folders(self.pool_root)
        self._sweep_orphans()
        queued = {i for ids in self.queue.queued_ids().values() for i in ids}
        again = [i for i in pending if i not in queued and i not in running]
        for item_id in again:
            self.enqueue(item_id)
        if again:
            log.info("queued %d pending preview job(s) again", len(again))
        return len(again)

    def _sweep_orphans(self) -> None:
        """Remove the previews of items no longer in the catalog (gone while no
        preview service ran)."""
        root = job.previews_root(self.pool_root)
        if not root.is_dir():
            return
        with self.lock:
            known = {r[0] for r in self.db.execute("SELECT id FROM items").fetchall()}
        for entry in root.iterdir():
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in known:
                shutil.rmtree(entry, ignore_errors=True)
                log.info("previews of %s removed (the item is gone)", entry.name)

    # -- the job -----------------------------------------------------------------------

    def _lease(self, item_id: str, sha: str | None) -> bool:
        with self.lock, transaction(self.db):
            if self.db.execute(
                "SELECT 1 FROM preview_jobs WHERE item_id = ?", [item_id]
            ).fetchone():
                return False
            self.db.execute(
                "INSERT INTO preview_jobs (item_id, sha256, host, pid, started)"
                " VALUES (?, ?, ?, ?, ?)",
                [item_id, sha, self.host, os.getpid(), now_iso()],
            )
        return True

    def _release(self, item_id: str) -> None:
        with self.lock, transaction(self.db):
            self.db.execute("DELETE FROM preview_jobs WHERE item_id = ?", [item_id])

    def _record(
        self,
        item_id: str,
        preview: dict[str, Any],
        sha: str | None,
        work: Path | None = None,
    ) -> None:
        """Set the item's preview state; the job's `work` folder goes first, so that whoever
        sees `ready` or `failed` finds nothing of the job left behind."""
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        with self.lock, transaction(self.db):
            set_preview(self.db, item_id, preview, source_sha256=sha)

    def _published(self, item_id: str) -> dict[str, int]:
        folder = job.item_folder(self.pool_root, item_id)
        files = {}
        for name in sorted(plan.ALL_FILES):
            try:
                files[name] = (folder / name).stat().st_size
            except FileNotFoundError:
                continue
        return files

    def _credentials(
        self, item: dict[str, Any], source: Path, work: Path, names: list[str]
    ) -> Path | None:
        """Put Content Credentials on the proxy (in place, in `work`) and make the MP4/MOV
        delivery copy; returns that copy (in `work`), if any. The original is only read.
        A failure is logged and leaves the previews as they are."""
        if self.credentials is None:
            return None
        try:
            if PROXY_NAME in names:
                proxy = work / PROXY_NAME
                self.credentials.embed(proxy, proxy, item, source, "proxy")
            if source.suffix.lower() in DELIVERY_EXT:
                copy = work / f"delivery{source.suffix.lower()}"
                self.credentials.embed(source, copy, item, source, "delivery")
                return copy
        except CredentialsError as exc:
            log.error("Content Credentials for %s: %s", item.get("id"), exc)
        return None

    def _task(self, item_id: str, task: Task) -> None:
        """What one queued job does (huey calls it; it retries PreviewInterrupted)."""
        with self.lock:
            row = get_item_row(self.db, item_id=item_id)
        if row is None:
            job.remove(self.pool_root, item_id)
            return
        preview = row.get("preview") or {}
        state, sha = preview.get("state"), preview.get("source_sha256")
        if state == "none":
            if preview.get("files") and job.remove(self.pool_root, item_id):
                self._record(item_id, new_preview("none", None), None)
            return
        if state != "pending":
            return  # done already (a job queued twice)
        if not self._lease(item_id, sha):
            return  # running elsewhere
        work: Path | None = None
        try:
            source = self.pool_root / str(row["path"]).lstrip("/")
            if role_by_extension(source.name) != "essence" or not source.is_file():
                raise PreviewError(f"no essence file at {row['path']}")
            work = job.work_folder(self.pool_root, item_id)
            lane_express = self._is_express(row)
            hold = self.gate.express() if lane_express else contextlib.nullcontext()
            with hold:
                names = job.make(
                    self.tools,
                    source,
                    work,
                    self.job_settings,
                    self._stop,
                    gate=None if lane_express else self.gate,
                )
            with self.lock:
                current = get_item_row(self.db, item_id=item_id)
            if current is None or (current.get("preview") or {}).get("source_sha256") != sha:
                return  # changed meanwhile: its own job follows
            delivery = self._credentials(current, source, work, names)
            files = job.publish(work, job.item_folder(self.pool_root, item_id), names)
            if delivery is not None:
                target = delivery_path(self.pool_root, item_id, source.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(delivery, target)
            self.done += 1  # counted before it is told, like a failure
            self._record(item_id, new_preview("ready", sha, files=files), sha, work)
            log.info("previews of %s ready (%s)", item_id, ", ".join(sorted(files)))
        except PreviewError as exc:
            self.failed += 1
            log.warning("previews of %s failed: %s", item_id, exc)
            self._record(
                item_id,
                new_preview("failed", sha, files=self._published(item_id), error=str(exc)),
                sha,
                work,
            )
        except PreviewInterrupted as exc:
            if self._stop.is_set():
                return  # still pending in pool.db: queued again at the next start
            if task.retries > 0:
                raise RetryTask(delay=1) from exc
            self._record(
                item_id,
                new_preview("failed", sha, files=self._published(item_id), error=str(exc)),
                sha,
                work,
            )
        except Exception as exc:  # a bug or a disk error: say so on the item, never hang
            self.failed += 1
            log.exception("previews of %s: unexpected error", item_id)
            error = f"unexpected error: {type(exc).__name__}: {exc}"
            self._record(
                item_id,
                new_preview("failed", sha, files=self._published(item_id), error=error),
                sha,
                work,
            )
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
            self._release(item_id)

    def _is_express(self, row: dict[str, Any]) -> bool:
        return lane_of(row, self.express_max) == "express"

    # -- threads -----------------------------------------------------------------------

    def _take(self, lanes: tuple[str, ...]) -> tuple[str, Task] | None:
        self.queue.promote_due()
        for lane in lanes:
            task = self.queue.dequeue(lane)
            if task is not None:
                return lane, task
        return None

    def _worker(self, lanes: tuple[str, ...]) -> None:
        while not self._stop.is_set():
            try:
                taken = self._take(lanes)
                if taken is None:
                    self._wake.wait(IDLE_WAIT)
                    self._wake.clear()
                    continue
                self.queue.execute(*taken)  # huey runs it, retries it, logs it
            except (CatalogError, OSError, sqlite3.Error) as exc:
                log.error("preview queue: %s", exc)
                self._stop.wait(IDLE_WAIT)
            except Exception:  # one bad job never ends the worker
                log.exception("preview worker")

    def start(self) -> None:
        self.recover()
        workers = max(1, int(self.settings["workers"]))
        for i in range(workers):
            self._spawn(f"preview-worker-{i}", ("express", "main"))
        self._spawn("preview-express", ("express",))

    def _spawn(self, name: str, lanes: tuple[str, ...]) -> None:
        t = threading.Thread(target=self._worker, args=(lanes,), name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join()
        self._threads.clear()
        self.queue.close()
        with self.lock:
            self.db.conn.close()
