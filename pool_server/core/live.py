"""Sessions connected now, on every door of every serve process, and ending one.

Each connection-based door (FTP/FTPS, SFTP) registers its logged-in session here with a
way to close it; the rows live in pool.db, so the console of any process lists them all
and can ask for one to end. Each serve process polls for the requests that concern its
own connections (`poll`, about once a second) and closes them; rows left by a process
that died are dropped when seen.

Doors call `open`, `close` and `transfer` from their event loops: those only queue the
change for one writer thread, which also polls, so no door ever waits on the database.
The writer applies what has queued up in one transaction (one commit, however many
sessions came and went meanwhile) and polls once a second even while changes keep coming.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from catalog.supervise import pid_alive

if TYPE_CHECKING:
    from ..store import Store
    from .session import Session

log = logging.getLogger("ortak.live")
POLL_SECONDS = 1.0
COMPLAIN_EVERY = 60.0  # seconds between log lines about a database that refuses writes
MAX_BATCH = 1000
"""Most queued changes applied in one transaction."""


class LiveSessions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._closers: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._changes: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None  # the writer taking changes now
        self._started: threading.Thread | None = None  # the last one (may be finishing)
        self._complained = -COMPLAIN_EVERY

    def _queue(self, sql: str, *args: Any) -> None:
        with self._lock:
            self._changes.put((sql, args))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="live", daemon=True)
                self._started = self._writer
                self._writer.start()

    def stop(self) -> None:
        """Apply what is queued and end the writer thread (the pool is closing)."""
        with self._lock:
            if self._writer is not None:
                self._changes.put(("", ("stop",)))
            # A writer that found nothing to do has left `_writer` but may still be
            # releasing its connection: join it all the same.
            last = self._started
        if last is not None:
            last.join(10)

    def _write(self) -> None:
        """The writer thread: applies queued changes in order and polls in between, for
        as long as this process has sessions to watch or changes to make. Its database
        connection goes with it (a writer starts again with the next session)."""
        try:
            self._write_until_idle()
        finally:
            self.store.release()

    def _write_until_idle(self) -> None:
        next_poll = time.monotonic() + POLL_SECONDS
        while True:
            with self._lock:
                if self._changes.empty() and not self._closers:
                    self._writer = None
                    return
            batch, stop = self._take(max(0.0, next_poll - time.monotonic()))
            if batch:
                self._guarded(self._apply, batch)
            # End requests are polled on time even while changes keep arriving (a busy
            # server would otherwise never look, and never end the session asked for).
            if not stop and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
                self._guarded(self.poll)
            if stop:
                with self._lock:
                    self._writer = None
                return

    def _take(self, timeout: float) -> tuple[list[tuple[str, tuple[Any, ...]]], bool]:
        """The changes queued now (waiting up to `timeout` for the first), at most
        `MAX_BATCH`, and whether `stop` was asked for after them."""
        batch: list[tuple[str, tuple[Any, ...]]] = []
        try:
            change = self._changes.get(timeout=timeout) if timeout > 0 else None
            if change is None:
                change = self._changes.get_nowait()
            while True:
                if change[1] == ("stop",):
                    return batch, True
                batch.append(change)
                if len(batch) >= MAX_BATCH:
                    return batch, False
                change = self._changes.get_nowait()
        except queue.Empty:
            return batch, False

    def _apply(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Apply `batch` in one transaction: one commit for all the logins, logouts and
        transfers queued since the last (each its own commit took the database's write
        lock from the doors' audit writes once per change). Should the transaction
        fail, each change is tried on its own, so one bad change loses no other."""
        db = self.store.db
        if len(batch) > 1:
            try:
                with db.conn:  # BEGIN ... COMMIT, or ROLLBACK on an error
                    db.conn.execute("BEGIN IMMEDIATE")
                    for sql, args in batch:
                        db.conn.execute(sql, list(args))
                return
            except sqlite3.Error:
                pass  # the changes one by one below; the last error is reported
        for sql, args in batch:
            self._guarded(db.execute, sql, list(args))

    def _guarded(self, work: Callable[..., Any], *args: Any) -> None:
        try:
            work(*args)
        except sqlite3.Error as exc:  # a full disk, a locked database: no traceback
            now = time.monotonic()
            if now - self._complained >= COMPLAIN_EVERY:
                self._complained = now
                log.warning("the live session list cannot be updated: %s", exc)
        except Exception:  # the list is advisory: never take a door down for it
            log.exception("updating the live session list failed")

    def create_schema(self) -> None:
        self.store.db["live_sessions"].create(
            {
                "id": str,
                "user": str,
                "member": str,
                "ip": str,
                "protocol": str,
                "started": str,
                "host": str,
                "pid": int,
                "transfer": str,
                "end_requested": int,
            },
            pk="id",
            if_not_exists=True,
            defaults={"end_requested": 0},
        )

    def open(self, session: Session, closer: Callable[[], None]) -> str:
        sid = secrets.token_hex(8)
        with self._lock:
            self._closers[sid] = closer
        self._queue(
            "INSERT INTO live_sessions (id, user, member, ip, protocol, started, host, pid)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            sid,
            session.user.name,
            session.user.member,
            session.ip,
            session.protocol,
            datetime.now(UTC).isoformat(timespec="seconds"),
            self.host,
            self.pid,
        )
        return sid

    def close(self, sid: str) -> None:
        with self._lock:
            self._closers.pop(sid, None)
        self._queue("DELETE FROM live_sessions WHERE id = ?", sid)

    def transfer(self, sid: str, what: str | None) -> None:
        self._queue("UPDATE live_sessions SET transfer = ? WHERE id = ?", what, sid)

    def list(self) -> list[dict[str, Any]]:
        self.forget_dead()
        return list(self.store.db["live_sessions"].rows_where(order_by="started"))

    def end(self, sid: str) -> bool:
        """Ask for a session to be ended (by the process serving it, within a second)."""
        cur = self.store.db.execute(
            "UPDATE live_sessions SET end_requested = 1 WHERE id = ?", [sid]
        )
        return cur.rowcount == 1

    def poll(self) -> int:
        """End this process's sessions that an operator asked to end; returns how many."""
        rows = self.store.db.execute(
            "SELECT id FROM live_sessions WHERE host = ? AND pid = ? AND end_requested = 1",
            [self.host, self.pid],
        ).fetchall()
        for (sid,) in rows:
            with self._lock:
                closer = self._closers.pop(sid, None)
            self.store.db.execute("DELETE FROM live_sessions WHERE id = ?", [sid])
            if closer is not None:
                try:
                    closer()
                except OSError:
                    pass  # already gone
        return len(rows)

    def forget_dead(self) -> None:
        """Drop the rows of processes on this host that no longer run."""
        rows = self.store.db.execute(
            "SELECT DISTINCT pid FROM live_sessions WHERE host = ?", [self.host]
        ).fetchall()
        for (pid,) in rows:
            if pid != self.pid and not pid_alive(int(pid)):
                self.store.db.execute(
                    "DELETE FROM live_sessions WHERE host = ? AND pid = ?", [self.host, pid]
                )
