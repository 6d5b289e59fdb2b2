"""The live session list's writer thread (pool_server/core/live.py) comes and goes with
the sessions; each one leaves nothing open behind it."""

from __future__ import annotations

import ftplib
import os
import threading
import time

from pool_server.core.live import LiveSessions
from pool_server.store import Store

from .helpers import ftp_login, wait_for


def _db_descriptors(pid: int) -> int:
    """Descriptors the process holds on pool.db and its WAL (one pair per connection)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        count += os.path.basename(target) in ("pool.db", "pool.db-wal")
    return count


def _threads(pid: int) -> set[str]:
    return set(os.listdir(f"/proc/{pid}/task"))


def test_each_writer_thread_closes_its_database_connection(data, ftp_server):
    pid = ftp_server.pid
    with ftp_login(ftp_server.ftp_port, "news") as ftp:  # the password checks' worker
        ftp.voidcmd("NOOP")
    idle = _threads(pid)  # the first session's writer may still be among them
    baseline: int | None = None
    for _ in range(6):
        with ftp_login(ftp_server.ftp_port, "news") as ftp:  # a writer starts...
            assert ftp.nlst("/TRT") is not None
        # ... and ends once the session's row is gone (no session left to watch).
        wait_for(lambda: not _threads(pid) - idle, what="the writer thread to end")
        if baseline is None:
            baseline = _db_descriptors(pid)
    # No more than after the first: each writer used to leave its connection behind
    # (five more pairs by now). The server's periodic services (housekeeping, the alert
    # outbox) open pool.db for a moment too: wait out such a one, never a leak.
    assert baseline is not None
    wait_for(
        lambda: _db_descriptors(pid) <= baseline,
        timeout=15,
        what=f"at most {baseline} descriptors on pool.db (a leak never goes back)",
    )


def _rows_of(live: LiveSessions, user: str) -> list[dict]:
    return [r for r in live.list() if r["user"] == user]


def test_an_end_request_is_served_while_other_sessions_keep_coming(data, ftp_server):
    """The writer looks for end requests every second even when the changes it applies
    never stop (it used to look only after a second without any: on a busy server a
    session the console asked to end was never ended)."""
    live = LiveSessions(Store(data / "pool.db"))  # the console's side, as another process
    stop = threading.Event()
    churned = 0

    def churn() -> None:  # logins and logouts of another user: a change every few ms
        nonlocal churned
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            with ftp_login(ftp_server.ftp_port, "trt-up") as ftp:
                ftp.voidcmd("NOOP")
            churned += 1

    with ftp_login(ftp_server.ftp_port, "news") as victim:
        wait_for(lambda: _rows_of(live, "news"), what="the session's row")
        sid = _rows_of(live, "news")[0]["id"]
        worker = threading.Thread(target=churn)
        worker.start()
        try:
            wait_for(lambda: churned >= 5, what="other sessions coming and going")
            assert live.end(sid)
            asked = time.monotonic()

            def ended() -> bool:
                try:
                    victim.voidcmd("NOOP")
                except (OSError, EOFError, ftplib.Error):
                    return True
                return False

            wait_for(ended, timeout=8, what="the session to be ended under load")
            took = time.monotonic() - asked
            assert worker.is_alive(), "the other sessions stopped coming: nothing was shown"
            assert churned / max(took, 0.1) > 1, "fewer than one change a second"
        finally:
            stop.set()
            worker.join(30)
    wait_for(lambda: not _rows_of(live, "news"), what="the ended session's row to go")


def test_changes_queued_together_all_reach_the_list(data, ftp_server):
    """Logins and logouts from many threads at once (applied in batches, one transaction
    each): the list ends up with exactly the sessions still connected."""
    live = LiveSessions(Store(data / "pool.db"))
    errors: list[BaseException] = []

    def come_and_go() -> None:
        try:
            for _ in range(8):
                with ftp_login(ftp_server.ftp_port, "trt-up") as ftp:
                    ftp.voidcmd("NOOP")
        except BaseException as exc:  # reported below
            errors.append(exc)

    with ftp_login(ftp_server.ftp_port, "news") as a, ftp_login(ftp_server.ftp_port, "news") as b:
        threads = [threading.Thread(target=come_and_go) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors and not any(t.is_alive() for t in threads)
        wait_for(lambda: not _rows_of(live, "trt-up"), what="48 logouts to reach the list")
        assert len(_rows_of(live, "news")) == 2
        a.voidcmd("NOOP")
        b.voidcmd("NOOP")
    wait_for(lambda: not live.list(), what="the last two logouts to reach the list")
