"""Downloads over FTP: sent by a thread per transfer (`data_threads`; by sendfile() or
through a buffer, `use_sendfile`), taken back by the event loop when done, stopped by
ABOR, a vanished client or a server shutdown — and the event loop's own sender when
`data_threads` is off."""

from __future__ import annotations

import ftplib
import io
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import ftp_login, password, run_cli, set_setting, wait_for

BIG = 64 << 20  # far more than loopback's socket buffers hold


def _threads(pid: int) -> set[str]:
    """The ids of the process's threads (counting them is not enough: the live session
    list's writer thread comes and goes with the sessions)."""
    return set(os.listdir(f"/proc/{pid}/task"))


def _downloads(data: Path, count: int) -> list[dict]:
    rows: list[dict] = []

    def enough() -> bool:
        nonlocal rows
        rows = json.loads(run_cli(data, "audit", "--action", "download", "--json").output)
        return len(rows) >= count

    wait_for(enough, what=f"{count} download rows in the audit")
    return rows


def _put(data: Path, name: str, body: bytes) -> None:
    (data / "pool" / "TRT" / name).write_bytes(body)


@pytest.mark.parametrize("sendfile", ["true", "false"])
def test_a_download_is_byte_identical_from_any_offset(data, server_factory, sendfile):
    set_setting(data, "ftp", "use_sendfile", sendfile)
    body = os.urandom(BIG + 12345)
    _put(data, "long.mxf", body)
    srv = server_factory(sftp=False)
    with ftp_login(srv.ftp_port, "news") as ftp:
        for rest in (None, 1, BIG - 1, len(body)):
            got = io.BytesIO()
            ftp.retrbinary("RETR /TRT/long.mxf", got.write, rest=rest)
            assert got.getvalue() == body[rest or 0 :]


def test_abor_stops_a_download_and_the_session_goes_on(data, ftp_server):
    _put(data, "long.mxf", os.urandom(BIG))
    _put(data, "clip.mp4", b"clip" * 1000)
    with ftp_login(ftp_server.ftp_port, "news") as ftp:
        conn = ftp.transfercmd("RETR /TRT/long.mxf")
        got = len(conn.recv(65536))
        ftp.sock.sendall(b"ABOR\r\n")
        assert ftp.getline().startswith("426 ")
        assert ftp.getline().startswith("226 ")
        conn.settimeout(10)
        try:
            while chunk := conn.recv(1 << 20):
                got += len(chunk)
        except ConnectionResetError:
            pass  # the server cut the connection with data still unread
        conn.close()
        assert 0 < got < BIG
        clip = io.BytesIO()
        ftp.retrbinary("RETR /TRT/clip.mp4", clip.write)
        assert clip.getvalue() == b"clip" * 1000
    # The aborted download is recorded once its sender has stopped, with what it sent
    # (at least what the client got): maybe after the next one.
    rows = {r["path"]: r for r in _downloads(data, 2)}
    assert {path: r["status"] for path, r in rows.items()} == {
        "/TRT/long.mxf": "partial",
        "/TRT/clip.mp4": "complete",
    }
    assert got <= rows["/TRT/long.mxf"]["bytes"] < BIG


def test_a_killed_downloader_ends_its_sender_and_nothing_else(data, ftp_server, tmp_path):
    _put(data, "long.mxf", os.urandom(BIG))
    with ftp_login(ftp_server.ftp_port, "news") as ftp:  # the password checks' worker
        ftp.nlst("/TRT")
    before = _threads(ftp_server.pid)
    out = tmp_path / "part"
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login news password {password('news')}\n")
    curl = subprocess.Popen(
        [
            "curl",
            "-s",
            "--netrc-file",
            str(netrc),
            "--limit-rate",
            "2M",
            "-o",
            str(out),
            f"ftp://127.0.0.1:{ftp_server.ftp_port}/TRT/long.mxf",
        ]
    )
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 0, what="curl receiving")
        assert _threads(ftp_server.pid) - before  # the sender (among others, maybe)
        with ftp_login(ftp_server.ftp_port, "trt-up") as other:  # the loop is free
            assert "long.mxf" in other.nlst("/TRT")
    finally:
        curl.send_signal(signal.SIGKILL)
        curl.wait(10)
    # Every thread started since (the sender, the live list's writer) ends: none is left
    # behind by the killed client.
    wait_for(lambda: not _threads(ftp_server.pid) - before, what="the sender thread to end")
    rows = _downloads(data, 1)
    assert rows[0]["status"] == "partial" and 0 < rows[0]["bytes"] < BIG
    with ftp_login(ftp_server.ftp_port, "news") as ftp:
        assert ftp.size("/TRT/long.mxf") == BIG


def test_shutdown_cuts_stalled_downloads_and_exits_cleanly(data, server_factory):
    _put(data, "long.mxf", os.urandom(BIG))
    srv = server_factory(sftp=False)
    stuck = []
    for _ in range(3):
        ftp = ftp_login(srv.ftp_port, "news")
        conn = ftp.transfercmd("RETR /TRT/long.mxf")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.recv(1000)  # ... and never again
        stuck.append((ftp, conn))
    started = time.monotonic()
    assert srv.stop(signal.SIGTERM, timeout=15) == 0
    assert time.monotonic() - started < 10
    assert not (data / "serve.json").exists()
    for ftp, conn in stuck:
        conn.settimeout(10)
        try:
            while conn.recv(1 << 20):
                pass  # the end comes: the server is gone
        except ConnectionResetError:
            pass
        conn.close()
        ftp.close()


def test_the_event_loop_sends_when_data_threads_is_off(data, server_factory):
    set_setting(data, "ftp", "data_threads", "false")
    body = os.urandom(BIG // 4 + 7)
    _put(data, "long.mxf", body)
    srv = server_factory(sftp=False)
    with ftp_login(srv.ftp_port, "news") as ftp:
        before = _threads(srv.pid)  # with the password checks' worker
        got = io.BytesIO()
        ftp.retrbinary("RETR /TRT/long.mxf", got.write, rest=5)
        assert got.getvalue() == body[5:]
        conn = ftp.transfercmd("RETR /TRT/long.mxf")
        conn.recv(1000)
        assert _threads(srv.pid) == before  # no sender thread
        conn.close()
        try:
            ftp.voidresp()
        except ftplib.error_temp as err:
            assert str(err).startswith("426")
    rows = _downloads(data, 2)
    assert [r["status"] for r in rows] == ["complete", "partial"]
