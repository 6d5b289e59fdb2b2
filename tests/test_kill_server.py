"""SIGKILL the server while 20 uploads and 20 downloads run over FTP and SFTP, restart
it, and lose nothing: no partial visible or catalogued, every upload resumes to a
byte-identical file, every download resumes and verifies, pool.db is intact and the
catalog equals the disk after the reconciliation pass."""

from __future__ import annotations

import ftplib
import hashlib
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import paramiko

from .catalog.checks import catalog_problems, disk_state
from .helpers import ftp_login, password, payload, set_setting, wait_for

UP_SIZE, DOWN_SIZE, CHUNK = 2 << 20, 6 << 20, 32 << 10
EACH = 10  # per protocol and direction
PACE = 0.05  # seconds between chunks: an upload takes >3 s, the kill comes after ~1 s


def sftp_client(port: int, user: str) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.connect(username=user, password=password(user))
    return transport, paramiko.SFTPClient.from_transport(transport)


class Transfer(threading.Thread):
    """One slow transfer that runs until the server dies under it."""

    halt = threading.Event()  # set once the server is dead: stop pacing through buffers

    def __init__(self, run: Callable[[Transfer], None]) -> None:
        super().__init__(daemon=True)
        self.run_transfer = run
        self.progress = 0
        self.local = bytearray()

    def run(self) -> None:
        try:
            self.run_transfer(self)
        except (OSError, EOFError, ftplib.Error, paramiko.SSHException):
            pass  # the server was killed: expected


def ftp_upload(port: int, path: str, body: bytes) -> Callable[[Transfer], None]:
    def run(t: Transfer) -> None:
        with ftp_login(port, "trt-up") as ftp, ftp.transfercmd(f"STOR {path}") as conn:
            for i in range(0, len(body), CHUNK):
                conn.sendall(body[i : i + CHUNK])
                t.progress += 1
                if t.halt.wait(PACE):
                    return

    return run


def sftp_upload(port: int, path: str, body: bytes) -> Callable[[Transfer], None]:
    def run(t: Transfer) -> None:
        transport, sftp = sftp_client(port, "trt-up")
        try:
            with sftp.open(path, "w") as fh:
                for i in range(0, len(body), CHUNK):
                    fh.write(body[i : i + CHUNK])
                    fh.flush()
                    t.progress += 1
                    if t.halt.wait(PACE):
                        return
        finally:
            transport.close()

    return run


def ftp_download(port: int, path: str) -> Callable[[Transfer], None]:
    def run(t: Transfer) -> None:
        with ftp_login(port, "news") as ftp, ftp.transfercmd(f"RETR {path}") as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
            while chunk := conn.recv(CHUNK):
                t.local += chunk
                t.progress += 1
                if t.halt.wait(PACE):
                    return

    return run


def sftp_download(port: int, path: str) -> Callable[[Transfer], None]:
    def run(t: Transfer) -> None:
        transport, sftp = sftp_client(port, "news")
        try:
            with sftp.open(path, "r") as fh:
                while chunk := fh.read(CHUNK):
                    t.local += chunk
                    t.progress += 1
                    if t.halt.wait(PACE):
                        return
        finally:
            transport.close()

    return run


