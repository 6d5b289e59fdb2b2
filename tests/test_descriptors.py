"""File-descriptor exhaustion, against a server whose RLIMIT_NOFILE is lowered.

Before: one reader opening SFTP channels with thousands of handles used up the process's
descriptors and nobody else could log in; and pyftpdlib closed the FTP listener for
good on the first EMFILE from accept()."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator

import paramiko
import pytest

from .helpers import ServerProcess, ftp_login, password, set_setting, start_server, wait_for
from .test_defender import login


@contextlib.contextmanager
def sftp_transport(port: int, user: str) -> Iterator[paramiko.Transport]:
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        transport.start_client(timeout=20)
        transport.auth_password(user, password(user))
        yield transport
    finally:
        transport.close()


def test_one_reader_cannot_exhaust_descriptors_over_sftp(data):
    folder = data / "pool" / "TRT" / "news"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "story.txt").write_bytes(b"x" * 1000)
    set_setting(data, "sftp", "max_channels", "4")
    set_setting(data, "sftp", "max_open_handles", "16")
    set_setting(data, "sftp", "max_open_handles_per_user", "32")
    srv = start_server(data, sftp=True, nofile=128)
    try:
        assert srv.sftp_port and srv.ftp_port
        held: list[paramiko.SFTPFile] = []
        clients: list[paramiko.SFTPClient] = []
        refused_channels = 0
        with sftp_transport(srv.sftp_port, "news") as attacker:
            for _ in range(12):  # channels asked for
                try:
                    client = paramiko.SFTPClient.from_transport(attacker)
                except (paramiko.SSHException, OSError):
                    refused_channels += 1
                    continue
                assert client is not None
                clients.append(client)
                for _ in range(80):  # handles asked for on this channel
                    try:
                        held.append(client.open("/TRT/news/story.txt", "rb"))
                    except OSError as err:
                        assert "too many open files" in str(err).lower()
                        break
            # Everybody else carries on, on both doors.
            assert login("ftp", srv, "127.0.0.1", "trt-up", password("trt-up"))
            assert login("sftp", srv, "127.0.0.1", "admin", password("admin"))
            with ftp_login(srv.ftp_port, "aztv-up") as ftp:
                assert ftp.size("/TRT/news/story.txt") == 1000
            assert refused_channels == 12 - 4
            assert len(held) == 32  # the user's limit over all the sessions together
            # The limit is the user's: a second connection gets no more...
            with sftp_transport(srv.sftp_port, "news") as second:
                other = paramiko.SFTPClient.from_transport(second)
                assert other is not None
                with pytest.raises(OSError, match=r"(?i)too many open files for news"):
                    other.open("/TRT/news/story.txt", "rb")
                for fh in held[:5]:  # ...until some are closed
                    fh.close()
                with other.open("/TRT/news/story.txt", "rb") as fh:
                    assert fh.read() == b"x" * 1000
        # The attacker's connection is gone: its handles are given back (once its
        # session threads have noticed).
        port = srv.sftp_port
        wait_for(lambda: _opens(port, 16), what="news's handles given back")
    finally:
        srv.stop()


def _opens(port: int, count: int) -> bool:
    """True if a new session of news can hold `count` files open at once."""
    with sftp_transport(port, "news") as transport:
        client = paramiko.SFTPClient.from_transport(transport)
        assert client is not None
        try:
            files = [client.open("/TRT/news/story.txt", "rb") for _ in range(count)]
        except OSError:
            return False
        for fh in files:
            fh.close()
        return True


NOTICED = "cannot accept connections"
"""What the FTP and SFTP listeners log when accept() runs out of descriptors."""
HTTP_HELLO = b"GET /login HTTP/1.1\r\nHost: pool\r\n\r\n"  # kept alive: a descriptor held


def _exhaust(
    port: int, greeting: bytes, srv: ServerProcess, noticed: str, hello: bytes = b""
) -> list[socket.socket]:
    """Connect until the server stops greeting because it is out of descriptors (its log
    says `noticed`); bounded to 300 connections, and to 30 s for each greeting (a slow
    greeting on a loaded machine is not taken for exhaustion)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), 10)
            socks.append(sock)
            sock.sendall(hello)
            sock.settimeout(0.2)
            deadline = time.monotonic() + 30
            while True:
                try:
                    first = sock.recv(64)
                    break
                except TimeoutError:
                    if noticed in srv.log():
                        return socks  # accepted by the kernel, not by the server: exhausted
                    if time.monotonic() > deadline:
                        raise AssertionError("neither a greeting nor EMFILE in 30 s") from None
            assert first.startswith(greeting), first
        raise AssertionError("the server never ran out of descriptors")
    except BaseException:
        for sock in socks:
            sock.close()
        raise


@pytest.mark.parametrize("door", ["ftp", "sftp"])
def test_listener_survives_emfile_and_recovers(data, door):
    set_setting(data, "security", "prelogin_max_connections", "1000")
    set_setting(data, "security", "prelogin_max_per_ip", "1000")
    srv: ServerProcess = start_server(data, sftp=door == "sftp", nofile=64)
    try:
        port = srv.ftp_port if door == "ftp" else srv.sftp_port
        assert port
        socks = _exhaust(port, b"220" if door == "ftp" else b"SSH-", srv, NOTICED)
        try:
            time.sleep(1.5)  # the attack goes on a while: accepts keep failing meanwhile
        finally:
            for sock in socks:
                sock.close()
        # Descriptors are free again: the same listener takes new clients.
        wait_for(
            lambda: login(door, srv, "127.0.0.1", "news", password("news")),
            timeout=20,
            what="a login after the descriptors were freed",
        )
        log = srv.log()
        assert log.count(NOTICED) == 1  # not one line per failure
        failures = re.search(r"accepting connections again \(after (\d+) failed accepts\)", log)
        assert failures and int(failures.group(1)) >= 3, log[-2000:]
    finally:
        srv.stop()


def _http_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 5) as sock:
            sock.settimeout(5)
            sock.sendall(HTTP_HELLO)
            return sock.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def test_http_listener_survives_emfile_and_recovers(data):
    """The web door's listener (asyncio's accept loop) pauses on EMFILE and recovers;
    asyncio's message for it is rate-limited like paramiko's."""
    srv = start_server(data, sftp=False, http=True, nofile=64)
    try:
        port = srv.http_port
        assert port
        for sock in _exhaust(port, b"HTTP/1.1 ", srv, "out of system resource", HTTP_HELLO):
            sock.close()
        wait_for(lambda: _http_answers(port), timeout=20, what="an HTTP answer after EMFILE")
        assert srv.log().count("out of system resource") <= 5  # asyncio's, rate-limited
        assert login("ftp", srv, "127.0.0.1", "news", password("news"))
    finally:
        srv.stop()
