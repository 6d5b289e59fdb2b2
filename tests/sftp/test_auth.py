"""Logins: passwords and keys through the shared accounts and the one defender that
bans across FTP and SFTP."""

from __future__ import annotations

import ftplib
import json
import socket

import paramiko
import pytest

from pool_server.userkeys import fingerprint

from ..helpers import password, run_cli
from .util import SftpEnv, audit_rows, paramiko_sftp, paramiko_transport


def test_password_and_key_logins(sftp_env: SftpEnv) -> None:
    with paramiko_sftp(sftp_env, "trt-up") as sftp:
        assert "TRT" in sftp.listdir("/")
    with paramiko_sftp(sftp_env, "trt-up", key="trt-up") as sftp:
        assert "TRT" in sftp.listdir("/")
    logins = [
        r["detail"]
        for r in audit_rows(sftp_env, "login")
        if r["user"] == "trt-up" and r["status"] == "ok"
    ]
    assert "password" in logins
    assert any(d.startswith("publickey SHA256:") for d in logins)
    with paramiko_sftp(sftp_env, "news", key="news"):  # a key-only login is noted too
        pass
    assert json.loads(run_cli(sftp_env.data, "user", "show", "news", "--json").output)["last_login"]


@pytest.mark.parametrize(
    ("user", "kwargs"),
    [
        ("trt-up", {"password_": "wrong-password-here"}),
        ("nobody", {"password_": "whatever-password"}),
        ("disabled-user", {}),
        ("disabled-user", {"key": "disabled-user"}),
        ("trt-up", {"key": "stranger"}),
        ("trt-up", {"key": "aztv-up"}),
    ],
)
def test_refused_logins(sftp_env: SftpEnv, user: str, kwargs: dict[str, str]) -> None:
    """(Six refusals score 8, below this server's ban threshold of 10.)"""
    before = len(audit_rows(sftp_env, "login"))
    with (
        pytest.raises(paramiko.AuthenticationException),
        paramiko_transport(sftp_env, user, **kwargs),
    ):
        pass
    new = audit_rows(sftp_env, "login")[before:]
    assert [(r["user"], r["status"]) for r in new] == [(user, "failed")]


def _sftp_refused_before_auth(env: SftpEnv) -> None:
    transport = paramiko.Transport(socket.create_connection(("127.0.0.1", env.port), 10))
    try:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            transport.start_client(timeout=10)
    finally:
        transport.close()


def test_failures_on_both_doors_ban_the_address(fresh_env: SftpEnv) -> None:
    """ban_threshold is 3 here: two SFTP failures and one FTP failure ban 127.0.0.1."""
    for _ in range(2):
        with (
            pytest.raises(paramiko.AuthenticationException),
            paramiko_transport(fresh_env, "trt-up", password_="not-the-password"),
        ):
            pass
    assert "127.0.0.1" not in run_cli(fresh_env.data, "bans", "--json").output
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", fresh_env.server.ftp_port, timeout=10)
        with pytest.raises(ftplib.error_perm):
            ftp.login("news", "not-the-password")
    bans = run_cli(fresh_env.data, "bans", "--json").output
    assert "127.0.0.1" in bans
    _sftp_refused_before_auth(fresh_env)
    with ftplib.FTP() as ftp, pytest.raises((ftplib.error_temp, EOFError, OSError)):
        ftp.connect("127.0.0.1", fresh_env.server.ftp_port, timeout=10)
        ftp.login("news", password("news"))
    run_cli(fresh_env.data, "unban", "127.0.0.1")
    with paramiko_sftp(fresh_env, "news", key="news") as sftp:
        assert sftp.listdir("/")


def test_info_prints_the_host_key_the_server_presents(sftp_env: SftpEnv) -> None:
    info = json.loads(run_cli(sftp_env.data, "info", "--json").output)
    printed = {line.split()[1] for line in info["ssh_host_keys"]}
    assert len(printed) == 2  # ed25519 and RSA
    for algorithm in ("ssh-ed25519", "rsa-sha2-256"):
        transport = paramiko.Transport(("127.0.0.1", sftp_env.port))
        transport.get_security_options().key_types = (algorithm,)
        try:
            transport.start_client(timeout=10)
            assert fingerprint(transport.get_remote_server_key().asbytes()) in printed
        finally:
            transport.close()
