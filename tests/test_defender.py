"""Brute-force defence over FTP and SFTP: what an attacker tried and what now holds.

Each test counts the passwords the server really checked from the audit (a checked wrong
password is a `failed` login; one refused unchecked by the defender is `banned`)."""

from __future__ import annotations

import ftplib
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest

from .helpers import ServerProcess, password, run_cli, set_setting
from .sftp.util import make_client_key

DOORS = ("ftp", "sftp")
WRONG = "not-the-password-1"


def login(door: str, srv: ServerProcess, ip: str, user: str, pw: str) -> bool:
    """One login attempt from source address `ip`; True if it logged in."""
    if door == "ftp":
        ftp = ftplib.FTP()
        try:
            ftp.connect("127.0.0.1", srv.ftp_port, timeout=20, source_address=(ip, 0))
            ftp.login(user, pw)
            return True
        except (ftplib.Error, OSError, EOFError):
            return False
        finally:
            ftp.close()
    return _sftp_login(srv, ip, user, password_=pw)


def _sftp_login(
    srv: ServerProcess, ip: str, user: str, *, password_: str | None = None, key: Path | None = None
) -> bool:
    assert srv.sftp_port
    try:
        sock = socket.create_connection(("127.0.0.1", srv.sftp_port), 20, source_address=(ip, 0))
    except OSError:
        return False
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=20)
        if key is not None:
            transport.auth_publickey(user, paramiko.PKey.from_path(key))
        else:
            transport.auth_password(user, password_ or "")
        return transport.is_authenticated()
    except (paramiko.SSHException, EOFError, OSError):
        return False
    finally:
        transport.close()


def logins(data: Path, ip: str, status: str, user: str | None = None) -> int:
    rows = json.loads(run_cli(data, "audit", "--action", "login", "--json").output)
    return sum(
        r["ip"] == ip and r["status"] == status and (user is None or r["user"] == user)
        for r in rows
    )


def bans(data: Path) -> list[dict]:
    return json.loads(run_cli(data, "bans", "--json").output)


def banned_ips(data: Path) -> list[str]:
    return [b["ip"] for b in bans(data) if b["ip"]]


@pytest.fixture
def server(server_factory) -> ServerProcess:
    """FTP and SFTP, the default ban threshold (10) and failure score (1)."""
    return server_factory(sftp=True)


@pytest.mark.parametrize("door", DOORS)
def test_a_valid_login_resets_nobody_elses_score(data, server, door):
    """Before: a valid reader login after every few wrong admin guesses reset the
    address's score, and 54 guesses went through without a ban."""
    ip = "127.0.0.21"
    for _ in range(20):  # at most 60 guesses
        for _ in range(3):
            assert not login(door, server, ip, "admin", WRONG)
        login(door, server, ip, "news", password("news"))  # the attacker's own account
        if ip in banned_ips(data):
            break
    assert ip in banned_ips(data)
    assert logins(data, ip, "failed", "admin") == 10  # the threshold, not one more
    assert not login(door, server, ip, "news", password("news"))  # banned is banned
    assert login(door, server, "127.0.0.1", "news", password("news"))  # others carry on


@pytest.mark.parametrize("door", DOORS)
def test_parallel_guesses_check_no_more_passwords_than_the_threshold(data, server_factory, door):
    """Before: 40 SFTP connections guessing at once got ~40 passwords checked before the
    ban at 10. Now every attempt is scored before its check."""
    set_setting(data, "security", "prelogin_max_per_ip", "100")  # the defender alone
    srv = server_factory(sftp=True)
    ip = "127.0.0.22"
    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(lambda _: login(door, srv, ip, "trt-up", WRONG), range(40)))
    assert not any(results)
    assert logins(data, ip, "failed") == 10
    assert ip in banned_ips(data)


@pytest.mark.parametrize("door", DOORS)
def test_unknown_and_known_names_score_alike(data, server, door):
    """Before: an unknown name scored 3, a known one 1: the ban came after 4 guesses for
    a name that does not exist and after 10 for one that does."""
    for ip, user in (("127.0.0.23", "nobody-here"), ("127.0.0.24", "trt-up")):
        for _ in range(12):
            assert not login(door, server, ip, user, WRONG)
        assert logins(data, ip, "failed") == 10, user
        assert ip in banned_ips(data)


@pytest.mark.parametrize("door", DOORS)
def test_guesses_from_many_addresses_lock_the_name(data, server_factory, door, tmp_path):
    """Six addresses, two guesses each (no address near its ban): the name is locked for
    passwords at 10 (account_ban_threshold here); its owner's SSH key still works, other
    accounts are untouched, and `unban --user` lifts the lock."""
    set_setting(data, "security", "account_ban_threshold", "10")
    key = make_client_key(tmp_path / "admin-key")
    run_cli(data, "user", "key", "add", "admin", str(key.with_suffix(".pub")))
    srv = server_factory(sftp=True)
    for i in range(6):
        for _ in range(2):
            assert not login(door, srv, f"127.0.1.{i + 1}", "admin", WRONG)
    assert [b["user"] for b in bans(data)] == ["admin"]
    assert banned_ips(data) == []
    assert sum(logins(data, f"127.0.1.{i + 1}", "failed", "admin") for i in range(6)) == 10
    assert not login(door, srv, "127.0.0.1", "admin", password("admin"))
    assert logins(data, "127.0.0.1", "banned", "admin") == 1  # refused unchecked
    assert _sftp_login(srv, "127.0.0.1", "admin", key=key)  # keys cannot be guessed
    assert login(door, srv, "127.0.0.1", "news", password("news"))
    run_cli(data, "unban", "--user", "admin")
    assert bans(data) == []
    assert login(door, srv, "127.0.0.1", "admin", password("admin"))


@pytest.mark.parametrize("door", DOORS)
def test_many_valid_logins_at_once_from_one_address_all_succeed(data, server_factory, door):
    """Scoring attempts before their check must not refuse a crowd behind one NAT
    address: 30 logins at once (3x the threshold) wait their turn and all get in."""
    set_setting(data, "security", "prelogin_max_per_ip", "100")
    set_setting(data, "security", "login_cache_seconds", "0")  # every one a full check
    srv = server_factory(sftp=True)
    ip = "127.0.0.25"
    users = ["news", "trt-up", "aztv-up"] * 10
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda u: login(door, srv, ip, u, password(u)), users))
    assert all(results)
    assert logins(data, ip, "ok") == 30
    assert logins(data, ip, "banned") == 0
