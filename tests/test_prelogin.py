"""Connections that have not logged in: few slots, a short deadline, over FTP and SFTP.

Before: 512 sockets that never logged in, from 8 addresses, took every connection slot
and locked every user out; an FTP connection sending NOOP every few seconds without
ever logging in stayed past `idle_timeout`."""

from __future__ import annotations

import contextlib
import ftplib
import socket
import time
from collections.abc import Iterator

import paramiko
import pytest

from .helpers import ServerProcess, ftp_login, password, set_setting
from .test_defender import login

ATTACKERS = [f"127.0.2.{i}" for i in range(1, 9)]  # 8 addresses


@contextlib.contextmanager
def idle_sockets(port: int, per_address: int) -> Iterator[list[socket.socket]]:
    """`per_address` connections from each attacker address that never log in; each has
    been answered (greeting, refusal or close) before this yields."""
    socks: list[socket.socket] = []
    try:
        for ip in ATTACKERS:
            for _ in range(per_address):
                sock = socket.create_connection(("127.0.0.1", port), 10, source_address=(ip, 0))
                socks.append(sock)
        for sock in socks:
            try:
                sock.recv(256)  # the server's first words: it has dealt with this one
            except OSError:
                pass
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _flood_server(data, server_factory) -> ServerProcess:
    # Few slots, so that the flood is small: before, 32 idle sockets filled them all.
    set_setting(data, "server", "max_connections", "32")
    set_setting(data, "server", "max_connections_per_ip", "16")
    set_setting(data, "security", "prelogin_max_connections", "16")
    set_setting(data, "security", "prelogin_max_per_ip", "4")
    return server_factory(sftp=True)


@pytest.mark.parametrize("door", ["ftp", "sftp"])
def test_idle_sockets_from_many_addresses_lock_nobody_out(data, server_factory, door):
    srv = _flood_server(data, server_factory)
    port = srv.ftp_port if door == "ftp" else srv.sftp_port
    assert port
    with idle_sockets(port, per_address=10) as socks:
        for user in ("news", "trt-up"):  # each one evicts an attacker's oldest
            assert login(door, srv, "127.0.0.1", user, password(user)), user
        # The attackers hold no more than the pre-login slots, 4 at most per address.
        held = [s.getsockname()[0] for s in socks if _still_open(s)]
        assert 0 < len(held) <= 16, srv.log()[-3000:]
        assert max(held.count(ip) for ip in ATTACKERS) <= 4


def _still_open(sock: socket.socket) -> bool:
    """False once the server has closed `sock` (what it sent before is read and dropped)."""
    sock.setblocking(False)
    for _ in range(1000):  # bounded: each round reads up to 64 KiB
        try:
            if not sock.recv(65536):
                return False
        except BlockingIOError:
            return True
        except OSError:
            return False
    return True


def test_noop_before_login_does_not_extend_the_deadline(data, server_factory):
    set_setting(data, "security", "prelogin_timeout", "1")
    srv = server_factory(sftp=False)
    assert srv.ftp_port
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.ftp_port), 10) as sock:
        sock.settimeout(0.3)
        got = b""
        while time.monotonic() - start < 15 and b"421" not in got:  # bounded
            with contextlib.suppress(TimeoutError):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                got += chunk
                continue
            sock.sendall(b"NOOP\r\n")  # every 0.3 s: it used to reset the timer
    took = time.monotonic() - start
    assert b"421 Login timeout" in got
    assert 1 <= took < 5
    # A logged-in session is not held to that deadline.
    with ftp_login(srv.ftp_port, "news") as ftp:
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            assert ftp.voidcmd("NOOP").startswith("200")
            time.sleep(0.4)  # the pace of the client under test, not a wait for a condition
        assert ftp.pwd() == "/"


def test_sftp_handshake_without_login_is_cut_at_the_deadline(data, server_factory):
    set_setting(data, "security", "prelogin_timeout", "1")
    srv = server_factory(sftp=True)
    transport = paramiko.Transport(("127.0.0.1", srv.sftp_port))
    try:
        transport.start_client(timeout=10)
        start = time.monotonic()
        while transport.is_active() and time.monotonic() - start < 15:  # bounded
            try:
                transport.send_ignore()  # traffic, but no login
            except EOFError:  # cut between is_active() and the send: what is wanted
                break
            time.sleep(0.2)  # the pace of the client under test
        took = time.monotonic() - start
    finally:
        transport.close()
    assert not transport.is_authenticated()
    assert took < 5
    # Logged-in users stay.
    assert login("sftp", srv, "127.0.0.1", "news", password("news"))


def test_ftp_prelogin_refusal_is_a_clear_421(data, server_factory):
    set_setting(data, "security", "prelogin_max_per_ip", "2")
    srv = server_factory(sftp=False)
    held = [ftplib.FTP() for _ in range(2)]
    try:
        for ftp in held:
            ftp.connect("127.0.0.1", srv.ftp_port, timeout=10)
        with pytest.raises(ftplib.error_temp, match=r"^421 Too many connections from 127.0.0.1"):
            ftplib.FTP().connect("127.0.0.1", srv.ftp_port, timeout=10)
        held[0].login("news", password("news"))  # a logged-in connection frees its slot
        with ftp_login(srv.ftp_port, "trt-up") as ftp:
            assert ftp.pwd() == "/"
    finally:
        for ftp in held:
            ftp.close()
