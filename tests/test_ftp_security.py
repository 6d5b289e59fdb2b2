"""Quota, FTPS, brute-force defence, hostile paths and bad logins over FTP."""

from __future__ import annotations

import ftplib
import io
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from .helpers import ftp_login, password, run_cli, set_setting


def used_bytes(data: Path, code: str) -> int:
    rows = json.loads(run_cli(data, "member", "list", "--json").output)
    return next(r["used_bytes"] for r in rows if r["code"] == code)


def test_quota_exceeding_upload_fails_552_and_leaves_nothing(data, ftp_server):
    area = data / "pool" / "TRT"
    (area / "old.mxf").write_bytes(b"o" * 100_000)
    run_cli(data, "quota", "set", "TRT", "300K")
    before = used_bytes(data, "TRT")
    with ftp_login(ftp_server.ftp_port, "trt-up") as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^552 (?i:.*quota of member TRT exceeded)"):
            ftp.storbinary("STOR /TRT/big.mxf", io.BytesIO(b"b" * 400_000))
        assert "big.mxf" not in ftp.nlst("/TRT")
        ftp.storbinary("STOR /TRT/small.mxf", io.BytesIO(b"s" * 100_000))  # still fits
    assert sorted(p.name for p in area.iterdir()) == ["old.mxf", "small.mxf"]
    assert used_bytes(data, "TRT") == before + 100_000
    members = run_cli(data, "member", "list").output
    assert "300.0 KiB" in members


def test_ftps_with_curl_ssl_reqd(data, ftp_server, tmp_path):
    src = tmp_path / "tls.bin"
    src.write_bytes(os.urandom(200_000))
    base = f"ftp://127.0.0.1:{ftp_server.ftp_port}/TRT/"
    auth = ["-u", f"trt-up:{password('trt-up')}", "--ssl-reqd", "-k", "-sS"]
    subprocess.run(["curl", *auth, "-T", str(src), base + "tls.bin"], check=True, timeout=30)
    got = subprocess.run(
        ["curl", *auth, base + "tls.bin"], check=True, capture_output=True, timeout=30
    ).stdout
    assert got == src.read_bytes()
    rows = json.loads(run_cli(data, "audit", "--action", "upload", "--json").output)
    assert rows[-1]["protocol"] == "ftps" and rows[-1]["status"] == "complete"


def test_ftplib_tls_prot_p_round_trip(data, ftp_server):
    with ftp_login(ftp_server.ftp_port, "trt-up", tls=True) as ftp:
        ftp.storbinary("STOR /TRT/a.bin", io.BytesIO(b"secure" * 1000))
        out = io.BytesIO()
        ftp.retrbinary("RETR /TRT/a.bin", out.write)
    assert out.getvalue() == b"secure" * 1000


def test_empty_listings_over_tls_end_cleanly(data, ftp_server):
    """An empty listing closed its TLS data connection mid-handshake (the client failed
    with SHUTDOWN_WHILE_IN_INIT about 1 time in 10), or wrote an empty TLS record (426)."""
    (data / "pool" / "TRT" / "empty").mkdir()
    with ftp_login(ftp_server.ftp_port, "trt-up", tls=True) as ftp:
        for _ in range(40):  # the race needed a few tries to show
            assert ftp.nlst("/TRT/empty") == []
            assert list(ftp.mlsd("/TRT/empty", ["type"])) == []
            lines: list[str] = []
            ftp.retrlines("LIST /TRT/empty", lines.append)
            assert lines == []
        assert "empty" in ftp.nlst("/TRT")  # and a listing with something in it
    base = f"ftp://127.0.0.1:{ftp_server.ftp_port}/TRT/empty/"
    auth = ["-u", f"trt-up:{password('trt-up')}", "--ssl-reqd", "-k", "-sS"]
    listing = subprocess.run(["curl", *auth, base], capture_output=True, timeout=30)
    assert listing.returncode == 0 and listing.stdout == b"", listing.stderr


def test_require_tls_refuses_plain_login(data, server_factory):
    set_setting(data, "ftp", "require_tls", "true")
    srv = server_factory(sftp=False)
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", srv.ftp_port, timeout=10)
    with pytest.raises(ftplib.error_perm, match=r"^550 SSL/TLS required"):
        ftp.login("trt-up", password("trt-up"))
    ftp.close()
    with ftp_login(srv.ftp_port, "trt-up", tls=True) as secure:
        assert "TRT" in secure.nlst("/")


