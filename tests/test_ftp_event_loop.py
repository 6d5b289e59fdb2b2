"""The FTP event loop never does slow work for one session while the others wait."""

from __future__ import annotations

import select
import socket

from .helpers import ftp_login


def test_seeding_a_resume_onto_a_big_file_leaves_the_event_loop_free(data, server_factory):
    """`REST 1` + `STOR` onto one's own complete file continues from a copy of it. The
    copy is made on a worker thread: another session's NOOP is answered while it runs
    (before, every session waited for it: 16 s for an 8 GiB file)."""
    srv = server_factory(sftp=False)
    big = data / "pool" / "TRT" / "big.mxf"
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
