"""The FTP event loop never does slow work for one session while the others wait."""

from __future__ import annotations

import select
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import ServerProcess, copy_template, ftp_login, start_server


@pytest.fixture
def copying_server(template_data: Path) -> Iterator[ServerProcess]:
    """A server whose data folder is on tmpfs, where seeding a resume is a real copy. On
    a filesystem with reflinks (XFS, btrfs) the seed is a clone (FICLONE): instant, so
    there is no copy for the NOOP to overtake, and the STOR was answered first in 3 of 6
    runs on XFS (the test then blamed the event loop)."""
    where = Path(tempfile.mkdtemp(prefix="ortak-seed-", dir="/dev/shm"))
    srv = start_server(copy_template(template_data, where / "data"), sftp=False)
    try:
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(where)


def test_seeding_a_resume_onto_a_big_file_leaves_the_event_loop_free(copying_server):
    """`REST 1` + `STOR` onto one's own complete file continues from a copy of it. The
    copy is made on a worker thread: another session's NOOP is answered while it runs
    (before, every session waited for it: 16 s for an 8 GiB file)."""
    srv = copying_server
    big = srv.data / "pool" / "TRT" / "big.mxf"
    with open(big, "wb") as fh:
        fh.truncate(256 << 20)  # the copy writes all of it out
    with ftp_login(srv.ftp_port, "trt-up") as up, ftp_login(srv.ftp_port, "news") as other:
        assert up.sendcmd("REST 1").startswith("350")
        host, port = up.makepasv()
        up.putcmd("STOR /TRT/big.mxf")
        other.putcmd("NOOP")
        assert other.getresp().startswith("200")
        answered = select.select([up.sock], [], [], 0)[0]
        assert not answered, "the STOR was answered before the NOOP: the copy ran on the loop"
        with socket.create_connection((host, port), timeout=30) as conn:
            assert up.getresp().startswith(("125", "150"))
            conn.sendall(b"x")
        assert up.voidresp().startswith("226")
    assert big.stat().st_size == 2
    assert big.read_bytes() == b"\0x"