def test_brute_force_bans_one_address_only(data, ftp_server):
    port = ftp_server.ftp_port
    attempts = 0
    banned = False
    for _ in range(10):  # the threshold is 10 points; a wrong password scores 1
        ftp = ftplib.FTP()
        try:
            ftp.connect("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
        except ftplib.error_temp as err:
            assert str(err).startswith("421")
            banned = True
            break
        for _ in range(3):
            attempts += 1
            with pytest.raises(ftplib.error_perm, match=r"^530"):
                ftp.login("trt-up", "wrong-password")
            if attempts == 10:
                break
        ftp.close()
        if attempts == 10:
            break
    assert attempts == 10 and not banned
    # The right password from the banned address is now refused...
    with pytest.raises(ftplib.error_temp, match=r"^421 .*too many failed logins"):
        ftp_login(port, "trt-up", source="127.0.0.2")
    # ...while everybody else carries on.
    with ftp_login(port, "trt-up", source="127.0.0.1") as ok:
        assert "TRT" in ok.nlst("/")
    bans = json.loads(run_cli(data, "bans", "--json").output)
    assert [b["ip"] for b in bans] == ["127.0.0.2"]
    run_cli(data, "unban", "127.0.0.2")
    with ftp_login(port, "trt-up", source="127.0.0.2") as again:
        assert "TRT" in again.nlst("/")
    assert json.loads(run_cli(data, "bans", "--json").output) == []
    failed = json.loads(run_cli(data, "audit", "--action", "login", "--json").output)
    assert sum(r["status"] == "failed" and r["ip"] == "127.0.0.2" for r in failed) == 10


@pytest.mark.parametrize("user", ["anonymous", "disabled-user"])
def test_anonymous_and_disabled_users_are_refused(ftp_server, user):
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", ftp_server.ftp_port, timeout=10)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp.login(user, password(user) if user != "anonymous" else "me@example.org")
    ftp.close()


HOSTILE = [
    ("RETR ../../../etc/passwd", r"^550 .*outside the pool"),
    ("RETR /../etc/passwd", r"^550 .*outside the pool"),
    ("RETR /etc/passwd", r"^550"),
    ("CWD /TRT/../../..", r"^550 .*outside the pool"),
    ("MKD /TRT/" + "x" * 256, r"^553 .*limit is 255"),
    ("MKD /TRT/bad\tname", r"^553 .*control characters"),
    ("MKD /TRT/" + "/".join(["d"] * 20), r"^553 .*folders deep"),
    ("DELE /TRT/.ortak-part-0123", r"^553 .*reserved"),
    ("RETR /TRT/escape/passwd", r"^550 .*leads outside the pool"),
    ("RETR /TRT/passwd-link", r"^550 .*leads outside the pool"),
    ("CWD /TRT/escape", r"^550 .*leads outside the pool"),
    ("NLST /TRT/escape", r"^550 .*leads outside the pool"),
    ("STOR /TRT/escape/dropped", r"^550 .*leads outside the pool"),
    ("RNFR /TRT/escape", r"^550 .*leads outside the pool"),
]


@pytest.mark.parametrize(("command", "reply"), HOSTILE)
def test_hostile_paths_are_refused(data, ftp_server, tmp_path, command, reply):
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "passwd").write_text("secret")
    area = data / "pool" / "TRT"
    if not (area / "escape").is_symlink():
        (area / "escape").symlink_to(outside)
        (area / "passwd-link").symlink_to(outside / "passwd")
    before = sorted(outside.iterdir())
    with ftp_login(ftp_server.ftp_port, "admin") as ftp:
        if command.startswith(("RETR", "STOR", "NLST")):
            with pytest.raises(ftplib.error_perm, match=reply), ftp.transfercmd(command):
                pass
        else:
            with pytest.raises(ftplib.error_perm, match=reply):
                ftp.sendcmd(command)
        assert "TRT" in ftp.nlst("/")  # the session carries on
    assert sorted(outside.iterdir()) == before


def test_non_utf8_command_is_refused_and_server_carries_on(ftp_server):
    with socket.create_connection(("127.0.0.1", ftp_server.ftp_port), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"USER trt-up\r\n")
        assert f.readline().startswith(b"331")
        s.sendall(f"PASS {password('trt-up')}\r\n".encode())
        assert f.readline().startswith(b"230")
        s.sendall(b"MKD /TRT/\xff\xfe\r\n")
        assert f.readline()[:1] == b"5"
        s.sendall(b"NOOP\r\n")
        assert f.readline().startswith(b"200")
    assert not any((ftp_server.data / "pool" / "TRT").iterdir())


def test_overlong_command_line_cuts_the_client_off(ftp_server):
    with socket.create_connection(("127.0.0.1", ftp_server.ftp_port), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        try:
            s.sendall(b"USER " + b"A" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass  # cut off while still sending: that is the point
        try:
            reply, rest = f.readline(), f.read()
        except ConnectionResetError:  # closed with our unread bytes pending: a reset
            reply, rest = b"500 Command line too long (reset)", b""
        assert reply.startswith(b"500 Command line too long")
        assert rest == b""  # and closed
    with ftp_login(ftp_server.ftp_port, "news") as ftp:  # everybody else carries on
        assert "TRT" in ftp.nlst("/")
