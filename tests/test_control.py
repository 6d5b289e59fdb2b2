"""The control channel (pool_server/control.py) through FTP's `SITE ORTAK`, with a stock
client (ftplib) over plain FTP and FTPS."""

from __future__ import annotations

import ftplib
import json
import re

import pytest

from .helpers import ServerProcess, ftp_login, run_cli


def answer(ftp: ftplib.FTP, line: str) -> dict:
    reply = ftp.sendcmd(f"SITE ORTAK {line}")
    lines = reply.split("\n")
    assert lines[0].startswith("200-") and lines[-1] == "200 OK", reply
    assert all(line.startswith(" ") for line in lines[1:-1]), reply
    return json.loads("".join(line[1:] for line in lines[1:-1]))


@pytest.mark.parametrize("tls", [False, True], ids=["ftp", "ftps"])
def test_whoami_over_ftp(ftp_server: ServerProcess, tls: bool) -> None:
    info = json.loads(run_cli(ftp_server.data, "info", "--json").output)
    ftp = ftp_login(ftp_server.ftp_port, "trt-up", tls=tls)
    try:
        me = answer(ftp, "whoami")
        admin = ftp_login(ftp_server.ftp_port, "admin", tls=tls)
        try:
            boss = answer(admin, "WHOAMI")
        finally:
            admin.quit()
    finally:
        ftp.quit()
    assert me["user"] == "trt-up" and me["role"] == "contributor"
    assert me["member"] == "TRT" and me["member_name"] == "TRT"
    assert me["protocol"] == ("ftps" if tls else "ftp")
    assert me["tls_certificate"] == info["tls_certificate"][0]
    assert me["ssh_host_keys"] == info["ssh_host_keys"] and len(me["ssh_host_keys"]) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", me["tls_valid_until"])
    assert boss["role"] == "admin" and boss["member"] is None


def test_errors_and_help(ftp_server: ServerProcess) -> None:
    raw = ftplib.FTP()
    raw.connect("127.0.0.1", ftp_server.ftp_port, timeout=10)
    try:
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            raw.sendcmd("SITE ORTAK whoami")  # not before login
    finally:
        raw.close()
    ftp = ftp_login(ftp_server.ftp_port, "news")
    try:
        with pytest.raises(ftplib.error_perm, match=r"^501 Unknown command 'nosuch'"):
            ftp.sendcmd("SITE ORTAK nosuch")
        with pytest.raises(ftplib.error_perm, match=r"^501 Whoami takes no arguments"):
            ftp.sendcmd("SITE ORTAK whoami extra")
        with pytest.raises(ftplib.error_perm, match=r"^501 Cannot parse"):
            ftp.sendcmd("SITE ORTAK whoami 'unclosed")
        with pytest.raises(ftplib.error_perm, match=r"^501"):
            ftp.sendcmd("SITE ORTAK")
        assert "ORTAK" in ftp.sendcmd("SITE HELP")
        commands = answer(ftp, "help")["commands"]
        assert {"help", "whoami"} <= set(commands)
        assert answer(ftp, "help whoami")["commands"]["whoami"]["usage"] == "whoami"
        # the session goes on as before
        assert answer(ftp, "whoami")["user"] == "news"
        assert ftp.pwd() == "/"
    finally:
        ftp.quit()
