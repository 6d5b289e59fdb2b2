"""The live session list's writer thread (pool_server/core/live.py) comes and goes with
the sessions; each one leaves nothing open behind it."""

from __future__ import annotations

import os

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
    # No more than after the first: each writer used to leave its connection behind.
    assert baseline is not None and _db_descriptors(pid) <= baseline