def test_sigkill_mid_transfers_loses_nothing(data, server_factory):
    root = data / "pool"
    (root / "TRT" / "up").mkdir()
    (root / "TRT" / "dl").mkdir()
    sources = {}
    for i in range(EACH):
        for proto in ("ftp", "sftp"):
            body = payload(DOWN_SIZE, seed=hash((proto, i)) & 0xFFFF)
            (root / "TRT" / "dl" / f"{proto}-{i}.mxf").write_bytes(body)
            sources[f"/TRT/dl/{proto}-{i}.mxf"] = body
    uploads = {
        f"/TRT/up/{proto}-{i}.mxf": payload(UP_SIZE, seed=1000 + i + (proto == "sftp"))
        for i in range(EACH)
        for proto in ("ftp", "sftp")
    }

    # All 40 clients come from 127.0.0.1 and log in at once (20 per door): room for them
    # all in the pre-login slots, which this test is not about (tests/test_prelogin.py is).
    set_setting(data, "security", "prelogin_max_per_ip", str(2 * EACH))
    srv = server_factory(sftp=True, indexer=True)
    Transfer.halt = threading.Event()
    transfers: dict[str, Transfer] = {}
    for path, body in uploads.items():
        make = ftp_upload if "/ftp-" in path else sftp_upload
        port = srv.ftp_port if "/ftp-" in path else srv.sftp_port
        transfers["up:" + path] = Transfer(make(port, path, body))
    for path in sources:
        make = ftp_download if "/ftp-" in path else sftp_download
        port = srv.ftp_port if "/ftp-" in path else srv.sftp_port
        transfers["down:" + path] = Transfer(make(port, path))
    for t in transfers.values():
        t.start()
    wait_for(
        lambda: all(t.progress >= 3 for t in transfers.values()),
        timeout=60,
        what="all 40 transfers to be under way",
    )
    srv.kill()
    Transfer.halt.set()
    for t in transfers.values():
        t.join(30)
    assert not any(t.is_alive() for t in transfers.values())
    assert all(len(t.local) < DOWN_SIZE for k, t in transfers.items() if k.startswith("down"))

    # Nothing half-written is visible under a final name.
    assert (
        sorted(
            p.name for p in (root / "TRT" / "up").iterdir() if not p.name.startswith(".ortak-part-")
        )
        == []
    )
    with sqlite3.connect(data / "pool.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    srv2 = server_factory(sftp=True, indexer=True)
    with ftp_login(srv2.ftp_port, "news") as ftp:
        assert ftp.nlst("/TRT/up") == []

    # Every upload resumes where the server's partial ends, to a byte-identical file.
    transport, sftp = sftp_client(srv2.sftp_port, "trt-up")
    with ftp_login(srv2.ftp_port, "trt-up") as ftp:
        for path, body in uploads.items():
            if "/ftp-" in path:
                have = ftp.size(path)
                assert 0 < have < len(body)
                with ftp.transfercmd(f"APPE {path}") as conn:
                    conn.sendall(body[have:])
                ftp.voidresp()
            else:
                # The SFTP door gathers writes in memory (up to 1 MiB) before they reach
                # the partial, so a killed server may have kept less than was sent —
                # even nothing; resuming from what the server has is what matters.
                have = sftp.stat(path).st_size
                assert 0 <= have < len(body)
                with sftp.open(path, "a") as fh:
                    fh.set_pipelined(True)
                    fh.write(body[have:])
    transport.close()
    for path, body in uploads.items():
        assert (root / path.lstrip("/")).read_bytes() == body, path

    # Every download resumes from the bytes it has and verifies.
    transport, sftp = sftp_client(srv2.sftp_port, "news")
    with ftp_login(srv2.ftp_port, "news") as ftp:
        for path, body in sources.items():
            local = transfers["down:" + path].local
            if "/ftp-" in path:
                ftp.retrbinary(f"RETR {path}", local.extend, rest=len(local))
            else:
                with sftp.open(path, "r") as fh:
                    fh.seek(len(local))
                    fh.prefetch()
                    local += fh.read()
            assert hashlib.sha256(local).digest() == hashlib.sha256(body).digest(), path
    transport.close()

    # The catalog equals the disk once the indexer has caught up.
    disk = disk_state(root)
    assert len(disk) == 40
    wait_for(
        lambda: catalog_problems(data / "pool.db", disk) == [],
        timeout=60,
        what="the catalog to equal the disk",
    )
    assert not any(".ortak-part-" in p for p in disk)
    with sqlite3.connect(data / "pool.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert Path(data / "pool.db").is_file()
