"""Clients for the SFTP tests: OpenSSH `sftp`/`ssh` with key auth and strict host key
checking, and paramiko — each bounded in time and closed when done."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..helpers import ServerProcess, password

TIMEOUT = 30


@dataclass
class SftpEnv:
    data: Path
    keys: dict[str, Path]
    known_hosts: Path
    server: ServerProcess = field(init=False)

    @property
    def port(self) -> int:
        assert self.server.sftp_port
        return self.server.sftp_port

    @property
    def root(self) -> Path:
        return self.data / "pool"


def make_client_key(path: Path) -> Path:
    """An ed25519 key pair in OpenSSH format: `path` (0600) and `path.pub`."""
    key = ed25519.Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
    pub = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    path.with_suffix(".pub").write_bytes(pub + f" {path.name}@tests\n".encode())
    return path


def write_known_hosts(known_hosts: Path, data: Path, port: int | None) -> None:
    lines = []
    for pub in sorted((data / "keys").glob("ssh_host_*_key.pub")):
        kind, blob = pub.read_text().split()[:2]
        lines.append(f"[127.0.0.1]:{port} {kind} {blob}\n")
    known_hosts.write_text("".join(lines))


def ssh_options(env: SftpEnv, user: str, key: str | None = None) -> list[str]:
    return [
        "-F",
        "/dev/null",
        "-i",
        str(env.keys[key or user]),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={env.known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "KbdInteractiveAuthentication=no",
    ]


def openssh_sftp(
    env: SftpEnv,
    user: str,
    commands: list[str],
    cwd: Path,
    key: str | None = None,
    timeout: float = TIMEOUT,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`sftp -b -` running `commands`; returns the finished process (check returncode)."""
    args = [
        "sftp",
        "-b",
        "-",
        *ssh_options(env, user, key),
        "-P",
        str(env.port),
        *extra,
        f"{user}@127.0.0.1",
    ]
    return subprocess.run(
        args,
        input="\n".join(commands) + "\n",
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def openssh_exec(
    env: SftpEnv, user: str, command: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    args = ["ssh", *ssh_options(env, user), "-p", str(env.port), f"{user}@127.0.0.1", command]
    return subprocess.run(args, input=stdin, text=True, capture_output=True, timeout=TIMEOUT)


@contextlib.contextmanager
def paramiko_transport(
    env: SftpEnv, user: str, *, key: str | None = None, password_: str | None = None
) -> Iterator[paramiko.Transport]:
    """An authenticated transport (key auth if `key`, else the user's password)."""
    transport = paramiko.Transport(("127.0.0.1", env.port))
    transport.set_keepalive(0)
    try:
        transport.start_client(timeout=10)
        host_key = transport.get_remote_server_key()
        known = {line.split()[2] for line in env.known_hosts.read_text().splitlines()}
        assert host_key.get_base64() in known, "host key not the pool's"
        if key is not None:
            pkey = paramiko.PKey.from_path(env.keys[key])
            transport.auth_publickey(user, pkey)
        else:
            transport.auth_password(user, password_ if password_ is not None else password(user))
        yield transport
    finally:
        transport.close()


@contextlib.contextmanager
def paramiko_sftp(env: SftpEnv, user: str, **kwargs: str) -> Iterator[paramiko.SFTPClient]:
    with paramiko_transport(env, user, **kwargs) as transport:
        client = paramiko.SFTPClient.from_transport(transport)
        assert client is not None
        client.get_channel().settimeout(TIMEOUT)
        try:
            yield client
        finally:
            client.close()


def audit_rows(env: SftpEnv, action: str) -> list[dict]:
    import json

    from ..helpers import run_cli

    out = run_cli(env.data, "audit", "--json", "--action", action).output
    return [r for r in json.loads(out) if r["protocol"] == "sftp"]
